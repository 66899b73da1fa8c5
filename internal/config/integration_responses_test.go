package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"go.yaml.in/yaml/v3"
)

func TestParseIntegrationResponseKey(t *testing.T) {
	tests := []struct {
		key     string
		match   []string
		nomatch []string
		err     string
	}{
		{key: "$default"},
		{key: `/2\d\d/`, match: []string{"200", "204"}, nomatch: []string{"2000", "x200", "404", ""}},
		{key: "/4\\d\\d|500/", match: []string{"404", "500"}, nomatch: []string{"502"}},
		{key: "/Invalid.*/", match: []string{"Invalid order: 7"}, nomatch: []string{"an Invalid order"}},
		{key: "/.*not found.*/", match: []string{"order 7 not found"}},
		{key: "200", err: "between slashes"},
		{key: "//", err: "between slashes"},
		{key: "/", err: "between slashes"},
		{key: "default", err: "between slashes"},
		{key: "/(/", err: "not a regular expression"},
		{key: "/)|(/", err: "not a regular expression"}, // would close the anchoring group
		{key: `/(a)\1/`, err: "not a regular expression"},
		{key: "/" + strings.Repeat("a", 1000) + "/", err: "over 1000 bytes"},
	}
	for _, tt := range tests {
		re, err := ParseIntegrationResponseKey(tt.key)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%q: error %v, want %q", tt.key, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tt.key, err)
			continue
		}
		if tt.key == "$default" {
			if re != nil {
				t.Errorf("$default: a regexp %v", re)
			}
			continue
		}
		for _, s := range tt.match {
			if !re.MatchString(s) {
				t.Errorf("%q does not match %q", tt.key, s)
			}
		}
		for _, s := range tt.nomatch {
			if re.MatchString(s) {
				t.Errorf("%q matches %q", tt.key, s)
			}
		}
	}
}

// FuzzParseIntegrationResponseKey: no key or value panics, and a key that parses
// matches only whole values.
func FuzzParseIntegrationResponseKey(f *testing.F) {
	for _, s := range [][2]string{{"$default", "200"}, {`/2\d\d/`, "200"}, {"/4\\d\\d/", "404"}, {"/Invalid.*/", "Invalid input"},
		{"/.*Error.*/", `{"errorMessage":"Error"}`}, {"/(/", ""}, {"//", ""}, {"/a|/", "a"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, key, value string) {
		re, err := ParseIntegrationResponseKey(key)
		if err != nil || re == nil {
			return
		}
		if loc := re.FindStringIndex(value); loc != nil && (loc[0] != 0 || loc[1] != len(value)) {
			t.Fatalf("%q matched %q at %v, not the whole value", key, value, loc)
		}
	})
}

const irBase = `
Integrations:
  be:
    IntegrationType: HTTP
    IntegrationUri: "http://127.0.0.1:9/x"
    IntegrationResponses:
      $default: {}
Routes:
  $default: {Target: integrations/be, RouteResponseSelectionExpression: $default}
`

func TestValidateIntegrationResponses(t *testing.T) {
	tests := []struct {
		name, from, to string
		want           []string // none: valid
	}{
		{name: "base"},
		{name: "regex keys and templates", from: "      $default: {}", to: "      /2\\d\\d/: {ResponseTemplates: {$default: $input.body}, TemplateSelectionExpression: \"${integration.response.statuscode}\"}\n      /4\\d\\d/: {}"},
		{name: "AWS", from: "    IntegrationType: HTTP\n    IntegrationUri: \"http://127.0.0.1:9/x\"", to: "    IntegrationType: AWS\n    IntegrationUri: fn\n    RequestTemplates: {$default: '{}'}\n    IntegrationResponseSelectionExpression: $integration.response.body.errorMessage"},
		{name: "MOCK", from: "    IntegrationType: HTTP\n    IntegrationUri: \"http://127.0.0.1:9/x\"", to: "    IntegrationType: MOCK\n    ResponseTemplate: '{}'"},
		{name: "AWS without URI", from: "    IntegrationType: HTTP\n    IntegrationUri: \"http://127.0.0.1:9/x\"", to: "    IntegrationType: AWS",
			want: []string{"Integrations.be.IntegrationUri: a Lambda function name or ARN is required"}},
		{name: "AWS with request parameters", from: "    IntegrationType: HTTP\n    IntegrationUri: \"http://127.0.0.1:9/x\"", to: "    IntegrationType: AWS\n    IntegrationUri: fn\n    RequestParameters: {integration.request.header.x: \"'a'\"}",
			want: []string{"Integrations.be.RequestParameters: only HTTP and HTTP_PROXY"}},
		{name: "key without slashes", from: "      $default: {}", to: "      \"200\": {}",
			want: []string{"Integrations.be.IntegrationResponses.200: must be $default or a regular expression between slashes"}},
		{name: "proxy", from: "    IntegrationType: HTTP\n", to: "    IntegrationType: HTTP_PROXY\n",
			want: []string{"Integrations.be.IntegrationResponses: HTTP_PROXY integrations pass the backend's answer as is"}},
		{name: "content handling", from: "      $default: {}", to: "      $default: {ContentHandlingStrategy: CONVERT_TO_TEXT}",
			want: []string{`Integrations.be.IntegrationResponses.$default.ContentHandlingStrategy: "CONVERT_TO_TEXT" is not supported`}},
		{name: "response parameters", from: "      $default: {}", to: "      $default: {ResponseParameters: {method.response.header.x: \"'a'\"}}",
			want: []string{"Integrations.be.IntegrationResponses.$default.ResponseParameters: not supported"}},
		{name: "selection without templates", from: "      $default: {}", to: "      $default: {TemplateSelectionExpression: x}",
			want: []string{"Integrations.be.IntegrationResponses.$default.TemplateSelectionExpression: set, but there are no ResponseTemplates"}},
		{name: "wrong selection expression", from: "    IntegrationResponses:", to: "    IntegrationResponseSelectionExpression: $integration.response.body.errorMessage\n    IntegrationResponses:",
			want: []string{`Integrations.be.IntegrationResponseSelectionExpression: "$integration.response.body.errorMessage": for HTTP integrations AWS fixes it to $integration.response.statuscode`}},
		{name: "unknown field", from: "      $default: {}", to: "      $default: {ResponseTemplate: x}", want: []string{"field ResponseTemplate not found"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := irBase
			if tt.from != "" {
				if !strings.Contains(src, tt.from) {
					t.Fatalf("base has no %q", tt.from)
				}
				src = strings.Replace(src, tt.from, tt.to, 1)
			}
			_, err := Parse([]byte(src))
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil {
				t.Fatalf("valid, want %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\nwant %q", err, w)
				}
			}
		})
	}
}

