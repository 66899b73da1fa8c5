package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/golang-jwt/jwt/v5"

	"github.com/wsgate/wsgate/internal/testutil"
)

// readmeConfig is the README's minimal gateway config, its backend at backend.
func readmeConfig(backend string) string {
	return `Api: {RouteSelectionExpression: $request.body.action}
Authorizers:
  cookie:
    IdentitySource: [route.request.header.Cookie]
    Cookie: {Algorithms: [HS256], CsrfClaim: csrf, AllowedOrigins: ["https://ui.dev.example.com"], Key: {HmacSecretEnv: JWT_SECRET}}
Integrations:
  backend:
    IntegrationType: HTTP_PROXY
    IntegrationUri: ` + backend + `/ws
    RequestParameters:
      integration.request.header.X-Connection-Id: context.connectionId
      integration.request.header.X-Principal: context.authorizer.principalId
Routes:
  $connect: {AuthorizationType: CUSTOM, AuthorizerId: cookie, Target: integrations/backend}
  $disconnect: {Target: integrations/backend}
  $default: {Target: integrations/backend}
Server:
  Management: {Credentials: [{AccessKeyId: AKIDLOCAL, SecretAccessKeyEnv: WSGATE_MGMT_SECRET}]}
`
}

// templateOverrides are deploy/cloudformation/local/overrides.yaml with the backend at
// backend.
func templateOverrides(t *testing.T, backend string) string {
	t.Helper()
	b, err := os.ReadFile("../../deploy/cloudformation/local/overrides.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s := strings.Replace(string(b), "BackendUrl: http://127.0.0.1:9000", "BackendUrl: "+backend, 1)
	if s == string(b) {
		t.Fatal("overrides.yaml no longer sets BackendUrl: http://127.0.0.1:9000")
	}
	return s
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// startServe runs `wsgate serve args` on port 0 until the test ends, waits until its
// /readyz answers 200, and returns the WebSocket address.
func startServe(t *testing.T, env map[string]string, args ...string) string {
	t.Helper()
	addr, _ := startServeLogs(t, env, args...)
	return addr
}

// startServeLogs is startServe that also returns serve's stderr.
func startServeLogs(t *testing.T, env map[string]string, args ...string) (string, *syncBuffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	logs := &syncBuffer{}
	done := make(chan error, 1)
	args = append([]string{"serve", "--listen", "127.0.0.1:0", "--management-listen", "127.0.0.1:0"}, args...)
	go func() {
		done <- run(ctx, args, func(k string) string { return env[k] }, nil, pw, logs)
		pw.Close()
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		cancel()
		t.Fatalf("no ready line: %v; logs:\n%s", err, logs.String())
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	m := regexp.MustCompile(`on wss?://(\S+)/ ; @connections on http://([^/]+)/`).FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("ready line %q", line)
	}
	testutil.Eventually(t, 5*time.Second, func() error {
		resp, err := http.Get("http://" + m[2] + "/readyz")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("readyz %d", resp.StatusCode)
		}
		return nil
	})
	return m[1], logs
}

// mintJSON runs `wsgate token --json args`.
func mintJSON(t *testing.T, env map[string]string, args ...string) minted {
	t.Helper()
	var out bytes.Buffer
	if err := run(context.Background(), append([]string{"token", "--json"}, args...), func(k string) string { return env[k] }, nil, &out, io.Discard); err != nil {
		t.Fatalf("token: %v", err)
	}
	var m minted
	if err := json.Unmarshal(out.Bytes(), &m); err != nil {
		t.Fatalf("token --json: %v\n%s", err, out.String())
	}
	return m
}

// dial connects to wsAddr as the minted token's client lines do and returns the
// handshake's status.
func dial(t *testing.T, wsAddr string, m minted) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	h := http.Header{}
	for k, v := range m.Headers {
		h.Set(k, v)
	}
	u := strings.Replace(m.URL, "127.0.0.1:0", wsAddr, 1)
	c, resp, err := websocket.Dial(ctx, u, &websocket.DialOptions{HTTPHeader: h})
	if err != nil {
		if resp == nil {
			t.Fatalf("dial %s: %v", u, err)
		}
		return resp.StatusCode
	}
	c.Close(websocket.StatusNormalClosure, "")
	return resp.StatusCode
}

