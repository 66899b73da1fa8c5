package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/wsgate/wsgate/internal/config"
	"github.com/wsgate/wsgate/internal/testutil"
)

// accessLines waits until the access log file at path holds n lines and returns them,
// each parsed as JSON.
func accessLines(t testing.TB, path string, n int) []map[string]string {
	t.Helper()
	var lines []map[string]string
	testutil.Eventually(t, 5*time.Second, func() error {
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		text, ok := strings.CutSuffix(string(b), "\n")
		if !ok {
			return errors.New("no whole line yet")
		}
		raw := strings.Split(text, "\n")
		if len(raw) < n {
			return fmt.Errorf("%d lines, want %d", len(raw), n)
		}
		lines = lines[:0]
		for _, l := range raw {
			var m map[string]string
			if err := json.Unmarshal([]byte(l), &m); err != nil {
				t.Fatalf("access log line %q is not JSON of strings: %v", l, err)
			}
			lines = append(lines, m)
		}
		return nil
	})
	if len(lines) != n {
		t.Fatalf("access log has %d lines, want %d: %v", len(lines), n, lines)
	}
	return lines
}

// TestAccessLogTemplate serves deploy/cloudformation/api.yaml as serve --template
// does, its stage's AccessLogSettings as they are, and connects real clients: one
// refused by the authorizer (no cookie), one accepted that sends a message and closes.
// The access log file holds exactly one JSON line per event, with the template's fields
// and values, "-" where the event has none, and no token.
func TestAccessLogTemplate(t *testing.T) {
	be := echoBackend(t)
	tmpl, err := os.ReadFile("../../deploy/cloudformation/api.yaml")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "access.log")
	overrides := fmt.Sprintf(`
Parameters: {BackendUrl: %s}
Authorizers:
  Authorizer:
    Cookie: {Algorithms: [HS256], CsrfClaim: csrf, AllowedOrigins: ["https://ui.dev.example.test"], Key: {HmacSecretEnv: JWT_SECRET}}
Server:
  Management: {AllowUnsigned: true}
  AccessLog: {Path: %q}
`, be.URL, path)
	cfg, err := config.ParseTemplate(tmpl, []byte(overrides))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Stage.AccessLogSettings == nil || !strings.Contains(cfg.Stage.AccessLogSettings.Format, "$context.requestId") {
		t.Fatalf("the template's AccessLogSettings were not read: %+v", cfg.Stage.AccessLogSettings)
	}
	r := serveConfig(t, cfg, Deps{}, nil)
	alice := loginAs(t, "alice", time.Now().Add(time.Hour))

	if _, status, err := dial(t, r, login{origin: alice.origin, csrf: alice.csrf}); err == nil || status != 401 {
		t.Fatalf("dial without a cookie: status %d, %v; want 401", status, err)
	}
	c := mustDial(t, r, alice)
	id := be.next(t, "/ws/connect").Header.Get("X-Connection-Id")
	write(t, c, `{"action":"sendmessage","text":"hi"}`)
	be.next(t, "/ws/sendmessage")
	if err := c.Close(websocket.StatusNormalClosure, "bye"); err != nil {
		t.Fatal(err)
	}
	be.next(t, "/ws/disconnect")

	lines := accessLines(t, path, 4)
	for _, l := range lines {
		if l["requestId"] == "" || l["requestId"] != l["extendedRequestId"] {
			t.Errorf("requestId %q, extendedRequestId %q: want the same, set", l["requestId"], l["extendedRequestId"])
		}
		if _, err := time.Parse("02/Jan/2006:15:04:05 -0700", l["requestTime"]); err != nil {
			t.Errorf("requestTime %q: %v", l["requestTime"], err)
		}
	}
	ignore := cmpopts.IgnoreMapEntries(func(k, _ string) bool {
		return k == "requestId" || k == "extendedRequestId" || k == "requestTime"
	})
	refusedID := lines[0]["connectionId"]
	if refusedID == "" || refusedID == "-" || refusedID == id {
		t.Errorf("refused connection id %q: want its own id", refusedID)
	}
	ua := "Go-http-client/1.1" // what the client library sends
	want := []map[string]string{
		{"connectionId": refusedID, "eventType": "CONNECT", "routeKey": "$connect", "status": "401", "principalId": "-",
			"authorizerError": "Unauthorized", "integrationError": "-", "sourceIp": "127.0.0.1", "userAgent": ua},
		{"connectionId": id, "eventType": "CONNECT", "routeKey": "$connect", "status": "200", "principalId": "alice",
			"authorizerError": "-", "integrationError": "-", "sourceIp": "127.0.0.1", "userAgent": ua},
		{"connectionId": id, "eventType": "MESSAGE", "routeKey": "sendmessage", "status": "200", "principalId": "alice",
			"authorizerError": "-", "integrationError": "-", "sourceIp": "127.0.0.1", "userAgent": ua},
		{"connectionId": id, "eventType": "DISCONNECT", "routeKey": "$disconnect", "status": "200", "principalId": "alice",
			"authorizerError": "-", "integrationError": "-", "sourceIp": "127.0.0.1", "userAgent": ua},
	}
	if diff := cmp.Diff(want, lines, ignore); diff != "" {
		t.Errorf("access log (-want +got):\n%s", diff)
	}
	b, _ := os.ReadFile(path)
	checkLogsHoldNoSecret(t, string(b))
}

