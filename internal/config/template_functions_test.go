package config

import (
	"archive/zip"
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// fnTemplate is a WebSocket API whose $connect and default routes call local functions;
// the tests add the functions (FUNCTIONS) and choose the URIs (CONNECT_URI, DEFAULT_URI).
const fnTemplate = `
TRANSFORM
Resources:
  Api:
    Type: AWS::ApiGatewayV2::Api
    Properties: {Name: fn, ProtocolType: WEBSOCKET, RouteSelectionExpression: $request.body.action}
  ConnectInteg:
    Type: AWS::ApiGatewayV2::Integration
    Properties: {ApiId: !Ref Api, IntegrationType: AWS_PROXY, IntegrationUri: CONNECT_URI}
  DefaultInteg:
    Type: AWS::ApiGatewayV2::Integration
    Properties: {ApiId: !Ref Api, IntegrationType: AWS_PROXY, IntegrationUri: DEFAULT_URI}
  Connect:
    Type: AWS::ApiGatewayV2::Route
    Properties: {ApiId: !Ref Api, RouteKey: $connect, Target: !Sub "integrations/${ConnectInteg}"}
  Default:
    Type: AWS::ApiGatewayV2::Route
    Properties: {ApiId: !Ref Api, RouteKey: $default, Target: !Sub "integrations/${DefaultInteg}"}
FUNCTIONS
`

func fnTmpl(transform, connectURI, defaultURI, functions string) string {
	return strings.NewReplacer("TRANSFORM", transform, "CONNECT_URI", connectURI, "DEFAULT_URI", defaultURI, "FUNCTIONS", functions).Replace(fnTemplate)
}

const arnPrefix = "arn:aws:lambda:us-east-1:000000000000:function:"

func invocations(fn string) string {
	return "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/" + fn + "/invocations"
}

// The AWS WebSocket chat sample's SAM template: three functions from their CodeUri
// directories with Globals merged, integration URIs naming them, the rest listed.
func TestTemplateSAMChat(t *testing.T) {
	c, err := LoadTemplate("../../examples/sam-chat/template.yaml", "")
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"TABLE_NAME": "simplechat-connections-table"}
	want := map[string]Function{}
	for name, dir := range map[string]string{"OnConnectFunction": "onconnect", "OnDisconnectFunction": "ondisconnect", "SendMessageFunction": "sendmessage"} {
		want[name] = Function{Runtime: "nodejs20.x", Handler: "app.handler", CodeDir: absPath(t, filepath.Join("../../examples/sam-chat", dir)),
			Environment: env, Timeout: Duration(10 * time.Second), MemorySize: 256}
	}
	if diff := cmp.Diff(want, c.Functions, cmpDefaults(want)); diff != "" {
		t.Errorf("Functions (-want +got):\n%s", diff)
	}
	if got, w := c.Integrations["SendInteg"].IntegrationURI, invocations(arnPrefix+"SendMessageFunction"); got != w {
		t.Errorf("SendInteg IntegrationUri = %q, want %q", got, w)
	}
	wantReport := map[string][]string{
		"AWS::ApiGatewayV2::Deployment":      {"Deployment"},
		"AWS::DynamoDB::Table":               {"ConnectionsTable"},
		"AWS::Lambda::Permission":            {"OnConnectPermission", "OnDisconnectPermission", "SendMessagePermission"},
		"AWS::Serverless::Function Policies": {"OnConnectFunction", "OnDisconnectFunction", "SendMessageFunction"},
	}
	if c.Template == nil {
		t.Fatal("no template report")
	}
	if diff := cmp.Diff(wantReport, c.Template.NotEmulated); diff != "" {
		t.Errorf("not emulated (-want +got):\n%s", diff)
	}
	wantSummary := []string{
		"OnConnectFunction: nodejs20.x app.handler in " + absPath(t, "../../examples/sam-chat/onconnect") + "; serves route $connect",
		"OnDisconnectFunction: nodejs20.x app.handler in " + absPath(t, "../../examples/sam-chat/ondisconnect") + "; serves route $disconnect",
		"SendMessageFunction: nodejs20.x app.handler in " + absPath(t, "../../examples/sam-chat/sendmessage") + "; serves route sendmessage",
	}
	if diff := cmp.Diff(wantSummary, FunctionsSummary(c)); diff != "" {
		t.Errorf("FunctionsSummary (-want +got):\n%s", diff)
	}
}

