package gateway

import (
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// The headers API Gateway adds to a $connect request before its authorizer and its
// integration see it, spelled as in its recorded events.
const (
	headerForwardedFor   = "X-Forwarded-For"
	headerForwardedPort  = "X-Forwarded-Port"
	headerForwardedProto = "X-Forwarded-Proto"
)

// withForwarded adds X-Forwarded-For, X-Forwarded-Port and X-Forwarded-Proto to a
// handshake's headers, single (last value) and multi (every value), as API Gateway adds
// them to the authorizer's and the CONNECT event's: X-Forwarded-For is the client's IP,
// appended after ", " to the X-Forwarded-For the client sent (so its last entry is the
// only one the gateway vouches for); X-Forwarded-Port is the port of the listener that
// accepted the connection (API Gateway's is always 443); X-Forwarded-Proto is https on a
// TLS listener, else http. A client's own X-Forwarded-Port or X-Forwarded-Proto, in any
// letter case, is replaced, and its X-Forwarded-For under another spelling is folded
// into the one header. The maps are changed in place (never the slices they hold, which
// may be r.Header's) and returned.
func withForwarded(r *http.Request, secure bool, single map[string]string, multi map[string][]string) (map[string]string, map[string][]string) {
	if single == nil {
		single = make(map[string]string, 3)
	}
	if multi == nil {
		multi = make(map[string][]string, 3)
	}
	// One pass over the names: the client's X-Forwarded-For spellings (kept, in order, for
	// their values) and every X-Forwarded-* spelling to drop. A browser sends none.
	var fors, drop []string
	for k := range multi {
		if isForwarded(k) {
			drop = append(drop, k)
			if strings.EqualFold(k, headerForwardedFor) {
				fors = append(fors, k)
			}
		}
	}
	for k := range single {
		if isForwarded(k) {
			drop = append(drop, k)
		}
	}
	slices.Sort(fors)
	var sent []string // the client's X-Forwarded-For values, in order
	for _, k := range fors {
		for _, v := range multi[k] {
			if v = strings.TrimSpace(v); v != "" {
				sent = append(sent, v)
			}
		}
	}
	for _, k := range drop {
		delete(multi, k)
		delete(single, k)
	}
	forwardedFor := remoteIP(r)
	if len(sent) > 0 {
		forwardedFor = strings.Join(append(sent, forwardedFor), ", ")
	}
	proto := "http"
	if secure {
		proto = "https"
	}
	port := listenerPort(r, secure)
	single[headerForwardedFor], multi[headerForwardedFor] = forwardedFor, []string{forwardedFor}
	single[headerForwardedPort], multi[headerForwardedPort] = port, []string{port}
	single[headerForwardedProto], multi[headerForwardedProto] = proto, []string{proto}
	return single, multi
}

// isForwarded reports whether a header name is one of the three withForwarded sets, in
// any letter case.
func isForwarded(k string) bool {
	return len(k) > len("X-Forwarded-") && strings.EqualFold(k[:len("X-Forwarded-")], "X-Forwarded-") &&
		(strings.EqualFold(k, headerForwardedFor) || strings.EqualFold(k, headerForwardedPort) || strings.EqualFold(k, headerForwardedProto))
}

// listenerPort is the port of the listener r arrived on (net/http's local address; not
// the Host header, which the client writes), or the scheme's default when r did not come
// through a net/http server.
func listenerPort(r *http.Request, secure bool) string {
	if a, ok := r.Context().Value(http.LocalAddrContextKey).(*net.TCPAddr); ok && a.Port > 0 && a.Port < 1<<16 {
		return strconv.Itoa(a.Port)
	}
	if a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		if _, p, err := net.SplitHostPort(a.String()); err == nil {
			if n, err := strconv.ParseUint(p, 10, 16); err == nil {
				return strconv.FormatUint(n, 10)
			}
		}
	}
	if secure {
		return "443"
	}
	return "80"
}
