package config

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheck: each thing serving needs from the machine, missing, fails with its field.
func TestCheck(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing")
	short := filepath.Join(dir, "short")
	if err := os.WriteFile(short, []byte("tooshort\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	base := `Authorizers:
  cookie:
    IdentitySource: [route.request.header.Cookie]
    Cookie: {Algorithms: [HS256], AllowedOrigins: ["https://ui.example.com"], Key: {KEY}}
Routes:
  $connect: {AuthorizationType: CUSTOM, AuthorizerId: cookie}
  $default: {}
Server:
  Management: {Credentials: [{AccessKeyId: AKID, SecretAccessKeyEnv: MGMT}]}
`
	env := map[string]string{"SECRET": strings.Repeat("s", 32), "MGMT": "m"}
	cases := []struct {
		name, key, extra string
		env              map[string]string
		want             string
	}{
		{"all there", "HmacSecretEnv: SECRET", "", env, ""},
		{"dev key", "DevKey: true", "", env, ""},
		{"secret env unset", "HmacSecretEnv: NOPE", "", env, "Authorizers.cookie.Cookie.Key.HmacSecretEnv: the environment variable NOPE is not set"},
		{"secret file short", "HmacSecretFile: " + short, "", env, "Authorizers.cookie.Cookie.Key.HmacSecretFile: " + short + " has 8 bytes"},
		{"public key not PEM", "PublicKeyFile: " + short, "", env, "Authorizers.cookie.Cookie.Key.PublicKeyFile:"},
		{"management secret unset", "DevKey: true", "", map[string]string{}, "Server.Management.Credentials[0].SecretAccessKeyEnv: the environment variable MGMT is not set"},
		{"NATS credentials missing", "DevKey: true", "  Cluster: {NatsUrl: nats://127.0.0.1:4222, CredentialsFile: " + missing + "}\n", env, "Server.Cluster.CredentialsFile: open " + missing},
		{"NATS CA missing", "DevKey: true", "  Cluster: {NatsUrl: nats://127.0.0.1:4222, CaFile: " + missing + "}\n", env, "Server.Cluster.CaFile: open " + missing},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := Parse([]byte(strings.Replace(base, "KEY", c.key, 1) + c.extra))
			if err != nil {
				t.Fatal(err)
			}
			err = Check(cfg, func(k string) string { return c.env[k] })
			switch {
			case c.want == "" && err != nil:
				t.Errorf("unexpected %v", err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Errorf("got %v, want %q", err, c.want)
			case err != nil && strings.Contains(err.Error(), env["SECRET"]):
				t.Error("the error holds the secret")
			}
		})
	}
}

func TestCheckIAM(t *testing.T) {
	cfg, err := Parse([]byte("Routes:\n  $connect: {AuthorizationType: AWS_IAM}\nServer:\n  Iam: {Credentials: [{AccessKeyId: AKIDC, SecretAccessKeyEnv: CLIENT}]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := "Server.Iam.Credentials[0].SecretAccessKeyEnv: the environment variable CLIENT is not set"
	if err := Check(cfg, func(string) string { return "" }); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("got %v, want %q", err, want)
	}
	if err := Check(cfg, func(string) string { return "s" }); err != nil {
		t.Errorf("with the secret: %v", err)
	}
}

func TestCheckPorts(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cfg, err := Parse([]byte("Routes: {$default: {}}\nServer: {Listen: " + ln.Addr().String() + ", ManagementListen: 127.0.0.1:0}\n"))
	if err != nil {
		t.Fatal(err)
	}
	w := CheckPorts(cfg)
	if len(w) != 1 || !strings.HasPrefix(w[0], "Server.Listen: "+ln.Addr().String()) {
		t.Errorf("warnings %q, want one for Server.Listen", w)
	}
}
