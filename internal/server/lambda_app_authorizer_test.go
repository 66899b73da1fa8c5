package server

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/wsgate/wsgate/internal/config"
)

// loadTemplateWith is LoadTemplate of template with overrides written to a file.
func loadTemplateWith(t *testing.T, template, overrides string) *config.Config {
	t.Helper()
	path := filepath.Join(t.TempDir(), "overrides.yaml")
	if err := os.WriteFile(path, []byte(overrides), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.LoadTemplate(template, path)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// handshakes dials r with each login and returns the HTTP status each got (101 for a
// WebSocket), closing the ones that opened.
func handshakes(t *testing.T, r *running, logins map[string]login) map[string]int {
	t.Helper()
	got := map[string]int{}
	for name, l := range logins {
		c, status, err := dial(t, r, l)
		if err == nil {
			status = http.StatusSwitchingProtocols
			c.Close(websocket.StatusNormalClosure, "")
		}
		got[name] = status
	}
	return got
}

// cookieLogins are the handshakes a browser could attempt against a cookie authorizer.
func cookieLogins(t *testing.T) map[string]login {
	alice := loginAs(t, "alice", time.Now().Add(time.Hour))
	forged := alice
	forged.cookie = strings.Replace(alice.cookie, "; CSRF", "x; CSRF", 1) // the signature changed
	return map[string]login{
		"alice":                alice,
		"no cookie":            {origin: alice.origin, csrf: alice.csrf},
		"another session csrf": {cookie: alice.cookie, csrf: "csrf-mallory", origin: alice.origin},
		"expired":              loginAs(t, "alice", time.Now().Add(-time.Hour)),
		"forged signature":     forged,
	}
}

// A template's inline Node.js authorizer (AWS::Lambda::Function Code.ZipFile, written as
// index.js) decides the handshakes: the JWT cookie's HMAC checked with node:crypto, the
// CSRF cookie against the query parameter, an IAM policy for the principal.
func TestLambdaAppInlineAuthorizer(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	cfg := loadTemplateWith(t, "testdata/lambda-app/inline-authorizer.yaml", fmt.Sprintf("Parameters: {JwtSecret: %s}\n", testSecret))
	r := serveConfig(t, cfg, Deps{}, nil)
	got := handshakes(t, r, cookieLogins(t))
	// The inline function answers a Deny policy (403) for every refusal; the identity
	// source guard answers 401 without calling it when the cookie is missing.
	want := map[string]int{"alice": 101, "no cookie": 401, "another session csrf": 403, "expired": 403, "forged signature": 403}
	for name, status := range want {
		if got[name] != status {
			t.Errorf("%s: status %d, want %d", name, got[name], status)
		}
	}
}

// deploy/cloudformation's api.yaml with its real authorizer: authorizer.yaml as another
// stack, its function the Go bootstrap built from cmd/authorizer (as make authorizer
// does) and run as provided.al2023.
func TestLambdaAppGoAuthorizer(t *testing.T) {
	codeDir := t.TempDir()
	build := exec.Command("go", "build", "-trimpath", "-tags", "lambda.norpc", "-o", filepath.Join(codeDir, "bootstrap"), "./cmd/authorizer")
	build.Dir = "../.."
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/authorizer: %v\n%s", err, out)
	}
	authorizerTemplate, err := filepath.Abs("../../deploy/cloudformation/authorizer.yaml")
	if err != nil {
		t.Fatal(err)
	}
	be := echoBackend(t)
	cfg := loadTemplateWith(t, apiTemplate, fmt.Sprintf(`
Parameters:
  BackendUrl: %s
Stacks:
  wsgate-authorizer:
    Template: %s
    Parameters:
      CodeS3Bucket: local
      CodeS3Key: authorizer.zip
      JwtAlgorithms: HS256
      AllowedOrigins: https://ui.dev.example.test
Functions:
  wsgate-authorizer-authorizer:
    CodeDir: %s
    Environment: {WSGATE_JWT_HMAC_SECRET: %s}
Server:
  Management: {AllowUnsigned: true}
`, be.URL, authorizerTemplate, codeDir, testSecret))
	r := serveConfig(t, cfg, Deps{}, nil)
	logins := cookieLogins(t)
	cross := logins["alice"]
	cross.origin = "https://evil.test"
	logins["cross-site origin"] = cross
	got := handshakes(t, r, logins)
	// A token that is no good is Unauthorized (401), a good one in the wrong context a
	// Deny (403): docs/authorizer.md.
	want := map[string]int{"alice": 101, "no cookie": 401, "another session csrf": 403, "expired": 401, "forged signature": 401, "cross-site origin": 403}
	for name, status := range want {
		if got[name] != status {
			t.Errorf("%s: status %d, want %d", name, got[name], status)
		}
	}
	if p := be.next(t, "/ws/connect").Header.Get("X-Principal-Id"); p != "alice" {
		t.Errorf("the backend's $connect saw principal %q, want alice", p)
	}
}

// A SAM template's Python function answers a two-way $default route.
func TestLambdaAppPythonFunction(t *testing.T) {
	cfg, err := config.LoadTemplate("testdata/lambda-app/sam-python/template.yaml", "")
	if err != nil {
		t.Fatal(err)
	}
	r := serveConfig(t, cfg, Deps{}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, r.wsURL("/"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	write(t, c, `{"action":"hi","n":1}`)
	got := mustJSON(t, read(t, c))
	if got["greeting"] != "echo" || got["routeKey"] != "$default" || got["message"] != `{"action":"hi","n":1}` || got["function"] != "EchoFunction" {
		t.Errorf("the Python function answered %v", got)
	}
}
