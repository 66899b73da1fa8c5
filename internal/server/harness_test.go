package server

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/golang-jwt/jwt/v5"

	"github.com/wsgate/wsgate/internal/config"
	"github.com/wsgate/wsgate/internal/testutil"
)

func TestMain(m *testing.M) { testutil.VerifyNoLeaks(m) }

const testSecret = "test-secret-0123456789abcdef0123456789"

// env is the environment the test gateways read secrets from.
func env(name string) string {
	switch name {
	case "JWT_SECRET":
		return testSecret
	case "MGMT_SECRET":
		return "mgmt-secret"
	}
	return ""
}

// running is a gateway started by startGateway.
type running struct {
	Addrs
	cfg  *config.Config
	logs *syncBuffer
}

func (r *running) wsURL(pathAndQuery string) string { return "ws://" + r.WebSocket + pathAndQuery }

// startGateway runs Serve with the YAML config (listeners on port 0) until the test ends.
func startGateway(t testing.TB, yamlCfg string, deps Deps) *running {
	t.Helper()
	return startGatewayDeps(t, yamlCfg, deps, nil)
}

// startGatewayWithStop is startGateway whose *stop, set here, stops the gateway and
// waits for Serve to return (the cleanup then does nothing more).
func startGatewayWithStop(t testing.TB, yamlCfg string, stop *func()) *running {
	t.Helper()
	return startGatewayDeps(t, yamlCfg, Deps{}, stop)
}

func startGatewayDeps(t testing.TB, yamlCfg string, deps Deps, stop *func()) *running {
	t.Helper()
	cfg, err := config.Parse([]byte(yamlCfg))
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	return serveConfig(t, cfg, deps, stop)
}

// serveConfig runs Serve on cfg (listeners moved to port 0) until the test ends or
// *stop, if stop is not nil, is called; it checks that the logs hold no token or secret.
func serveConfig(t testing.TB, cfg *config.Config, deps Deps, stop *func()) *running {
	t.Helper()
	cfg.Server.Listen, cfg.Server.ManagementListen = "127.0.0.1:0", "127.0.0.1:0"
	logs := &syncBuffer{}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	if deps.Getenv == nil {
		deps.Getenv = env
	}
	access := &syncBuffer{} // an access log on "stdout" (accesslog_test.go)
	if deps.AccessLogStdout == nil {
		deps.AccessLogStdout = access
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan Addrs, 1)
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, cfg, deps, func(a Addrs) { ready <- a }) }()
	var a Addrs
	select {
	case a = <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("Serve: %v", err)
	}
	var once sync.Once
	stopNow := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Serve returned %v", err)
			}
		})
	}
	if stop != nil {
		*stop = stopNow
	}
	t.Cleanup(func() {
		stopNow()
		checkLogsHoldNoSecret(t, logs.String()+access.String())
	})
	return &running{Addrs: a, cfg: cfg, logs: logs}
}

// cookieAuthorizerYAML is an Authorizers entry "cookie": the built-in cookie authorizer
// with the tests' secret (JWT_SECRET), a CSRF claim and the tests' UI origin.
const cookieAuthorizerYAML = `  cookie:
    IdentitySource: [route.request.header.Cookie]
    Cookie:
      Algorithms: [HS256]
      CsrfClaim: csrf
      AllowedOrigins: ["https://ui.dev.example.test"]
      Key: {HmacSecretEnv: JWT_SECRET}
`

// syncBuffer is safe for a server writing logs while the test reads them.
type syncBuffer = testutil.SyncBuffer

// mint returns a JWT for sub signed with testSecret, bound to csrf.
func mint(t testing.TB, sub, csrf string, exp time.Time) string {
	t.Helper()
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"sub": sub, "exp": exp.Unix(), "iat": time.Now().Unix(), "csrf": csrf, "name": "Alice",
	}).SignedString([]byte(testSecret))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// login holds what a logged-in browser sends.
type login struct {
	cookie, csrf, origin string
}

func loginAs(t testing.TB, sub string, exp time.Time) login {
	csrf := "csrf-" + sub
	tok := mint(t, sub, csrf, exp)
	usedSecrets.Store(tok, true)
	return login{cookie: "JWT=" + tok + "; CSRF-TOKEN=" + csrf, csrf: csrf, origin: "https://ui.dev.example.test"}
}

// usedSecrets holds every token the tests minted, for checkLogsHoldNoSecret.
var usedSecrets sync.Map

// checkLogsHoldNoSecret fails the test if a gateway's logs hold a secret the tests use:
// the JWT and @connections secrets, any JWT (its header's base64), any token minted,
// a CSRF token ("csrf-<user>" values and "csrf." subprotocol entries) or a signature.
func checkLogsHoldNoSecret(t testing.TB, logs string) {
	t.Helper()
	for _, secret := range []string{testSecret, "mgmt-secret", "eyJhbGci", "csrf-", "csrf.", "Signature="} {
		if strings.Contains(logs, secret) {
			t.Errorf("logs hold a secret (%q):\n%s", secret, logs)
		}
	}
	usedSecrets.Range(func(k, _ any) bool {
		if tok := k.(string); strings.Contains(logs, tok[len(tok)-20:]) {
			t.Errorf("logs hold (the end of) a minted token:\n%s", logs)
		}
		return true
	})
}

