package server

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/google/go-cmp/cmp"
)

// chatConfig is the configuration most tests run: the built-in cookie authorizer on
// $connect, HTTP integrations on a fake backend, a two-way custom route.
func chatConfig(backendURL string, extra string) string {
	return fmt.Sprintf(`
Api: {RouteSelectionExpression: $request.body.action, ApiId: abc123}
Stage: {StageName: dev, StageVariables: {backend: %[1]s}}
Authorizers:
  cookie:
    IdentitySource: [route.request.header.Cookie]
    Cookie:
      Algorithms: [HS256]
      CsrfClaim: csrf
      AllowedOrigins: ["https://ui.dev.example.test"]
      ContextClaims: [name]
      Key: {HmacSecretEnv: JWT_SECRET}
Integrations:
  connect:
    IntegrationType: HTTP
    IntegrationUri: ${stageVariables.backend}/connect
    RequestParameters:
      integration.request.header.X-Connection-Id: context.connectionId
      integration.request.header.X-Principal: context.authorizer.principalId
      integration.request.header.X-Name: context.authorizer.name
      integration.request.querystring.room: route.request.querystring.room
  disconnect:
    IntegrationType: HTTP
    IntegrationUri: %[1]s/disconnect
    RequestTemplates:
      $default: '{"connectionId":"$context.connectionId","code":$context.disconnectStatusCode,"reason":"$util.escapeJavaScript($context.disconnectReason)"}'
  echo:
    IntegrationType: HTTP
    IntegrationUri: %[1]s/echo
    RequestTemplates:
      $default: '{"connectionId":"$context.connectionId","principal":"$context.authorizer.principalId","route":"$context.routeKey","body":$input.json(''$'')}'
  default:
    IntegrationType: HTTP_PROXY
    IntegrationUri: %[1]s/default
    RequestParameters:
      integration.request.header.X-Connection-Id: context.connectionId
  broken:
    IntegrationType: HTTP
    IntegrationUri: http://127.0.0.1:1/nothing-listens-here
Routes:
  $connect: {AuthorizationType: CUSTOM, AuthorizerId: cookie, Target: integrations/connect}
  $disconnect: {Target: integrations/disconnect}
  $default: {Target: integrations/default}
  echo: {Target: integrations/echo, RouteResponseSelectionExpression: $default}
  broken: {Target: integrations/broken, RouteResponseSelectionExpression: $default}
Server:
  Management: {AllowUnsigned: true}
%[2]s`, backendURL, extra)
}

func echoBackend(t testing.TB) *backend {
	return newBackend(t, func(w http.ResponseWriter, c backendCall) {
		switch c.Path {
		case "/echo":
			_, _ = w.Write([]byte(c.Body))
		case "/connect":
			if c.Query == "room=closed" {
				w.WriteHeader(http.StatusForbidden)
				return
			}
			if c.Query == "room=teapot" {
				w.WriteHeader(http.StatusTeapot)
				return
			}
			if p := c.Header.Get("X-Want-Subprotocol"); p != "" {
				w.Header().Set("Sec-WebSocket-Protocol", p)
			}
			_, _ = w.Write([]byte("welcome"))
		default:
			_, _ = w.Write([]byte("ignored"))
		}
	})
}

