package server

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/google/go-cmp/cmp"

	"github.com/wsgate/wsgate/internal/config"
)

// apiTemplate is the AWS stack that wsgate serve --template runs.
const apiTemplate = "../../deploy/cloudformation/api.yaml"

// templateOverrides is what a developer writes to run api.yaml locally: the backend on
// loopback and the built-in cookie authorizer in place of the Lambda.
func templateOverrides(backendURL string) string {
	return fmt.Sprintf(`
Parameters:
  BackendUrl: %s
Api: {ApiId: abc123}
Authorizers:
  Authorizer:
    Cookie:
      Algorithms: [HS256]
      CsrfClaim: csrf
      AllowedOrigins: ["https://ui.dev.example.test"]
      Key: {HmacSecretEnv: JWT_SECRET}
Server:
  Management: {AllowUnsigned: true}
`, backendURL)
}

// nativeEquivalent is api.yaml written by hand in wsgate's own format (with its own
// integration and authorizer ids, which clients cannot see).
func nativeEquivalent(backendURL string) string {
	return fmt.Sprintf(`
Api: {ApiId: abc123, RouteSelectionExpression: $request.body.action}
Stage: {StageName: dev, StageVariables: {env: dev}}
Authorizers:
  cookie:
    IdentitySource: [route.request.header.Cookie, route.request.header.Origin, route.request.querystring.csrf]
    Cookie:
      Algorithms: [HS256]
      CsrfClaim: csrf
      AllowedOrigins: ["https://ui.dev.example.test"]
      Key: {HmacSecretEnv: JWT_SECRET}
Integrations:
  connect:
    IntegrationType: HTTP
    IntegrationUri: %[1]s/ws/connect
    TimeoutInMillis: 10000
    RequestParameters: &ids
      integration.request.header.X-Connection-Id: context.connectionId
      integration.request.header.X-Principal-Id: context.authorizer.principalId
    RequestTemplates:
      $default: '{"connectionId":"$context.connectionId","principalId":"$context.authorizer.principalId","connectedAt":$context.connectedAt,"sourceIp":"$context.identity.sourceIp"}'
  disconnect:
    IntegrationType: HTTP
    IntegrationUri: %[1]s/ws/disconnect
    TimeoutInMillis: 10000
    RequestParameters: *ids
    RequestTemplates:
      $default: '{"connectionId":"$context.connectionId","principalId":"$context.authorizer.principalId"}'
  default:
    IntegrationType: HTTP_PROXY
    IntegrationUri: %[1]s/ws/default
    TimeoutInMillis: 10000
    RequestParameters: *ids
  send:
    IntegrationType: HTTP
    IntegrationUri: %[1]s/ws/sendmessage
    TimeoutInMillis: 10000
    RequestParameters: *ids
    RequestTemplates:
      $default: '{"connectionId":"$context.connectionId","principalId":"$context.authorizer.principalId","requestId":"$context.requestId","message":$input.json(''$'')}'
Routes:
  $connect: {AuthorizationType: CUSTOM, AuthorizerId: cookie, Target: integrations/connect}
  $disconnect: {Target: integrations/disconnect}
  $default: {Target: integrations/default}
  sendmessage: {Target: integrations/send}
Server:
  Management: {AllowUnsigned: true}
`, backendURL)
}

