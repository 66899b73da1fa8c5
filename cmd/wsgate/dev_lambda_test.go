package main

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/wsgate/wsgate/examples/chat"
)

// wsgate dev --authorizer-bootstrap runs the Lambda authorizer make authorizer builds
// (here: go build ./cmd/authorizer) in place of the built-in one: a logged-in client is
// admitted with its principal, one without cookies or from another origin is refused.
func TestDevLambdaAuthorizer(t *testing.T) {
	dir := t.TempDir()
	build := exec.Command("go", "build", "-trimpath", "-tags", "lambda.norpc", "-o", filepath.Join(dir, "bootstrap"), "./cmd/authorizer")
	build.Dir = "../.."
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/authorizer: %v\n%s", err, out)
	}
	run := startDevWith(t, devOptions{AuthorizerBootstrap: dir})
	d, logs := run.devInfo, run.logs
	if !strings.Contains(logs.String(), `"name":"wsgate-authorizer"`) {
		t.Errorf("the startup log does not list the authorizer function:\n%s", logs.String())
	}

	tr := &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: d.CAPool},
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, d.WSAddr)
		},
	}
	t.Cleanup(tr.CloseIdleConnections)
	csrf := chat.NewCSRFToken()
	tok, err := d.Chat.MintToken("alice", csrf, time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	try := func(cookie, origin string) int {
		dctx, dcancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer dcancel()
		h := http.Header{"Origin": {origin}}
		if cookie != "" {
			h.Set("Cookie", cookie)
		}
		c, resp, err := websocket.Dial(dctx, d.WSURL+"?csrf="+csrf, &websocket.DialOptions{HTTPClient: &http.Client{Transport: tr}, HTTPHeader: h})
		if err == nil {
			c.Close(websocket.StatusNormalClosure, "")
			return http.StatusSwitchingProtocols
		}
		if resp == nil {
			t.Fatalf("dial: %v", err)
		}
		return resp.StatusCode
	}
	cookie := chat.JWTCookie + "=" + tok + "; " + chat.CSRFCookie + "=" + csrf
	if got := try(cookie, d.UIOrigin); got != http.StatusSwitchingProtocols {
		t.Errorf("alice: %d, want 101\nlogs:\n%s", got, logs.String())
	}
	if got := try("", d.UIOrigin); got != http.StatusUnauthorized {
		t.Errorf("no cookie: %d, want 401", got)
	}
	if got := try(cookie, "https://evil.test"); got != http.StatusForbidden {
		t.Errorf("another origin: %d, want 403", got)
	}
}
