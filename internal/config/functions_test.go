package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const functionsBase = `
Routes:
  $default: {Target: integrations/fn}
Integrations:
  fn: {IntegrationType: AWS_PROXY, IntegrationUri: "arn:aws:lambda:us-east-1:000000000000:function:chat"}
`

func TestFunctionDefaults(t *testing.T) {
	c, err := Parse([]byte(functionsBase + `
Functions:
  chat: {Runtime: nodejs20.x, Handler: index.handler, CodeDir: /srv/chat}
`))
	if err != nil {
		t.Fatal(err)
	}
	want := Function{Runtime: "nodejs20.x", Handler: "index.handler", CodeDir: "/srv/chat", Timeout: Duration(3 * time.Second), MemorySize: 128, MaxConcurrency: 10}
	if diff := cmp.Diff(want, c.Functions["chat"]); diff != "" {
		t.Error(diff)
	}
}

func TestFunctionErrorsNameTheField(t *testing.T) {
	for _, tc := range []struct{ name, fn, want string }{
		{"runtime", `{Runtime: java21, Handler: a.b, CodeDir: x}`, "Functions.chat.Runtime: \"java21\" is not one of"},
		{"no runtime", `{Handler: a.b, CodeDir: x}`, "Functions.chat.Runtime: required"},
		{"handler", `{Runtime: python3.12, Handler: app, CodeDir: x}`, "Functions.chat.Handler: \"app\" must be file.function"},
		{"code dir", `{Runtime: provided.al2023}`, "Functions.chat.CodeDir: required"},
		{"timeout", `{Runtime: provided.al2023, CodeDir: x, Timeout: 16m}`, "Functions.chat.Timeout: 16m0s must be"},
		{"memory", `{Runtime: provided.al2023, CodeDir: x, MemorySize: 64}`, "Functions.chat.MemorySize: 64 must be 128-10240"},
		{"concurrency", `{Runtime: provided.al2023, CodeDir: x, MaxConcurrency: -1}`, "Functions.chat.MaxConcurrency: -1 must be at least 1"},
		{"reserved", `{Runtime: provided.al2023, CodeDir: x, Environment: {AWS_REGION: eu-west-1}}`, "Functions.chat.Environment.AWS_REGION: reserved by Lambda"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(functionsBase + "Functions:\n  chat: " + tc.fn + "\n"))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
	_, err := Parse([]byte(functionsBase + "Functions:\n  'bad name!': {Runtime: provided.al2, CodeDir: x}\n"))
	if err == nil || !strings.Contains(err.Error(), "a Lambda function name") {
		t.Errorf("bad name: %v", err)
	}
	for _, ok := range []string{"python3.9", "python3.13", "nodejs22.x", "provided.al2"} {
		if _, err := Parse([]byte(functionsBase + "Functions:\n  chat: {Runtime: " + ok + ", Handler: a.b, CodeDir: x}\n")); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
}

func TestCodeDirRelativeToTheConfigFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "wsgate.yaml")
	if err := os.WriteFile(p, []byte(functionsBase+`
Functions:
  chat: {Runtime: nodejs20.x, Handler: index.handler, CodeDir: fns/chat}
  abs: {Runtime: nodejs20.x, Handler: index.handler, CodeDir: /srv/abs}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Functions["chat"].CodeDir; got != filepath.Join(dir, "fns/chat") {
		t.Errorf("relative CodeDir = %q", got)
	}
	if got := c.Functions["abs"].CodeDir; got != "/srv/abs" {
		t.Errorf("absolute CodeDir = %q", got)
	}
}
