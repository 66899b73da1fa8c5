package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/wsgate/wsgate/internal/devcert"
)

func noenv(string) string { return "" }

// runCLI runs wsgate as main would and returns the exit status and both streams.
func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = report(run(context.Background(), args, noenv, strings.NewReader(""), &out, &errb), &errb)
	return code, out.String(), errb.String()
}

// TestHelp: every command's --help, -h and `wsgate help CMD` print its usage with
// every flag to stdout and exit 0, without running it.
func TestHelp(t *testing.T) {
	for _, c := range commands {
		if c.name == "help" {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			var want []string
			for _, args := range [][]string{{c.name, "--help"}, {c.name, "-h"}, {"help", c.name}} {
				code, out, errs := runCLI(t, args...)
				if code != 0 || errs != "" {
					t.Fatalf("%v: exit %d, stderr %q", args, code, errs)
				}
				if !strings.HasPrefix(out, "usage: wsgate "+c.name+" [flags]") {
					t.Fatalf("%v: %q", args, out)
				}
				if want == nil {
					want = []string{out}
				} else if out != want[0] {
					t.Errorf("%v prints another usage:\n%s", args, out)
				}
			}
			// Every flag the command defines is in its usage: parse a flag set built
			// the same way by asking the command for --help with a recording output.
			for _, name := range flagsOf(t, c.name) {
				if !strings.Contains(want[0], "  --"+name) {
					t.Errorf("usage lacks --%s:\n%s", name, want[0])
				}
			}
		})
	}
	code, out, _ := runCLI(t, "help")
	if code != 0 || !strings.Contains(out, "wsgate help COMMAND") {
		t.Errorf("wsgate help: %d %q", code, out)
	}
	for _, c := range commands {
		if !strings.Contains(out, "  "+c.name+" ") || !strings.Contains(out, c.summary) {
			t.Errorf("the top usage lacks %s", c.name)
		}
	}
	if _, out2, _ := runCLI(t, "--help"); out2 != out {
		t.Error("--help and help differ")
	}
	if code, _, errs := runCLI(t); code != 2 || !strings.Contains(errs, "wsgate help COMMAND") {
		t.Errorf("no command: exit %d, stderr %q", code, errs)
	}
}

// flagsOf lists the flags a command's usage must name, read from the usage's own
// flag set: the flags.VisitAll of the command's flag set is reached through --help
// on a recording writer.
func flagsOf(t *testing.T, cmd string) []string {
	t.Helper()
	want := map[string][]string{
		"serve":     {"config", "template", "overrides", "check-config", "listen", "management-listen", "log-format", "log-level"},
		"dev":       {"env", "ui-port", "ws-port", "dir", "token-ttl", "log-format", "log-level"},
		"token":     {"config", "template", "overrides", "authorizer", "private-key", "kid", "sub", "ttl", "origin", "url", "json", "claim"},
		"demo":      {"log-format", "log-level"},
		"authorize": {"log-format", "log-level"},
		"version":   {"json"},
	}
	names, ok := want[cmd]
	if !ok {
		t.Fatalf("flagsOf: add %s", cmd)
	}
	return names
}

