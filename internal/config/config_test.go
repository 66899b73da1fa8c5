package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestDefaultParses(t *testing.T) {
	c, err := Parse(Default)
	if err != nil {
		t.Fatalf("embedded default: %v", err)
	}
	if got := c.Routes[RouteConnect].AuthorizerID; got != "cookie" {
		t.Errorf("$connect authorizer = %q, want cookie", got)
	}
	if got := c.Server.Limits.IdleTimeout.D(); got != 10*time.Minute {
		t.Errorf("IdleTimeout default = %v, want 10m", got)
	}
	if got := c.Integrations["ok"].TimeoutInMillis; got != 29000 {
		t.Errorf("TimeoutInMillis default = %d, want 29000", got)
	}
}

func TestExamplesParse(t *testing.T) {
	files, _ := filepath.Glob("testdata/valid/*.yaml")
	if len(files) == 0 {
		t.Fatal("no testdata/valid/*.yaml")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			if _, err := Load(f); err != nil {
				t.Fatal(err)
			}
		})
	}
}

const base = `
Api: {RouteSelectionExpression: $request.body.action}
Integrations:
  be: {IntegrationType: HTTP_PROXY, IntegrationUri: "http://127.0.0.1:9/ws"}
Authorizers:
  c:
    IdentitySource: [route.request.header.Cookie]
    Cookie: {Algorithms: [HS256], AllowedOrigins: ["https://ui.dev.example.test"], Key: {HmacSecretEnv: S}}
Routes:
  $connect: {AuthorizationType: CUSTOM, AuthorizerId: c, Target: integrations/be}
  $default: {Target: integrations/be}
`