// startTemplate runs Serve on the Config that `wsgate serve --template api.yaml
// --overrides <file>` runs, listeners on port 0, until the test ends.
func startTemplate(t *testing.T, overrides string) *running {
	t.Helper()
	path := filepath.Join(t.TempDir(), "overrides.yaml")
	if err := os.WriteFile(path, []byte(overrides), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.LoadTemplate(apiTemplate, path)
	if err != nil {
		t.Fatalf("LoadTemplate: %v", err)
	}
	return serveConfig(t, cfg, Deps{}, nil)
}

// observed is what a client and the backend see of one run of the scenario, with the
// values that differ from run to run (connection and request ids, times) replaced by
// their names.
type observed struct {
	Handshakes                         map[string]int
	Connect, Send, Default, Disconnect backendSeen
	Pushed                             string
}

// backendSeen is one call the backend received.
type backendSeen struct {
	ConnectionID, Principal string
	Body                    any
}

// scenario: handshakes a browser could attempt, then alice's session: a custom route,
// an unmatched message, a push through @connections, and the disconnect.
func scenario(t *testing.T, r *running, be *backend) observed {
	t.Helper()
	alice := loginAs(t, "alice", time.Now().Add(time.Hour))
	o := observed{Handshakes: map[string]int{}}
	for name, l := range map[string]login{
		"no cookie":            {origin: alice.origin, csrf: alice.csrf},
		"no csrf parameter":    {cookie: alice.cookie, origin: alice.origin},
		"no origin":            {cookie: alice.cookie, csrf: alice.csrf},
		"cross-site origin":    {cookie: alice.cookie, csrf: alice.csrf, origin: "https://evil.test"},
		"another session csrf": {cookie: alice.cookie, csrf: "csrf-mallory", origin: alice.origin},
		"expired":              loginAs(t, "alice", time.Now().Add(-time.Hour)),
	} {
		c, status, err := dial(t, r, l)
		if err == nil {
			c.CloseNow()
		}
		o.Handshakes[name] = status
	}
	if n := be.count("/ws/connect"); n != 0 {
		t.Errorf("the $connect integration was called %d times for refused handshakes", n)
	}

	c, status, err := dial(t, r, alice)
	if err != nil {
		t.Fatalf("alice: status %d: %v\nlogs:\n%s", status, err, r.logs.String())
	}
	o.Handshakes["alice"] = status
	connect := be.next(t, "/ws/connect")
	id := connect.Header.Get("X-Connection-Id")
	seen := func(call backendCall) backendSeen {
		var body any = call.Body
		var doc map[string]any
		if json.Unmarshal([]byte(call.Body), &doc) == nil {
			for k, v := range doc {
				switch {
				case v == id:
					doc[k] = "{connectionId}"
				case k == "requestId" && v != "":
					doc[k] = "{requestId}"
				case k == "connectedAt":
					if ms, ok := v.(float64); !ok || time.Since(time.UnixMilli(int64(ms))) > time.Minute {
						t.Errorf("connectedAt %v is not a recent time in ms", v)
					}
					doc[k] = "{connectedAt}"
				}
			}
			body = doc
		}
		cid := call.Header.Get("X-Connection-Id")
		if cid == id {
			cid = "{connectionId}"
		}
		return backendSeen{ConnectionID: cid, Principal: call.Header.Get("X-Principal-Id"), Body: body}
	}
	o.Connect = seen(connect)

	write(t, c, `{"action":"sendmessage","text":"hi"}`)
	o.Send = seen(be.next(t, "/ws/sendmessage"))
	write(t, c, `{"action":"shout","text":"HI"}`)
	o.Default = seen(be.next(t, "/ws/default"))

	resp, err := http.Post("http://"+r.Management+"/dev/@connections/"+url.PathEscape(id), "application/octet-stream", strings.NewReader("from the backend"))
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("@connections POST: %d", resp.StatusCode)
	}
	o.Pushed = read(t, c)

	c.Close(websocket.StatusNormalClosure, "bye")
	o.Disconnect = seen(be.next(t, "/ws/disconnect"))
	return o
}

// TestTemplateParity runs deploy/cloudformation/api.yaml (with local overrides) and its
// hand-written native equivalent through the same scenario: a client and the backend
// see the same.
func TestTemplateParity(t *testing.T) {
	fromTemplate := func(t *testing.T) observed {
		be := newBackend(t, nil)
		return scenario(t, startTemplate(t, templateOverrides(be.URL)), be)
	}
	native := func(t *testing.T) observed {
		be := newBackend(t, nil)
		return scenario(t, startGateway(t, nativeEquivalent(be.URL), Deps{}), be)
	}
	tmpl, nat := fromTemplate(t), native(t)
	if diff := cmp.Diff(nat, tmpl); diff != "" {
		t.Errorf("native config vs template (-native +template):\n%s", diff)
	}

	// And what both see is what api.yaml means.
	want := observed{
		Handshakes: map[string]int{
			"no cookie": 401, "no csrf parameter": 401, "no origin": 401, "expired": 401,
			"cross-site origin": 403, "another session csrf": 403,
			"alice": 101,
		},
		Connect: backendSeen{"{connectionId}", "alice", map[string]any{
			"connectionId": "{connectionId}", "principalId": "alice", "connectedAt": "{connectedAt}", "sourceIp": "127.0.0.1",
		}},
		Send: backendSeen{"{connectionId}", "alice", map[string]any{
			"connectionId": "{connectionId}", "principalId": "alice", "requestId": "{requestId}",
			"message": map[string]any{"action": "sendmessage", "text": "hi"},
		}},
		Default:    backendSeen{"{connectionId}", "alice", map[string]any{"action": "shout", "text": "HI"}},
		Disconnect: backendSeen{"{connectionId}", "alice", map[string]any{"connectionId": "{connectionId}", "principalId": "alice"}},
		Pushed:     "from the backend",
	}
	if diff := cmp.Diff(want, tmpl); diff != "" {
		t.Errorf("template run (-want +got):\n%s", diff)
	}
}