func TestUsageErrors(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"serv"}, `unknown command "serv"; did you mean "serve"?`},
		{[]string{"tokn"}, `did you mean "token"?`},
		{[]string{"help", "serv"}, `did you mean "serve"?`},
		{[]string{"serve", "--confg", "x.yaml"}, `serve: unknown flag --confg; did you mean "--config"?`},
		{[]string{"token", "-sbu", "x"}, `did you mean "--sub"?`},
		{[]string{"dev", "--ui-prot", "1"}, `did you mean "--ui-port"?`},
		{[]string{"serve", "--log-format", "xml"}, `--log-format "xml": want text, json or auto`},
		{[]string{"serve", "--log-level", "loud"}, `--log-level "loud"`},
		{[]string{"serve", "extra"}, `serve: unexpected argument "extra"`},
		{[]string{"serve", "--listen"}, `flag needs an argument`},
		{[]string{"demo", "--nope"}, `demo: unknown flag --nope`},
		{[]string{"zzzzzz"}, `unknown command "zzzzzz"`},
	}
	for _, c := range cases {
		code, out, errs := runCLI(t, c.args...)
		if code != 2 || !strings.Contains(errs, c.want) || !strings.Contains(errs, "run 'wsgate help") || out != "" {
			t.Errorf("%v: exit %d, stderr %q, stdout %q; want 2 and %q", c.args, code, errs, out, c.want)
		}
	}
	if _, _, errs := runCLI(t, "zzzzzz"); strings.Contains(errs, "did you mean") {
		t.Errorf("a far-off word got a suggestion: %q", errs)
	}
	// A failure that is not a usage error exits 1.
	if code, _, _ := runCLI(t, "serve", "--config", filepath.Join(t.TempDir(), "missing.yaml"), "--check-config"); code != 1 {
		t.Errorf("a missing config file: exit %d, want 1", code)
	}
}

func TestSuggest(t *testing.T) {
	for _, c := range []struct {
		word       string
		candidates []string
		want       []string
	}{
		{"serv", commandNames(), []string{"serve"}},
		{"confg", []string{"config", "check-config"}, []string{"config"}},
		{"dmeo", commandNames(), []string{"demo"}},
		{"x", []string{"config"}, nil},
		{"", []string{"ab", "abc"}, []string{"ab"}},
	} {
		if diff := cmp.Diff(c.want, suggest(c.word, c.candidates)); diff != "" {
			t.Errorf("suggest(%q) (-want +got):\n%s", c.word, diff)
		}
	}
	for _, c := range []struct {
		a, b string
		d    int
	}{{"", "", 0}, {"kitten", "sitting", 3}, {"serve", "serv", 1}, {"abc", "", 3}, {"flaw", "lawn", 2}, {"dmeo", "demo", 1}, {"ca", "abc", 3}} {
		if got := editDistance(c.a, c.b); got != c.d {
			t.Errorf("editDistance(%q, %q) = %d, want %d", c.a, c.b, got, c.d)
		}
	}
}

func TestVersion(t *testing.T) {
	info := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/wsgate/wsgate", Version: "v0.0.0-20261201095945-f5a8ef532db6+dirty"},
		Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "f5a8ef532db6eb90a4a606ad5dbfd395cbfa8b2d"}, {Key: "vcs.time", Value: "2026-12-01T09:59:45Z"}, {Key: "vcs.modified", Value: "true"}}}
	v := versionOf(info, true)
	want := "wsgate v0.0.0-20261201095945-f5a8ef532db6+dirty (commit f5a8ef532db6eb90a4a606ad5dbfd395cbfa8b2d, dirty, 2026-12-01T09:59:45Z) go1.26.8 " + v.Platform
	if got := v.String(); got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	if v := versionOf(nil, false); v.Version != "unknown" || !strings.HasPrefix(v.GoVersion, "go") {
		t.Errorf("without build info: %+v", v)
	}
	code, out, _ := runCLI(t, "--version")
	code2, out2, _ := runCLI(t, "version")
	if code != 0 || code2 != 0 || out != out2 || !strings.HasPrefix(out, "wsgate ") || !strings.Contains(out, " go1.") {
		t.Errorf("--version %d %q; version %d %q", code, out, code2, out2)
	}
	_, js, _ := runCLI(t, "version", "--json")
	var got buildVersion
	if err := json.Unmarshal([]byte(js), &got); err != nil || got.Module != "github.com/wsgate/wsgate" || got.GoVersion == "" {
		t.Errorf("version --json: %q (%v)", js, err)
	}
}

