package gateway

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestEventHeadersCanonicalWithoutTheHead(t *testing.T) {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Host, r.Header = "example.com", http.Header{"Sec-Websocket-Key": {"k"}}
	r = r.WithContext(ContextWithWireHead(r.Context(), func() (string, []WireHeader, bool) {
		t.Error("the head was read for an event that does not name headers as sent")
		return "GET / HTTP/1.1", []WireHeader{{"Host", "example.com"}, {"Sec-WebSocket-Key", "k"}}, true
	}))
	multi, _ := eventHeaders(r, false)
	if diff := cmp.Diff(map[string][]string{"Host": {"example.com"}, "Sec-Websocket-Key": {"k"}}, multi); diff != "" {
		t.Errorf("multiValueHeaders (-want +got):\n%s", diff)
	}
}

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
		{"two Host lines", "GET /prod?q=1 HTTP/1.1", append(wire[:1:1], append([]WireHeader{{"Host", "example.com"}}, wire[1:]...)...), true, parsed, canonical},
		{"no Host line", "GET /prod?q=1 HTTP/1.1", wire[1:], true, parsed, canonical},
		{"a line net/http has not", "GET /prod?q=1 HTTP/1.1", append(wire[:5:5], WireHeader{"X-Extra", "1"}), true, parsed, canonical},
		{"one value more than net/http has", "GET /prod?q=1 HTTP/1.1", append(wire[:5:5], WireHeader{"X-DUP", "c"}), true, parsed, canonical},
		{"another method", "POST /prod?q=1 HTTP/1.1", wire, true, parsed, canonical},
		{"another protocol", "GET /prod?q=1 HTTP/1.0", wire, true, parsed, canonical},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/prod?q=1", nil)
			r.Host, r.Header = "example.com", tc.header
			calls := 0
			r = r.WithContext(ContextWithWireHead(r.Context(), func() (string, []WireHeader, bool) {
				calls++
				return tc.line, tc.fields, tc.ok
			}))
			multi, single := eventHeaders(r, true)
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

// FuzzEventHeaders checks eventHeaders against the plain reading of its rule (the
// implementation it replaced, which built a canonical http.Header of the head to
// compare): for any head and any r.Header, the same names and values.
func FuzzEventHeaders(f *testing.F) {
	f.Add("host: a\nSec-WebSocket-Key: k\nx-dup: 1\nX-Dup: 2", "Sec-Websocket-Key: k\nX-Dup: 1\nX-Dup: 2", "a")
	f.Add("Host: a\nHost: a", "", "a")
	f.Add("Host: a\nx: 1", "X: 2", "a")
	f.Add("Host: a\nA-b-C: 1\na-B-c: 2", "A-B-C: 1\nA-B-C: 2", "a")
	f.Add("Host: a\na b: 1\nx\xffy: 2", "a b: 1\nx\xffy: 2", "a") // not tokens: kept as they are
	var many, manyParsed strings.Builder                          // past the length at which lines are sorted and searched
	many.WriteString("host: a")
	for i := range 40 {
		fmt.Fprintf(&many, "\nx-h%d: %d", 40-i, i)
		fmt.Fprintf(&manyParsed, "X-H%d: %d\n", 40-i, i)
	}
	f.Add(many.String(), manyParsed.String(), "a")
	f.Add(many.String(), manyParsed.String()+"X-H7: 2", "a")
	f.Fuzz(func(t *testing.T, head, header, host string) {
		split := func(s string) []WireHeader {
			var hs []WireHeader
			for line := range strings.SplitSeq(s, "\n") {
				if k, v, ok := strings.Cut(line, ":"); ok {
					hs = append(hs, WireHeader{k, strings.TrimSpace(v)})
				}
			}
			return hs
		}
		fields := split(head)
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Host, r.Header = host, http.Header{}
		for _, h := range split(header) {
			r.Header.Add(h.Name, h.Value)
		}
		r = r.WithContext(ContextWithWireHead(r.Context(), func() (string, []WireHeader, bool) {
			return "GET / HTTP/1.1", fields, true
		}))
		multi, single := eventHeaders(r, true)
		wantMulti, wantSingle := referenceEventHeaders(r, fields)
		if !equalHeaders(multi, wantMulti) {
			t.Errorf("multiValueHeaders %q, want %q", multi, wantMulti)
		}
		if len(single) != len(wantSingle) {
			t.Errorf("headers %q, want %q", single, wantSingle)
		}
		for k, v := range wantSingle {
			if single[k] != v {
				t.Errorf("headers %q, want %q", single, wantSingle)
			}
		}
	})
}

func equalHeaders(a, b map[string][]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, vs := range a {
		if ws, ok := b[k]; !ok || !slices.Equal(vs, ws) {
			return false
		}
	}
	return true
}

// referenceEventHeaders is eventHeaders as first written: the head's lines grouped in
// a canonical http.Header and compared with r.Header.
func referenceEventHeaders(r *http.Request, fields []WireHeader) (map[string][]string, map[string]string) {
	matches := func() bool {
		got := make(http.Header, len(r.Header))
		hosts := 0
		for _, f := range fields {
			ck := textproto.CanonicalMIMEHeaderKey(f.Name)
			if ck == "Host" {
				if hosts++; f.Value != r.Host {
					return false
				}
				continue
			}
			got[ck] = append(got[ck], f.Value)
		}
		if hosts != 1 || len(got) != len(r.Header) {
			return false
		}
		for k, vs := range r.Header {
			if !slices.Equal(got[k], vs) {
				return false
			}
		}
		return true
	}
	multi, single := map[string][]string{}, map[string]string{}
	if matches() {
		named := map[string]string{}
		for _, f := range fields {
			ck := textproto.CanonicalMIMEHeaderKey(f.Name)
			name, seen := named[ck]
			if !seen {
				name = f.Name
				named[ck] = name
			}
			multi[name] = append(multi[name], f.Value)
			single[name] = f.Value
		}
		return multi, single
	}
	for k, vs := range r.Header {
		multi[k], single[k] = vs, vs[len(vs)-1]
	}
	multi["Host"], single["Host"] = []string{r.Host}, r.Host
	return multi, single
}
