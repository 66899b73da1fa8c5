package lambdarun

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/wsgate/wsgate/internal/config"
)

func TestNodeESM(t *testing.T) {
	esm := `export const handler = async (event, context) => ({ got: event.n, fn: context.functionName, esm: typeof require === "undefined" });`
	mjs := writeFiles(t, map[string]string{"app.mjs": esm})
	typeModule := writeFiles(t, map[string]string{"package.json": `{"type":"module"}`, "src/app.js": esm})
	r := newRuntime(t, map[string]config.Function{
		"mjs":        {Runtime: "nodejs22.x", Handler: "app.handler", CodeDir: mjs},
		"typemodule": {Runtime: "nodejs18.x", Handler: "src/app.handler", CodeDir: typeModule},
	})
	for _, fn := range []string{"mjs", "typemodule"} {
		out := invoke(t, r, fn, `{"n":7}`)
		if got, want := string(out.Payload), `{"got":7,"fn":"`+fn+`","esm":true}`; got != want || out.FunctionError != nil {
			t.Errorf("%s: %s (%q), want %s", fn, got, aws.ToString(out.FunctionError), want)
		}
	}
}

func TestNodeCallbackAndErrors(t *testing.T) {
	dir := writeFiles(t, map[string]string{"index.js": `
exports.callback = (event, context, callback) => { setTimeout(() => callback(null, { late: event.x * 2 }), 10); };
exports.callbackError = (event, context, callback) => callback(new TypeError("bad input"));
exports.throws = async () => { throw new RangeError("boom"); };
exports.sync = () => 42;
exports.undef = async () => {};
exports.nested = { fn: async () => "nested" };
`})
	fns := map[string]config.Function{}
	for _, h := range []string{"callback", "callbackError", "throws", "sync", "undef", "nested.fn"} {
		fns[strings.ReplaceAll(h, ".", "_")] = config.Function{Runtime: "nodejs20.x", Handler: "index." + h, CodeDir: dir}
	}
	r := newRuntime(t, fns)
	if out := invoke(t, r, "callback", `{"x":21}`); string(out.Payload) != `{"late":42}` {
		t.Errorf("callback: %s", out.Payload)
	}
	if typ, msg := errorPayload(t, invoke(t, r, "callbackError", `{}`)); typ != "TypeError" || msg != "bad input" {
		t.Errorf("callback error: %s %s", typ, msg)
	}
	if typ, msg := errorPayload(t, invoke(t, r, "throws", `{}`)); typ != "RangeError" || msg != "boom" {
		t.Errorf("throw: %s %s", typ, msg)
	}
	if out := invoke(t, r, "sync", `{}`); string(out.Payload) != `42` {
		t.Errorf("sync: %s", out.Payload)
	}
	if out := invoke(t, r, "undef", `{}`); string(out.Payload) != `null` {
		t.Errorf("undefined result: %s, want null", out.Payload)
	}
	if out := invoke(t, r, "nested_fn", `{}`); string(out.Payload) != `"nested"` {
		t.Errorf("nested: %s", out.Payload)
	}
	// The process survives a handler's error: the next invocation works.
	if out := invoke(t, r, "throws", `{}`); aws.ToString(out.FunctionError) != "Unhandled" {
		t.Errorf("second throw: %s", out.Payload)
	}
}

