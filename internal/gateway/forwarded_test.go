package gateway

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestWithForwarded(t *testing.T) {
	listener := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8443}
	tests := []struct {
		name       string
		remote     string
		tls        bool
		local      net.Addr // nil: the request did not come through a net/http server
		single     map[string]string
		multi      map[string][]string
		wantSingle map[string]string
		wantMulti  map[string][]string
	}{
		{
			name: "plain", remote: "198.51.100.7:50123", local: listener,
			single: map[string]string{"Host": "ws.example.test"}, multi: map[string][]string{"Host": {"ws.example.test"}},
			wantSingle: map[string]string{"Host": "ws.example.test", "X-Forwarded-For": "198.51.100.7", "X-Forwarded-Port": "8443", "X-Forwarded-Proto": "http"},
			wantMulti: map[string][]string{"Host": {"ws.example.test"}, "X-Forwarded-For": {"198.51.100.7"},
				"X-Forwarded-Port": {"8443"}, "X-Forwarded-Proto": {"http"}},
		},
		{
			name: "tls", remote: "198.51.100.7:50123", tls: true, local: listener,
			wantSingle: map[string]string{"X-Forwarded-For": "198.51.100.7", "X-Forwarded-Port": "8443", "X-Forwarded-Proto": "https"},
			wantMulti:  map[string][]string{"X-Forwarded-For": {"198.51.100.7"}, "X-Forwarded-Port": {"8443"}, "X-Forwarded-Proto": {"https"}},
		},
		{
			name: "client's X-Forwarded-For is kept, the client's IP appended", remote: "198.51.100.7:1", local: listener,
			single: map[string]string{"X-Forwarded-For": "10.0.0.2"},
			multi:  map[string][]string{"X-Forwarded-For": {"203.0.113.1, 10.0.0.1", "10.0.0.2"}},
			wantSingle: map[string]string{"X-Forwarded-For": "203.0.113.1, 10.0.0.1, 10.0.0.2, 198.51.100.7",
				"X-Forwarded-Port": "8443", "X-Forwarded-Proto": "http"},
			wantMulti: map[string][]string{"X-Forwarded-For": {"203.0.113.1, 10.0.0.1, 10.0.0.2, 198.51.100.7"},
				"X-Forwarded-Port": {"8443"}, "X-Forwarded-Proto": {"http"}},
		},
		{
			name: "client's port and proto are replaced, in any case", remote: "198.51.100.7:1", local: listener,
			single: map[string]string{"x-forwarded-proto": "https", "X-FORWARDED-PORT": "443", "x-forwarded-for": "10.9.9.9"},
			multi:  map[string][]string{"x-forwarded-proto": {"https"}, "X-FORWARDED-PORT": {"443"}, "x-forwarded-for": {"10.9.9.9"}},
			wantSingle: map[string]string{"X-Forwarded-For": "10.9.9.9, 198.51.100.7",
				"X-Forwarded-Port": "8443", "X-Forwarded-Proto": "http"},
			wantMulti: map[string][]string{"X-Forwarded-For": {"10.9.9.9, 198.51.100.7"},
				"X-Forwarded-Port": {"8443"}, "X-Forwarded-Proto": {"http"}},
		},
		{
			name: "blank client values are dropped", remote: "198.51.100.7:1", local: listener,
			multi:      map[string][]string{"X-Forwarded-For": {"", "  "}},
			wantSingle: map[string]string{"X-Forwarded-For": "198.51.100.7", "X-Forwarded-Port": "8443", "X-Forwarded-Proto": "http"},
			wantMulti:  map[string][]string{"X-Forwarded-For": {"198.51.100.7"}, "X-Forwarded-Port": {"8443"}, "X-Forwarded-Proto": {"http"}},
		},
		{
			name: "ipv6 client", remote: "[2001:db8::1]:443", local: listener,
			wantSingle: map[string]string{"X-Forwarded-For": "2001:db8::1", "X-Forwarded-Port": "8443", "X-Forwarded-Proto": "http"},
			wantMulti:  map[string][]string{"X-Forwarded-For": {"2001:db8::1"}, "X-Forwarded-Port": {"8443"}, "X-Forwarded-Proto": {"http"}},
		},
		{
			name: "no listener address: the scheme's port, never the Host header's", remote: "198.51.100.7:1", tls: true,
			single:     map[string]string{"Host": "ws.example.test:9999"},
			wantSingle: map[string]string{"Host": "ws.example.test:9999", "X-Forwarded-For": "198.51.100.7", "X-Forwarded-Port": "443", "X-Forwarded-Proto": "https"},
			wantMulti:  map[string][]string{"X-Forwarded-For": {"198.51.100.7"}, "X-Forwarded-Port": {"443"}, "X-Forwarded-Proto": {"https"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "http://ws.example.test/", nil)
			r.RemoteAddr = tt.remote
			r.Host = "ws.example.test:9999"
			if tt.tls {
				r.TLS = &tls.ConnectionState{}
			}
			if tt.local != nil {
				r = r.WithContext(context.WithValue(r.Context(), http.LocalAddrContextKey, tt.local))
			}
			var kept []string
			if vs, ok := tt.multi["X-Forwarded-For"]; ok {
				kept = append([]string(nil), vs...)
			}
			before := tt.multi["X-Forwarded-For"]
			single, multi := withForwarded(r, r.TLS != nil, tt.single, tt.multi)
			if diff := cmp.Diff(tt.wantSingle, single); diff != "" {
				t.Errorf("single (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantMulti, multi); diff != "" {
				t.Errorf("multi (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(kept, before); diff != "" {
				t.Errorf("the slice the caller passed in was changed (-was +now):\n%s", diff)
			}
		})
	}
}

// FuzzWithForwarded: whatever X-Forwarded-* headers a client sends, under whatever
// spelling, the event gets exactly one of each, X-Forwarded-For ends with the client's IP,
// and the port and protocol are the listener's.
func FuzzWithForwarded(f *testing.F) {
	f.Add("X-Forwarded-For", "203.0.113.1, 10.0.0.1", "x-forwarded-proto", "https", "198.51.100.7:50123")
	f.Add("x-forwarded-for", "", "X-FORWARDED-PORT", "443", "[2001:db8::1]:443")
	f.Add("X-Forwarded-Host", "evil.example", "X-Forwarded-For", "\r\n", "not an address")
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2, remote string) {
		r := httptest.NewRequest(http.MethodGet, "http://ws.example.test/", nil)
		r.RemoteAddr = remote
		r = r.WithContext(context.WithValue(r.Context(), http.LocalAddrContextKey, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8080}))
		multi := map[string][]string{k1: {v1}, k2: {v2, v1}}
		single := map[string]string{k1: v1, k2: v2}
		single, multi = withForwarded(r, r.TLS != nil, single, multi)
		for _, name := range []string{"X-Forwarded-For", "X-Forwarded-Port", "X-Forwarded-Proto"} {
			n := 0
			for k := range multi {
				if http.CanonicalHeaderKey(k) == name || strings.EqualFold(k, name) {
					n++
				}
			}
			if n != 1 || len(multi[name]) != 1 || single[name] != multi[name][0] {
				t.Fatalf("%s: %d spellings, multi %q, single %q", name, n, multi[name], single[name])
			}
		}
		if !strings.HasSuffix(single["X-Forwarded-For"], remoteIP(r)) {
			t.Fatalf("X-Forwarded-For %q does not end with %q", single["X-Forwarded-For"], remoteIP(r))
		}
		if single["X-Forwarded-Port"] != "8080" || single["X-Forwarded-Proto"] != "http" {
			t.Fatalf("port %q, proto %q", single["X-Forwarded-Port"], single["X-Forwarded-Proto"])
		}
	})
}