// TestAccessLogFormat writes a format of its own to standard output (Server.AccessLog
// unset): the authorizer's context, the message id, the integration's status and
// latency, a failed integration's error, and the
// close code of $disconnect.
func TestAccessLogFormat(t *testing.T) {
	be := echoBackend(t)
	const format = `{"event":"$context.eventType","route":"$context.routeKey","status":"$context.status","error":"$context.error.message",` +
		`"name":"$context.authorizer.name","messageId":"$context.messageId","integrationStatus":"$context.integrationStatus",` +
		`"latency":"$context.integrationLatency","code":"$context.disconnectStatusCode","stage":"$context.stage","apiId":"$context.apiId",` +
		`"authLatency":"$context.authorizer.latency"}`
	yamlCfg := chatConfig(be.URL, "")
	stage := "StageVariables: {backend: " + be.URL + "}}"
	if !strings.Contains(yamlCfg, stage) {
		t.Fatal("chatConfig's stage changed")
	}
	yamlCfg = strings.Replace(yamlCfg, stage, strings.TrimSuffix(stage, "}")+", AccessLogSettings: {Format: '"+format+"'}}", 1)
	out := &syncBuffer{}
	r := startGateway(t, yamlCfg, Deps{AccessLogStdout: out})
	c := mustDial(t, r, loginAs(t, "alice", time.Now().Add(time.Hour)))
	write(t, c, `{"action":"echo"}`)
	read(t, c)
	write(t, c, `{"action":"broken"}`)
	if got := mustJSON(t, read(t, c)); got["message"] != "Internal server error" {
		t.Fatalf("broken route answered %v", got)
	}
	_ = c.Close(websocket.StatusGoingAway, "tab closed") // the gateway's answer is checked by TestDisconnectOnClientClose
	be.next(t, "/disconnect")

	var lines []map[string]any
	testutil.Eventually(t, 5*time.Second, func() error {
		lines = lines[:0]
		for l := range strings.SplitSeq(strings.TrimSuffix(out.String(), "\n"), "\n") {
			var m map[string]any
			if err := json.Unmarshal([]byte(l), &m); err != nil {
				return fmt.Errorf("line %q: %w", l, err)
			}
			lines = append(lines, m)
		}
		if len(lines) != 4 {
			return fmt.Errorf("%d lines", len(lines))
		}
		return nil
	})
	millis := func(v any) bool { s, _ := v.(string); return s != "" && strings.Trim(s, "0123456789") == "" }
	for i := 1; i <= 2; i++ {
		if id, _ := lines[i]["messageId"].(string); id == "" || id == "-" {
			t.Errorf("line %d: messageId %q", i, id)
		}
	}
	// The $connect and message integrations' latency, and the $connect authorizer's.
	for _, l := range []struct {
		line int
		key  string
	}{{0, "latency"}, {1, "latency"}, {2, "latency"}, {0, "authLatency"}} {
		if v := lines[l.line][l.key]; !millis(v) {
			t.Errorf("line %d: %s %q, want milliseconds", l.line, l.key, v)
		}
		delete(lines[l.line], l.key)
	}
	want := []map[string]any{
		{"event": "CONNECT", "route": "$connect", "status": "200", "error": "-", "name": "Alice", "messageId": "-",
			"integrationStatus": "200", "code": "-", "stage": "dev", "apiId": "abc123"},
		{"event": "MESSAGE", "route": "echo", "status": "200", "error": "-", "name": "Alice",
			"integrationStatus": "200", "code": "-", "stage": "dev", "apiId": "abc123", "authLatency": "-"},
		{"event": "MESSAGE", "route": "broken", "status": "500", "error": "Internal server error", "name": "Alice",
			"integrationStatus": "-", "code": "-", "stage": "dev", "apiId": "abc123", "authLatency": "-"},
		{"event": "DISCONNECT", "route": "$disconnect", "status": "200", "error": "-", "name": "Alice", "messageId": "-",
			"integrationStatus": "-", "latency": "-", "code": "1001", "stage": "dev", "apiId": "abc123", "authLatency": "-"},
	}
	for i := 1; i <= 2; i++ {
		delete(lines[i], "messageId")
	}
	if diff := cmp.Diff(want, lines); diff != "" {
		t.Errorf("access log (-want +got):\n%s", diff)
	}
	checkLogsHoldNoSecret(t, out.String())
}