func TestInitErrors(t *testing.T) {
	node := writeFiles(t, map[string]string{
		"top.js":    `throw new Error("init failed");`,
		"ok.js":     `exports.handler = async () => 1;`,
		"import.js": `require("no-such-package-anywhere"); exports.handler = async () => 1;`,
	})
	py := writeFiles(t, map[string]string{"app.py": "def handler(e, c):\n    return 1\n", "broken.py": "raise ValueError('init failed')\n"})
	provided := writeFiles(t, map[string]string{"bootstrap": "#!/bin/sh\necho starting >&2\nexit 3\n"})
	r := newRuntime(t, map[string]config.Function{
		"nomodule":   {Runtime: "nodejs20.x", Handler: "missing.handler", CodeDir: node},
		"noexport":   {Runtime: "nodejs20.x", Handler: "ok.nope", CodeDir: node},
		"toplevel":   {Runtime: "nodejs20.x", Handler: "top.handler", CodeDir: node},
		"badimport":  {Runtime: "nodejs20.x", Handler: "import.handler", CodeDir: node},
		"pynomodule": {Runtime: "python3.12", Handler: "missing.handler", CodeDir: py},
		"pynofunc":   {Runtime: "python3.12", Handler: "app.nope", CodeDir: py},
		"pyraises":   {Runtime: "python3.12", Handler: "broken.handler", CodeDir: py},
		"exits":      {Runtime: "provided.al2023", CodeDir: provided},
		"nobinary":   {Runtime: "provided.al2", CodeDir: py},
	})
	for _, tc := range []struct{ fn, errorType, message string }{
		{"nomodule", "Runtime.ImportModuleError", "Cannot find module 'missing'"},
		{"noexport", "Runtime.HandlerNotFound", "ok.nope is undefined or not exported"},
		{"toplevel", "Error", "init failed"},
		{"badimport", "Runtime.ImportModuleError", "Cannot find module 'no-such-package-anywhere'"},
		{"pynomodule", "Runtime.ImportModuleError", "Unable to import module 'missing'"},
		{"pynofunc", "Runtime.HandlerNotFound", "Handler 'nope' missing on module 'app'"},
		{"pyraises", "ValueError", "init failed"},
		{"exits", "Runtime.ExitError", "Error: Runtime exited with error: exit status 3"},
		{"nobinary", "Runtime.InvalidEntrypoint", "no such file or directory"},
	} {
		typ, msg := errorPayload(t, invoke(t, r, tc.fn, `{}`))
		if typ != tc.errorType || !strings.Contains(msg, tc.message) {
			t.Errorf("%s: %s %q, want %s containing %q", tc.fn, typ, msg, tc.errorType, tc.message)
		}
	}
}

func TestPython(t *testing.T) {
	dir := writeFiles(t, map[string]string{"pkg/app.py": `
import os

def handler(event, context):
    print("handling", event["n"])
    return {
        "n": event["n"],
        "requestId": context.aws_request_id,
        "function": context.function_name,
        "arn": context.invoked_function_arn,
        "memory": context.memory_limit_in_mb,
        "remaining": context.get_remaining_time_in_millis(),
        "var": os.environ.get("MY_VAR"),
    }

def fails(event, context):
    raise KeyError("missing")

def unmarshalable(event, context):
    return {"s": {1, 2}}
`, "pkg/__init__.py": ""})
	r := newRuntime(t, map[string]config.Function{
		"py":    {Runtime: "python3.11", Handler: "pkg/app.handler", CodeDir: dir, Environment: map[string]string{"MY_VAR": "v"}, MemorySize: 256},
		"pyerr": {Runtime: "python3.11", Handler: "pkg.app.fails", CodeDir: dir},
		"pyset": {Runtime: "python3.11", Handler: "pkg.app.unmarshalable", CodeDir: dir},
	})
	if typ, msg := errorPayload(t, invoke(t, r, "pyset", `{}`)); typ != "Runtime.MarshalError" || !strings.Contains(msg, "Unable to marshal response") {
		t.Errorf("unmarshalable result: %s %q", typ, msg)
	}
	out := invoke(t, r, "py", `{"n":3}`)
	var got struct {
		N                   int
		RequestID, Function string
		Arn, Memory, Var    string
		Remaining           int
	}
	if err := json.Unmarshal(out.Payload, &got); err != nil || out.FunctionError != nil {
		t.Fatalf("%s: %v", out.Payload, err)
	}
	if got.N != 3 || got.Function != "py" || got.Memory != "256" || got.Var != "v" || len(got.RequestID) != 36 ||
		got.Arn != "arn:aws:lambda:us-east-1:000000000000:function:py" || got.Remaining <= 0 {
		t.Errorf("got %+v", got)
	}
	typ, msg := errorPayload(t, invoke(t, r, "pyerr", `{}`))
	if typ != "KeyError" || msg != "'missing'" {
		t.Errorf("error: %s %q", typ, msg)
	}
	var full struct{ StackTrace []string }
	_ = json.Unmarshal(invoke(t, r, "pyerr", `{}`).Payload, &full)
	if len(full.StackTrace) == 0 || !strings.Contains(strings.Join(full.StackTrace, ""), "app.py") {
		t.Errorf("stackTrace %q, want the handler's frames", full.StackTrace)
	}
}

