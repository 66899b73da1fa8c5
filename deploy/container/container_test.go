// Package container_test builds wsgate's container image (Containerfile) with podman, runs
// it, and talks to the running container as a client would: /readyz, then a WebSocket
// round trip with a cookie, once with the embedded default and once with a mounted config
// and a secret from the environment.
package container_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/golang-jwt/jwt/v5"

	"github.com/wsgate/wsgate/internal/config"
	"github.com/wsgate/wsgate/internal/testutil"
)

func TestMain(m *testing.M) { testutil.VerifyNoLeaks(m) }

// podmanGlobal are the global flags that make rootful podman work on the test machines:
// crun refuses their hybrid cgroup layout, runc does not; cgroupfs and the file events
// backend need no systemd. They are podman's defaults on many hosts, stated so the test
// does not depend on a containers.conf.
var podmanGlobal = []string{"--runtime", "runc", "--cgroup-manager", "cgroupfs", "--events-backend", "file"}

// podman runs podman with args and returns its trimmed standard output; it fails the test
// with the command's output when podman fails.
func podman(t testing.TB, args ...string) string {
	t.Helper()
	cmd := exec.Command("podman", append(append([]string{}, podmanGlobal...), args...)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("podman %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr.String())
	}
	return strings.TrimSpace(string(out))
}

// buildImage builds the wsgate binary and the image from a fresh context holding the
// Containerfile, the binary and the host's CA bundle, and removes the image at cleanup.
func buildImage(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("podman"); err != nil {
		t.Fatal("podman is not installed: the container test needs it (Debian: apt-get install -y podman runc; bash scripts/test installs it)")
	}
	ctxDir := t.TempDir()
	build := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", filepath.Join(ctxDir, "wsgate"), "github.com/wsgate/wsgate/cmd/wsgate")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	for _, f := range [][2]string{{"Containerfile", "Containerfile"}, {"/etc/ssl/certs/ca-certificates.crt", "ca-certificates.crt"}} {
		b, err := os.ReadFile(f[0])
		if err != nil {
			t.Fatalf("build context: %v", err)
		}
		if err := os.WriteFile(filepath.Join(ctxDir, f[1]), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tag := "localhost/wsgate-test:" + randomHex(t)
	podman(t, "build", "--quiet", "-t", tag, "-f", filepath.Join(ctxDir, "Containerfile"), ctxDir)
	t.Cleanup(func() { podman(t, "rmi", "--force", tag) })
	return tag
}

// run starts a detached container from image with extra podman run args and the image's
// own arguments, its ports published on 127.0.0.1 at random host ports; it returns the
// host addresses of the WebSocket (8080) and management (8081) ports.
func run(t *testing.T, image string, runArgs, imageArgs []string) (name, ws, mgmt string) {
	t.Helper()
	name = "wsgate-test-" + randomHex(t)
	args := []string{"run", "--detach", "--name", name,
		// Explicit limits: the defaults podman derives from the host are refused here.
		"--ulimit", "nofile=16384:16384", "--ulimit", "nproc=4096:4096",
		"--publish", "127.0.0.1::8080", "--publish", "127.0.0.1::8081"}
	args = append(append(append(args, runArgs...), image), imageArgs...)
	podman(t, args...)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("container logs:\n%s", podman(t, "logs", name))
		}
		podman(t, "rm", "--force", "--time", "5", name)
	})
	return name, podman(t, "port", name, "8080/tcp"), podman(t, "port", name, "8081/tcp")
}

func randomHex(t testing.TB) string {
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%x", b)
}