// TestTemplateIntegrationResponses translates a template with IntegrationResponse
// resources and compares it with its golden config (-update rewrites it).
func TestTemplateIntegrationResponses(t *testing.T) {
	const src = "testdata/template/integration-responses.yaml"
	got, err := LoadTemplate(src, "")
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata/template", "integration-responses.golden.yaml")
	if *update {
		b, err := yaml.Marshal(got)
		if err != nil {
			t.Fatal(err)
		}
		head := "# Generated by `go test ./internal/config -run TestTemplateIntegrationResponses -update`: the native\n# config " + src + " runs as.\n"
		if err := os.WriteFile(golden, append([]byte(head), b...), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := Load(golden)
	if err != nil {
		t.Fatalf("golden file: %v", err)
	}
	if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("config (-%s +template):\n%s", golden, diff)
	}
	be := got.Integrations["Backend"]
	if len(be.IntegrationResponses) != 3 || be.IntegrationResponses[`/2\d\d/`].TemplateSelectionExpression != "${request.body.format}" ||
		got.Integrations["Orders"].IntegrationType != IntegrationAWS || len(got.Integrations["Orders"].IntegrationResponses) != 2 {
		t.Errorf("integration responses = %+v / %+v", be.IntegrationResponses, got.Integrations["Orders"].IntegrationResponses)
	}
}

func TestTemplateIntegrationResponseErrors(t *testing.T) {
	orig, err := os.ReadFile("testdata/template/integration-responses.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, from, to, want string }{
		{"unknown property", "      IntegrationResponseKey: /404/\n", "      IntegrationResponseKey: /404/\n      PassthroughBehavior: NEVER\n",
			"Resources.BackendNotFound.Properties.PassthroughBehavior: not an AWS::ApiGatewayV2::IntegrationResponse property"},
		{"content handling", "      IntegrationResponseKey: /404/\n", "      IntegrationResponseKey: /404/\n      ContentHandlingStrategy: CONVERT_TO_BINARY\n",
			`Resources.BackendNotFound.Properties.ContentHandlingStrategy: "CONVERT_TO_BINARY" is not supported`},
		{"response parameters", "      IntegrationResponseKey: /404/\n", "      IntegrationResponseKey: /404/\n      ResponseParameters: {method.response.header.x: \"'a'\"}\n",
			"Resources.BackendNotFound.Properties.ResponseParameters: not supported"},
		{"bad key", "IntegrationResponseKey: /404/", "IntegrationResponseKey: '404'",
			`Resources.BackendNotFound.Properties.IntegrationResponseKey: "404": must be $default or a regular expression between slashes`},
		{"no key", "      IntegrationResponseKey: /404/\n", "",
			"Resources.BackendNotFound.Properties.IntegrationResponseKey: required"},
		{"duplicate key", "IntegrationResponseKey: /404/", `IntegrationResponseKey: /2\d\d/`,
			`Resources.BackendOk.Properties.IntegrationResponseKey: "/2\\d\\d/" is also BackendNotFound's`},
		{"not an integration", "IntegrationId: !Ref Orders, IntegrationResponseKey: $default", "IntegrationId: !Ref Get, IntegrationResponseKey: $default",
			"Resources.OrdersOk.Properties.IntegrationId: must be !Ref to an AWS::ApiGatewayV2::Integration"},
		{"another API", "Properties: {ApiId: !Ref Api, IntegrationId: !Ref Orders", "Properties: {ApiId: other, IntegrationId: !Ref Orders",
			"Resources.OrdersOk.Properties.ApiId: must be !Ref Api"},
		{"proxy integration", "      IntegrationType: AWS\n", "      IntegrationType: AWS_PROXY\n",
			"Resources.OrdersInvalid.Properties.IntegrationId: Orders is a AWS_PROXY integration, which has no integration responses"},
		{"wrong selection expression", "IntegrationResponseSelectionExpression: $integration.response.statuscode", "IntegrationResponseSelectionExpression: $request.body.x",
			`Resources.Backend.Properties.IntegrationResponseSelectionExpression (Integrations.Backend.IntegrationResponseSelectionExpression): "$request.body.x"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := string(orig)
			if !strings.Contains(s, tc.from) {
				t.Fatalf("template has no %q", tc.from)
			}
			_, err := ParseTemplate([]byte(strings.Replace(s, tc.from, tc.to, 1)), nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v\nwant %q", err, tc.want)
			}
		})
	}
}
