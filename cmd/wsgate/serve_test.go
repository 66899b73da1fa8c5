package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/wsgate/wsgate/internal/testutil"
)

// TestServeDefault runs `wsgate serve` with the embedded default on port 0, mints a
// token with `wsgate token`, and talks to it with a real WebSocket client and
// @connections.
func TestServeDefault(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	var logs syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--listen", "127.0.0.1:0", "--management-listen", "127.0.0.1:0"}, func(string) string { return "" }, nil, pw, &logs)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("no ready line: %v; logs:\n%s", err, logs.String())
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	m := regexp.MustCompile(`on ws://(\S+)/ ; @connections on (http://\S+/dev/@connections)`).FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("ready line %q", line)
	}
	wsAddr, mgmtURL := m[1], m[2]

	var tok bytes.Buffer
	if err := run(ctx, []string{"token", "--sub", "carol"}, nil, nil, &tok, io.Discard); err != nil {
		t.Fatal(err)
	}
	tm := regexp.MustCompile(`Cookie: (JWT=\S+)\ncsrf: (\S+)\n`).FindStringSubmatch(tok.String())
	if tm == nil {
		t.Fatalf("token output %q", tok.String())
	}
	dctx, dcancel := context.WithTimeout(ctx, 5*time.Second)
	defer dcancel()
	if _, resp, err := websocket.Dial(dctx, "ws://"+wsAddr+"/", nil); err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("without a cookie: %v %v, want 401", resp, err)
	}
	c, _, err := websocket.Dial(dctx, "ws://"+wsAddr+"/?csrf="+tm[2], &websocket.DialOptions{HTTPHeader: http.Header{"Cookie": {tm[1]}}})
	if err != nil {
		t.Fatalf("dial: %v\nlogs:\n%s", err, logs.String())
	}
	defer c.CloseNow()
	if err := c.Write(dctx, websocket.MessageText, []byte(`{"action":"hi","n":1}`)); err != nil {
		t.Fatal(err)
	}
	if _, b, err := c.Read(dctx); err != nil || string(b) != `{"action":"hi","n":1}` {
		t.Fatalf("echo: %q %v", b, err)
	}
	// The connection id, from the logs, addresses it through @connections.
	id := regexp.MustCompile(`"msg":"connect","requestId":"[^"]+","connectionId":"([^"]+)"`).FindStringSubmatch(logs.String())
	if id == nil {
		t.Fatalf("no connect log line:\n%s", logs.String())
	}
	resp, err := http.Post(mgmtURL+"/"+strings.ReplaceAll(id[1], "=", "%3D"), "application/octet-stream", strings.NewReader("pushed"))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("POST @connections: %v %v", resp, err)
	}
	resp.Body.Close()
	if _, b, err := c.Read(dctx); err != nil || string(b) != "pushed" {
		t.Fatalf("push: %q %v", b, err)
	}
	cancel() // as SIGTERM would
	rctx, rcancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer rcancel()
	if _, _, err := c.Read(rctx); websocket.CloseStatus(err) != websocket.StatusGoingAway {
		t.Errorf("on shutdown the client saw %v, want close 1001", err)
	}
	if err := <-done; err != nil {
		t.Fatalf("serve returned %v", err)
	}
	if s := logs.String(); strings.Contains(s, "eyJhbGci") || strings.Contains(s, tm[2]) {
		t.Errorf("logs hold the token or CSRF token")
	}
}

func TestServeCheckConfig(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("Routes:\n  $default: {Target: integrations/missing}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	err := run(context.Background(), []string{"serve", "--config", bad, "--check-config"}, os.Getenv, nil, &out, io.Discard)
	if err == nil || !strings.Contains(err.Error(), `Routes.$default.Target: integration "missing" is not in Integrations`) {
		t.Errorf("bad config: %v", err)
	}
	out.Reset()
	if err := run(context.Background(), []string{"serve", "--check-config"}, os.Getenv, nil, &out, io.Discard); err != nil || !strings.Contains(out.String(), "is valid") {
		t.Errorf("default config: %v %q", err, out.String())
	}
	out.Reset()
	env := func(k string) string {
		return map[string]string{"WSGATE_JWT_HMAC_SECRET": strings.Repeat("s", 32), "WSGATE_MGMT_SECRET": "m"}[k]
	}
	err = run(context.Background(), []string{"serve", "--check-config", "--template", "../../deploy/cloudformation/api.yaml",
		"--overrides", "../../deploy/cloudformation/local/overrides.yaml"}, env, nil, &out, io.Discard)
	if err != nil || !strings.Contains(out.String(), "is valid") {
		t.Errorf("api.yaml with local overrides: %v %q", err, out.String())
	}
	if err := run(context.Background(), []string{"serve", "--overrides", "x.yaml"}, env, nil, &out, io.Discard); err == nil {
		t.Error("--overrides without --template was accepted")
	}
}

// syncBuffer is safe for a server writing logs while the test reads them.
type syncBuffer = testutil.SyncBuffer
