package server

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/google/go-cmp/cmp"

	"github.com/wsgate/wsgate/authevent"
	"github.com/wsgate/wsgate/internal/testutil"
)

// forwardedConfig has an HTTP authorizer at authURL and an AWS_PROXY $connect.
func forwardedConfig(authURL, extra string) string {
	return fmt.Sprintf(`
Api: {RouteSelectionExpression: $request.body.action, ApiId: abc123}
Stage: {StageName: prod}
Authorizers:
  http:
    AuthorizerUri: %s
    IdentitySource: [route.request.querystring.token]
Integrations:
  fn:
    IntegrationType: AWS_PROXY
    IntegrationUri: arn:aws:lambda:us-east-1:123456789012:function:chat
Routes:
  $connect: {AuthorizationType: CUSTOM, AuthorizerId: http, Target: integrations/fn}
  $default: {Target: integrations/fn}
Server:
  Management: {AllowUnsigned: true}
%s`, authURL, extra)
}

// TestConnectForwardedHeaders checks the X-Forwarded-* headers the authorizer's event and
// the CONNECT event get, on a plain and a TLS listener, when the client sent its own.
func TestConnectForwardedHeaders(t *testing.T) {
	authEvents := make(chan authevent.Event, 10)
	auth := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev authevent.Event
		if err := json.NewDecoder(r.Body).Decode(&ev); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		authEvents <- ev
		_ = json.NewEncoder(w).Encode(authevent.AllowResponse("user-7", ev.MethodArn, nil))
	}))
	t.Cleanup(auth.Close)
	f := newFakeLambda(t, map[string]func([]byte) ([]byte, string){
		"arn:aws:lambda:us-east-1:123456789012:function:chat": func([]byte) ([]byte, string) { return []byte(`{"statusCode":200}`), "" },
	})
	certFile, keyFile, pool := testutil.TLSFiles(t)

	// What the client sends: an X-Forwarded-For of its own, and a port and protocol that
	// are not the listener's.
	sent := http.Header{"X-Forwarded-For": {"198.51.100.1"}, "x-forwarded-proto": {"https"}, "X-Forwarded-Port": {"1"}}
	for _, tc := range []struct {
		name, extra, proto string
		dial               func(t *testing.T, r *running)
	}{
		{
			name: "plain, raw socket", proto: "http",
			dial: func(t *testing.T, r *running) {
				testutil.RawDial(t, r.WebSocket, "/?token=t1", sent).Close()
			},
		},
		{
			name: "tls", extra: fmt.Sprintf("  TLS: {CertFile: %s, KeyFile: %s}", certFile, keyFile), proto: "https",
			dial: func(t *testing.T, r *running) {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
				c, _, err := websocket.Dial(ctx, "wss://"+r.WebSocket+"/?token=t1", &websocket.DialOptions{HTTPClient: client, HTTPHeader: sent})
				if err != nil {
					t.Fatalf("wss dial: %v", err)
				}
				c.CloseNow()
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := startGateway(t, forwardedConfig(auth.URL, tc.extra), Deps{Lambda: f.client()})
			_, port, err := net.SplitHostPort(r.WebSocket)
			if err != nil {
				t.Fatal(err)
			}
			tc.dial(t, r)
			wantSingle := map[string]string{"X-Forwarded-For": "198.51.100.1, 127.0.0.1", "X-Forwarded-Port": port, "X-Forwarded-Proto": tc.proto}
			wantMulti := map[string][]string{"X-Forwarded-For": {"198.51.100.1, 127.0.0.1"}, "X-Forwarded-Port": {port}, "X-Forwarded-Proto": {tc.proto}}

			var ev authevent.Event
			select {
			case ev = <-authEvents:
			case <-time.After(5 * time.Second):
				t.Fatal("the authorizer was not called")
			}
			connect := f.next(t, "CONNECT")
			for _, got := range []struct {
				who    string
				single map[string]string
				multi  map[string][]string
			}{
				{"authorizer event", ev.Headers, ev.MultiValueHeaders},
				{"CONNECT event", connect.Headers, connect.MultiValueHeaders},
			} {
				if diff := cmp.Diff(wantSingle, forwarded(got.single)); diff != "" {
					t.Errorf("%s headers (-want +got):\n%s", got.who, diff)
				}
				if diff := cmp.Diff(wantMulti, forwarded(got.multi)); diff != "" {
					t.Errorf("%s multiValueHeaders (-want +got):\n%s", got.who, diff)
				}
			}
		})
	}
}

// forwarded is the entries of m whose names start with X-Forwarded-, in any case.
func forwarded[V any](m map[string]V) map[string]V {
	out := map[string]V{}
	for k, v := range m {
		if len(k) > len("X-Forwarded-") && http.CanonicalHeaderKey(k[:len("X-Forwarded-")]) == "X-Forwarded-" {
			out[k] = v
		}
	}
	return out
}

// TestConnectParamsReachBackend: a $connect HTTP integration maps multi-value headers and
// query parameters, and renders $input.params, from a real handshake on a raw socket; a
// message route's template sees no handshake parameters.
func TestConnectParamsReachBackend(t *testing.T) {
	be := newBackend(t, nil)
	cfg := fmt.Sprintf(`
Api: {RouteSelectionExpression: $request.body.action}
Integrations:
  connect:
    IntegrationType: HTTP
    IntegrationUri: %[1]s/connect
    RequestParameters:
      integration.request.header.X-Tags: route.request.multivaluequerystring.tag
      integration.request.header.X-Multi: route.request.multivalueheader.x-multi
      integration.request.querystring.via: route.request.multivalueheader.X-Forwarded-For
    RequestTemplates:
      $default: '{"room":"$input.params(''room'')","tag":"$input.params(''tag'')","multi":"$input.params(''X-MULTI'')","proto":"$input.params(''X-Forwarded-Proto'')","kinds":"$input.params().keySet()","path":"$input.params().path"}'
  message:
    IntegrationType: HTTP
    IntegrationUri: %[1]s/message
    RequestTemplates:
      $default: '{"room":"$input.params(''room'')","headers":$input.params().header.size()}'
Routes:
  $connect: {Target: integrations/connect}
  $default: {Target: integrations/message}
Server:
  Management: {AllowUnsigned: true}
`, be.URL)
	r := startGateway(t, cfg, Deps{})
	c := testutil.RawDial(t, r.WebSocket, "/?room=lobby&tag=a&tag=b", http.Header{"X-Multi": {"one", "two"}, "X-Forwarded-For": {"198.51.100.1"}})
	defer c.Close()

	got := be.next(t, "/connect")
	if got.Header.Get("X-Tags") != "a,b" || got.Header.Get("X-Multi") != "one,two" {
		t.Errorf("mapped headers: X-Tags %q, X-Multi %q; want a,b and one,two", got.Header.Get("X-Tags"), got.Header.Get("X-Multi"))
	}
	if diff := cmp.Diff("via=198.51.100.1%2C+127.0.0.1", got.Query); diff != "" {
		t.Errorf("mapped query (-want +got):\n%s", diff)
	}
	want := map[string]any{"room": "lobby", "tag": "b", "multi": "two", "proto": "http", "kinds": "[header, path, querystring]", "path": "{}"}
	if diff := cmp.Diff(want, mustJSON(t, got.Body)); diff != "" {
		t.Errorf("$connect body (-want +got):\n%s", diff)
	}

	c.Send(testutil.Text(`{"action":"anything"}`))
	if diff := cmp.Diff(`{"room":"","headers":0}`, be.next(t, "/message").Body); diff != "" {
		t.Errorf("message body (-want +got):\n%s", diff)
	}
}