// TestLogFormats: --log-format json writes one JSON object per line with a millisecond
// UTC timestamp; text writes key=value lines; auto on a pipe or buffer is JSON.
func TestLogFormats(t *testing.T) {
	for _, format := range []string{"json", "text", "auto"} {
		t.Run(format, func(t *testing.T) {
			var out, logs bytes.Buffer
			if err := run(context.Background(), []string{"demo", "--log-format", format}, noenv, nil, &out, &logs); err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
			if len(lines) < 3 {
				t.Fatalf("logs:\n%s", logs.String())
			}
			for _, line := range lines {
				var rec map[string]any
				isJSON := json.Unmarshal([]byte(line), &rec) == nil
				if isJSON != (format != "text") {
					t.Fatalf("%s: line %q JSON=%v", format, line, isJSON)
				}
				var ts string
				if isJSON {
					ts, _ = rec["time"].(string)
				} else {
					ts, _, _ = strings.Cut(strings.TrimPrefix(line, "time="), " ")
				}
				if _, err := time.Parse("2006-01-02T15:04:05.000Z", ts); err != nil {
					t.Fatalf("timestamp %q of %q: %v", ts, line, err)
				}
			}
		})
	}
	// A terminal is a character device; a pipe, a regular file and a buffer are not.
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	if isTerminal(w) || isTerminal(&bytes.Buffer{}) {
		t.Error("a pipe or a buffer counted as a terminal")
	}
	if f, err := os.Open(os.DevNull); err == nil {
		defer f.Close()
		if !isTerminal(f) {
			t.Error("a character device did not count as a terminal")
		}
	}
}

