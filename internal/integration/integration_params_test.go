package integration

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wsgate/wsgate/internal/config"
)

// received is one request a real HTTP backend got.
type received struct {
	path   string // escaped, as on the wire
	query  string
	header http.Header
	body   string
}

func receivingBackend(t testing.TB) (*httptest.Server, <-chan received) {
	t.Helper()
	got := make(chan received, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- received{path: r.URL.EscapedPath(), query: r.URL.RawQuery, header: r.Header.Clone(), body: string(b)}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	return srv, got
}

// TestHTTPMultiValueParameters maps route.request.multivalueheader.X and
// route.request.multivaluequerystring.X onto a real backend's header, query and path.
func TestHTTPMultiValueParameters(t *testing.T) {
	srv, got := receivingBackend(t)
	in, err := New(config.Integration{
		IntegrationType: config.IntegrationHTTP,
		IntegrationURI:  srv.URL + "/tags/{tags}",
		RequestParameters: map[string]string{
			"integration.request.header.X-All":         "route.request.multivalueheader.X-Multi",
			"integration.request.header.X-All-Lower":   "route.request.multivalueheader.x-multi",
			"integration.request.header.X-Last":        "route.request.header.X-Multi",
			"integration.request.header.X-Forwarded":   "route.request.multivalueheader.X-Forwarded-For",
			"integration.request.header.X-Missing":     "route.request.multivalueheader.X-Nope",
			"integration.request.querystring.tags":     "route.request.multivaluequerystring.tag",
			"integration.request.querystring.one":      "route.request.multivaluequerystring.room",
			"integration.request.querystring.missing":  "route.request.multivaluequerystring.nope",
			"integration.request.querystring.casefold": "route.request.multivaluequerystring.TAG",
			"integration.request.path.tags":            "route.request.multivaluequerystring.tag",
		},
	}, Deps{})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	req := &Request{EventType: EventConnect, RouteKey: "$connect", Headers: connectHeaders(), Query: connectQuery()}
	req.Headers["x-multi"] = []string{"three"} // another spelling of the same header: after "X-Multi"
	if _, err := in.Invoke(context.Background(), req); err != nil {
		t.Fatalf("Invoke: %v", err)
	}
	r := <-got
	want := map[string]string{
		"X-All": "one,two,three", "X-All-Lower": "one,two,three", "X-Forwarded": "203.0.113.9, 127.0.0.1", "X-Missing": "",
	}
	for h, v := range want {
		if g := r.header.Get(h); g != v {
			t.Errorf("header %s = %q, want %q", h, g, v)
		}
	}
	if l := r.header.Get("X-Last"); l != "two" && l != "three" {
		t.Errorf("header X-Last (route.request.header) = %q, want one value", l)
	}
	if diff := cmp.Diff("one=lobby&tags=a%2Cb", r.query); diff != "" {
		t.Errorf("query (-want +got):\n%s", diff)
	}
	if r.path != "/tags/a%2Cb" { // one segment, escaped as every substituted value is
		t.Errorf("path = %q, want /tags/a%%2Cb", r.path)
	}

	// On a message route there is no handshake: the parameters are left out.
	msg := &Request{EventType: EventMessage, RouteKey: "send", Body: []byte(`{}`)}
	if _, err := in.Invoke(context.Background(), msg); err != nil {
		t.Fatalf("Invoke MESSAGE: %v", err)
	}
	r = <-got
	if r.header.Get("X-All") != "" || r.query != "" || r.path != "/tags/%7Btags%7D" {
		t.Errorf("MESSAGE: X-All %q, query %q, path %q: want none mapped", r.header.Get("X-All"), r.query, r.path)
	}
}

// TestHTTPTemplateInputParams renders $input.params into the body a real backend gets.
func TestHTTPTemplateInputParams(t *testing.T) {
	srv, got := receivingBackend(t)
	in, err := New(config.Integration{
		IntegrationType: config.IntegrationHTTP,
		IntegrationURI:  srv.URL + "/connect",
		RequestTemplates: map[string]string{"$default": `{"room":"$input.params('room')","xff":"$input.params('x-forwarded-for')",` +
			`"q":"$util.escapeJavaScript($input.params('X-Quote'))",` +
			`"kinds":"$input.params().keySet()","query":{#foreach($k in $input.params().querystring.keySet())"$k":"$input.params().querystring.get($k)"#if($foreach.hasNext),#end#end}}`},
	}, Deps{})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	req := &Request{EventType: EventConnect, RouteKey: "$connect", Headers: connectHeaders(), Query: connectQuery()}
	if _, err := in.Invoke(context.Background(), req); err != nil {
		t.Fatalf("Invoke: %v", err)
	}
	r := <-got
	want := `{"room":"lobby","xff":"203.0.113.9, 127.0.0.1","q":"it\'s \"q\"","kinds":"[header, path, querystring]",` +
		`"query":{"Host":"from-query","empty":"","room":"lobby","tag":"b"}}`
	if diff := cmp.Diff(want, r.body); diff != "" {
		t.Errorf("body (-want +got):\n%s", diff)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
}

// TestMockInputParams: a MOCK $connect refuses by a query parameter, and its response
// template sees the handshake too.
func TestMockInputParams(t *testing.T) {
	in, err := New(config.Integration{
		IntegrationType:  config.IntegrationMock,
		RequestTemplates: map[string]string{"$default": `{"statusCode": #if($input.params('room') == 'closed')403#{else}200#end}`},
		ResponseTemplate: `welcome to $input.params('room')`,
	}, Deps{})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	for room, want := range map[string]int{"closed": 403, "lobby": 200} {
		resp, err := in.Invoke(context.Background(), &Request{EventType: EventConnect, Query: map[string][]string{"room": {room}}})
		if err != nil {
			t.Fatalf("Invoke: %v", err)
		}
		if resp.StatusCode != want || string(resp.Body) != "welcome to "+room {
			t.Errorf("room %s: %d %q, want %d", room, resp.StatusCode, resp.Body, want)
		}
	}
}

func TestMultiValueParameterErrors(t *testing.T) {
	for _, src := range []string{"route.request.multivalueheader.", "route.request.multivaluequerystring.", "route.request.multivalueheaders.X"} {
		_, err := New(config.Integration{
			IntegrationType:   config.IntegrationHTTP,
			IntegrationURI:    "http://backend.example.test/",
			RequestParameters: map[string]string{"integration.request.header.X": src},
		}, Deps{})
		if err == nil || !strings.Contains(err.Error(), `RequestParameters["integration.request.header.X"]`) {
			t.Errorf("source %q: %v, want an error naming the field", src, err)
		}
	}
}