var goBootstrap struct {
	once sync.Once
	dir  string
	err  error
}

// buildGoBootstrap builds testdata/gobootstrap (aws-lambda-go) as a bootstrap, once.
func buildGoBootstrap(t testing.TB) string {
	t.Helper()
	goBootstrap.once.Do(func() {
		dir, err := os.MkdirTemp("", "wsgate-gobootstrap-")
		if err != nil {
			goBootstrap.err = err
			return
		}
		goBootstrap.dir = dir
		cmd := exec.Command("go", "build", "-o", filepath.Join(dir, "bootstrap"), "./testdata/gobootstrap")
		if out, err := cmd.CombinedOutput(); err != nil {
			goBootstrap.err = err
			t.Logf("%s", out)
		}
	})
	if goBootstrap.err != nil {
		t.Fatalf("building the Go bootstrap: %v", goBootstrap.err)
	}
	return goBootstrap.dir
}

func TestProvidedGoBootstrap(t *testing.T) {
	dir := buildGoBootstrap(t)
	r := newRuntime(t, map[string]config.Function{"gofn": {Runtime: "provided.al2023", CodeDir: dir}})
	out := invoke(t, r, "gofn", `{"echo":"hi"}`)
	var got struct {
		Echo, RequestID, Arn, Function string
		HasDeadline                    bool
	}
	if err := json.Unmarshal(out.Payload, &got); err != nil || out.FunctionError != nil {
		t.Fatalf("%s: %v", out.Payload, err)
	}
	if got.Echo != "hi" || got.Function != "gofn" || !got.HasDeadline || len(got.RequestID) != 36 {
		t.Errorf("got %+v", got)
	}
	typ, msg := errorPayload(t, invoke(t, r, "gofn", `{"fail":true}`))
	if typ != "errorString" || msg != "asked to fail" {
		t.Errorf("error: %s %q", typ, msg)
	}
}

func TestNodeAWSSDK(t *testing.T) {
	nm, err := filepath.Abs("node/node_modules")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(nm, "@aws-sdk", "client-apigatewaymanagementapi")); err != nil {
		t.Fatalf("the SDK is not installed (npm ci --prefix internal/lambdarun/node, scripts/test does it): %v", err)
	}
	// A real @connections endpoint stand-in: the SDK's signed POST must arrive.
	type post struct{ path, auth, body string }
	posts := make(chan post, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		posts <- post{r.URL.Path, r.Header.Get("Authorization"), string(b)}
	}))
	defer srv.Close()
	cjs := `const { ApiGatewayManagementApiClient, PostToConnectionCommand } = require("@aws-sdk/client-apigatewaymanagementapi");
exports.handler = async (event) => {
  const c = new ApiGatewayManagementApiClient({ endpoint: event.endpoint });
  await c.send(new PostToConnectionCommand({ ConnectionId: "cjs=", Data: "from cjs" }));
  return "ok";
};`
	esm := `import { ApiGatewayManagementApiClient, PostToConnectionCommand } from "@aws-sdk/client-apigatewaymanagementapi";
export const handler = async (event) => {
  const c = new ApiGatewayManagementApiClient({ endpoint: event.endpoint });
  await c.send(new PostToConnectionCommand({ ConnectionId: "esm=", Data: "from esm" }));
  return "ok";
};`
	dir := writeFiles(t, map[string]string{"cjs.js": cjs, "esm.mjs": esm})
	r := newRuntime(t, map[string]config.Function{
		"cjs": {Runtime: "nodejs20.x", Handler: "cjs.handler", CodeDir: dir},
		"esm": {Runtime: "nodejs20.x", Handler: "esm.handler", CodeDir: dir},
	}, func(o *Options) { o.NodeModules = nm })
	for _, fn := range []string{"cjs", "esm"} {
		out := invoke(t, r, fn, `{"endpoint":"`+srv.URL+`/prod"}`)
		if string(out.Payload) != `"ok"` {
			t.Fatalf("%s: %s", fn, out.Payload)
		}
		p := <-posts
		if p.path != "/prod/@connections/"+fn+"=" || p.body != "from "+fn ||
			!strings.HasPrefix(p.auth, "AWS4-HMAC-SHA256 Credential="+localAccessKeyID+"/") {
			t.Errorf("%s: the SDK sent %+v", fn, p)
		}
	}
}
