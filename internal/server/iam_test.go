package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/coder/websocket"
	"github.com/google/go-cmp/cmp"

	"github.com/wsgate/wsgate/internal/config"
)

const (
	iamAliceSecret = "alice-secret-0123456789abcdef"
	iamBobSecret   = "bob-secret-fedcba9876543210"
	// emptySHA256 is the payload hash a bodiless GET is signed with.
	emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
)

// iamEnv is env with the IAM secrets the tests' configs name.
func iamEnv(name string) string {
	switch name {
	case "ALICE_SECRET":
		return iamAliceSecret
	case "BOB_SECRET":
		return iamBobSecret
	}
	return env(name)
}

var (
	iamAlice = aws.Credentials{AccessKeyID: "AKIDALICE", SecretAccessKey: iamAliceSecret}
	iamBob   = aws.Credentials{AccessKeyID: "ASIABOB", SecretAccessKey: iamBobSecret, SessionToken: "bob-session-token+/="}
)

// iamConfig is an API whose $connect is AWS_IAM, with its routes on the fake Lambda's
// chat function, one route rendering $context.identity in a VTL template to the
// backend b, and an access log of the identity variables.
func iamConfig(backendURL string) string {
	return fmt.Sprintf(`
Api: {RouteSelectionExpression: $request.body.action, ApiId: abc123}
Stage:
  StageName: prod
  AccessLogSettings: {Format: '{"event":"$context.eventType","status":"$context.status","error":"$context.error.message","accessKey":"$context.identity.accessKey","accountId":"$context.identity.accountId","caller":"$context.identity.caller","user":"$context.identity.user","userArn":"$context.identity.userArn"}'}
Integrations:
  fn:
    IntegrationType: AWS_PROXY
    IntegrationUri: arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:chat/invocations
  vtl:
    IntegrationType: HTTP
    IntegrationUri: %s/vtl
    RequestTemplates:
      $default: '{"accessKey":"$context.identity.accessKey","accountId":"$context.identity.accountId","caller":"$context.identity.caller","user":"$context.identity.user","userArn":"$context.identity.userArn","sourceIp":"$context.identity.sourceIp"}'
Routes:
  $connect: {AuthorizationType: AWS_IAM, Target: integrations/fn}
  $disconnect: {Target: integrations/fn}
  $default: {Target: integrations/fn, RouteResponseSelectionExpression: $default}
  vtl: {Target: integrations/vtl}
Server:
  Region: us-east-1
  AccountId: "123456789012"
  Management: {AllowUnsigned: true}
  Iam:
    Credentials:
      - {AccessKeyId: AKIDALICE, SecretAccessKeyEnv: ALICE_SECRET, UserArn: "arn:aws:iam::123456789012:user/alice", Caller: AIDAALICE0000000000, User: AIDAALICE0000000000}
      - {AccessKeyId: ASIABOB, SecretAccessKeyEnv: BOB_SECRET, AccountId: "210987654321", UserArn: "arn:aws:sts::210987654321:assumed-role/bots/bob", Caller: "AROABOB:bob", User: "AROABOB:bob"}
`, backendURL)
}

// iamLambda is the fake Lambda of iamConfig: CONNECT and DISCONNECT answer 200, a
// message is echoed.
func iamLambda(t *testing.T) *fakeLambda {
	return newFakeLambda(t, map[string]func([]byte) ([]byte, string){
		"arn:aws:lambda:us-east-1:123456789012:function:chat": func(p []byte) ([]byte, string) {
			var ev events.APIGatewayWebsocketProxyRequest
			_ = json.Unmarshal(p, &ev)
			if ev.RequestContext.EventType == "MESSAGE" {
				return []byte(fmt.Sprintf(`{"statusCode":200,"body":%q}`, "you said "+ev.Body)), ""
			}
			return []byte(`{"statusCode":200}`), ""
		},
	})
}