func TestHandshakeOutcomes(t *testing.T) {
	be := echoBackend(t)
	r := startGateway(t, chatConfig(be.URL, ""), Deps{})
	alice := loginAs(t, "alice", time.Now().Add(time.Hour))
	tests := []struct {
		name        string
		l           login
		path        string
		wantStatus  int
		wantConnect bool // the $connect backend was called
	}{
		{"no cookie: identity source missing", login{origin: alice.origin, csrf: alice.csrf}, "/", http.StatusUnauthorized, false},
		{"garbage token", login{cookie: "JWT=abc; CSRF-TOKEN=x", csrf: "x", origin: alice.origin}, "/", http.StatusUnauthorized, false},
		{"expired token", loginAs(t, "alice", time.Now().Add(-time.Hour)), "/", http.StatusUnauthorized, false},
		{"cross-site origin", login{cookie: alice.cookie, csrf: alice.csrf, origin: "https://evil.test"}, "/", http.StatusForbidden, false},
		{"csrf of another session", login{cookie: alice.cookie, csrf: "csrf-mallory", origin: alice.origin}, "/", http.StatusForbidden, false},
		{"$connect integration refuses", alice, "/?room=closed", http.StatusForbidden, true},
		{"$connect integration status passes through", alice, "/?room=teapot", http.StatusTeapot, true},
		{"admitted", alice, "/?room=lobby", http.StatusSwitchingProtocols, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := be.count("/connect")
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			h := http.Header{"Origin": {tt.l.origin}}
			if tt.l.cookie != "" {
				h.Set("Cookie", tt.l.cookie)
			}
			q := tt.path
			if tt.l.csrf != "" {
				sep := "?"
				if strings.Contains(q, "?") {
					sep = "&"
				}
				q += sep + "csrf=" + tt.l.csrf
			}
			c, resp, err := websocket.Dial(ctx, r.wsURL(q), &websocket.DialOptions{HTTPHeader: h})
			if resp == nil {
				t.Fatalf("no response: %v", err)
			}
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status = %d, want %d (%v)", resp.StatusCode, tt.wantStatus, err)
			}
			if c != nil {
				c.Close(websocket.StatusNormalClosure, "")
			}
			called := be.count("/connect") > before
			if called != tt.wantConnect {
				t.Errorf("$connect backend called = %v, want %v", called, tt.wantConnect)
			}
		})
	}
}

func TestConnectIntegrationSeesPrincipal(t *testing.T) {
	be := echoBackend(t)
	r := startGateway(t, chatConfig(be.URL, ""), Deps{})
	c, status, err := dial(t, r, loginAsRoom(t, "alice"))
	if err != nil {
		t.Fatalf("dial: %d %v", status, err)
	}
	defer c.CloseNow()
	call := be.next(t, "/connect")
	got := map[string]string{
		"principal": call.Header.Get("X-Principal"),
		"name":      call.Header.Get("X-Name"),
		"query":     call.Query,
		"cookie":    call.Header.Get("Cookie"),
	}
	want := map[string]string{"principal": "alice", "name": "Alice", "query": "room=lobby", "cookie": ""}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("$connect request (-want +got):\n%s", diff)
	}
	if id := call.Header.Get("X-Connection-Id"); len(id) != 16 || !strings.HasSuffix(id, "=") {
		t.Errorf("connection id %q is not 16 base64 characters ending in =", id)
	}
}

// loginAsRoom is loginAs with ?room=lobby added by dialRoom.
func loginAsRoom(t testing.TB, sub string) login {
	l := loginAs(t, sub, time.Now().Add(time.Hour))
	l.csrf += "&room=lobby"
	return l
}

func TestRoutes(t *testing.T) {
	be := echoBackend(t)
	r := startGateway(t, chatConfig(be.URL, ""), Deps{})
	c := mustDial(t, r, loginAs(t, "alice", time.Now().Add(time.Hour)))
	connectCall := be.next(t, "/connect")
	id := connectCall.Header.Get("X-Connection-Id")

	t.Run("custom two-way route renders the template", func(t *testing.T) {
		write(t, c, `{"action":"echo","text":"hi"}`)
		got := mustJSON(t, read(t, c))
		want := map[string]any{"connectionId": id, "principal": "alice", "route": "echo", "body": map[string]any{"action": "echo", "text": "hi"}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("echo (-want +got):\n%s", diff)
		}
	})
	t.Run("unmatched goes to $default, one-way", func(t *testing.T) {
		write(t, c, `{"action":"nope","n":1}`)
		call := be.next(t, "/default")
		if call.Body != `{"action":"nope","n":1}` || call.Header.Get("X-Connection-Id") != id {
			t.Errorf("$default got body %q connection %q", call.Body, call.Header.Get("X-Connection-Id"))
		}
		// One-way: the next frame the client sees is the answer to the next message.
		write(t, c, `{"action":"echo","text":"after"}`)
		if got := mustJSON(t, read(t, c))["body"].(map[string]any)["text"]; got != "after" {
			t.Errorf("next frame is %v, want the echo of 'after' (the $default response must not be sent)", got)
		}
	})
	t.Run("non-JSON goes to $default", func(t *testing.T) {
		write(t, c, `hello there`)
		if call := be.next(t, "/default"); call.Body != "hello there" {
			t.Errorf("$default body %q", call.Body)
		}
	})
	t.Run("integration failure sends Internal server error", func(t *testing.T) {
		write(t, c, `{"action":"broken"}`)
		got := mustJSON(t, read(t, c))
		if got["message"] != "Internal server error" || got["connectionId"] != id || got["requestId"] == "" {
			t.Errorf("frame = %v", got)
		}
	})
}

