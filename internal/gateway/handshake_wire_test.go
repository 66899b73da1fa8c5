package gateway

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestEventHeadersNamesAsSent(t *testing.T) {
	wire := []WireHeader{
		{"host", "example.com"},
		{"HeaderAuth1", "headerValue1"},
		{"Sec-WebSocket-Protocol", "chat, csrf.x"},
		{"X-Dup", "a"},
		{"x-dup", "b"},
	}
	parsed := http.Header{ // what net/http makes of wire
		"Headerauth1":            {"headerValue1"},
		"Sec-Websocket-Protocol": {"chat, csrf.x"},
		"X-Dup":                  {"a", "b"},
	}
	canonical := map[string][]string{
		"Host": {"example.com"}, "Headerauth1": {"headerValue1"}, "Sec-Websocket-Protocol": {"chat, csrf.x"}, "X-Dup": {"a", "b"},
	}
	asSent := map[string][]string{
		"host": {"example.com"}, "HeaderAuth1": {"headerValue1"}, "Sec-WebSocket-Protocol": {"chat, csrf.x"}, "X-Dup": {"a", "b"},
	}
	for _, tc := range []struct {
		name   string
		line   string
		fields []WireHeader
		ok     bool
		header http.Header
		want   map[string][]string
	}{
		{"the captured head is this request's", "GET /prod?q=1 HTTP/1.1", wire, true, parsed, asSent},
		{"nothing captured", "", nil, false, parsed, canonical},
		{"another request line (a later request on the connection)", "GET /other HTTP/1.1", wire, true, parsed, canonical},
		{"a value differs", "GET /prod?q=1 HTTP/1.1", wire, true,
			http.Header{"Headerauth1": {"other"}, "Sec-Websocket-Protocol": {"chat, csrf.x"}, "X-Dup": {"a", "b"}},
			map[string][]string{"Host": {"example.com"}, "Headerauth1": {"other"}, "Sec-Websocket-Protocol": {"chat, csrf.x"}, "X-Dup": {"a", "b"}}},
		{"a header net/http has and the head has not", "GET /prod?q=1 HTTP/1.1", wire[:4], true, parsed, canonical},
		{"another Host", "GET /prod?q=1 HTTP/1.1", append([]WireHeader{{"Host", "evil.test"}}, wire[1:]...), true, parsed, canonical},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/prod?q=1", nil)
			r.Host, r.Header = "example.com", tc.header
			calls := 0
			r = r.WithContext(ContextWithWireHead(r.Context(), func() (string, []WireHeader, bool) {
				calls++
				return tc.line, tc.fields, tc.ok
			}))
			multi, single := eventHeaders(r)
			if diff := cmp.Diff(tc.want, multi); diff != "" {
				t.Errorf("multiValueHeaders (-want +got):\n%s", diff)
			}
			wantSingle := map[string]string{}
			for k, vs := range tc.want {
				wantSingle[k] = vs[len(vs)-1]
			}
			if diff := cmp.Diff(wantSingle, single); diff != "" {
				t.Errorf("headers (-want +got):\n%s", diff)
			}
			if calls != 1 {
				t.Errorf("the head was taken %d times, want once", calls)
			}
		})
	}
}
