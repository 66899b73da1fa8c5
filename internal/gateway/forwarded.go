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
	var sent []string // the client's X-Forwarded-For values, in order
	keys := make([]string, 0, 2)
	for k := range multi {
		if strings.EqualFold(k, headerForwardedFor) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		for _, v := range multi[k] {
			if v = strings.TrimSpace(v); v != "" {
				sent = append(sent, v)
			}
		}
	}
	for _, m := range []string{headerForwardedFor, headerForwardedPort, headerForwardedProto} {
		for k := range multi {
			if strings.EqualFold(k, m) {
				delete(multi, k)
			}
		}
		for k := range single {
			if strings.EqualFold(k, m) {
				delete(single, k)
			}
		}
	}
	forwardedFor := strings.Join(append(sent, remoteIP(r)), ", ")
	proto := "http"
	if secure {
		proto = "https"
	}
	port := listenerPort(r, secure)
	for name, v := range map[string]string{headerForwardedFor: forwardedFor, headerForwardedPort: port, headerForwardedProto: proto} {
		single[name], multi[name] = v, []string{v}
	}
	return single, multi
}

// listenerPort is the port of the listener r arrived on (net/http's local address; not
// the Host header, which the client writes), or the scheme's default when r did not come
// through a net/http server.
func listenerPort(r *http.Request, secure bool) string {
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
