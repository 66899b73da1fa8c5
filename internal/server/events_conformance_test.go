package server

import (
	"bufio"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/wsgate/wsgate/authevent"
	"github.com/wsgate/wsgate/internal/testutil"
)

// The events wsgate sends, compared key by key with events API Gateway sent
// (testdata/aws-events, sources in its README): the same keys at every level, the same
// null-ness and JSON types, header names spelled as the client sent them. Values differ
// (ids, times), and so do the header and query names, which are the client's: those maps
// are checked for the spelling of each name instead.

const conformanceConfig = `
Api: {RouteSelectionExpression: $request.body.action, ApiId: abc123}
Stage: {StageName: prod}
Authorizers:
  auth:
    AuthorizerUri: arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:auth/invocations
    IdentitySource: [route.request.header.HeaderAuth1]
Integrations:
  fn:
    IntegrationType: AWS_PROXY
    IntegrationUri: arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:chat/invocations
Routes:
  $connect: {AuthorizationType: CUSTOM, AuthorizerId: auth, Target: integrations/fn}
  $disconnect: {Target: integrations/fn}
  $default: {Target: integrations/fn}
Server:
  Management: {AllowUnsigned: true}
`

// eventsLambda is a fake Lambda service whose authorizer admits the Developer Guide's
// HeaderAuth1: headerValue1 and whose route function answers 200; it hands over every
// payload, decoded into maps so that no key is dropped.
type eventsLambda struct {
	*fakeLambda
	auth, chat chan map[string]any
}

func newEventsLambda(t *testing.T) *eventsLambda {
	t.Helper()
	l := &eventsLambda{auth: make(chan map[string]any, 10), chat: make(chan map[string]any, 10)}
	decode := func(p []byte) map[string]any {
		var m map[string]any
		if err := json.Unmarshal(p, &m); err != nil {
			t.Errorf("the gateway sent a payload that is not a JSON object: %v", err)
		}
		return m
	}
	l.fakeLambda = newFakeLambda(t, map[string]func([]byte) ([]byte, string){
		"arn:aws:lambda:us-east-1:123456789012:function:auth": func(p []byte) ([]byte, string) {
			l.auth <- decode(p)
			var ev authevent.Event
			_ = json.Unmarshal(p, &ev)
			if ev.Headers["HeaderAuth1"] != "headerValue1" { // the Developer Guide's check, names as sent
				return []byte(`{"errorMessage":"Unauthorized","errorType":"Error"}`), "Unhandled"
			}
			b, _ := json.Marshal(authevent.AllowResponse("me", ev.MethodArn, map[string]any{"stringKey": "stringval", "numberKey": 123}))
			return b, ""
		},
		"arn:aws:lambda:us-east-1:123456789012:function:chat": func(p []byte) ([]byte, string) {
			l.chat <- decode(p)
			return []byte(`{"statusCode":200}`), ""
		},
	})
	return l
}

func nextEvent(t *testing.T, ch chan map[string]any, what string) map[string]any {
	t.Helper()
	select {
	case m := <-ch:
		return m
	case <-time.After(5 * time.Second):
		t.Fatalf("no %s within 5s", what)
		return nil
	}
}

func readAWSEvent(t *testing.T, name string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "aws-events", name))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return m
}

// clientMaps are the maps whose keys are the client's (header and query names): their
// key sets are not compared, only their null-ness.
var clientMaps = []string{"headers", "multiValueHeaders", "queryStringParameters", "multiValueQueryStringParameters"}

