package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The server tests' templates load: the inline Node.js authorizer is written as index.js,
// the SAM Python function comes from its CodeUri with Globals, its Events listed.
func TestTemplateServerFixtures(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	over := filepath.Join(t.TempDir(), "over.yaml")
	if err := os.WriteFile(over, []byte("Parameters: {JwtSecret: s3cr3t}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := LoadTemplate("../server/testdata/lambda-app/inline-authorizer.yaml", over)
	if err != nil {
		t.Fatal(err)
	}
	fn := c.Functions["AuthorizerFunction"]
	code, err := os.ReadFile(filepath.Join(fn.CodeDir, "index.js"))
	if err != nil || !strings.Contains(string(code), "exports.handler") || fn.Environment["JWT_SECRET"] != "s3cr3t" {
		t.Errorf("authorizer: %+v, index.js: %v", fn, err)
	}
	if got := c.Authorizers["Authorizer"].AuthorizerURI; !strings.HasSuffix(got, ":function:AuthorizerFunction/invocations") {
		t.Errorf("AuthorizerUri = %q", got)
	}

	c, err = LoadTemplate("../server/testdata/lambda-app/sam-python/template.yaml", "")
	if err != nil {
		t.Fatal(err)
	}
	fn = c.Functions["EchoFunction"]
	if fn.Runtime != "python3.11" || fn.Handler != "app.lambda_handler" || fn.Environment["GREETING"] != "echo" {
		t.Errorf("echo: %+v", fn)
	}
	if got := c.Template.NotEmulated["AWS::Serverless::Function Events"]; len(got) != 1 || got[0] != "EchoFunction.Nothing (Schedule)" {
		t.Errorf("Events listed as %q", got)
	}
}