// waitReady waits until the container's /readyz answers 200.
func waitReady(t *testing.T, mgmt string) {
	t.Helper()
	client := &http.Client{Timeout: 2 * time.Second}
	testutil.Eventually(t, 30*time.Second, func() error {
		resp, err := client.Get("http://" + mgmt + "/readyz")
		if err != nil {
			return fmt.Errorf("GET /readyz: %v", err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET /readyz: %d", resp.StatusCode)
		}
		return nil
	})
}

// cookie mints an HS256 session with a CSRF binding claim, as the login backend would.
func cookie(t *testing.T, secret string) (hdr http.Header, csrf string) {
	t.Helper()
	csrf = base64.RawURLEncoding.EncodeToString([]byte(randomHex(t) + randomHex(t)))
	now := time.Now()
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"sub": "container-user", "iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(), "csrf": csrf,
	}).SignedString([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	return http.Header{"Cookie": {"JWT=" + tok}}, csrf
}

// roundTrip connects through the container's WebSocket port with the cookie and checks
// that a message comes back as the echo route returns it; without the cookie it checks
// the handshake is refused with 401.
func roundTrip(t *testing.T, ws, secret string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	_, resp, err := websocket.Dial(ctx, "ws://"+ws+"/?csrf=x", nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("without a cookie: err %v, response %v; want a 401 refusal", err, resp)
	}

	hdr, csrf := cookie(t, secret)
	c, _, err := websocket.Dial(ctx, "ws://"+ws+"/?csrf="+csrf, &websocket.DialOptions{HTTPHeader: hdr})
	if err != nil {
		t.Fatalf("dial with the cookie: %v", err)
	}
	defer c.CloseNow()
	msg, _ := json.Marshal(map[string]string{"action": "echo", "text": "through the container"})
	if err := c.Write(ctx, websocket.MessageText, msg); err != nil {
		t.Fatalf("write: %v", err)
	}
	typ, got, err := c.Read(ctx)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if typ != websocket.MessageText || string(got) != string(msg) {
		t.Fatalf("echo: got %v %q, want text %q", typ, got, msg)
	}
	if err := c.Close(websocket.StatusNormalClosure, ""); err != nil {
		t.Fatalf("close: %v", err)
	}
}

// mountedConfig is a config a user mounts into the container: an echo API whose cookie
// authorizer reads its HMAC secret from the environment.
const mountedConfig = `Api: {RouteSelectionExpression: $request.body.action}
Authorizers:
  cookie:
    IdentitySource: [route.request.header.Cookie]
    Cookie: {Algorithms: [HS256], CsrfClaim: csrf, AllowMissingOrigin: true, Key: {HmacSecretEnv: JWT_SECRET}}
Integrations:
  echo: {IntegrationType: MOCK, ResponseTemplate: $input.body}
  ok: {IntegrationType: MOCK}
Routes:
  $connect: {AuthorizationType: CUSTOM, AuthorizerId: cookie, Target: integrations/ok}
  $disconnect: {Target: integrations/ok}
  $default: {Target: integrations/echo, RouteResponseSelectionExpression: $default}
Server:
  Management: {Credentials: [{AccessKeyId: AKIDLOCAL, SecretAccessKeyEnv: WSGATE_MGMT_SECRET}]}
`

func TestContainer(t *testing.T) {
	image := buildImage(t)

	if user := podman(t, "image", "inspect", "--format", "{{.Config.User}}", image); user != "65532:65532" {
		t.Errorf("image user %q, want 65532:65532 (not root)", user)
	}
	if ep := podman(t, "image", "inspect", "--format", "{{json .Config.Entrypoint}}", image); ep != `["/wsgate","serve"]` {
		t.Errorf("entrypoint %s, want [\"/wsgate\",\"serve\"]", ep)
	}

	t.Run("embedded default", func(t *testing.T) {
		_, ws, mgmt := run(t, image, nil, nil)
		waitReady(t, mgmt)
		roundTrip(t, ws, config.DevHMACSecret)
	})

	t.Run("mounted config, secrets from the environment", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.Chmod(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, "gateway.yaml")
		if err := os.WriteFile(path, []byte(mountedConfig), 0o644); err != nil {
			t.Fatal(err)
		}
		secret := randomHex(t) + randomHex(t) + randomHex(t) // 36 bytes
		_, ws, mgmt := run(t, image,
			[]string{"--volume", path + ":/etc/wsgate/gateway.yaml:ro",
				"--env", "JWT_SECRET=" + secret, "--env", "WSGATE_MGMT_SECRET=" + randomHex(t)},
			// As the README runs it: the file's Server.Listen defaults to loopback, so the
			// listeners are moved to every interface by flags.
			[]string{"--config", "/etc/wsgate/gateway.yaml", "--listen", "0.0.0.0:8080", "--management-listen", "0.0.0.0:8081"})
		waitReady(t, mgmt)
		roundTrip(t, ws, secret)
	})
}
