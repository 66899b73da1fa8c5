package server

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/google/go-cmp/cmp"

	"github.com/wsgate/wsgate/authevent"
)

// fakeLambda serves the Lambda Invoke API (POST /2015-03-31/functions/{name}/invocations)
// with Go functions, so the real SDK client invokes them.
type fakeLambda struct {
	*httptest.Server
	got chan events.APIGatewayWebsocketProxyRequest
}

func newFakeLambda(t testing.TB, fns map[string]func(payload []byte) (out []byte, functionError string)) *fakeLambda {
	f := &fakeLambda{got: make(chan events.APIGatewayWebsocketProxyRequest, 100)}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /2015-03-31/functions/{name}/invocations", func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 ") {
			http.Error(w, `{"message":"unsigned"}`, http.StatusForbidden)
			return
		}
		fn, ok := fns[r.PathValue("name")]
		if !ok {
			w.Header().Set("X-Amzn-ErrorType", "ResourceNotFoundException")
			w.WriteHeader(http.StatusNotFound)
			_, _ = io.WriteString(w, `{"Type":"User","Message":"Function not found"}`)
			return
		}
		payload, _ := io.ReadAll(r.Body)
		var ev events.APIGatewayWebsocketProxyRequest
		if !strings.HasSuffix(r.PathValue("name"), ":auth") && json.Unmarshal(payload, &ev) == nil && ev.RequestContext.EventType != "" {
			f.got <- ev
		}
		out, fe := fn(payload)
		if fe != "" {
			w.Header().Set("X-Amz-Function-Error", fe)
		}
		_, _ = w.Write(out)
	})
	f.Server = httptest.NewServer(mux)
	t.Cleanup(f.Close)
	return f
}

func (f *fakeLambda) client() *lambda.Client {
	return lambda.NewFromConfig(aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("AKID", "SECRET", "")},
		func(o *lambda.Options) { o.BaseEndpoint = aws.String(f.URL) })
}

func (f *fakeLambda) next(t testing.TB, eventType string) events.APIGatewayWebsocketProxyRequest {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case ev := <-f.got:
			if ev.RequestContext.EventType == eventType {
				return ev
			}
		case <-timeout:
			t.Fatalf("no %s event within 5s", eventType)
		}
	}
}

const lambdaConfig = `
Api: {RouteSelectionExpression: $request.body.action, ApiId: abc123}
Stage: {StageName: prod}
Authorizers:
  auth:
    AuthorizerUri: arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:auth/invocations
    IdentitySource: [route.request.querystring.token]
Integrations:
  fn:
    IntegrationType: AWS_PROXY
    IntegrationUri: arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:chat/invocations
  failing:
    IntegrationType: AWS_PROXY
    IntegrationUri: failing
Routes:
  $connect: {AuthorizationType: CUSTOM, AuthorizerId: auth, Target: integrations/fn}
  $disconnect: {Target: integrations/fn}
  $default: {Target: integrations/fn, RouteResponseSelectionExpression: $default}
  fail: {Target: integrations/failing}
Server:
  Management: {AllowUnsigned: true}
`

