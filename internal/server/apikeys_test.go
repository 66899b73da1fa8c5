package server

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/coder/websocket"
	"github.com/wsgate/wsgate/authevent"
	"github.com/wsgate/wsgate/internal/config"
)

const (
	apiKeyFromEnv  = "ak-env-0123456789abcdef"
	apiKeyFromFile = "ak-file-fedcba9876543210"
)

// apiKeyEnv is env with the API key the tests' configs name.
func apiKeyEnv(name string) string {
	if name == "PARTNER_KEY" {
		return apiKeyFromEnv
	}
	return env(name)
}

// apiKeyAuthorizer is a real HTTP authorizer that allows every handshake, answering
// with usageIdentifierKey set to the HeaderAuth1 header's value (none when it is
// absent), and counts its calls.
func apiKeyAuthorizer(t *testing.T) (url string, calls *atomic.Int64) {
	t.Helper()
	calls = new(atomic.Int64)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		var ev authevent.Event
		if err := json.NewDecoder(r.Body).Decode(&ev); err != nil {
			t.Errorf("the authorizer event is not JSON: %v", err)
		}
		resp := authevent.AllowResponse("partner", ev.MethodArn, nil)
		resp.UsageIdentifierKey = ev.Headers["HeaderAuth1"]
		_ = json.NewEncoder(w).Encode(resp)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, calls
}

