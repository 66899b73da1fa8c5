package server

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi/types"
	"github.com/aws/smithy-go/middleware"
	"github.com/coder/websocket"

	"github.com/wsgate/wsgate/internal/devcert"
)

// hostConfig is an API whose $default route answers with the caller's connection id
// (MOCK, two-way) or, with lambda, goes to the AWS_PROXY function "chat"; management is
// the Server.Management block and extra the rest of Server.
func hostConfig(lambda bool, management, extra string) string {
	target := "integrations/whoami, RouteResponseSelectionExpression: $default"
	if lambda {
		target = "integrations/chat"
	}
	return fmt.Sprintf(`
Api: {RouteSelectionExpression: $request.body.action, ApiId: abc123}
Stage: {StageName: prod}
Integrations:
  ok: {IntegrationType: MOCK}
  whoami: {IntegrationType: MOCK, ResponseTemplate: '{"id":"$context.connectionId"}'}
  chat:
    IntegrationType: AWS_PROXY
    IntegrationUri: arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:chat/invocations
Routes:
  $connect: {Target: integrations/ok}
  $default: {Target: %s}
Server:
  Management:
%s
%s`, target, management, extra)
}

const (
	hostSigned   = "    Credentials: [{AccessKeyId: AKIDTEST, SecretAccessKeyEnv: MGMT_SECRET}]"
	hostBoth     = hostSigned + "\n    AllowUnsigned: true"
	hostUnsigned = "    AllowUnsigned: true"
)

// tlsWithCA writes a CA (ca.pem, for NODE_EXTRA_CA_CERTS) and a server certificate it
// signed for localhost and 127.0.0.1, and returns the Server.TLS line and a pool
// trusting the CA.
func tlsWithCA(t testing.TB) (serverTLS, caFile string, pool *x509.CertPool) {
	t.Helper()
	dir := t.TempDir()
	ca, caFile, err := devcert.LoadOrCreate(dir)
	if err != nil {
		t.Fatal(err)
	}
	certPEM, keyPEM, err := ca.Leaf("localhost")
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("  TLS: {CertFile: %s, KeyFile: %s}", certFile, keyFile), caFile, ca.Pool()
}

// httpClient trusts pool, or is a plain client when pool is nil.
func httpClient(pool *x509.CertPool) *http.Client {
	if pool == nil {
		return &http.Client{Transport: &http.Transport{}}
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
}

// dialHost opens a WebSocket on the gateway's WebSocket listener (wss when pool is not
// nil) and learns its connection id from the whoami route.
func dialHost(t testing.TB, r *running, pool *x509.CertPool, whoami bool) (*websocket.Conn, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	scheme := "ws"
	if pool != nil {
		scheme = "wss"
	}
	c, _, err := websocket.Dial(ctx, scheme+"://"+r.WebSocket+"/", &websocket.DialOptions{HTTPClient: httpClient(pool)})
	if err != nil {
		t.Fatalf("dial %s: %v\nlogs:\n%s", scheme, err, r.logs.String())
	}
	t.Cleanup(func() { c.CloseNow() })
	if !whoami {
		return c, ""
	}
	write(t, c, `{"action":"whoami"}`)
	id, _ := mustJSON(t, read(t, c))["id"].(string)
	if id == "" {
		t.Fatal("whoami: no connection id")
	}
	return c, id
}

// hostClient is the Go SDK client with endpoint base (scheme://WebSocket listener[/stage]).
func hostClient(base, secret string, pool *x509.CertPool) *apigatewaymanagementapi.Client {
	return apigatewaymanagementapi.NewFromConfig(aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", secret, ""),
		HTTPClient:  httpClient(pool),
		Retryer:     func() aws.Retryer { return aws.NopRetryer{} },
	}, func(o *apigatewaymanagementapi.Options) { o.BaseEndpoint = aws.String(base) })
}

var uuidForm = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// checkResultRequestID fails unless the SDK found a request id in md.
func checkResultRequestID(t testing.TB, what string, md middleware.Metadata) {
	t.Helper()
	if id, _ := awsmiddleware.GetRequestIDMetadata(md); !uuidForm.MatchString(id) {
		t.Errorf("%s: the SDK's request id is %q", what, id)
	}
}

