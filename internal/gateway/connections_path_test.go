package gateway

import (
	"bufio"
	"net/http"
	"strings"
	"testing"
)

// connectionsPatterns are internal/mgmt/routes.go's patterns for the operations.
var connectionsPatterns = []string{"/{stage}/@connections/{id}", "/@connections/{id}",
	"/{stage}/@wsgate/post-to-connections", "/@wsgate/post-to-connections"}

// muxRoutes reports whether a ServeMux holding connectionsPatterns routes r to one of
// them, and whether r's path is one the mux serves as it is (not one it redirects to
// its clean form, 301 or 307).
func muxRoutes(r *http.Request) (routed, canonical bool) {
	mux := http.NewServeMux()
	for _, p := range connectionsPatterns {
		mux.Handle(p, http.NotFoundHandler())
	}
	mux.Handle("/", http.NotFoundHandler())
	h, pattern := mux.Handler(r)
	rec := &codeRecorder{h: http.Header{}}
	h.ServeHTTP(rec, r)
	return pattern != "/" && pattern != "", rec.code/100 != 3
}

// codeRecorder keeps only the status a handler writes.
type codeRecorder struct {
	h    http.Header
	code int
}

func (r *codeRecorder) Header() http.Header         { return r.h }
func (r *codeRecorder) Write(b []byte) (int, error) { return len(b), nil }
func (r *codeRecorder) WriteHeader(code int)        { r.code = code }

// parseRequestLine reads target the way the listener does, or returns nil.
func parseRequestLine(target string) *http.Request {
	r, err := http.ReadRequest(bufio.NewReader(strings.NewReader("POST " + target + " HTTP/1.1\r\nHost: gw.example.test\r\n\r\n")))
	if err != nil {
		return nil
	}
	return r
}

func TestConnectionsPath(t *testing.T) {
	tests := []struct {
		target string
		want   bool
	}{
		{"/prod/@connections/R1kmxc2VNjMCFIA=", true},
		{"/prod/@connections/R1kmxc2VNjMCFIA%3D", true},
		{"/@connections/R1kmxc2VNjMCFIA=", true},
		{"/prod/@connections/ab%2Fcd", true},
		{"/prod/%40connections/abc", true},
		{"/prod/%40conn%65ctions/abc", true},
		{"/prod/@connections/abc?x=1", true},
		{"/", false},
		{"/prod", false},
		{"/prod/@connections", false},
		{"/prod/@connections/", false},
		{"/@connections/", false},
		{"//@connections/abc", true}, // an empty stage: the router serves it as the root path
		{"/prod/@connections/abc/", false},
		{"/a/prod/@connections/abc", false},
		{"/prod/connections/abc", false},
		{"/prod/@Connections/abc", false},
		{"/prod/@wsgate/post-to-connections", true},
		{"/@wsgate/post-to-connections", true},
		{"/prod/%40wsgate/post%2Dto-connections", true},
		{"/prod/@wsgate/post-to-connections/x", false},
		{"/prod/@wsgate/other", false},
		{"/prod/@wsgate", false},
	}
	for _, tt := range tests {
		r := parseRequestLine(tt.target)
		if r == nil {
			t.Fatalf("%s: not a request", tt.target)
		}
		if got := connectionsPath(r); got != tt.want {
			t.Errorf("connectionsPath(%s) = %v, want %v", tt.target, got, tt.want)
		}
	}
}

// FuzzConnectionsPath checks that the WebSocket listener hands to the @connections API
// exactly the requests that API's router serves as operations: any request target the
// listener accepts, compared with a ServeMux holding the same patterns (paths the mux
// would redirect are only required not to panic).
func FuzzConnectionsPath(f *testing.F) {
	for _, s := range []string{
		"/prod/@connections/R1kmxc2VNjMCFIA=", "/@connections/L0SM9cOFvHcCIhw", "/prod/@connections/ab%2Fcd%2B%3D",
		"/prod/%40connections/x", "/", "/prod", "/prod/@connections/", "//@connections/x", "/./@connections/x",
		"/prod/@connections/x/y", "/prod/@connections/x?token=1", "http://h/prod/@connections/x", "*",
		"/prod/@wsgate/post-to-connections", "/@wsgate/post-to-connections", "/p/%40wsgate/post-to-connections",
		"//000/@connections/0", // the mux redirects it (307 for a POST): compared only for no panic
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, target string) {
		r := parseRequestLine(target)
		if r == nil {
			return
		}
		got := connectionsPath(r)
		routed, canonical := muxRoutes(r)
		if canonical && got != routed {
			t.Errorf("%q: connectionsPath %v, the @connections router routes it: %v", target, got, routed)
		}
	})
}