// TestAccessLogRefusedBeforeAnID logs a $connect refused by MaxConnections, before the
// connection has an id: status 429, connectionId "-"; a plain HTTP request, which is no
// $connect, is not logged.
func TestAccessLogRefusedBeforeAnID(t *testing.T) {
	be := echoBackend(t)
	yamlCfg := chatConfig(be.URL, "  Limits: {MaxConnections: 1}")
	stage := "StageVariables: {backend: " + be.URL + "}}"
	yamlCfg = strings.Replace(yamlCfg, stage, strings.TrimSuffix(stage, "}")+
		`, AccessLogSettings: {Format: '"$context.eventType $context.status $context.connectionId $context.error.message"'}}`, 1)
	out := &syncBuffer{}
	r := startGateway(t, yamlCfg, Deps{AccessLogStdout: out})
	alice := loginAs(t, "alice", time.Now().Add(time.Hour))
	mustDial(t, r, alice)
	if _, status, err := dial(t, r, alice); err == nil || status != 429 {
		t.Fatalf("second dial: status %d, %v; want 429", status, err)
	}
	resp, err := http.Get("http://" + r.WebSocket + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUpgradeRequired {
		t.Fatalf("plain GET: %d", resp.StatusCode)
	}
	var lines []string
	testutil.Eventually(t, 5*time.Second, func() error {
		lines = strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
		if len(lines) < 2 {
			return fmt.Errorf("%d lines", len(lines))
		}
		return nil
	})
	// The accepted CONNECT is logged once its 101 is written, so the refused one, dialled
	// as soon as the client sees that 101, may be logged first: either order.
	i := slices.IndexFunc(lines, func(l string) bool { return strings.HasPrefix(l, `"CONNECT 200 `) })
	if i < 0 {
		t.Fatalf("no accepted CONNECT in %q", lines)
	}
	rest := slices.Delete(slices.Clone(lines), i, i+1)
	if diff := cmp.Diff([]string{`"CONNECT 429 - Too Many Requests"`}, rest); diff != "" {
		t.Errorf("lines besides the accepted CONNECT (-want +got):\n%s", diff)
	}
}