// The Go SDK pointed at the WebSocket listener, as a backend that builds the endpoint
// from requestContext.domainName does: post, get, delete and a GoneException, over
// plain HTTP and TLS, under the stage and at the root (a custom domain with an empty
// mapping key), each answer with a request id.
func TestConnectionsOnTheWebSocketHostWithTheGoSDK(t *testing.T) {
	serverTLS, _, pool := tlsWithCA(t)
	for _, tls := range []bool{false, true} {
		for _, path := range []string{"/prod", ""} {
			name := fmt.Sprintf("tls=%v path=%q", tls, path)
			t.Run(name, func(t *testing.T) {
				extra, scheme, p := "", "http", (*x509.CertPool)(nil)
				if tls {
					extra, scheme, p = serverTLS, "https", pool
				}
				r := startGateway(t, hostConfig(false, hostSigned, extra), Deps{})
				c, id := dialHost(t, r, p, true)
				api := hostClient(scheme+"://"+r.WebSocket+path, "mgmt-secret", p)
				ctx := context.Background()

				post, err := api.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: &id, Data: []byte("hello over " + scheme)})
				if err != nil {
					t.Fatalf("PostToConnection: %v", err)
				}
				checkResultRequestID(t, "PostToConnection", post.ResultMetadata)
				if got := read(t, c); got != "hello over "+scheme {
					t.Errorf("the connection got %q", got)
				}
				get, err := api.GetConnection(ctx, &apigatewaymanagementapi.GetConnectionInput{ConnectionId: &id})
				if err != nil {
					t.Fatalf("GetConnection: %v", err)
				}
				checkResultRequestID(t, "GetConnection", get.ResultMetadata)
				if aws.ToString(get.Identity.SourceIp) != "127.0.0.1" {
					t.Errorf("GetConnection identity = %+v", get.Identity)
				}
				_, err = api.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: aws.String("AAAAAAAAAAAAAAA="), Data: []byte("x")})
				var gone *types.GoneException
				var re *awshttp.ResponseError
				if !errors.As(err, &gone) || !errors.As(err, &re) || !uuidForm.MatchString(re.ServiceRequestID()) {
					t.Errorf("post to an unknown id: %v, want a GoneException with a request id", err)
				}
				del, err := api.DeleteConnection(ctx, &apigatewaymanagementapi.DeleteConnectionInput{ConnectionId: &id})
				if err != nil {
					t.Fatalf("DeleteConnection: %v", err)
				}
				checkResultRequestID(t, "DeleteConnection", del.ResultMetadata)
				if code := readClose(t, c, 5*time.Second); code != websocket.StatusNormalClosure {
					t.Errorf("close code %d after DeleteConnection, want 1000", code)
				}
				_, err = hostClient(scheme+"://"+r.WebSocket+path, "wrong", p).GetConnection(ctx, &apigatewaymanagementapi.GetConnectionInput{ConnectionId: &id})
				if !errors.As(err, &re) || re.HTTPStatusCode() != http.StatusForbidden {
					t.Errorf("a wrong secret: %v, want 403", err)
				}
			})
		}
	}
}

// rawAnswer is one answer of the WebSocket listener to a plain HTTP request.
type rawAnswer struct {
	Status    int
	ErrorType string
	Upgrade   string
	RequestID bool // it carried an x-amzn-RequestId
}

func rawCall(t testing.TB, method, url, body string) rawAnswer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := httpClient(nil).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return rawAnswer{Status: resp.StatusCode, ErrorType: resp.Header.Get("X-Amzn-ErrorType"), Upgrade: resp.Header.Get("Upgrade"),
		RequestID: uuidForm.MatchString(resp.Header.Get("X-Amzn-Requestid"))}
}