// shapeDiff lists where got differs from want in key set, null-ness or JSON type, at
// every level below path.
func shapeDiff(path string, want, got any) []string {
	if kind(want) != kind(got) {
		return []string{fmt.Sprintf("%s: AWS sends %s, wsgate %s", path, kind(want), kind(got))}
	}
	var diffs []string
	switch w := want.(type) {
	case map[string]any:
		g := got.(map[string]any)
		if slices.Contains(clientMaps, path) {
			return nil
		}
		for _, k := range keys(w) {
			if _, ok := g[k]; !ok {
				diffs = append(diffs, fmt.Sprintf("%s.%s: AWS sends it, wsgate does not", path, k))
				continue
			}
			diffs = append(diffs, shapeDiff(strings.TrimPrefix(path+"."+k, "."), w[k], g[k])...)
		}
		for _, k := range keys(g) {
			if _, ok := w[k]; !ok {
				diffs = append(diffs, fmt.Sprintf("%s.%s: wsgate sends it (%v), AWS does not", path, k, g[k]))
			}
		}
	case []any:
		g := got.([]any)
		if len(w) > 0 && len(g) > 0 {
			diffs = append(diffs, shapeDiff(path+"[0]", w[0], g[0])...)
		}
	}
	return diffs
}

func kind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	case string:
		return "a string"
	case float64:
		return "a number"
	case bool:
		return "a boolean"
	}
	return fmt.Sprintf("%T", v)
}

func keys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// checkHeaderNames checks that both header maps of ev name exactly the headers sent
// (names as sent), and that every name AWS's event also has is spelled as AWS spells it.
func checkHeaderNames(t *testing.T, what string, ev, aws map[string]any, sent []string) {
	t.Helper()
	// The names the client sent, and the three API Gateway adds (in its spelling).
	want := slices.Sorted(slices.Values(append(slices.Clone(sent), "X-Forwarded-For", "X-Forwarded-Port", "X-Forwarded-Proto")))
	for _, m := range []string{"headers", "multiValueHeaders"} {
		got, _ := ev[m].(map[string]any)
		if diff := cmp.Diff(want, keys(got)); diff != "" {
			t.Errorf("%s %s: names (-sent +event):\n%s", what, m, diff)
		}
		for name := range aws[m].(map[string]any) {
			for g := range got {
				if strings.EqualFold(g, name) && g != name {
					t.Errorf("%s %s: %q, AWS sends %q", what, m, g, name)
				}
			}
		}
	}
}