func TestLambdaAuthorizerAndProxyIntegration(t *testing.T) {
	f := newFakeLambda(t, map[string]func([]byte) ([]byte, string){
		"arn:aws:lambda:us-east-1:123456789012:function:auth": func(p []byte) ([]byte, string) {
			var ev authevent.Event
			_ = json.Unmarshal(p, &ev)
			switch ev.QueryStringParameters["token"] {
			case "good":
				b, _ := json.Marshal(authevent.AllowResponse("user-7", ev.MethodArn, map[string]any{"tier": "gold", "n": 3}))
				return b, ""
			case "deny":
				b, _ := json.Marshal(authevent.DenyResponse("user-7", ev.MethodArn))
				return b, ""
			case "crash":
				return []byte(`{"errorMessage":"boom","errorType":"Error"}`), "Unhandled"
			}
			return []byte(`{"errorMessage":"Unauthorized","errorType":"Error"}`), "Unhandled"
		},
		"arn:aws:lambda:us-east-1:123456789012:function:chat": func(p []byte) ([]byte, string) {
			var ev events.APIGatewayWebsocketProxyRequest
			_ = json.Unmarshal(p, &ev)
			if ev.RequestContext.EventType == "MESSAGE" {
				return []byte(fmt.Sprintf(`{"statusCode":200,"body":%q}`, "you said "+ev.Body)), ""
			}
			return []byte(`{"statusCode":200}`), ""
		},
		"failing": func([]byte) ([]byte, string) {
			return []byte(`{"errorMessage":"kaput","errorType":"Error"}`), "Unhandled"
		},
	})
	r := startGateway(t, lambdaConfig, Deps{Lambda: f.client()})

	for token, want := range map[string]int{"": 401, "bad": 401, "deny": 403, "crash": 500} {
		l := login{}
		if token != "" {
			l.csrf = "x&token=" + token
		}
		if _, status, _ := dial(t, r, l); status != want {
			t.Errorf("token %q: status %d, want %d", token, status, want)
		}
	}

	c := mustDial(t, r, login{csrf: "x&token=good"})
	connect := f.next(t, "CONNECT")
	rc := connect.RequestContext
	if rc.RouteKey != "$connect" || rc.Stage != "prod" || rc.APIID != "abc123" || len(rc.ConnectionID) != 16 ||
		connect.QueryStringParameters["token"] != "good" || rc.Identity.SourceIP != "127.0.0.1" {
		t.Errorf("CONNECT event = %+v", connect)
	}
	wantAuth := map[string]any{"principalId": "user-7", "tier": "gold", "n": float64(3)}
	if diff := cmp.Diff(wantAuth, rc.Authorizer); diff != "" {
		t.Errorf("authorizer context (-want +got):\n%s", diff)
	}

	write(t, c, `{"action":"anything","x":1}`)
	if got := read(t, c); got != `you said {"action":"anything","x":1}` {
		t.Errorf("route response = %q", got)
	}
	msg := f.next(t, "MESSAGE")
	if msg.RequestContext.RouteKey != "$default" || msg.RequestContext.MessageID == "" || msg.RequestContext.ConnectionID != rc.ConnectionID ||
		msg.Headers != nil || msg.RequestContext.Authorizer.(map[string]any)["principalId"] != "user-7" {
		t.Errorf("MESSAGE event = %+v", msg)
	}

	write(t, c, `{"action":"fail"}`)
	if got := mustJSON(t, read(t, c)); got["message"] != "Internal server error" {
		t.Errorf("function error frame = %v", got)
	}

	c.CloseNow()
	disc := f.next(t, "DISCONNECT")
	if disc.RequestContext.ConnectionID != rc.ConnectionID || disc.RequestContext.DisconnectStatusCode != 1006 {
		t.Errorf("DISCONNECT event = %+v", disc.RequestContext)
	}
}

func TestMockIntegrations(t *testing.T) {
	cfg := `
Integrations:
  echo: {IntegrationType: MOCK, ResponseTemplate: '{"echo":$input.json(''$.text''),"by":"$context.connectionId"}'}
  refuse: {IntegrationType: MOCK, RequestTemplates: {$default: '{"statusCode": 403}'}}
Routes:
  $connect: {Target: integrations/refuse}
  $default: {Target: integrations/echo, RouteResponseSelectionExpression: $default}
`
	r := startGateway(t, cfg, Deps{})
	if _, status, _ := dial(t, r, login{}); status != http.StatusForbidden {
		t.Errorf("MOCK $connect with statusCode 403: status %d", status)
	}
	cfg = strings.Replace(cfg, "  $connect: {Target: integrations/refuse}\n", "", 1)
	r = startGateway(t, cfg, Deps{})
	c := mustDial(t, r, login{})
	write(t, c, `{"text":"hi"}`)
	got := mustJSON(t, read(t, c))
	if got["echo"] != "hi" || len(got["by"].(string)) != 16 {
		t.Errorf("MOCK response = %v", got)
	}
}

func TestHTTPAuthorizerWithCache(t *testing.T) {
	var mu sync.Mutex
	calls := 0
	auth := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls++
		mu.Unlock()
		var ev authevent.Event
		_ = json.NewDecoder(r.Body).Decode(&ev)
		if ev.Headers["X-Api-Key"] != "k1" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		_ = json.NewEncoder(w).Encode(authevent.AllowResponse("svc", ev.MethodArn, nil))
	}))
	defer auth.Close()
	cfg := fmt.Sprintf(`
Authorizers:
  key:
    AuthorizerUri: %s
    IdentitySource: [route.request.header.X-Api-Key]
    AuthorizerResultTtlInSeconds: 300
Integrations:
  ok: {IntegrationType: MOCK}
Routes:
  $connect: {AuthorizationType: CUSTOM, AuthorizerId: key, Target: integrations/ok}
  $default: {Target: integrations/ok}
`, auth.URL)
	r := startGateway(t, cfg, Deps{})
	dialKey := func(key string) int {
		h := http.Header{"X-Api-Key": {key}}
		c, resp, _ := websocketDial(t, r, h)
		if c != nil {
			c.CloseNow()
		}
		if resp == nil {
			return 0
		}
		return resp.StatusCode
	}
	for i := range 3 {
		if st := dialKey("k1"); st != http.StatusSwitchingProtocols {
			t.Fatalf("dial %d with k1: %d", i, st)
		}
	}
	if st := dialKey("k2"); st != http.StatusUnauthorized {
		t.Errorf("k2: %d, want 401", st)
	}
	mu.Lock()
	defer mu.Unlock()
	if calls != 2 {
		t.Errorf("authorizer called %d times, want 2 (k1 once, then cached; k2 once)", calls)
	}
}