func TestValidateNamesTheField(t *testing.T) {
	tests := []struct {
		name  string
		patch string // YAML merged after base by replacing a line
		from  string
		want  []string
	}{
		{"unknown field", "  $default: {Target: integrations/be, Tagret: x}", "  $default: {Target: integrations/be}", []string{"field Tagret not found"}},
		{"bad route key", "  $default: {Target: integrations/be}\n  $other: {Target: integrations/be}", "  $default: {Target: integrations/be}", []string{"Routes.$other: route keys starting with $"}},
		{"missing integration", "  $default: {Target: integrations/nope}", "  $default: {Target: integrations/be}", []string{`Routes.$default.Target: integration "nope" is not in Integrations`}},
		{"bad target form", "  $default: {Target: be}", "  $default: {Target: integrations/be}", []string{`Routes.$default.Target: "be" must be integrations/{id}`}},
		{"custom off $connect", "  $default: {AuthorizationType: CUSTOM, AuthorizerId: c, Target: integrations/be}", "  $default: {Target: integrations/be}", []string{"Routes.$default.AuthorizationType: CUSTOM is only valid on $connect"}},
		{"unknown authorizer", "  $connect: {AuthorizationType: CUSTOM, AuthorizerId: x, Target: integrations/be}", "  $connect: {AuthorizationType: CUSTOM, AuthorizerId: c, Target: integrations/be}", []string{`Routes.$connect.AuthorizerId: "x" is not in Authorizers`}},
		{"bad integration type", "  be: {IntegrationType: HTTPS, IntegrationUri: \"http://127.0.0.1:9/ws\"}", "  be: {IntegrationType: HTTP_PROXY, IntegrationUri: \"http://127.0.0.1:9/ws\"}", []string{`Integrations.be.IntegrationType: "HTTPS" must be`}},
		{"bad uri", "  be: {IntegrationType: HTTP_PROXY, IntegrationUri: \"ftp://x\"}", "  be: {IntegrationType: HTTP_PROXY, IntegrationUri: \"http://127.0.0.1:9/ws\"}", []string{`Integrations.be.IntegrationUri: "ftp://x" must be an http(s) URL`}},
		{"timeout", "  be: {IntegrationType: HTTP_PROXY, IntegrationUri: \"http://127.0.0.1:9/ws\", TimeoutInMillis: 30000}", "  be: {IntegrationType: HTTP_PROXY, IntegrationUri: \"http://127.0.0.1:9/ws\"}", []string{"Integrations.be.TimeoutInMillis: 30000 must be between 50 and 29000"}},
		{"no key", "    Cookie: {Algorithms: [HS256], AllowedOrigins: [\"https://ui.dev.example.test\"]}", "    Cookie: {Algorithms: [HS256], AllowedOrigins: [\"https://ui.dev.example.test\"], Key: {HmacSecretEnv: S}}", []string{"Authorizers.c.Cookie.Key: set exactly one"}},
		{"cookie config", "    Cookie: {Algorithms: [none], Key: {HmacSecretEnv: S}}", "    Cookie: {Algorithms: [HS256], AllowedOrigins: [\"https://ui.dev.example.test\"], Key: {HmacSecretEnv: S}}", []string{"Authorizers.c.Cookie:", "Algorithms"}},
		{"unsafe cache", "    IdentitySource: [route.request.header.Cookie]\n    AuthorizerResultTtlInSeconds: 300", "    IdentitySource: [route.request.header.Cookie]", []string{
			"Authorizers.c.IdentitySource: caching is on (AuthorizerResultTtlInSeconds) but route.request.header.Origin is not an identity source"}},
		{"bad duration", "Server: {Limits: {IdleTimeout: 10 minutes}}\nApi: {RouteSelectionExpression: $request.body.action}", "Api: {RouteSelectionExpression: $request.body.action}", []string{`"10 minutes" is not a duration`}},
		{"bad selection", "Api: {RouteSelectionExpression: $request.header.x}", "Api: {RouteSelectionExpression: $request.body.action}", []string{"Api.RouteSelectionExpression:"}},
		{"AWS_IAM off $connect", "  $default: {AuthorizationType: AWS_IAM, Target: integrations/be}", "  $default: {Target: integrations/be}", []string{"Routes.$default.AuthorizationType: AWS_IAM is only valid on $connect"}},
		{"AWS_IAM without keys", "  $connect: {AuthorizationType: AWS_IAM, Target: integrations/be}", "  $connect: {AuthorizationType: CUSTOM, AuthorizerId: c, Target: integrations/be}", []string{"Server.Iam.Credentials: none, but Routes.$connect.AuthorizationType is AWS_IAM"}},
		{"AWS_IAM with an authorizer", "  $connect: {AuthorizationType: AWS_IAM, AuthorizerId: c, Target: integrations/be}", "  $connect: {AuthorizationType: CUSTOM, AuthorizerId: c, Target: integrations/be}", []string{"Routes.$connect.AuthorizerId: set, but AuthorizationType is AWS_IAM"}},
		{"IAM key twice", "Server: {Iam: {Credentials: [{AccessKeyId: A, SecretAccessKeyEnv: S}, {AccessKeyId: A}]}}\nApi: {RouteSelectionExpression: $request.body.action}", "Api: {RouteSelectionExpression: $request.body.action}", []string{`Server.Iam.Credentials[1].AccessKeyId: "A" is used twice`, "Server.Iam.Credentials[1].SecretAccessKeyEnv: is required"}},
		{"JWT", "  $connect: {AuthorizationType: JWT, Target: integrations/be}", "  $connect: {AuthorizationType: CUSTOM, AuthorizerId: c, Target: integrations/be}", []string{"Routes.$connect.AuthorizationType: JWT is not supported by WebSocket APIs"}},
		{"node id", "Server: {NodeId: 300}\nApi: {RouteSelectionExpression: $request.body.action}", "Api: {RouteSelectionExpression: $request.body.action}", []string{"Server.NodeId: 300 must be between 0 and 255"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := strings.Replace(base, tt.from, tt.patch, 1)
			if src == base {
				t.Fatalf("patch did not apply: %q", tt.from)
			}
			_, err := Parse([]byte(src))
			if err == nil {
				t.Fatal("Parse succeeded, want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error\n%v\ndoes not contain %q", err, w)
				}
			}
		})
	}
}

func TestBaseIsValid(t *testing.T) {
	if _, err := Parse([]byte(base)); err != nil {
		t.Fatal(err)
	}
}

// TestSafeCacheAccepted: a cached cookie authorizer needs the Cookie and Origin headers
// as identity sources, not the CSRF query parameter (the subprotocol transport has
// none); a config that still lists it is accepted too.
func TestSafeCacheAccepted(t *testing.T) {
	for _, sources := range []string{
		"[route.request.header.Cookie, route.request.header.Origin]",
		"[route.request.header.cookie, route.request.header.Origin, route.request.querystring.csrf]",
	} {
		src := strings.Replace(base, "    IdentitySource: [route.request.header.Cookie]",
			"    IdentitySource: "+sources+"\n    AuthorizerResultTtlInSeconds: 300", 1)
		if _, err := Parse([]byte(src)); err != nil {
			t.Errorf("%s: %v", sources, err)
		}
	}
}

