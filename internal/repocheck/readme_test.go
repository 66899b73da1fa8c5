package repocheck

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wsgate/wsgate/internal/testutil"
)

func TestMain(m *testing.M) { testutil.VerifyNoLeaks(m) }

// block is one fenced code block of a Markdown file.
type block struct {
	lang    string
	heading string // the section it is in
	lines   []string
}

// codeBlocks returns the fenced code blocks of md, with "\"-continued lines joined.
func codeBlocks(md string) []block {
	var out []block
	var cur *block
	heading := ""
	for _, line := range strings.Split(md, "\n") {
		switch {
		case cur == nil && strings.HasPrefix(line, "```"):
			cur = &block{lang: strings.TrimPrefix(line, "```"), heading: heading}
		case cur != nil && strings.HasPrefix(line, "```"):
			out = append(out, *cur)
			cur = nil
		case cur != nil:
			if n := len(cur.lines); n > 0 && strings.HasSuffix(cur.lines[n-1], `\`) {
				cur.lines[n-1] = strings.TrimSuffix(cur.lines[n-1], `\`) + " " + strings.TrimSpace(line)
			} else {
				cur.lines = append(cur.lines, line)
			}
		case strings.HasPrefix(line, "#"):
			heading = strings.TrimSpace(strings.TrimLeft(line, "#"))
		}
	}
	return out
}

// comment is a shell comment after a command: a space or more, then "# ".
var comment = regexp.MustCompile(`\s+#\s.*$`)

// readme is the README, its shell commands and the minimal config.
type readme struct {
	commands [][]string // per sh block, its command lines
	config   string     // the yaml block of "A minimal gateway config"
}

func readREADME(t *testing.T, root string) readme {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	var r readme
	for _, bl := range codeBlocks(string(b)) {
		switch {
		case bl.lang == "sh":
			var cmds []string
			for _, l := range bl.lines {
				if l = strings.TrimSpace(comment.ReplaceAllString(l, "")); l != "" && !strings.HasPrefix(l, "#") {
					cmds = append(cmds, l)
				}
			}
			r.commands = append(r.commands, cmds)
		case bl.lang == "yaml" && bl.heading == "A minimal gateway config":
			r.config = strings.Join(bl.lines, "\n")
		}
	}
	if len(r.commands) < 3 || r.config == "" {
		t.Fatalf("README: %d sh blocks and config %q: the README lost its commands or its minimal config", len(r.commands), r.config)
	}
	return r
}

// TestREADMECommands runs every command of the README's sh blocks as written — the
// exports, wsgate itself (built from this checkout, so `go run ./cmd/wsgate` and an
// installed `wsgate` are the same binary), make — from a directory holding the README's
// minimal config as gateway.yaml and the repository's deploy/. `wsgate serve` without
// --check-config runs until its /readyz answers 200 (on ports the system picks, not the
// README's 8080/8081, which other processes on a shared machine may hold). Commands this
// test cannot run here are checked another way, named below; any other command fails it,
// so a new README command must be added here.
func TestREADMECommands(t *testing.T) {
	root, _ := trackedFiles(t)
	r := readREADME(t, root)

	bin := t.TempDir()
	build := exec.Command("go", "build", "-o", filepath.Join(bin, "wsgate"), "./cmd/wsgate")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/wsgate: %v\n%s", err, out)
	}
	work := t.TempDir()
	if err := os.WriteFile(filepath.Join(work, "gateway.yaml"), []byte(r.config), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(root, "deploy"), filepath.Join(work, "deploy")); err != nil {
		t.Fatal(err)
	}
	basePath := bin + string(os.PathListSeparator) + os.Getenv("PATH")

	ran := 0
	for _, cmds := range r.commands {
		env := []string{} // the block's exports, in order
		for _, line := range cmds {
			t.Run(line, func(t *testing.T) {
				ran++
				shell := func(ctx context.Context, script string) *exec.Cmd {
					c := exec.CommandContext(ctx, "bash", "-c", script)
					c.Dir = work
					c.Env = append(append(os.Environ(), "PATH="+basePath), env...)
					return c
				}
				fields := strings.Fields(line)
				switch {
				case line == "bash scripts/test":
					ci, err := os.ReadFile(filepath.Join(root, ".ci/run"))
					if err != nil || !strings.Contains(string(ci), "exec bash scripts/test\n") {
						t.Errorf(".ci/run does not run exactly the README's test command %q (%v)", line, err)
					}
				case strings.HasPrefix(line, "go install "):
					// Needs the published module: check it names this module's CLI.
					mod, err := os.ReadFile(filepath.Join(root, "go.mod"))
					if err != nil {
						t.Fatal(err)
					}
					first, _, _ := strings.Cut(string(mod), "\n")
					want := "go install " + strings.TrimPrefix(first, "module ") + "/cmd/wsgate@latest"
					if line != want {
						t.Errorf("README installs with %q, want %q", line, want)
					}
				case fields[0] == "export":
					name, _, ok := strings.Cut(fields[1], "=")
					if !ok {
						t.Fatalf("export without a value: %q", line)
					}
					out, err := shell(context.Background(), line+"\nprintf %s \"$"+name+"\"").Output()
					if err != nil || len(out) == 0 {
						t.Fatalf("%q: %v, value %d bytes", line, err, len(out))
					}
					env = append(env, name+"="+string(out))
				case fields[0] == "make":
					// make build runs (cheap, into the ignored bin/); the others are dry-run
					// here: make authorizer is built by cmd/authorizer's tests and make image
					// by deploy/container's.
					args := fields[1:]
					if !slices.Equal(args, []string{"build"}) {
						args = append([]string{"-n"}, args...)
					}
					c := exec.Command("make", args...)
					c.Dir = root
					if out, err := c.CombinedOutput(); err != nil {
						t.Errorf("make %s: %v\n%s", strings.Join(args, " "), err, out)
					}
				case fields[0] == "podman" || fields[0] == "docker":
					// Run for real by deploy/container's TestContainer (the embedded default,
					// and a mounted config with secrets from the environment and these flags).
					if !strings.Contains(line, "wsgate:latest") {
						t.Errorf("%q: not the image make image builds", line)
					}
				case fields[0] == "wsgate" || strings.HasPrefix(line, "go run ./cmd/wsgate "):
					script := "exec wsgate " + strings.TrimPrefix(strings.TrimPrefix(line, "go run ./cmd/wsgate "), "wsgate ")
					if fields[0] == "wsgate" && fields[1] == "serve" && !strings.Contains(line, "--check-config") ||
						fields[0] == "go" && fields[3] == "serve" && !strings.Contains(line, "--check-config") {
						runServe(t, shell, script)
						return
					}
					if out, err := shell(context.Background(), script).CombinedOutput(); err != nil {
						t.Errorf("%q: %v\n%s", line, err, out)
					}
				default:
					t.Errorf("README command %q is not covered by TestREADMECommands: run it there, or check it another way", line)
				}
			})
		}
	}
	if ran < 10 {
		t.Errorf("ran %d README commands: the README lost its commands", ran)
	}
}

// runServe starts a `wsgate serve` script on ports the system picks and waits until its
// management listener's /readyz answers 200, then stops it.
func runServe(t *testing.T, shell func(context.Context, string) *exec.Cmd, script string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := shell(ctx, script+" --listen 127.0.0.1:0 --management-listen 127.0.0.1:0")
	stdout, err := c.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr testutil.SyncBuffer
	c.Stderr = &stderr
	c.Cancel = func() error { return c.Process.Signal(os.Interrupt) }
	c.WaitDelay = 10 * time.Second
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	// "wsgate: serving NAME (SOURCE) on ws://ADDR/ ; @connections on http://MGMT/STAGE/@connections"
	serving := regexp.MustCompile(`@connections on http://([^/]+)/`)
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := serving.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			}
		}
		close(addr)
	}()
	var mgmt string
	select {
	case a, ok := <-addr:
		if !ok {
			_ = c.Wait()
			t.Fatalf("%q exited before serving:\n%s", script, stderr.String())
		}
		mgmt = a
	case <-time.After(60 * time.Second):
		t.Fatalf("%q: not serving after 60s:\n%s", script, stderr.String())
	}
	client := &http.Client{Timeout: 2 * time.Second}
	defer client.CloseIdleConnections()
	testutil.Eventually(t, 20*time.Second, func() error {
		resp, err := client.Get("http://" + mgmt + "/readyz")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("/readyz: %d", resp.StatusCode)
		}
		return nil
	})
	cancel()
	_ = c.Wait()
	for range addr { // the scanner ends with the process's stdout
	}
}