func tamper(m minted) minted {
	parts := strings.Split(m.JWT, ".")
	sig := []byte(parts[2])
	sig[0] ^= 1 // still base64url: the signature no longer verifies
	if sig[0] == '-' || sig[0] == '_' {
		sig[0] = 'A'
	}
	parts[2] = string(sig)
	tok := strings.Join(parts, ".")
	m.Cookie = strings.Replace(m.Cookie, m.JWT, tok, 1)
	m.Headers["Cookie"] = m.Cookie
	m.JWT = tok
	return m
}

// TestTokenAdmitted mints tokens with `wsgate token` for the README's minimal config
// and for deploy/cloudformation/api.yaml with the local overrides, and connects with a
// real WebSocket client to a real `wsgate serve` of the same configuration: admitted;
// the same token with its signature changed: 401.
func TestTokenAdmitted(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer backend.Close()
	secret := "0123456789abcdef0123456789abcdef-readme"
	pubFile, privFile := ecKeyFiles(t)
	esConfig := strings.Replace(readmeConfig(backend.URL), "Algorithms: [HS256], CsrfClaim: csrf, AllowedOrigins: [\"https://ui.dev.example.com\"], Key: {HmacSecretEnv: JWT_SECRET}",
		"Algorithms: [ES256], CsrfClaim: csrf, AllowedOrigins: [\"https://ui.dev.example.com\"], Key: {PublicKeyFile: "+pubFile+"}", 1)
	cases := []struct {
		name string
		env  map[string]string
		args []string
	}{
		{"README minimal config", map[string]string{"JWT_SECRET": secret, "WSGATE_MGMT_SECRET": "mgmt-secret"},
			[]string{"--config", writeFile(t, "gateway.yaml", readmeConfig(backend.URL))}},
		{"api.yaml with local overrides", map[string]string{"WSGATE_JWT_HMAC_SECRET": secret},
			[]string{"--template", "../../deploy/cloudformation/api.yaml", "--overrides", writeFile(t, "overrides.yaml", templateOverrides(t, backend.URL))}},
		{"embedded default", nil, nil},
		{"ES256 public key, --private-key", map[string]string{"WSGATE_MGMT_SECRET": "mgmt-secret"},
			[]string{"--config", writeFile(t, "es.yaml", esConfig)}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			wsAddr := startServe(t, c.env, c.args...)
			args := append([]string{"--url", "ws://" + wsAddr + "/", "--sub", "carol", "--claim", "n=3"}, c.args...)
			if strings.HasPrefix(c.name, "ES256") {
				args = append(args, "--private-key", privFile)
			}
			m := mintJSON(t, c.env, args...)
			if m.CSRF == "" || !strings.Contains(m.URL, "csrf="+m.CSRF) || m.Origin == "" && c.args != nil {
				t.Fatalf("minted %+v", m)
			}
			if got := dial(t, wsAddr, m); got != http.StatusSwitchingProtocols {
				t.Errorf("the minted token: handshake %d, want 101", got)
			}
			if got := dial(t, wsAddr, tamper(m)); got != http.StatusUnauthorized {
				t.Errorf("the tampered token: handshake %d, want 401", got)
			}
			claims := jwt.MapClaims{}
			if _, _, err := jwt.NewParser().ParseUnverified(m.JWT, claims); err != nil || claims["sub"] != "carol" || claims["n"] != float64(3) || claims["csrf"] != m.CSRF {
				t.Errorf("claims %v (%v)", claims, err)
			}
		})
	}
}