func TestEventsMatchAPIGatewayKeyByKey(t *testing.T) {
	l := newEventsLambda(t)
	r := startGateway(t, conformanceConfig, Deps{Lambda: l.client()})

	// As a client writes them: mixed case, and one header on two lines whose names
	// differ only in case.
	h := http.Header{
		"HeaderAuth1":            {"headerValue1"},
		"Sec-WebSocket-Protocol": {"chat"},
		"X-Dup":                  {"first"},
		"x-dup":                  {"second"},
	}
	sent := []string{"Connection", "HeaderAuth1", "Host", "Sec-WebSocket-Key", "Sec-WebSocket-Protocol", "Sec-WebSocket-Version", "Upgrade", "X-Dup"}
	testutil.RawDial(t, r.WebSocket, "/?QueryString1=queryValue1", h) // stays open until the test ends

	t.Run("authorizer", func(t *testing.T) {
		aws, ev := readAWSEvent(t, "authorizer-request.json"), nextEvent(t, l.auth, "authorizer event")
		for _, d := range shapeDiff("", aws, ev) {
			t.Error(d)
		}
		checkHeaderNames(t, "authorizer event", ev, aws, sent)
		if got := ev["multiValueHeaders"].(map[string]any)["X-Dup"]; !cmp.Equal(got, []any{"first", "second"}) {
			t.Errorf(`multiValueHeaders["X-Dup"] = %v, want [first second]: lines whose names differ in case are one header`, got)
		}
		if got := ev["headers"].(map[string]any)["X-Dup"]; got != "second" {
			t.Errorf(`headers["X-Dup"] = %v, want the last value`, got)
		}
		if diff := cmp.Diff(aws["queryStringParameters"], ev["queryStringParameters"]); diff != "" {
			t.Errorf("queryStringParameters (-AWS +wsgate):\n%s", diff)
		}
	})

	t.Run("CONNECT", func(t *testing.T) {
		aws, ev := readAWSEvent(t, "connect.json"), nextEvent(t, l.chat, "CONNECT event")
		checkAuthorizerContext(t, ev)
		// AWS's recorded $connect had no query; this one has the Developer Guide's.
		if diff := cmp.Diff(map[string]any{"QueryString1": []any{"queryValue1"}}, ev["multiValueQueryStringParameters"]); diff != "" {
			t.Errorf("multiValueQueryStringParameters (-want +got):\n%s", diff)
		}
		delete(ev, "queryStringParameters")
		delete(ev, "multiValueQueryStringParameters")
		for _, d := range shapeDiff("", aws, ev) {
			t.Error(d)
		}
		checkHeaderNames(t, "CONNECT event", ev, aws, sent)
	})

	// AWS's recorded MESSAGE and DISCONNECT come from a browser, which sends a
	// User-Agent (requestContext.identity.userAgent); the recorded $connect and the
	// Developer Guide's authorizer event from clients that sent none.
	h = h.Clone()
	h["User-Agent"] = []string{"Mozilla/5.0 (X11; Linux x86_64) Chrome/118.0.0.0"}
	c := testutil.RawDial(t, r.WebSocket, "/", h)
	for _, ev := range []map[string]any{nextEvent(t, l.auth, "authorizer event"), nextEvent(t, l.chat, "CONNECT event")} {
		id, _ := ev["requestContext"].(map[string]any)["identity"].(map[string]any)
		if id["userAgent"] != h["User-Agent"][0] {
			t.Errorf("%s: requestContext.identity = %v, want the userAgent", ev["requestContext"].(map[string]any)["eventType"], id)
		}
		if ev["type"] == "REQUEST" && (ev["queryStringParameters"] != nil || ev["multiValueQueryStringParameters"] != nil) {
			t.Errorf("authorizer event without a query: queryStringParameters %v, multiValueQueryStringParameters %v, want null",
				ev["queryStringParameters"], ev["multiValueQueryStringParameters"])
		}
		if _, ok := ev["queryStringParameters"]; ev["type"] != "REQUEST" && ok {
			t.Errorf("CONNECT event without a query has queryStringParameters: AWS sends none")
		}
	}

	c.Send(testutil.Text(`{"a": 1}`))
	t.Run("MESSAGE", func(t *testing.T) {
		aws, ev := readAWSEvent(t, "message.json"), nextEvent(t, l.chat, "MESSAGE event")
		checkAuthorizerContext(t, ev)
		for _, d := range shapeDiff("", aws, ev) {
			t.Error(d)
		}
		if ev["body"] != `{"a": 1}` {
			t.Errorf("body = %v", ev["body"])
		}
	})

	c.Send(testutil.Frame(0x88, []byte{0x03, 0xe9})) // close 1001, as the recorded client did
	t.Run("DISCONNECT", func(t *testing.T) {
		aws, ev := readAWSEvent(t, "disconnect.json"), nextEvent(t, l.chat, "DISCONNECT event")
		checkAuthorizerContext(t, ev)
		for _, d := range shapeDiff("", aws, ev) {
			t.Error(d)
		}
		// The headers AWS sends on $disconnect are always these four, so here the names
		// are compared as they are.
		for _, m := range []string{"headers", "multiValueHeaders"} {
			if diff := cmp.Diff(keys(aws[m].(map[string]any)), keys(ev[m].(map[string]any))); diff != "" {
				t.Errorf("%s names (-AWS +wsgate):\n%s", m, diff)
			}
		}
		if got := ev["headers"].(map[string]any)["Host"]; got != ev["requestContext"].(map[string]any)["domainName"] {
			t.Errorf("DISCONNECT Host = %v, want the domain name", got)
		}
		if got := ev["requestContext"].(map[string]any)["disconnectStatusCode"]; got != float64(1001) {
			t.Errorf("disconnectStatusCode = %v, want 1001", got)
		}
	})
}

// checkAuthorizerContext checks requestContext.authorizer, which API Gateway adds to
// every event of a connection its authorizer admitted (AWS's recorded events come from
// an API without one), and removes it before the shapes are compared.
func checkAuthorizerContext(t *testing.T, ev map[string]any) {
	t.Helper()
	rc, _ := ev["requestContext"].(map[string]any)
	want := map[string]any{"principalId": "me", "stringKey": "stringval", "numberKey": float64(123)}
	if diff := cmp.Diff(want, rc["authorizer"]); diff != "" {
		t.Errorf("requestContext.authorizer (-want +got):\n%s", diff)
	}
	delete(rc, "authorizer")
}