// dial opens a WebSocket as a browser with l would. It returns the HTTP status of a
// refused handshake.
func dial(t testing.TB, r *running, l login, subprotocols ...string) (*websocket.Conn, int, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	h := http.Header{}
	if l.cookie != "" {
		h.Set("Cookie", l.cookie)
	}
	if l.origin != "" {
		h.Set("Origin", l.origin)
	}
	q := ""
	if l.csrf != "" {
		q = "?csrf=" + l.csrf
	}
	c, resp, err := websocket.Dial(ctx, r.wsURL("/"+q), &websocket.DialOptions{HTTPHeader: h, Subprotocols: subprotocols})
	status := 0
	if resp != nil {
		status = resp.StatusCode
		if resp.Body != nil {
			resp.Body.Close()
		}
	}
	if err == nil {
		c.SetReadLimit(1 << 20)
		t.Cleanup(func() { c.CloseNow() })
	}
	return c, status, err
}

func mustDial(t testing.TB, r *running, l login, subprotocols ...string) *websocket.Conn {
	t.Helper()
	c, status, err := dial(t, r, l, subprotocols...)
	if err != nil {
		t.Fatalf("dial: status %d: %v\nlogs:\n%s", status, err, r.logs.String())
	}
	return c
}

func read(t testing.TB, c *websocket.Conn) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, b, err := c.Read(ctx)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return string(b)
}

func write(t testing.TB, c *websocket.Conn, msg string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
		t.Fatalf("write: %v", err)
	}
}

// readClose reads until the connection closes and returns the close code.
func readClose(t testing.TB, c *websocket.Conn, within time.Duration) websocket.StatusCode {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	for {
		_, _, err := c.Read(ctx)
		if err != nil {
			if ctx.Err() != nil {
				t.Fatalf("connection still open after %v", within)
			}
			return websocket.CloseStatus(err)
		}
	}
}

// backendCall is one request an HTTP backend received.
type backendCall struct {
	Path   string
	Header http.Header
	Query  string
	Body   string
}

// backend is a fake HTTP integration backend that records calls and answers with
// respond (default 200 with body "ok").
type backend struct {
	*httptest.Server
	mu      sync.Mutex
	calls   []backendCall
	notify  chan backendCall
	respond func(w http.ResponseWriter, c backendCall)
}

func newBackend(t testing.TB, respond func(w http.ResponseWriter, c backendCall)) *backend {
	b := &backend{notify: make(chan backendCall, 1000), respond: respond}
	b.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		c := backendCall{Path: r.URL.Path, Header: r.Header.Clone(), Query: r.URL.RawQuery, Body: string(body)}
		b.mu.Lock()
		b.calls = append(b.calls, c)
		b.mu.Unlock()
		b.notify <- c
		if b.respond != nil {
			b.respond(w, c)
			return
		}
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(b.Close)
	return b
}

// next waits for the next call whose path is path.
func (b *backend) next(t testing.TB, path string) backendCall {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case c := <-b.notify:
			if c.Path == path {
				return c
			}
		case <-timeout:
			t.Fatalf("backend: no call to %s within 5s", path)
		}
	}
}

// each waits for one call to each of paths, in any order, and returns them by path (the
// last one when a path is called more than once).
func (b *backend) each(t testing.TB, paths ...string) map[string]backendCall {
	t.Helper()
	want := make(map[string]bool, len(paths))
	for _, p := range paths {
		want[p] = true
	}
	got := make(map[string]backendCall, len(paths))
	timeout := time.After(5 * time.Second)
	for len(got) < len(want) {
		select {
		case c := <-b.notify:
			if want[c.Path] {
				got[c.Path] = c
			}
		case <-timeout:
			t.Fatalf("backend: calls to %v within 5s, only %v seen", paths, got)
		}
	}
	return got
}

func (b *backend) count(path string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for _, c := range b.calls {
		if c.Path == path {
			n++
		}
	}
	return n
}

func mustJSON(t testing.TB, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("not JSON: %q: %v", s, err)
	}
	return m
}

// rawDial performs the handshake a browser logged in as l would, on a bare socket.
func rawDial(t testing.TB, addr string, l login) *testutil.RawConn {
	t.Helper()
	h := http.Header{}
	h.Set("Origin", l.origin)
	h.Set("Cookie", l.cookie)
	return testutil.RawDial(t, addr, "/?csrf="+l.csrf, h)
}

// websocketDial dials with arbitrary headers.
func websocketDial(t testing.TB, r *running, h http.Header) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, r.wsURL("/"), &websocket.DialOptions{HTTPHeader: h})
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	return c, resp, err
}