func TestForbiddenWithoutDefaultRoute(t *testing.T) {
	be := echoBackend(t)
	cfg := strings.Replace(chatConfig(be.URL, ""), "  $default: {Target: integrations/default}\n", "", 1)
	r := startGateway(t, cfg, Deps{})
	c := mustDial(t, r, loginAs(t, "alice", time.Now().Add(time.Hour)))
	write(t, c, `{"action":"unknown"}`)
	got := mustJSON(t, read(t, c))
	if got["message"] != "Forbidden" || got["connectionId"] == "" || got["requestId"] == "" {
		t.Errorf("frame = %v", got)
	}
	// The connection stays open.
	write(t, c, `{"action":"echo"}`)
	if got := mustJSON(t, read(t, c)); got["route"] != "echo" {
		t.Errorf("after Forbidden: %v", got)
	}
}

func TestDisconnectOnClientClose(t *testing.T) {
	be := echoBackend(t)
	r := startGateway(t, chatConfig(be.URL, ""), Deps{})
	c := mustDial(t, r, loginAs(t, "alice", time.Now().Add(time.Hour)))
	id := be.next(t, "/connect").Header.Get("X-Connection-Id")
	c.Close(websocket.StatusGoingAway, "tab closed")
	got := mustJSON(t, be.next(t, "/disconnect").Body)
	want := map[string]any{"connectionId": id, "code": float64(1001), "reason": "tab closed"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("$disconnect (-want +got):\n%s", diff)
	}
}

func TestSubprotocol(t *testing.T) {
	be := echoBackend(t)
	cfg := strings.Replace(chatConfig(be.URL, ""), "      integration.request.querystring.room: route.request.querystring.room\n",
		"      integration.request.querystring.room: route.request.querystring.room\n      integration.request.header.X-Want-Subprotocol: route.request.querystring.proto\n", 1)
	r := startGateway(t, cfg, Deps{})
	l := loginAs(t, "alice", time.Now().Add(time.Hour))
	l.csrf += "&proto=chat.v1"
	c := mustDial(t, r, l, "chat.v1", "chat.v2")
	if got := c.Subprotocol(); got != "chat.v1" {
		t.Errorf("subprotocol = %q, want chat.v1 (selected by the $connect integration)", got)
	}
}

// The subprotocol is the $connect integration's choice (API Gateway's rule), never the
// gateway's; the entry that carried the CSRF token is never selected, even when an
// integration echoes it.
func TestCSRFInSubprotocolIsNeverEchoed(t *testing.T) {
	be := echoBackend(t)
	cfg := strings.Replace(chatConfig(be.URL, ""), "      integration.request.querystring.room: route.request.querystring.room\n",
		"      integration.request.querystring.room: route.request.querystring.room\n      integration.request.header.X-Want-Subprotocol: route.request.querystring.proto\n", 1)
	r := startGateway(t, cfg, Deps{})
	l := loginAs(t, "alice", time.Now().Add(time.Hour))
	for _, tc := range []struct {
		name, selects, want string
	}{
		{"the integration selects the app's protocol", "chat.v1", "chat.v1"},
		{"the integration selects none: none", "", ""},
		{"the integration echoes the CSRF entry: none", "csrf." + l.csrf, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			h := http.Header{"Cookie": {l.cookie}, "Origin": {l.origin}}
			c, resp, err := websocket.Dial(ctx, r.wsURL("/?proto="+url.QueryEscape(tc.selects)), &websocket.DialOptions{
				HTTPHeader: h, Subprotocols: []string{"chat.v1", "csrf." + l.csrf}})
			if err != nil {
				t.Fatalf("dial: %v %v", resp, err)
			}
			defer c.CloseNow()
			if got := c.Subprotocol(); got != tc.want {
				t.Errorf("subprotocol = %q, want %q", got, tc.want)
			}
		})
	}
}
