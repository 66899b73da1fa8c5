package cookieauth

import "strings"

// Why a hand-written scanner: net/http's ParseCookie fails a whole header on one bad pair
// (another app's odd cookie on the parent domain would lock users out) and
// Request.Cookies silently drops bad pairs (hiding a second JWT cookie). The decision
// needs exactly this: every occurrence of two names, ignoring the rest, never a panic.

// scanCookies calls fn for every name=value pair in the Cookie header lines, in order.
// Pairs without '=' are skipped. Names and values are trimmed of spaces and tabs; a
// value wrapped in double quotes (RFC 6265 §4.1.1) is unwrapped. Scanning stops when fn
// returns false.
func scanCookies(lines []string, fn func(name, value string) bool) {
	for _, line := range lines {
		for len(line) > 0 {
			var pair string
			pair, line, _ = strings.Cut(line, ";")
			name, value, ok := strings.Cut(pair, "=")
			if !ok {
				continue
			}
			name = strings.Trim(name, " \t")
			value = strings.Trim(value, " \t")
			if len(value) >= 2 && value[0] == '"' && value[len(value)-1] == '"' {
				value = value[1 : len(value)-1]
			}
			if !fn(name, value) {
				return
			}
		}
	}
}

// isCookieValue reports whether v is a non-empty run of RFC 6265 cookie-octets: visible
// US-ASCII except DQUOTE, comma, semicolon and backslash.
func isCookieValue(v string) bool {
	if v == "" {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c < 0x21 || c > 0x7e || c == '"' || c == ',' || c == ';' || c == '\\' {
			return false
		}
	}
	return true
}

// isToken reports whether s is a non-empty RFC 7230 token (cookie names, subprotocols).
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f {
			return false
		}
		switch c {
		case '(', ')', '<', '>', '@', ',', ';', ':', '\\', '"', '/', '[', ']', '?', '=', '{', '}':
			return false
		}
	}
	return true
}