// apiKeyConfig is an API whose $connect requires an API key selected by sel, behind the
// HTTP authorizer at authURL, with its integration on backend b; one key comes from
// the environment, one from a file.
func apiKeyConfig(t *testing.T, sel, authURL string, b *backend) string {
	t.Helper()
	keyFile := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(keyFile, []byte(apiKeyFromFile+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf(`
Api: {RouteSelectionExpression: $request.body.action, ApiId: abc123, ApiKeySelectionExpression: %q}
Stage: {StageName: dev}
Authorizers:
  http: {AuthorizerUri: %s}
Integrations:
  connect: {IntegrationType: HTTP, IntegrationUri: %s/connect}
Routes:
  $connect: {AuthorizationType: CUSTOM, AuthorizerId: http, Target: integrations/connect, ApiKeyRequired: true}
  $default: {Target: integrations/connect}
Server:
  Management: {AllowUnsigned: true}
  ApiKeys:
    - {Name: partner, ValueEnv: PARTNER_KEY}
    - {Name: filed, ValueFile: %s}
`, sel, authURL, b.URL, keyFile)
}

// TestAPIKeyFromHeader: with ApiKeyRequired and the default selection expression, a
// $connect without an x-api-key header, with a wrong one or with two is refused with 403
// before the authorizer and the $connect integration are called; the key from the
// environment and the key from a file are each accepted by a real client.
func TestAPIKeyFromHeader(t *testing.T) {
	b := echoBackend(t)
	authURL, authCalls := apiKeyAuthorizer(t)
	r := startGateway(t, apiKeyConfig(t, "$request.header.x-api-key", authURL, b), Deps{Getenv: apiKeyEnv})

	for _, tc := range []struct {
		name  string
		extra []string
	}{
		{"no key", nil},
		{"empty key", []string{"x-api-key: "}},
		{"wrong key", []string{"x-api-key: ak-env-0123456789abcdeX"}},
		{"a prefix of the key", []string{"x-api-key: " + apiKeyFromEnv[:10]}},
		{"two keys", []string{"x-api-key: " + apiKeyFromEnv, "X-Api-Key: " + apiKeyFromFile}},
		{"key in another header", []string{"Authorization: " + apiKeyFromEnv}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := rawHandshake(t, r.WebSocket, "/", tc.extra...); got != http.StatusForbidden {
				t.Errorf("status %d, want 403", got)
			}
		})
	}
	if n := authCalls.Load(); n != 0 {
		t.Errorf("the authorizer was called %d times for handshakes without a valid key, want 0", n)
	}
	if n := b.count("/connect"); n != 0 {
		t.Errorf("the $connect integration was called %d times for refused handshakes, want 0", n)
	}
	resp, err := http.Get("http://" + r.Management + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if want := `wsgate_connects_total{outcome="api_key"} 6`; !strings.Contains(string(metrics), want) {
		t.Errorf("/metrics lacks %q", want)
	}

	for _, key := range []string{apiKeyFromEnv, apiKeyFromFile} {
		c, resp, err := websocketDial(t, r, http.Header{"X-Api-Key": {key}})
		if err != nil {
			t.Fatalf("dial with a valid key: %v (status %v)\nlogs:\n%s", err, resp, r.logs.String())
		}
		b.next(t, "/connect")
		c.Close(websocket.StatusNormalClosure, "")
	}
	if n := authCalls.Load(); n != 2 {
		t.Errorf("the authorizer was called %d times, want 2 (once per accepted key)", n)
	}
	assertNoAPIKeyInLogs(t, r)
}

// TestAPIKeyFromAuthorizer: with $context.authorizer.usageIdentifierKey, the key is the
// HTTP authorizer's answer, checked after it: an answer with no key or a wrong key is
// 403 and the $connect integration is not called, even when the client sends a right
// key in x-api-key; an answer naming a right key opens the connection.
func TestAPIKeyFromAuthorizer(t *testing.T) {
	b := echoBackend(t)
	authURL, authCalls := apiKeyAuthorizer(t)
	r := startGateway(t, apiKeyConfig(t, "$context.authorizer.usageIdentifierKey", authURL, b), Deps{Getenv: apiKeyEnv})

	for _, tc := range []struct {
		name  string
		extra []string
	}{
		{"authorizer names no key", nil},
		{"authorizer names no key, client sends one in x-api-key", []string{"x-api-key: " + apiKeyFromEnv}},
		{"authorizer names a wrong key", []string{"HeaderAuth1: not-a-key"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := authCalls.Load()
			if got := rawHandshake(t, r.WebSocket, "/", tc.extra...); got != http.StatusForbidden {
				t.Errorf("status %d, want 403", got)
			}
			if n := authCalls.Load() - before; n != 1 {
				t.Errorf("the authorizer was called %d times, want 1: the key is its answer", n)
			}
		})
	}
	if n := b.count("/connect"); n != 0 {
		t.Errorf("the $connect integration was called %d times for refused handshakes, want 0", n)
	}

	c, resp, err := websocketDial(t, r, http.Header{"HeaderAuth1": {apiKeyFromFile}})
	if err != nil {
		t.Fatalf("dial with the authorizer naming a valid key: %v (status %v)\nlogs:\n%s", err, resp, r.logs.String())
	}
	b.next(t, "/connect")
	c.Close(websocket.StatusNormalClosure, "")
	if got := rawHandshake(t, r.WebSocket, "/", "HeaderAuth1: "+apiKeyFromEnv); got != http.StatusSwitchingProtocols {
		t.Errorf("raw handshake with the authorizer naming the env key: status %d, want 101", got)
	}
	assertNoAPIKeyInLogs(t, r)
}

// TestAPIKeyNotRequired: an API that lists keys but whose $connect does not require one
// opens connections without a key, as API Gateway does.
func TestAPIKeyNotRequired(t *testing.T) {
	b := echoBackend(t)
	authURL, _ := apiKeyAuthorizer(t)
	cfg := strings.Replace(apiKeyConfig(t, "", authURL, b), ", ApiKeyRequired: true", "", 1)
	r := startGateway(t, cfg, Deps{Getenv: apiKeyEnv})
	if got := rawHandshake(t, r.WebSocket, "/"); got != http.StatusSwitchingProtocols {
		t.Errorf("status %d, want 101", got)
	}
}

// TestAPIKeyBuildErrors: a key whose environment variable is empty or whose file is
// missing or empty fails the build, naming the field.
func TestAPIKeyBuildErrors(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		key  config.APIKey
		want string
	}{
		{"empty env", config.APIKey{Name: "k", ValueEnv: "UNSET_KEY"}, "Server.ApiKeys[0].ValueEnv: the environment variable UNSET_KEY is empty"},
		{"missing file", config.APIKey{Name: "k", ValueFile: filepath.Join(dir, "nope")}, "Server.ApiKeys[0].ValueFile:"},
		{"empty file", config.APIKey{Name: "k", ValueFile: empty}, "Server.ApiKeys[0].ValueFile: " + empty + " is empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := &config.Config{Server: config.Server{APIKeys: []config.APIKey{tc.key}}}
			_, err := apiKeys(cfg, apiKeyEnv)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one holding %q", err, tc.want)
			}
		})
	}
}

func assertNoAPIKeyInLogs(t *testing.T, r *running) {
	t.Helper()
	logs := r.logs.String()
	for _, k := range []string{apiKeyFromEnv, apiKeyFromFile, apiKeyFromEnv[:10]} {
		if strings.Contains(logs, k) {
			t.Errorf("the logs hold an API key:\n%s", logs)
		}
	}
	if !strings.Contains(logs, `"outcome":"api_key"`) {
		t.Errorf("no refusal logged with outcome api_key:\n%s", logs)
	}
}