// TestREADMEConfigNeedsItsSecrets: the README says the minimal config needs JWT_SECRET
// (≥ 32 bytes) and WSGATE_MGMT_SECRET; without either, or with a short JWT_SECRET,
// `wsgate serve` refuses to start and names the variable.
func TestREADMEConfigNeedsItsSecrets(t *testing.T) {
	root, _ := trackedFiles(t)
	r := readREADME(t, root)
	for _, name := range []string{"JWT_SECRET", "WSGATE_MGMT_SECRET"} {
		if !strings.Contains(r.config, name) {
			t.Fatalf("the minimal config no longer names %s: update this test and the README", name)
		}
	}
	bin := filepath.Join(t.TempDir(), "wsgate")
	build := exec.Command("go", "build", "-o", bin, "./cmd/wsgate")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	work := t.TempDir()
	if err := os.WriteFile(filepath.Join(work, "gateway.yaml"), []byte(r.config), 0o644); err != nil {
		t.Fatal(err)
	}
	good := map[string]string{"JWT_SECRET": strings.Repeat("k", 32), "WSGATE_MGMT_SECRET": "mgmt-secret"}
	for _, tc := range []struct {
		name, unset, short, want string
	}{
		{name: "no JWT_SECRET", unset: "JWT_SECRET", want: "JWT_SECRET"},
		{name: "JWT_SECRET of 31 bytes", short: "JWT_SECRET", want: "at least 32"},
		{name: "no WSGATE_MGMT_SECRET", unset: "WSGATE_MGMT_SECRET", want: "WSGATE_MGMT_SECRET"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := exec.Command(bin, "serve", "--config", "gateway.yaml", "--listen", "127.0.0.1:0", "--management-listen", "127.0.0.1:0")
			c.Dir = work
			c.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
			for k, v := range good {
				if k == tc.unset {
					continue
				}
				if k == tc.short {
					v = v[:31]
				}
				c.Env = append(c.Env, k+"="+v)
			}
			c.WaitDelay = 10 * time.Second
			done := make(chan struct{})
			var out []byte
			var err error
			go func() { out, err = c.CombinedOutput(); close(done) }()
			select {
			case <-done:
			case <-time.After(30 * time.Second):
				_ = c.Process.Kill()
				<-done
				t.Fatalf("serve started without %s", tc.want)
			}
			if err == nil || !strings.Contains(string(out), tc.want) {
				t.Errorf("serve: %v, output %q; want a refusal naming %q", err, out, tc.want)
			}
		})
	}
}

// TestREADMEGoVersion: the Go version the README asks for is go.mod's.
func TestREADMEGoVersion(t *testing.T) {
	root, _ := trackedFiles(t)
	mod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^go (\S+)$`).FindSubmatch(mod)
	if m == nil {
		t.Fatal("go.mod has no go line")
	}
	b, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "needs Go " + string(m[1]) + " or later"; !strings.Contains(string(b), want) {
		t.Errorf("README does not say %q (the go line of go.mod)", want)
	}
}
