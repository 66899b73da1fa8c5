package server

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/wsgate/wsgate/internal/config"
)

// A node authorizer admits ?token=good; a node AWS_PROXY handler answers each
// message with what it saw, through a two-way route: both run as local functions.
const functionsConfig = `
Api: {RouteSelectionExpression: $request.body.action, ApiId: abc123}
Stage: {StageName: prod}
Authorizers:
  auth:
    AuthorizerUri: arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:000000000000:function:auth/invocations
    IdentitySource: [route.request.querystring.token]
Integrations:
  fn:
    IntegrationType: AWS_PROXY
    IntegrationUri: arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:000000000000:function:chat/invocations
Routes:
  $connect: {AuthorizationType: CUSTOM, AuthorizerId: auth, Target: integrations/fn}
  $default: {Target: integrations/fn, RouteResponseSelectionExpression: $default}
Functions:
  auth: {Runtime: nodejs20.x, Handler: auth.handler, CodeDir: code}
  chat: {Runtime: nodejs20.x, Handler: chat.handler, CodeDir: code}
`

const nodeAuthorizer = `exports.handler = async (event) => {
  if (event.queryStringParameters && event.queryStringParameters.token === "unauth") throw new Error("Unauthorized");
  const effect = event.queryStringParameters && event.queryStringParameters.token === "good" ? "Allow" : "Deny";
  return {
    principalId: "user-1",
    policyDocument: { Version: "2012-10-17", Statement: [{ Action: "execute-api:Invoke", Effect: effect, Resource: event.methodArn }] },
    context: { fn: process.env.AWS_LAMBDA_FUNCTION_NAME },
  };
};
`

const nodeChat = `exports.handler = async (event) => {
  if (event.requestContext.eventType !== "MESSAGE") return { statusCode: 200 };
  return { statusCode: 200, body: JSON.stringify({
    got: JSON.parse(event.body),
    principal: event.requestContext.authorizer.principalId,
    fn: event.requestContext.authorizer.fn,
  }) };
};
`

func TestLocalFunctionsThroughTheGateway(t *testing.T) {
	dir := t.TempDir()
	code := filepath.Join(dir, "code")
	if err := os.Mkdir(code, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, src := range map[string]string{"auth.js": nodeAuthorizer, "chat.js": nodeChat} {
		if err := os.WriteFile(filepath.Join(code, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfgPath := filepath.Join(dir, "wsgate.yaml")
	if err := os.WriteFile(cfgPath, []byte(functionsConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(cfgPath) // CodeDir "code" is relative to the config file
	if err != nil {
		t.Fatal(err)
	}
	r := serveConfig(t, cfg, Deps{}, nil)

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, resp, err := websocket.Dial(ctx, r.wsURL("/?token=bad"), nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("token=bad: %v, %v; want 403 from the node authorizer's Deny", resp, err)
	}
	_, resp, err = websocket.Dial(ctx, r.wsURL("/?token=unauth"), nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("token=unauth: %v, %v; want 401 from the node authorizer's Unauthorized error", resp, err)
	}
	c, _, err := websocket.Dial(ctx, r.wsURL("/?token=good"), nil)
	if err != nil {
		t.Fatalf("token=good: %v\nlogs:\n%s", err, r.logs.String())
	}
	defer c.CloseNow()
	if err := c.Write(ctx, websocket.MessageText, []byte(`{"action":"hi","n":1}`)); err != nil {
		t.Fatal(err)
	}
	_, msg, err := c.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Got       map[string]any
		Principal string
		Fn        string
	}
	if err := json.Unmarshal(msg, &got); err != nil {
		t.Fatalf("answer %s: %v", msg, err)
	}
	if got.Got["action"] != "hi" || got.Principal != "user-1" || got.Fn != "auth" {
		t.Errorf("answer %s: want the message, principal user-1 and the authorizer's context", msg)
	}
	c.Close(websocket.StatusNormalClosure, "")
}

// --check-config builds the gateway without Serve: local functions are checked, not
// started, and need no Lambda client.
func TestBuildChecksLocalFunctionsWithoutStartingThem(t *testing.T) {
	cfg, err := config.Parse([]byte(functionsConfig))
	if err != nil {
		t.Fatal(err)
	}
	g, err := Build(context.Background(), cfg, Deps{Getenv: env})
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	_ = g.Shutdown(context.Background())
}

// The chat function written as AWS documents it (internal/mgmt/interop/lambda_handler.mjs),
// copied alone into a directory without node_modules, runs as a local function: the JS SDK
// resolves from FunctionsNodeModules, the dev CA comes through FunctionsCAFile, the
// credentials from wsgate's environment, and its signed POST to
// https://{domainName}/{stage}/@connections reaches the sender over TLS.
func TestLocalNodeFunctionPostsBackOverTLS(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("..", "mgmt", "interop", "lambda_handler.mjs"))
	if err != nil {
		t.Fatal(err)
	}
	nm, err := filepath.Abs(filepath.Join("..", "lambdarun", "node", "node_modules"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(nm, "@aws-sdk", "client-apigatewaymanagementapi")); err != nil {
		t.Fatalf("the SDK is not installed (npm ci --prefix internal/lambdarun/node; scripts/test does it): %v", err)
	}
	code := t.TempDir()
	if err := os.WriteFile(filepath.Join(code, "lambda_handler.mjs"), src, 0o644); err != nil {
		t.Fatal(err)
	}
	serverTLS, caFile, pool := tlsWithCA(t)
	cfg := hostConfig(true, hostSigned, serverTLS) + `
Functions:
  chat: {Runtime: nodejs20.x, Handler: lambda_handler.handler, CodeDir: ` + code + `, Timeout: 20s}
`
	getenv := func(k string) string {
		switch k {
		case "AWS_ACCESS_KEY_ID":
			return "AKIDTEST"
		case "AWS_SECRET_ACCESS_KEY":
			return "mgmt-secret"
		}
		return env(k)
	}
	r := startGateway(t, cfg, Deps{Getenv: getenv, FunctionsCAFile: caFile, FunctionsNodeModules: nm})
	c, _ := dialHost(t, r, pool, false)
	write(t, c, `{"action":"sendmessage","text":"hi from the browser"}`)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, msg, err := c.Read(ctx)
	if err != nil {
		t.Fatalf("read: %v\nlogs:\n%s", err, r.logs.String())
	}
	if string(msg) != "echo: hi from the browser" {
		t.Errorf("the sender got %q", msg)
	}
}