// TestCheckConfig: --check-config fails on what serve would fail on, naming the field,
// one case per missing file or environment variable.
func TestCheckConfig(t *testing.T) {
	dir := t.TempDir()
	ca, err := devcert.New()
	if err != nil {
		t.Fatal(err)
	}
	certPEM, _, err := ca.Leaf("localhost")
	if err != nil {
		t.Fatal(err)
	}
	_, otherKey, err := ca.Leaf("localhost")
	if err != nil {
		t.Fatal(err)
	}
	certFile, otherKeyFile := writeFile(t, "leaf.pem", string(certPEM)), writeFile(t, "other-key.pem", string(otherKey))
	good := map[string]string{"JWT_SECRET": strings.Repeat("j", 32), "WSGATE_MGMT_SECRET": "m", "API_KEY": "k"}
	base := readmeConfig("http://127.0.0.1:9")
	missing := filepath.Join(dir, "missing")
	cases := []struct {
		name   string
		config string
		env    map[string]string
		want   string
	}{
		{"JWT secret unset", base, map[string]string{"WSGATE_MGMT_SECRET": "m"},
			"Authorizers.cookie.Cookie.Key.HmacSecretEnv: the environment variable JWT_SECRET is not set; it holds the HMAC secret the cookie authorizer verifies JWTs with (at least 32 bytes)"},
		{"JWT secret short", base, map[string]string{"JWT_SECRET": "short", "WSGATE_MGMT_SECRET": "m"},
			"Authorizers.cookie.Cookie.Key.HmacSecretEnv: the environment variable JWT_SECRET has 5 bytes"},
		{"management secret unset", base, map[string]string{"JWT_SECRET": good["JWT_SECRET"]},
			"Server.Management.Credentials[0].SecretAccessKeyEnv: the environment variable WSGATE_MGMT_SECRET is not set; it holds the SigV4 secret access key of AKIDLOCAL"},
		{"HMAC secret file missing", strings.Replace(base, "HmacSecretEnv: JWT_SECRET", "HmacSecretFile: "+missing, 1), good,
			"Authorizers.cookie.Cookie.Key.HmacSecretFile: open " + missing},
		{"public key file missing", strings.Replace(base, "HmacSecretEnv: JWT_SECRET", "PublicKeyFile: "+missing, 1), good,
			"Authorizers.cookie.Cookie.Key.PublicKeyFile: open " + missing},
		{"TLS certificate missing", base + "  TLS: {CertFile: " + missing + ".crt, KeyFile: " + missing + ".key}\n", good,
			"Server.TLS.CertFile: open " + missing + ".crt"},
		{"TLS key missing", base + "  TLS: {CertFile: " + certFile + ", KeyFile: " + missing + ".key}\n", good,
			"Server.TLS.KeyFile: open " + missing + ".key"},
		{"TLS pair does not load", base + "  TLS: {CertFile: " + certFile + ", KeyFile: " + otherKeyFile + "}\n", good,
			"Server.TLS: CertFile and KeyFile:"},
		{"API key env unset", base + "  ApiKeys: [{Name: partner, ValueEnv: PARTNER_KEY}]\n", good,
			"Server.ApiKeys[0].ValueEnv: the environment variable PARTNER_KEY is not set"},
		{"API key file missing", base + "  ApiKeys: [{Name: partner, ValueFile: " + missing + "}]\n", good,
			"Server.ApiKeys[0].ValueFile: open " + missing},
		{"access log directory missing", strings.Replace(base, "Api: {", "Stage: {AccessLogSettings: {Format: '$context.requestId'}}\nApi: {", 1) +
			"  AccessLog: {Path: " + filepath.Join(missing, "access.log") + "}\n", good, "Server.AccessLog.Path: cannot create " + filepath.Join(missing, "access.log")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := writeFile(t, "gateway.yaml", c.config)
			var out bytes.Buffer
			err := run(context.Background(), []string{"serve", "--check-config", "--config", path}, func(k string) string { return c.env[k] }, nil, &out, io.Discard)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("got %v\nwant %q", err, c.want)
			}
			if strings.Contains(out.String(), "valid") {
				t.Errorf("said %q", out.String())
			}
			// serve itself refuses with the same message, before listening.
			err = run(context.Background(), []string{"serve", "--config", path, "--listen", "127.0.0.1:0", "--management-listen", "127.0.0.1:0"}, func(k string) string { return c.env[k] }, nil, io.Discard, io.Discard)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("serve: got %v", err)
			}
			if strings.Contains(err.Error(), good["JWT_SECRET"]) {
				t.Error("the error holds the secret")
			}
		})
	}

	// The good case is valid; a port in use is only a warning.
	path := writeFile(t, "gateway.yaml", base)
	var out, errs bytes.Buffer
	if err := run(context.Background(), []string{"serve", "--check-config", "--config", path}, func(k string) string { return good[k] }, nil, &out, &errs); err != nil || !strings.Contains(out.String(), "is valid") {
		t.Fatalf("good config: %v %q", err, out.String())
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	out.Reset()
	errs.Reset()
	if err := run(context.Background(), []string{"serve", "--check-config", "--config", path, "--listen", ln.Addr().String()}, func(k string) string { return good[k] }, nil, &out, &errs); err != nil || !strings.Contains(out.String(), "is valid") {
		t.Fatalf("port in use: %v %q", err, out.String())
	}
	if !strings.Contains(errs.String(), "warning: Server.Listen: "+ln.Addr().String()+" cannot be listened on now") {
		t.Errorf("no warning for the port in use: %q", errs.String())
	}
}

// TestCLIDoc: docs/cli.md holds every command's usage as `wsgate help` prints it, so
// the reference cannot fall behind the flags.
func TestCLIDoc(t *testing.T) {
	doc, err := os.ReadFile("../../docs/cli.md")
	if err != nil {
		t.Fatal(err)
	}
	indent := func(s string) string {
		lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
		for i, l := range lines {
			if l != "" {
				lines[i] = "    " + l
			}
		}
		return strings.Join(lines, "\n")
	}
	for _, c := range append([]string{""}, commandNames()...) {
		args := []string{"help"}
		if c != "" && c != "help" {
			args = append(args, c)
		}
		_, out, _ := runCLI(t, args...)
		if !strings.Contains(string(doc), indent(out)) {
			t.Errorf("docs/cli.md lacks the usage of %v as it is now:\n%s", args, indent(out))
		}
	}
}