// The WebSocket listener faces the clients: there, an unsigned @connections request is
// refused even when Server.Management.AllowUnsigned lets the management listener take
// it, and without credentials @connections is not served there at all.
func TestConnectionsOnTheWebSocketHostRequireSigV4(t *testing.T) {
	t.Run("credentials and AllowUnsigned", func(t *testing.T) {
		r := startGateway(t, hostConfig(false, hostBoth, ""), Deps{})
		c, id := dialHost(t, r, nil, true)
		path := "/prod/@connections/" + id
		if got, want := rawCall(t, "POST", "http://"+r.WebSocket+path, "unsigned on the public host"),
			(rawAnswer{Status: 403, ErrorType: "MissingAuthenticationTokenException", RequestID: true}); got != want {
			t.Errorf("unsigned POST on the WebSocket listener: %+v, want %+v", got, want)
		}
		if got := rawCall(t, "POST", "http://"+r.Management+path, "unsigned on the management listener"); got.Status != 200 {
			t.Errorf("unsigned POST on the management listener: %+v, want 200", got)
		}
		// Messages arrive in the order posted: the first is the management listener's,
		// so the refused one was never delivered.
		if got := read(t, c); got != "unsigned on the management listener" {
			t.Errorf("the connection got %q", got)
		}
		if _, err := hostClient("http://"+r.WebSocket+"/prod", "mgmt-secret", nil).PostToConnection(context.Background(),
			&apigatewaymanagementapi.PostToConnectionInput{ConnectionId: &id, Data: []byte("signed")}); err != nil {
			t.Errorf("signed POST on the WebSocket listener: %v", err)
		}
		if got := read(t, c); got != "signed" {
			t.Errorf("the connection got %q", got)
		}
	})
	t.Run("AllowUnsigned without credentials", func(t *testing.T) {
		r := startGateway(t, hostConfig(false, hostUnsigned, ""), Deps{})
		_, id := dialHost(t, r, nil, true)
		path := "/prod/@connections/" + id
		if got, want := rawCall(t, "POST", "http://"+r.WebSocket+path, "x"), (rawAnswer{Status: 426, Upgrade: "websocket"}); got != want {
			t.Errorf("POST on the WebSocket listener: %+v, want %+v", got, want)
		}
		if got := rawCall(t, "POST", "http://"+r.Management+path, "x"); got.Status != 200 {
			t.Errorf("POST on the management listener: %+v, want 200", got)
		}
	})
	t.Run("DisableOnWebSocketListener", func(t *testing.T) {
		r := startGateway(t, hostConfig(false, hostSigned+"\n    DisableOnWebSocketListener: true", ""), Deps{})
		_, id := dialHost(t, r, nil, true)
		_, err := hostClient("http://"+r.WebSocket+"/prod", "mgmt-secret", nil).PostToConnection(context.Background(),
			&apigatewaymanagementapi.PostToConnectionInput{ConnectionId: &id, Data: []byte("x")})
		var re *awshttp.ResponseError
		if !errors.As(err, &re) || re.HTTPStatusCode() != http.StatusUpgradeRequired {
			t.Errorf("signed POST on the WebSocket listener: %v, want 426", err)
		}
		if _, err := hostClient("http://"+r.Management+"/prod", "mgmt-secret", nil).PostToConnection(context.Background(),
			&apigatewaymanagementapi.PostToConnectionInput{ConnectionId: &id, Data: []byte("x")}); err != nil {
			t.Errorf("signed POST on the management listener: %v", err)
		}
	})
}

// Only the @connections paths leave the WebSocket listener's 426: every other request
// that is not an upgrade keeps it, and @connections paths get the API's own answers
// (AWS's 403s), each with a request id.
func TestOtherRequestsOnTheWebSocketHostKeep426(t *testing.T) {
	r := startGateway(t, hostConfig(false, hostSigned, ""), Deps{})
	notWS := rawAnswer{Status: 426, Upgrade: "websocket"}
	tests := []struct {
		method, path string
		want         rawAnswer
	}{
		{"GET", "/", notWS},
		{"GET", "/prod", notWS},
		{"POST", "/prod/@connections", notWS},
		{"POST", "/prod/@connections/", notWS},
		{"POST", "/@connections/", notWS},
		{"GET", "/prod/@connections/abc/extra", notWS},
		{"GET", "/a/prod/@connections/abc", notWS},
		{"GET", "/prod/connections/abc", notWS},
		{"GET", "//@connections/abc", rawAnswer{Status: 403, ErrorType: "MissingAuthenticationTokenException", RequestID: true}}, // an empty stage, as the management listener takes it
		{"PUT", "/prod", notWS},
		{"POST", "/prod/@connections/abc", rawAnswer{Status: 403, ErrorType: "MissingAuthenticationTokenException", RequestID: true}},
		{"POST", "/prod/%40connections/abc", rawAnswer{Status: 403, ErrorType: "MissingAuthenticationTokenException", RequestID: true}},
		{"GET", "/@connections/abc", rawAnswer{Status: 403, ErrorType: "MissingAuthenticationTokenException", RequestID: true}},
		{"PUT", "/prod/@connections/abc", rawAnswer{Status: 403, ErrorType: "MissingAuthenticationTokenException", RequestID: true}}, // the signature is checked first
		{"GET", "/dev/@connections/abc", rawAnswer{Status: 403, ErrorType: "ForbiddenException", RequestID: true}},
	}
	for _, tt := range tests {
		if got := rawCall(t, tt.method, "http://"+r.WebSocket+tt.path, ""); got != tt.want {
			t.Errorf("%s %s: %+v, want %+v", tt.method, tt.path, got, tt.want)
		}
	}
	// The listener still upgrades.
	if _, id := dialHost(t, r, nil, true); len(id) != 16 {
		t.Errorf("connection id %q", id)
	}
}

