package cookieauth

import (
	"net/url"
	"strings"
)

// originAllowed reports whether a browser Origin header value matches the allowlist.
// "null" never matches; a value that is not exactly scheme://host[:port] never matches.
func originAllowed(patterns []originPattern, origin string) bool {
	if origin == "" || origin == "null" || len(origin) > 2048 {
		return false
	}
	u, err := url.Parse(origin)
	if err != nil || u.User != nil || u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return false
	}
	host := strings.ToLower(u.Host)
	if host == "" {
		return false
	}
	for _, p := range patterns {
		if u.Scheme != p.scheme {
			continue
		}
		if !p.wildcard {
			if host == p.host {
				return true
			}
			continue
		}
		// "*.example.com" matches one or more labels before ".example.com".
		sub, ok := strings.CutSuffix(host, "."+p.host)
		if ok && sub != "" && isHostLabels(sub) {
			return true
		}
	}
	return false
}

// isHostLabels reports whether s is dot-separated non-empty DNS labels (letters, digits,
// hyphen; lower case as browsers serialise origins).
func isHostLabels(s string) bool {
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}