// The HTTP authorizer receives the same event, and the names survive TLS: the head is
// recorded above the TLS layer.
func TestHTTPAuthorizerEventMatchesAPIGatewayOverTLS(t *testing.T) {
	events := make(chan map[string]any, 4)
	auth := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev map[string]any
		b, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(b, &ev); err != nil {
			t.Errorf("the authorizer event is not a JSON object: %v", err)
		}
		events <- ev
		arn, _ := ev["methodArn"].(string)
		_ = json.NewEncoder(w).Encode(authevent.AllowResponse("me", arn, nil))
	}))
	t.Cleanup(auth.Close)
	certFile, keyFile, pool := testutil.TLSFiles(t)
	cfg := fmt.Sprintf(`
Api: {RouteSelectionExpression: $request.body.action, ApiId: abc123}
Stage: {StageName: prod}
Authorizers:
  http: {AuthorizerUri: %s, IdentitySource: [route.request.header.HeaderAuth1]}
Integrations:
  mock: {IntegrationType: MOCK, RequestTemplates: {$default: '{"statusCode": 200}'}}
Routes:
  $connect: {AuthorizationType: CUSTOM, AuthorizerId: http, Target: integrations/mock}
Server:
  TLS: {CertFile: %s, KeyFile: %s}
`, auth.URL, certFile, keyFile)
	r := startGateway(t, cfg, Deps{})
	conn, err := tls.Dial("tcp", r.WebSocket, &tls.Config{RootCAs: pool, ServerName: "localhost", NextProtos: []string{"http/1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	head := "GET /?QueryString1=queryValue1 HTTP/1.1\r\nHost: " + r.WebSocket + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nHeaderAuth1: headerValue1\r\nSec-WebSocket-Protocol: chat\r\n\r\n"
	if _, err := io.WriteString(conn, head); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("handshake over TLS: %v %v\nlogs:\n%s", resp, err, r.logs.String())
	}
	aws, ev := readAWSEvent(t, "authorizer-request.json"), nextEvent(t, events, "HTTP authorizer event")
	for _, d := range shapeDiff("", aws, ev) {
		t.Error(d)
	}
	checkHeaderNames(t, "HTTP authorizer event", ev, aws,
		[]string{"Connection", "HeaderAuth1", "Host", "Sec-WebSocket-Key", "Sec-WebSocket-Protocol", "Sec-WebSocket-Version", "Upgrade"})
}

// The built-in cookie authorizer reads net/http's header names (it runs in process and
// finds headers whatever their case); the $connect Lambda behind it still gets the names
// as the client sent them.
func TestConnectEventBehindTheCookieAuthorizerNamesHeadersAsSent(t *testing.T) {
	l := newEventsLambda(t)
	r := startGateway(t, `
Api: {RouteSelectionExpression: $request.body.action}
Stage: {StageName: prod}
Authorizers:
`+cookieAuthorizerYAML+`Integrations:
  fn:
    IntegrationType: AWS_PROXY
    IntegrationUri: arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:chat/invocations
Routes:
  $connect: {AuthorizationType: CUSTOM, AuthorizerId: cookie, Target: integrations/fn}
`, Deps{Lambda: l.client()})
	lg := loginAs(t, "alice", time.Now().Add(time.Hour))
	conn, err := net.Dial("tcp", r.WebSocket)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_, _ = io.WriteString(conn, "GET /?csrf="+lg.csrf+" HTTP/1.1\r\nHost: "+r.WebSocket+"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nHeaderAuth1: headerValue1\r\n"+
		"origin: "+lg.origin+"\r\ncookie: "+lg.cookie+"\r\n\r\n")
	ev := nextEvent(t, l.chat, "$connect event")
	checkHeaderNames(t, "$connect", ev, readAWSEvent(t, "connect.json"), []string{
		"Connection", "HeaderAuth1", "Host", "Sec-WebSocket-Key", "Sec-WebSocket-Version", "Upgrade", "cookie", "origin"})
}