// A Node.js Lambda function written as AWS's documentation shows
// (mgmt/interop/lambda_handler.mjs: ApiGatewayManagementApiClient with endpoint
// https://${requestContext.domainName}/${requestContext.stage}), run by real node with
// the JS SDK v3 on the AWS_PROXY event the gateway sends, posts back to the sender
// through the WebSocket listener (TLS, the test CA in NODE_EXTRA_CA_CERTS), and the
// sender receives it. The Lambda Invoke API is served locally (fakeLambda) and runs the
// function with lambda_run.mjs.
func TestNodeLambdaPostsThroughTheWebSocketHost(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node is not installed (%v): install Node.js, then run npm ci in internal/mgmt/interop (scripts/test does it)", err)
	}
	interop, err := filepath.Abs(filepath.Join("..", "mgmt", "interop"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(interop, "node_modules", "@aws-sdk", "client-apigatewaymanagementapi", "package.json")); err != nil {
		t.Fatalf("the JS SDK is not installed (%v): run npm ci in internal/mgmt/interop (scripts/test does it)", err)
	}
	serverTLS, caFile, pool := tlsWithCA(t)

	type result struct {
		out    []byte
		stderr string
		err    error
	}
	results := make(chan result, 4)
	f := newFakeLambda(t, map[string]func([]byte) ([]byte, string){
		"arn:aws:lambda:us-east-1:123456789012:function:chat": func(payload []byte) ([]byte, string) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, node, "lambda_run.mjs")
			cmd.Dir = interop
			cmd.Env = append(environWithoutAWS(),
				"AWS_ACCESS_KEY_ID=AKIDTEST",
				"AWS_SECRET_ACCESS_KEY=mgmt-secret",
				"AWS_REGION=us-east-1",
				"NODE_EXTRA_CA_CERTS="+caFile,
			)
			var stdout, stderr bytes.Buffer
			cmd.Stdin, cmd.Stdout, cmd.Stderr = bytes.NewReader(payload), &stdout, &stderr
			err := cmd.Run()
			results <- result{out: stdout.Bytes(), stderr: stderr.String(), err: err}
			if err != nil {
				return stdout.Bytes(), "Unhandled"
			}
			return stdout.Bytes(), ""
		},
	})
	r := startGateway(t, hostConfig(true, hostSigned, serverTLS), Deps{Lambda: f.client()})
	c, _ := dialHost(t, r, pool, false)
	write(t, c, `{"action":"sendmessage","text":"hi from the browser"}`)

	var res result
	select {
	case res = <-results:
	case <-time.After(60 * time.Second):
		t.Fatal("the function did not run within 60s")
	}
	if res.err != nil {
		t.Fatalf("node lambda_run.mjs: %v\nstdout: %s\nstderr:\n%s\ngateway logs:\n%s", res.err, res.out, res.stderr, r.logs.String())
	}
	if got := read(t, c); got != "echo: hi from the browser" {
		t.Errorf("the sender got %q", got)
	}
	var out struct {
		StatusCode int    `json:"statusCode"`
		Body       string `json:"body"`
	}
	var body struct {
		Endpoint  string `json:"endpoint"`
		RequestID string `json:"requestId"`
	}
	if err := json.Unmarshal(res.out, &out); err != nil || json.Unmarshal([]byte(out.Body), &body) != nil {
		t.Fatalf("the function returned %q", res.out)
	}
	if out.StatusCode != 200 || body.Endpoint != "https://"+r.WebSocket+"/prod" || !uuidForm.MatchString(body.RequestID) {
		t.Errorf("the function returned %d %+v, want 200, endpoint https://%s/prod and a request id", out.StatusCode, body, r.WebSocket)
	}
	ev := f.next(t, "MESSAGE")
	if ev.RequestContext.DomainName != r.WebSocket || ev.RequestContext.Stage != "prod" {
		t.Errorf("the event's domainName %q, stage %q", ev.RequestContext.DomainName, ev.RequestContext.Stage)
	}
}

// environWithoutAWS is the test's environment minus AWS_* variables, so that a
// developer's profile or endpoint settings cannot change what node does.
func environWithoutAWS() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") {
			env = append(env, kv)
		}
	}
	return env
}