// presignWS presigns a GET of ws://addr/pathAndQuery with the AWS SDK's signer, signed
// at at and valid for expires, and returns the ws:// URL.
func presignWS(t testing.TB, addr, pathAndQuery string, creds aws.Credentials, at time.Time, expires time.Duration) string {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, "http://"+addr+pathAndQuery, nil)
	if err != nil {
		t.Fatal(err)
	}
	q := req.URL.Query()
	q.Set("X-Amz-Expires", strconv.Itoa(int(expires/time.Second)))
	req.URL.RawQuery = q.Encode()
	signed, _, err := v4.NewSigner().PresignHTTP(context.Background(), creds, req, emptySHA256, "execute-api", "us-east-1", at)
	if err != nil {
		t.Fatal(err)
	}
	return "ws://" + strings.TrimPrefix(signed, "http://")
}

// iamHandshake makes a WebSocket handshake to u with net/http and returns the status
// and body of its answer (a refusal's; a 101 is closed at once).
func iamHandshake(t testing.TB, u string, h http.Header) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, "http://"+strings.TrimPrefix(u, "ws://"), nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range h {
		req.Header[k] = vs
	}
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Sec-WebSocket-Version", "13")
	req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusSwitchingProtocols {
		return resp.StatusCode, ""
	}
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestIAMPresignedHandshake: a $connect with AuthorizationType AWS_IAM accepts a
// handshake URL presigned by the AWS SDK's own signer (aws-sdk-go-v2 PresignHTTP,
// service execute-api) from a real WebSocket client, and refuses with 403 and AWS's
// message every URL that is unsigned, signed with the wrong secret or an unknown key,
// expired, signed in the future beyond the 5-minute skew, tampered with, or used on
// another path. Neither the integration nor the access log and logs see the signature.
func TestIAMPresignedHandshake(t *testing.T) {
	f := iamLambda(t)
	access := &syncBuffer{}
	r := startGateway(t, iamConfig(echoBackend(t).URL), Deps{Lambda: f.client(), Getenv: iamEnv, AccessLogStdout: access})
	now := time.Now()

	refusals := []struct {
		name, url   string
		wantMessage string
	}{
		{"unsigned", r.wsURL("/prod?room=1"), "Missing Authentication Token"},
		{"wrong secret", presignWS(t, r.WebSocket, "/prod?room=1", aws.Credentials{AccessKeyID: "AKIDALICE", SecretAccessKey: "guess"}, now, time.Minute),
			"The request signature we calculated does not match the signature you provided."},
		{"unknown key", presignWS(t, r.WebSocket, "/prod?room=1", aws.Credentials{AccessKeyID: "AKIDMALLORY", SecretAccessKey: iamAliceSecret}, now, time.Minute),
			"The security token included in the request is invalid."},
		{"expired", presignWS(t, r.WebSocket, "/prod?room=1", iamAlice, now.Add(-2*time.Minute), time.Minute), "Signature expired"},
		{"signed 10 minutes ahead", presignWS(t, r.WebSocket, "/prod?room=1", iamAlice, now.Add(10*time.Minute), time.Hour), "Signature not yet current"},
		{"tampered query", strings.Replace(presignWS(t, r.WebSocket, "/prod?room=1", iamAlice, now, time.Minute), "room=1", "room=2", 1),
			"The request signature we calculated does not match"},
		{"another path", strings.Replace(presignWS(t, r.WebSocket, "/prod?room=1", iamAlice, now, time.Minute), "/prod?", "/other?", 1),
			"The request signature we calculated does not match"},
		{"longer than seven days", presignWS(t, r.WebSocket, "/prod", iamAlice, now, 8*24*time.Hour), "X-Amz-Expires must be"},
	}
	signatures := []string{}
	for _, tc := range refusals {
		t.Run(tc.name, func(t *testing.T) {
			if u, _ := url.Parse(tc.url); u.Query().Get("X-Amz-Signature") != "" {
				signatures = append(signatures, u.Query().Get("X-Amz-Signature"))
			}
			status, body := iamHandshake(t, tc.url, nil)
			var msg struct{ Message string }
			if status != http.StatusForbidden || json.Unmarshal([]byte(body), &msg) != nil || !strings.Contains(msg.Message, tc.wantMessage) {
				t.Fatalf("answer %d %s, want 403 with a message holding %q", status, body, tc.wantMessage)
			}
			// A real client sees the same 403.
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			c, resp, err := websocket.Dial(ctx, tc.url, nil)
			if err == nil {
				c.CloseNow()
				t.Fatal("the WebSocket client connected")
			}
			if resp == nil || resp.StatusCode != http.StatusForbidden {
				t.Fatalf("WebSocket client: %v, response %v; want 403", err, resp)
			}
		})
	}
	resp, err := http.Get("http://" + r.Management + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	mb, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	metrics := string(mb)
	for _, want := range []string{`wsgate_connects_total{outcome="iam_unsigned"} 2`, `wsgate_connects_total{outcome="iam_denied"} 14`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	select {
	case ev := <-f.got:
		t.Fatalf("the $connect integration was called for a refused handshake: %+v", ev)
	default:
	}

	// Accepted: alice with long-term keys, bob with temporary ones.
	for _, tc := range []struct {
		creds                      aws.Credentials
		accountID, caller, userArn string
	}{
		{iamAlice, "123456789012", "AIDAALICE0000000000", "arn:aws:iam::123456789012:user/alice"},
		{iamBob, "210987654321", "AROABOB:bob", "arn:aws:sts::210987654321:assumed-role/bots/bob"},
	} {
		u := presignWS(t, r.WebSocket, "/prod?room=a%20b&tag=x&tag=y", tc.creds, now, 5*time.Minute)
		pu, _ := url.Parse(u)
		signatures = append(signatures, pu.Query().Get("X-Amz-Signature"))
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		c, resp, err := websocket.Dial(ctx, u, nil)
		cancel()
		if err != nil {
			t.Fatalf("%s: dial: %v (response %v)\nlogs:\n%s", tc.creds.AccessKeyID, err, resp, r.logs.String())
		}
		connect := f.next(t, "CONNECT")
		wantID := events.APIGatewayRequestIdentity{
			AccessKey: tc.creds.AccessKeyID, AccountID: tc.accountID, Caller: tc.caller, User: tc.caller,
			UserArn: tc.userArn, SourceIP: "127.0.0.1", UserAgent: connect.RequestContext.Identity.UserAgent,
		}
		if diff := cmp.Diff(wantID, connect.RequestContext.Identity); diff != "" {
			t.Errorf("%s: CONNECT identity (-want +got):\n%s", tc.creds.AccessKeyID, diff)
		}
		if diff := cmp.Diff(map[string]string{"room": "a b", "tag": "y"}, connect.QueryStringParameters); diff != "" {
			t.Errorf("CONNECT queryStringParameters (-want +got), the signature's must be gone:\n%s", diff)
		}
		if diff := cmp.Diff(map[string][]string{"room": {"a b"}, "tag": {"x", "y"}}, connect.MultiValueQueryStringParameters); diff != "" {
			t.Errorf("CONNECT multiValueQueryStringParameters (-want +got):\n%s", diff)
		}
		write(t, c, `{"action":"hello"}`)
		if got := read(t, c); got != `you said {"action":"hello"}` {
			t.Errorf("echo %q", got)
		}
		if msg := f.next(t, "MESSAGE"); msg.RequestContext.Identity != wantID {
			t.Errorf("MESSAGE identity %+v, want %+v", msg.RequestContext.Identity, wantID)
		}
		c.Close(websocket.StatusNormalClosure, "")
		if disc := f.next(t, "DISCONNECT"); disc.RequestContext.Identity.AccessKey != tc.creds.AccessKeyID || disc.RequestContext.Identity.UserArn != tc.userArn {
			t.Errorf("DISCONNECT identity %+v, want %+v", disc.RequestContext.Identity, wantID)
		}
	}

	// The access log: one refused line per refusal above, the identity on alice's events.
	var lines []map[string]string
	for line := range strings.SplitSeq(strings.TrimSpace(access.String()), "\n") {
		var m map[string]string
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("access log line %q: %v", line, err)
		}
		lines = append(lines, m)
	}
	aliceConnect := map[string]string{"event": "CONNECT", "status": "200", "error": "-", "accessKey": "AKIDALICE", "accountId": "123456789012",
		"caller": "AIDAALICE0000000000", "user": "AIDAALICE0000000000", "userArn": "arn:aws:iam::123456789012:user/alice"}
	unsigned := map[string]string{"event": "CONNECT", "status": "403", "error": "Missing Authentication Token", "accessKey": "-", "accountId": "-",
		"caller": "-", "user": "-", "userArn": "-"}
	var sawAlice, sawUnsigned bool
	for _, m := range lines {
		sawAlice = sawAlice || cmp.Equal(m, aliceConnect)
		sawUnsigned = sawUnsigned || cmp.Equal(m, unsigned)
	}
	if !sawAlice || !sawUnsigned {
		t.Errorf("the access log lacks alice's CONNECT (%v) or the unsigned refusal (%v):\n%s", sawAlice, sawUnsigned, access.String())
	}
	logs := r.logs.String() + access.String()
	for _, sig := range signatures {
		if strings.Contains(logs, sig) {
			t.Fatalf("the logs hold a signature:\n%s", logs)
		}
	}
	for _, s := range []string{"X-Amz-Signature", "X-Amz-Credential", "bob-session-token", iamAliceSecret, iamBobSecret} {
		if strings.Contains(logs, s) {
			t.Errorf("the logs hold %q:\n%s", s, logs)
		}
	}
}

// TestIAMHeaderSignedHandshakeAndTemplate: a non-browser client may sign the handshake
// in the Authorization header instead (aws-sdk-go-v2 SignHTTP); its identity reaches a
// VTL template's $context.identity. A header signature 6 minutes old is refused.
func TestIAMHeaderSignedHandshakeAndTemplate(t *testing.T) {
	b := echoBackend(t)
	f := iamLambda(t)
	r := startGateway(t, iamConfig(b.URL), Deps{Lambda: f.client(), Getenv: iamEnv})
	sign := func(at time.Time) http.Header {
		req, _ := http.NewRequest(http.MethodGet, "http://"+r.WebSocket+"/prod", nil)
		if err := v4.NewSigner().SignHTTP(context.Background(), iamAlice, req, emptySHA256, "execute-api", "us-east-1", at); err != nil {
			t.Fatal(err)
		}
		return req.Header
	}
	if status, body := iamHandshake(t, r.wsURL("/prod"), sign(time.Now().Add(-6*time.Minute))); status != http.StatusForbidden || !strings.Contains(body, "Signature expired") {
		t.Fatalf("a 6-minute-old header signature: %d %s, want 403 Signature expired", status, body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, r.wsURL("/prod"), &websocket.DialOptions{HTTPHeader: sign(time.Now())})
	if err != nil {
		t.Fatalf("dial: %v (response %v)\nlogs:\n%s", err, resp, r.logs.String())
	}
	defer c.CloseNow()
	if id := f.next(t, "CONNECT").RequestContext.Identity; id.AccessKey != "AKIDALICE" || id.UserArn != "arn:aws:iam::123456789012:user/alice" {
		t.Errorf("CONNECT identity %+v", id)
	}
	write(t, c, `{"action":"vtl"}`)
	got := mustJSON(t, b.next(t, "/vtl").Body)
	want := map[string]any{"accessKey": "AKIDALICE", "accountId": "123456789012", "caller": "AIDAALICE0000000000",
		"user": "AIDAALICE0000000000", "userArn": "arn:aws:iam::123456789012:user/alice", "sourceIp": "127.0.0.1"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("$context.identity in the template (-want +got):\n%s", diff)
	}
}

// TestIAMBuildErrors: a secret missing from the environment names its field.
func TestIAMBuildErrors(t *testing.T) {
	cfg, err := config.Parse([]byte(iamConfig("http://127.0.0.1:1")))
	if err != nil {
		t.Fatal(err)
	}
	_, err = Build(context.Background(), cfg, Deps{Getenv: env})
	if err == nil || !strings.Contains(err.Error(), "Server.Iam.Credentials[0].SecretAccessKeyEnv") {
		t.Fatalf("Build error %v, want one naming Server.Iam.Credentials[0].SecretAccessKeyEnv", err)
	}
}