func TestLambdaFunction(t *testing.T) {
	tests := []struct{ in, want, err string }{
		{in: "my-fn", want: "my-fn"},
		{in: "arn:aws:lambda:eu-west-1:123456789012:function:auth:live", want: "arn:aws:lambda:eu-west-1:123456789012:function:auth:live"},
		{in: "arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/arn:aws:lambda:eu-west-1:123456789012:function:auth/invocations", want: "arn:aws:lambda:eu-west-1:123456789012:function:auth"},
		{in: "arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/", err: "is not arn:"},
		{in: "http://x", err: "not a Lambda function"},
	}
	for _, tt := range tests {
		got, err := LambdaFunction(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("LambdaFunction(%q) error = %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("LambdaFunction(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestLoadNamesTheFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(p, []byte("Routes: {}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(p)
	if err == nil || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), "Routes: at least one route") {
		t.Fatalf("Load error = %v", err)
	}
	if diff := cmp.Diff("x", mustID(t, "integrations/x")); diff != "" {
		t.Error(diff)
	}
}

func mustID(t *testing.T, target string) string {
	t.Helper()
	id, ok := IntegrationID(target)
	if !ok {
		t.Fatalf("IntegrationID(%q) not ok", target)
	}
	return id
}

func FuzzParse(f *testing.F) {
	f.Add(Default)
	f.Add([]byte(base))
	f.Add([]byte("Routes: {$default: {}}"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := Parse(b)
		if err == nil && len(c.Routes) == 0 {
			t.Fatal("a config without routes was accepted")
		}
	})
}

// TestREADMEConfig keeps the README's minimal config valid.
func TestREADMEConfig(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(b), "## A minimal gateway config\n\n```yaml\n")
	block, _, ok2 := strings.Cut(after, "```")
	if !ok || !ok2 {
		t.Fatal("README has no minimal config block")
	}
	if _, err := Parse([]byte(block)); err != nil {
		t.Fatalf("README config: %v", err)
	}
}

func TestRequiredSources(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(c *CookieAuthorizer)
		want   []string
	}{
		// The CSRF token is never required: it has two transports, and the cache keys
		// on it whichever carries it.
		{name: "defaults", want: []string{"route.request.header.Cookie", "route.request.header.Origin"}},
		{name: "custom query parameter", change: func(c *CookieAuthorizer) { c.CSRFQueryParam = "xsrf" },
			want: []string{"route.request.header.Cookie", "route.request.header.Origin"}},
		{name: "missing Origin allowed: Origin cannot be required", change: func(c *CookieAuthorizer) { c.AllowMissingOrigin = true },
			want: []string{"route.request.header.Cookie"}},
		{name: "CSRF disabled", change: func(c *CookieAuthorizer) { c.DisableCSRF = true },
			want: []string{"route.request.header.Cookie", "route.request.header.Origin"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &CookieAuthorizer{Algorithms: []string{"HS256"}}
			if tc.change != nil {
				tc.change(c)
			}
			if diff := cmp.Diff(tc.want, requiredSources(c)); diff != "" {
				t.Errorf("requiredSources mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestMissingSources(t *testing.T) {
	required := []string{"route.request.header.Cookie", "route.request.header.Origin", "route.request.querystring.csrf"}
	for _, tc := range []struct {
		name string
		have []string
		want []string
	}{
		{name: "all, header case differs", have: []string{"route.request.header.cookie", "route.request.header.ORIGIN", "route.request.querystring.csrf"}},
		{name: "origin missing", have: []string{"route.request.header.Cookie", "route.request.querystring.csrf"},
			want: []string{"route.request.header.Origin"}},
		{name: "query name case matters", have: []string{"route.request.header.Cookie", "route.request.header.Origin", "route.request.querystring.CSRF"},
			want: []string{"route.request.querystring.csrf"}},
		{name: "header is not query", have: []string{"route.request.header.Cookie", "route.request.header.Origin", "route.request.header.csrf"},
			want: []string{"route.request.querystring.csrf"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, missingSources(tc.have, required)); diff != "" {
				t.Errorf("missingSources mismatch (-want +got):\n%s", diff)
			}
		})
	}
}
