package cloudformation_test

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/awslabs/goformation/v7"
	"github.com/awslabs/goformation/v7/cloudformation"
	"github.com/awslabs/goformation/v7/intrinsics"
	"github.com/google/go-cmp/cmp"
)

// parseAPI parses api.yaml with goformation, its parameters at their defaults (the
// required ones given placeholder values), intrinsic functions resolved.
func parseAPI(t *testing.T) (*cloudformation.Template, map[string]any) {
	t.Helper()
	data, err := os.ReadFile("api.yaml")
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := goformation.ParseYAMLWithOptions(data, &intrinsics.ProcessorOptions{ParameterOverrides: map[string]any{
		"Domain": "example.com", "HostedZoneId": "Z0000000000000", "BackendUrl": "https://app.dev.example.com",
		"CertificateArn":           "arn:aws:acm:us-east-1:123456789012:certificate/x",
		"IntegrationTimeoutMillis": 10000.0, "LogRetentionInDays": 30.0,
	}})
	if err != nil {
		t.Fatalf("goformation: %v", err)
	}
	return parsed, longForm(t, data)
}

func TestAPIStack(t *testing.T) {
	parsed, tmpl := parseAPI(t)
	res := tmpl["Resources"].(map[string]any)
	props := func(name string) map[string]any {
		r, ok := res[name].(map[string]any)
		if !ok {
			t.Fatalf("no resource %s", name)
		}
		p, _ := r["Properties"].(map[string]any)
		return p
	}

	api, err := parsed.GetApiGatewayV2ApiWithName("Api")
	if err != nil {
		t.Fatal(err)
	}
	if got := [2]string{deref(api.ProtocolType), deref(api.RouteSelectionExpression)}; got != [2]string{"WEBSOCKET", "$request.body.action"} {
		t.Errorf("Api ProtocolType, RouteSelectionExpression = %q", got)
	}

	t.Run("authorizer identity sources cover every input the cookie authorizer decides on", func(t *testing.T) {
		auths := parsed.GetAllApiGatewayV2AuthorizerResources()
		if len(auths) != 1 {
			t.Fatalf("%d authorizers, want 1", len(auths))
		}
		for name, a := range auths {
			if a.AuthorizerType != "REQUEST" {
				t.Errorf("%s: AuthorizerType %q, want REQUEST", name, a.AuthorizerType)
			}
			// The JWT and CSRF cookies, the Origin (AllowedOrigins), the CSRF query parameter.
			for _, want := range []string{"route.request.header.Cookie", "route.request.header.Origin", "route.request.querystring.csrf"} {
				if !slices.Contains(a.IdentitySource, want) {
					t.Errorf("%s: IdentitySource %q lacks %s", name, a.IdentitySource, want)
				}
			}
			if a.AuthorizerResultTtlInSeconds != nil {
				t.Errorf("%s: AuthorizerResultTtlInSeconds is set; WebSocket APIs do not cache authorizer results", name)
			}
		}
	})

	t.Run("routes", func(t *testing.T) {
		got := map[string]string{}
		for name, r := range parsed.GetAllApiGatewayV2RouteResources() {
			got[r.RouteKey] = deref(r.AuthorizationType)
			// Target is integrations/{an Integration of this template}.
			target, _ := json.Marshal(props(name)["Target"])
			integration := ""
			for n, x := range res {
				if x.(map[string]any)["Type"] != "AWS::ApiGatewayV2::Integration" {
					continue
				}
				if strings.Contains(string(target), `{"Ref":"`+n+`"}`) || strings.Contains(string(target), "${"+n+"}") {
					integration = n
				}
			}
			if integration == "" || !strings.Contains(string(target), "integrations") {
				t.Errorf("%s: Target %s is not integrations/{integration}", name, target)
			}
		}
		want := map[string]string{"$connect": "CUSTOM", "$disconnect": "NONE", "$default": "NONE", "sendmessage": "NONE"}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("route keys and AuthorizationType (-want +got):\n%s", diff)
		}
		for name, p := range res {
			if p.(map[string]any)["Type"] != "AWS::ApiGatewayV2::Route" {
				continue
			}
			id, _ := json.Marshal(props(name)["AuthorizerId"])
			if key := props(name)["RouteKey"]; key == "$connect" && string(id) != `{"Ref":"Authorizer"}` {
				t.Errorf("$connect AuthorizerId = %s, want the Authorizer", id)
			}
		}
	})

	t.Run("authorizer permission", func(t *testing.T) {
		p := props("AuthorizerPermission")
		if p["Principal"] != "apigateway.amazonaws.com" || p["Action"] != "lambda:InvokeFunction" {
			t.Errorf("permission Principal %v Action %v, want apigateway.amazonaws.com lambda:InvokeFunction", p["Principal"], p["Action"])
		}
		src, _ := json.Marshal(p["SourceArn"])
		if !strings.Contains(string(src), "${Api}/authorizers/${Authorizer}") {
			t.Errorf("permission SourceArn %s is not the authorizer's", src)
		}
		// The permission is on the very function (alias) the AuthorizerUri invokes.
		fn, _ := json.Marshal(p["FunctionName"])
		uri, _ := json.Marshal(props("Authorizer")["AuthorizerUri"])
		if !strings.Contains(string(uri), string(fn)) {
			t.Errorf("AuthorizerUri %s does not invoke the permitted function %s", uri, fn)
		}
		if !strings.Contains(string(uri), "/invocations") || !strings.Contains(string(uri), ":lambda:path/2015-03-31/functions/") {
			t.Errorf("AuthorizerUri %s is not arn:{partition}:apigateway:{region}:lambda:path/2015-03-31/functions/{arn}/invocations", uri)
		}
	})

	t.Run("imports are the authorizer stack's exports", func(t *testing.T) {
		data, err := os.ReadFile("authorizer.yaml")
		if err != nil {
			t.Fatal(err)
		}
		exports := map[string]bool{}
		outs, _ := longForm(t, data)["Outputs"].(map[string]any)
		for _, o := range outs {
			name, _ := json.Marshal(o.(map[string]any)["Export"].(map[string]any)["Name"])
			exports[string(name)] = true
		}
		envs := tmpl["Mappings"].(map[string]any)["AuthorizerAliasExport"].(map[string]any)
		allowed := tmpl["Parameters"].(map[string]any)["Env"].(map[string]any)["AllowedValues"].([]any)
		if len(envs) != len(allowed) {
			t.Errorf("AuthorizerAliasExport has %d environments, Env allows %d", len(envs), len(allowed))
		}
		for env, m := range envs {
			want := fmt.Sprintf(`{"Fn::Sub":"${AWS::StackName}-%s"}`, m.(map[string]any)["Name"])
			if !exports[want] {
				t.Errorf("environment %s imports %s, which authorizer.yaml does not export", env, want)
			}
		}
	})

	t.Run("integrations pass the connection id and principal", func(t *testing.T) {
		ints := parsed.GetAllApiGatewayV2IntegrationResources()
		names := make([]string, 0, len(ints))
		for n := range ints {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			in := ints[n]
			if !strings.HasPrefix(in.IntegrationType, "HTTP") {
				t.Errorf("%s: IntegrationType %s, want HTTP or HTTP_PROXY", n, in.IntegrationType)
			}
			params, _ := in.RequestParameters.(map[string]any)
			if params["integration.request.header.X-Connection-Id"] != "context.connectionId" ||
				params["integration.request.header.X-Principal-Id"] != "context.authorizer.principalId" {
				t.Errorf("%s: RequestParameters %v lack the connection id and principal headers", n, params)
			}
			tpls, _ := in.RequestTemplates.(map[string]any)
			if in.IntegrationType == "HTTP" && !strings.Contains(fmt.Sprint(tpls["$default"]), "$context.authorizer.principalId") {
				t.Errorf("%s: $default request template %q does not pass the principal", n, tpls["$default"])
			}
			// The VPC link variant: VPC_LINK with the link's id when VpcLinkId is set.
			raw, _ := json.Marshal(props(n))
			for _, want := range []string{`"ConnectionType":{"Fn::If":["UseVpcLink","VPC_LINK","INTERNET"]}`, `"ConnectionId":{"Fn::If":["UseVpcLink",{"Ref":"VpcLinkId"},{"Ref":"AWS::NoValue"}]}`} {
				if !strings.Contains(string(raw), want) {
					t.Errorf("%s lacks %s", n, want)
				}
			}
		}
	})

	t.Run("custom domain", func(t *testing.T) {
		d, err := parsed.GetApiGatewayV2DomainNameWithName("DomainName")
		if err != nil {
			t.Fatal(err)
		}
		if d.DomainName != "ws.dev.example.com" || len(d.DomainNameConfigurations) != 1 || deref(d.DomainNameConfigurations[0].EndpointType) != "REGIONAL" {
			t.Errorf("DomainName %q %+v, want ws.dev.example.com REGIONAL", d.DomainName, d.DomainNameConfigurations)
		}
		if k, ok := props("ApiMapping")["ApiMappingKey"]; ok && k != "" {
			t.Errorf("ApiMappingKey %v: docs/aws.md and the outputs assume the empty key", k)
		}
		outs := tmpl["Outputs"].(map[string]any)
		for name, want := range map[string]string{"WebSocketUrl": "wss://${DomainName}", "ConnectionsEndpoint": "https://${DomainName}"} {
			got, _ := outs[name].(map[string]any)["Value"].(map[string]any)["Fn::Sub"].(string)
			if got != want {
				t.Errorf("output %s = %q, want %q", name, got, want)
			}
		}
	})
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// The DependsOn check must catch a route the deployment does not wait for.
func TestUndeployedRoutes(t *testing.T) {
	base := `
Resources:
  Api: {Type: AWS::ApiGatewayV2::Api, Properties: {ProtocolType: WEBSOCKET}}
  A: {Type: AWS::ApiGatewayV2::Route, Properties: {ApiId: !Ref Api, RouteKey: $default}}
  B: {Type: AWS::ApiGatewayV2::Route, Properties: {ApiId: !Ref Api, RouteKey: b}}
  Deployment:
    Type: AWS::ApiGatewayV2::Deployment
    DependsOn: [A, B]
    Properties: {ApiId: !Ref Api}
`
	for _, tc := range []struct {
		name, from, to string
		want           []string
	}{
		{name: "complete"},
		{name: "one missing", from: "[A, B]", to: "[A]", want: []string{"Resources.Deployment: DependsOn lacks B"}},
		{name: "a string", from: "[A, B]", to: "B", want: []string{"Resources.Deployment: DependsOn lacks A"}},
		{name: "none", from: "DependsOn: [A, B]", to: "", want: []string{"Resources.Deployment: DependsOn lacks A", "Resources.Deployment: DependsOn lacks B"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tmpl := longForm(t, []byte(strings.Replace(base, tc.from, tc.to, 1)))
			if diff := cmp.Diff(tc.want, undeployedRoutes(tmpl)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