func TestTokenErrors(t *testing.T) {
	dir := t.TempDir()
	pub := filepath.Join(dir, "pub.pem")
	esPub, _ := ecKeyFiles(t)
	_, otherPriv := ecKeyFiles(t)
	cfg := func(key string) string {
		return writeFile(t, "c.yaml", strings.Replace(readmeConfig("http://127.0.0.1:9"), "Key: {HmacSecretEnv: JWT_SECRET}", "Key: "+key, 1))
	}
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"secret unset", []string{"--config", cfg("{HmacSecretEnv: JWT_SECRET}")}, "Authorizers.cookie.Cookie.Key.HmacSecretEnv: the environment variable JWT_SECRET is not set"},
		{"public key only", []string{"--config", cfg("{PublicKeyFile: " + pub + "}")}, "pass the matching private key with --private-key FILE"},
		{"JWKS", []string{"--config", cfg("{JwksUrl: https://login.example.com/jwks.json}")}, "JwksUrl: the gateway verifies with a JWKS, which holds only public keys; pass a private key"},
		{"bad claim", []string{"--claim", "novalue"}, `--claim "novalue": want k=v`},
		{"private key of another public key", []string{"--config", writeFile(t, "es.yaml", strings.Replace(readmeConfig("http://127.0.0.1:9"), "Algorithms: [HS256], CsrfClaim: csrf, AllowedOrigins: [\"https://ui.dev.example.com\"], Key: {HmacSecretEnv: JWT_SECRET}", "Algorithms: [ES256], CsrfClaim: csrf, AllowedOrigins: [\"https://ui.dev.example.com\"], Key: {PublicKeyFile: "+esPub+"}", 1)), "--private-key", otherPriv}, "--private-key: it is not the private key of Authorizers.cookie.Cookie.Key.PublicKeyFile"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := run(context.Background(), append([]string{"token"}, c.args...), func(string) string { return "" }, nil, io.Discard, io.Discard)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("got %v, want %q", err, c.want)
			}
		})
	}
}

// ecKeyFiles writes a fresh P-256 key pair: the public key (PKIX PEM) for the gateway,
// the private key (PKCS #8 PEM) for wsgate token.
func ecKeyFiles(t *testing.T) (pub, priv string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pb, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
	kb, _ := x509.MarshalPKCS8PrivateKey(k)
	pub = writeFile(t, "pub.pem", string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pb})))
	priv = writeFile(t, "priv.pem", string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb})))
	return pub, priv
}

// FuzzTypedClaim: any --claim value becomes a claim that JSON can encode, and a value
// that is not a number or a boolean stays the string given.
func FuzzTypedClaim(f *testing.F) {
	for _, s := range []string{"3", "-1.5e3", "true", "False", "NaN", "Inf", "0x10", "alice", "", "9223372036854775808"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v := typedClaim(s)
		if _, err := json.Marshal(v); err != nil {
			t.Fatalf("typedClaim(%q) = %#v: %v", s, v, err)
		}
		if str, ok := v.(string); ok && str != s {
			t.Fatalf("typedClaim(%q) = %q", s, str)
		}
	})
}

// TestServeBanner: the banner goes to stderr (as lines with text logs, as one
// "serving" record with JSON logs), never to stdout.
func TestServeBanner(t *testing.T) {
	_, logs := startServeLogs(t, nil, "--log-format", "text")
	for _, want := range []string{"wsgate: serving wsgate-default (embedded default), stage dev", "    $default     MOCK  two-way", "cookie  cookie  HS256, key DevKey", "management listener, unsigned (development only)", "API keys: 0"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("text banner lacks %q:\n%s", want, logs.String())
		}
	}
	_, logs = startServeLogs(t, nil, "--log-format", "json")
	var found bool
	for _, line := range strings.Split(logs.String(), "\n") {
		var rec struct {
			Msg    string `json:"msg"`
			Banner struct {
				Routes []struct {
					Key string `json:"routeKey"`
				} `json:"routes"`
			} `json:"banner"`
		}
		if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "serving" && len(rec.Banner.Routes) == 3 {
			found = true
		} else if line != "" && !json.Valid([]byte(line)) {
			t.Errorf("a JSON log line is not JSON: %q", line)
		}
	}
	if !found {
		t.Errorf("no serving record with the routes:\n%s", logs.String())
	}
}