func absPath(t *testing.T, p string) string {
	t.Helper()
	abs, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

// cmpDefaults ignores what SetDefaults fills in a Function (its defaults are the
// runtime's business) when want leaves it zero.
func cmpDefaults(map[string]Function) cmp.Option {
	return cmp.Comparer(func(a, b Function) bool {
		if a.MaxConcurrency == 0 || b.MaxConcurrency == 0 {
			a.MaxConcurrency, b.MaxConcurrency = 0, 0
		}
		if a.Timeout == 0 || b.Timeout == 0 {
			a.Timeout, b.Timeout = 0, 0
		}
		if a.MemorySize == 0 || b.MemorySize == 0 {
			a.MemorySize, b.MemorySize = 0, 0
		}
		return cmp.Equal(a.Runtime, b.Runtime) && a.Handler == b.Handler && a.CodeDir == b.CodeDir &&
			cmp.Equal(a.Environment, b.Environment) && a.Timeout == b.Timeout && a.MemorySize == b.MemorySize &&
			a.MaxConcurrency == b.MaxConcurrency
	})
}

func TestTemplateFunctions(t *testing.T) {
	const sam = "Transform: AWS::Serverless-2016-10-31"
	for _, tc := range []struct {
		name, template, overrides string
		want                      map[string]Function
		connectURI, defaultURI    string // the integrations' URIs, when checked
		wantErr                   []string
	}{
		{
			name: "SAM function, Globals merged: maps by key, the function's scalars win",
			template: fnTmpl(sam+"\nGlobals:\n  Function: {Runtime: python3.12, Timeout: 7, Environment: {Variables: {A: g, B: g}}}",
				`!Sub "arn:aws:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${Fn.Arn}/invocations"`,
				"!GetAtt Fn.Arn", `
  Fn:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: src/, Handler: app.lambda_handler, Timeout: 9, Environment: {Variables: {B: f, C: !Ref Api}}}
`),
			want:       map[string]Function{"Fn": {Runtime: "python3.12", Handler: "app.lambda_handler", CodeDir: "src/", Timeout: Duration(9 * time.Second), Environment: map[string]string{"A": "g", "B": "f", "C": "Api"}}},
			connectURI: invocations(arnPrefix + "Fn"),
			defaultURI: arnPrefix + "Fn",
		},
		{
			name: "Lambda function with FunctionName, reached through a version and an alias",
			template: fnTmpl("", `!Sub "arn:aws:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${Live}/invocations"`,
				"!Ref Ver", `
  Fn:
    Type: AWS::Lambda::Function
    Properties: {FunctionName: !Sub "${AWS::StackName}-chat", Runtime: nodejs22.x, Handler: index.handler, Code: {S3Bucket: b, S3Key: k.zip}, MemorySize: 512}
  Ver:
    Type: AWS::Lambda::Version
    Properties: {FunctionName: !Ref Fn}
  Live:
    Type: AWS::Lambda::Alias
    Properties: {Name: live, FunctionName: !GetAtt Fn.Arn, FunctionVersion: !GetAtt Ver.Version}
`),
			overrides:  "Functions:\n  wsgate-chat: {CodeDir: /srv/chat}\n",
			want:       map[string]Function{"wsgate-chat": {Runtime: "nodejs22.x", Handler: "index.handler", CodeDir: "/srv/chat", MemorySize: 512}},
			connectURI: invocations(arnPrefix + "wsgate-chat"),
			defaultURI: arnPrefix + "wsgate-chat",
		},
		{
			name:      "the overrides add environment variables to the template's",
			template:  fnTmpl(sam, "!GetAtt Fn.Arn", "!GetAtt Fn.Arn", "  Fn:\n    Type: AWS::Serverless::Function\n    Properties: {CodeUri: src, Handler: a.h, Runtime: nodejs20.x, Environment: {Variables: {TABLE: t, ARN: !GetAtt Table.Arn}}}\n"),
			overrides: "Functions:\n  Fn: {Environment: {ARN: arn:local, AWS_ENDPOINT_URL_DYNAMODB: 'http://127.0.0.1:8000'}}\n",
			want:      map[string]Function{"Fn": {Runtime: "nodejs20.x", Handler: "a.h", CodeDir: "src", Environment: map[string]string{"TABLE": "t", "ARN": "arn:local", "AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:8000"}}},
		},
		{
			name:     "a variable only CloudFormation knows",
			template: fnTmpl(sam, "!GetAtt Fn.Arn", "!GetAtt Fn.Arn", "  Fn:\n    Type: AWS::Serverless::Function\n    Properties: {CodeUri: src, Handler: a.h, Runtime: nodejs20.x, Environment: {Variables: {ARN: !GetAtt Table.Arn}}}\n"),
			wantErr:  []string{"Resources.Fn.Properties.ARN: Fn::GetAtt Table.Arn is known only to CloudFormation; or set Functions.Fn.Environment.ARN in the overrides"},
		},
		{
			name:     "code in S3 without an override",
			template: fnTmpl("", "!GetAtt Fn.Arn", "!GetAtt Fn.Arn", "  Fn:\n    Type: AWS::Lambda::Function\n    Properties: {Runtime: provided.al2023, Handler: bootstrap, Code: {S3Bucket: b, S3Key: k.zip}}\n"),
			wantErr:  []string{"Resources.Fn.Properties.Code: the function's code is in S3 (bucket b, key k.zip): give a local directory or zip; or set Functions.Fn.CodeDir in the overrides"},
		},
		{
			name:     "a SAM CodeUri in S3",
			template: fnTmpl(sam, "!GetAtt Fn.Arn", "!GetAtt Fn.Arn", "  Fn:\n    Type: AWS::Serverless::Function\n    Properties: {Runtime: nodejs20.x, Handler: a.h, CodeUri: s3://b/k.zip}\n"),
			wantErr:  []string{"Resources.Fn.Properties.CodeUri: the function's code is in S3 (s3://b/k.zip): give a local directory or zip; or set Functions.Fn.CodeDir in the overrides"},
		},
		{
			name:     "a container image",
			template: fnTmpl("", "!GetAtt Fn.Arn", "!GetAtt Fn.Arn", "  Fn:\n    Type: AWS::Lambda::Function\n    Properties: {PackageType: Image, Code: {ImageUri: 1.dkr.ecr/x:1}}\n"),
			wantErr:  []string{"Resources.Fn.Properties.PackageType: Image: container image functions are not run locally"},
		},
		{
			name:     "a container image, SAM",
			template: fnTmpl(sam, "!GetAtt Fn.Arn", "!GetAtt Fn.Arn", "  Fn:\n    Type: AWS::Serverless::Function\n    Properties: {ImageUri: 1.dkr.ecr/x:1}\n"),
			wantErr:  []string{"Resources.Fn.Properties.ImageUri: container image functions are not run locally"},
		},
		{
			name:     "inline code in a runtime that has none",
			template: fnTmpl("", "!GetAtt Fn.Arn", "!GetAtt Fn.Arn", "  Fn:\n    Type: AWS::Lambda::Function\n    Properties: {Runtime: provided.al2023, Handler: x, Code: {ZipFile: 'echo'}}\n"),
			wantErr:  []string{`Resources.Fn.Properties.Runtime: "provided.al2023": inline code (ZipFile, InlineCode) is for nodejs and python runtimes only`},
		},
		{
			name:     "a SAM function without code",
			template: fnTmpl(sam, "!GetAtt Fn.Arn", "!GetAtt Fn.Arn", "  Fn:\n    Type: AWS::Serverless::Function\n    Properties: {Runtime: nodejs20.x, Handler: a.h}\n"),
			wantErr:  []string{"Resources.Fn.Properties.CodeUri: required"},
		},
		{
			name:     "a SAM HTTP API",
			template: fnTmpl(sam, "x", "x", "  Http:\n    Type: AWS::Serverless::HttpApi\n"),
			wantErr:  []string{"Resources.Http.Type: AWS::Serverless::HttpApi is not supported (an HTTP API"},
		},
		{
			name:     "a SAM layer",
			template: fnTmpl(sam, "x", "x", "  Layer:\n    Type: AWS::Serverless::LayerVersion\n"),
			wantErr:  []string{"Resources.Layer.Type: AWS::Serverless::LayerVersion is not supported (a layer"},
		},
		{
			name:     "a SAM type without the transform",
			template: fnTmpl("", "x", "x", "  Fn:\n    Type: AWS::Serverless::Function\n"),
			wantErr:  []string{"Resources.Fn.Type: AWS::Serverless::Function needs Transform: AWS::Serverless-2016-10-31"},
		},
		{
			name:     "another macro",
			template: fnTmpl("Transform: AWS::LanguageExtensions", "x", "x", ""),
			wantErr:  []string{"Transform: AWS::LanguageExtensions: macros are not supported"},
		},
		{
			name:     "Globals without the transform",
			template: fnTmpl("Globals: {Function: {Runtime: nodejs20.x}}", "x", "x", ""),
			wantErr:  []string{"Globals: only SAM templates"},
		},
		{
			name:      "an override for a function the template does not have",
			template:  fnTmpl(sam, "!GetAtt Fn.Arn", "!GetAtt Fn.Arn", "  Fn:\n    Type: AWS::Serverless::Function\n    Properties: {CodeUri: src, Handler: a.h, Runtime: nodejs20.x}\n"),
			overrides: "Functions:\n  Other: {CodeDir: x}\n",
			wantErr:   []string{"Functions.Other: the template has no such function (its functions: Fn)"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseTemplate([]byte(tc.template), []byte(tc.overrides))
			if len(tc.wantErr) > 0 {
				checkErrorHolds(t, err, tc.wantErr)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, c.Functions, cmpDefaults(tc.want)); diff != "" {
				t.Errorf("Functions (-want +got):\n%s", diff)
			}
			if tc.connectURI != "" {
				if got := c.Integrations["ConnectInteg"].IntegrationURI; got != tc.connectURI {
					t.Errorf("$connect IntegrationUri = %q, want %q", got, tc.connectURI)
				}
				if got := c.Integrations["DefaultInteg"].IntegrationURI; got != tc.defaultURI {
					t.Errorf("$default IntegrationUri = %q, want %q", got, tc.defaultURI)
				}
			}
		})
	}
}

// LoadTemplate writes inline code where CloudFormation puts it (index.js, index.py),
// resolves CodeUri against the template's directory and unpacks a zip, keeping modes.
func TestLoadTemplateCode(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	dir := t.TempDir()
	zf, err := os.Create(filepath.Join(dir, "fn.zip"))
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(zf)
	h := &zip.FileHeader{Name: "bootstrap", Method: zip.Deflate}
	h.SetMode(0o755)
	w, err := zw.CreateHeader(h)
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("#!/bin/sh\n"))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	zf.Close()
	tmpl := fnTmpl("Transform: AWS::Serverless-2016-10-31", "!GetAtt Node.Arn", "!GetAtt Py.Arn", `
  Node:
    Type: AWS::Lambda::Function
    Properties:
      Runtime: nodejs20.x
      Handler: index.handler
      Code:
        ZipFile: |
          exports.handler = async () => ({statusCode: 200});
  Py:
    Type: AWS::Serverless::Function
    Properties: {Runtime: python3.12, Handler: index.handler, InlineCode: "def handler(e, c):\n  return {'statusCode': 200}\n"}
  Go:
    Type: AWS::Serverless::Function
    Properties: {Runtime: provided.al2023, Handler: bootstrap, CodeUri: fn.zip}
  Dir:
    Type: AWS::Serverless::Function
    Properties: {Runtime: nodejs20.x, Handler: app.handler, CodeUri: ./src}
`)
	path := filepath.Join(dir, "template.yaml")
	if err := os.WriteFile(path, []byte(tmpl), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := LoadTemplate(path, "")
	if err != nil {
		t.Fatal(err)
	}
	for name, file := range map[string]string{"Node": "index.js", "Py": "index.py"} {
		b, err := os.ReadFile(filepath.Join(c.Functions[name].CodeDir, file))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !strings.Contains(string(b), "handler") {
			t.Errorf("%s's %s = %q", name, file, b)
		}
	}
	fi, err := os.Stat(filepath.Join(c.Functions["Go"].CodeDir, "bootstrap"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm()&0o100 == 0 {
		t.Errorf("bootstrap mode %v: not executable", fi.Mode())
	}
	if got, want := c.Functions["Dir"].CodeDir, filepath.Join(dir, "src"); got != want {
		t.Errorf("CodeDir = %q, want %q", got, want)
	}
	// A second load finds the code where the first put it.
	c2, err := LoadTemplate(path, "")
	if err != nil {
		t.Fatal(err)
	}
	if c2.Functions["Go"].CodeDir != c.Functions["Go"].CodeDir || c2.Functions["Node"].CodeDir != c.Functions["Node"].CodeDir {
		t.Errorf("second load moved the code: %q, %q", c2.Functions["Go"].CodeDir, c2.Functions["Node"].CodeDir)
	}
}

// A zip whose entries climb out of the directory is refused.
func TestUnzipRefusesEscapes(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "evil.zip")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(f)
	w, err := zw.Create("../escaped")
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("x"))
	zw.Close()
	f.Close()
	if _, err := unzipOnce(path, filepath.Join(dir, "out")); err == nil || !strings.Contains(err.Error(), "not a path inside the zip") {
		t.Fatalf("err = %v, want the entry refused", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "escaped")); err == nil {
		t.Fatal("the entry was written outside")
	}
}

func TestMergeGlobals(t *testing.T) {
	global := map[string]any{
		"Runtime": "nodejs20.x", "Layers": []any{"g"},
		"Environment": map[string]any{"Variables": map[string]any{"A": "g", "B": "g"}},
		"Tags":        map[string]any{"Fn::If": []any{"c", "x", "y"}},
	}
	local := map[string]any{
		"Runtime": "python3.12", "Layers": []any{"l"},
		"Environment": map[string]any{"Variables": map[string]any{"B": "l"}},
		"Tags":        map[string]any{"t": "l"},
	}
	want := map[string]any{
		"Runtime": "python3.12", "Layers": []any{"g", "l"},
		"Environment": map[string]any{"Variables": map[string]any{"A": "g", "B": "l"}},
		"Tags":        map[string]any{"t": "l"}, // an intrinsic function is a value, not a map to merge
	}
	if diff := cmp.Diff(want, mergeGlobals(global, local)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if _, ok := global["Environment"].(map[string]any)["Variables"].(map[string]any)["B"]; !ok || global["Runtime"] != "nodejs20.x" {
		t.Error("Globals changed")
	}
}

// A CDK-synthesized template: the function's code is its aws:asset:path beside the
// template (as SAM CLI reads it), not the S3 location CloudFormation would use.
func TestTemplateCDK(t *testing.T) {
	c, err := LoadTemplate("testdata/cdk.out/WsChatStack.template.json", "")
	if err != nil {
		t.Fatal(err)
	}
	fn, ok := c.Functions["ConnectHandler2FFD52D8"]
	if !ok {
		t.Fatalf("Functions = %v", c.Functions)
	}
	want := absPath(t, filepath.Join("testdata/cdk.out", "asset.5c2f0e3b8a91d7c4e6f0b2a3d5c7e9f1a2b4c6d8e0f1a3b5c7d9e1f2a4b6c8d0"))
	if fn.CodeDir != want || fn.Runtime != "nodejs20.x" || fn.Handler != "index.handler" {
		t.Errorf("function = %+v, want CodeDir %s", fn, want)
	}
	if _, err := os.Stat(filepath.Join(fn.CodeDir, "index.js")); err != nil {
		t.Error(err)
	}
	if got, w := c.Integrations["ChatApiconnectRouteConnectIntegration5E6F7A8B"].IntegrationURI, invocations(arnPrefix+"ConnectHandler2FFD52D8"); got != w {
		t.Errorf("IntegrationUri = %q, want %q", got, w)
	}
	for _, typ := range []string{"AWS::IAM::Role", "AWS::Lambda::Permission", "AWS::CDK::Metadata", "AWS::Lambda::Function Role"} {
		if len(c.Template.NotEmulated[typ]) != 1 {
			t.Errorf("not emulated %s: %v", typ, c.Template.NotEmulated[typ])
		}
	}
}

// api.yaml with authorizer.yaml as another stack: the authorizer's function is run
// locally, from make authorizer's output, and the imported alias ARN names it.
func TestTemplateStacks(t *testing.T) {
	c, err := LoadTemplate("../../deploy/cloudformation/api.yaml", "../../deploy/cloudformation/local/lambda-authorizer.yaml")
	if err != nil {
		t.Fatal(err)
	}
	const name = "wsgate-authorizer-authorizer"
	fn, ok := c.Functions[name]
	if !ok {
		t.Fatalf("Functions = %v", c.Functions)
	}
	if fn.Runtime != "provided.al2023" || fn.CodeDir != absPath(t, "../../dist/authorizer/amd64") ||
		fn.Timeout != Duration(5*time.Second) || fn.Environment["WSGATE_JWT_ALGORITHMS"] != "HS256" || fn.Environment["WSGATE_CSRF_COOKIE"] != "CSRF-TOKEN" {
		t.Errorf("function = %+v", fn)
	}
	if got, want := c.Authorizers["Authorizer"].AuthorizerURI, invocations("arn:aws:lambda:us-east-1:000000000000:function:"+name); got != want {
		t.Errorf("AuthorizerUri = %q, want %q", got, want)
	}
	if ids := c.Template.NotEmulated["AWS::IAM::Role"]; !slices.Contains(ids, "wsgate-authorizer/Role") {
		t.Errorf("not emulated IAM roles: %v", ids)
	}
	sum := FunctionsSummary(c)
	if len(sum) != 1 || !strings.Contains(sum[0], "serves authorizer Authorizer of $connect") {
		t.Errorf("FunctionsSummary = %q", sum)
	}
}

// FuzzUnzip: no zip makes unzipOnce panic or write outside its directory.
func FuzzUnzip(f *testing.F) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, name := range []string{"bootstrap", "lib/a.js", "../up", "/abs", "dir/"} {
		w, err := zw.Create(name)
		if err != nil {
			f.Fatal(err)
		}
		w.Write([]byte("x"))
	}
	zw.Close()
	f.Add(buf.Bytes())
	f.Add([]byte("PK\x05\x06" + strings.Repeat("\x00", 18)))
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		path := filepath.Join(dir, "in.zip")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		out, err := unzipOnce(path, filepath.Join(dir, "out"))
		if err != nil {
			return
		}
		if rel, err := filepath.Rel(filepath.Join(dir, "out"), out); err != nil || strings.HasPrefix(rel, "..") {
			t.Fatalf("unpacked into %s", out)
		}
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if e.Name() != "in.zip" && e.Name() != "out" {
				t.Fatalf("wrote %s outside the directory", e.Name())
			}
		}
	})
}
