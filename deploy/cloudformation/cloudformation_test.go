// Package cloudformation_test checks wsgate's CloudFormation templates: every *.yaml here
// parses with goformation, validates against the CloudFormation resource schema that
// goformation ships, and has no dangling Ref, GetAtt, Sub variable, Condition or DependsOn.
package cloudformation_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/awslabs/goformation/v7"
	"github.com/awslabs/goformation/v7/intrinsics"
	"github.com/awslabs/goformation/v7/schema"
	"github.com/google/go-cmp/cmp"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// longForm turns a YAML template (short tags such as !Ref) into JSON with long-form
// intrinsic functions, unresolved.
func longForm(tb testing.TB, yaml []byte) map[string]any {
	tb.Helper()
	js, err := intrinsics.ProcessYAML(yaml, &intrinsics.ProcessorOptions{NoProcess: true})
	if err != nil {
		tb.Fatalf("yaml: %v", err)
	}
	var tmpl map[string]any
	if err := json.Unmarshal(js, &tmpl); err != nil {
		tb.Fatalf("json: %v", err)
	}
	return tmpl
}

// cfnSchema is goformation's CloudFormation schema, decoded once.
var cfnSchema = sync.OnceValues(func() (map[string]any, error) {
	var doc map[string]any
	if err := json.Unmarshal([]byte(schema.CloudformationSchema), &doc); err != nil {
		return nil, err
	}
	delete(doc, "$id") // it claims the draft-04 meta-schema's own id
	return doc, nil
})

var (
	compiledMu sync.Mutex
	compiled   = map[string]*jsonschema.Schema{}
)

// schemaFor compiles the part of the schema at ref ("#/definitions/AWS::Logs::LogGroup",
// "#/properties/Outputs"). The compiler validates a whole schema document against the
// draft-04 meta-schema before it compiles any part of it, and goformation's document holds
// every resource type there is (over 7,000 definitions): that check alone took minutes
// under -race. So each ref gets a document of its own holding only the definitions it
// reaches through $ref, which validates the same way in milliseconds.
func schemaFor(ref string) (*jsonschema.Schema, error) {
	compiledMu.Lock()
	defer compiledMu.Unlock()
	if s, ok := compiled[ref]; ok {
		return s, nil
	}
	doc, err := cfnSchema()
	if err != nil {
		return nil, err
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft4)
	if err := c.AddResource("cloudformation.schema.json", pruned(doc, ref)); err != nil {
		return nil, err
	}
	s, err := c.Compile("cloudformation.schema.json" + ref)
	if err != nil {
		return nil, err
	}
	compiled[ref] = s
	return s, nil
}

// pruned returns the schema document with the part at ref and only the definitions that
// part reaches through "#/definitions/..." references. A ref naming no definition keeps
// none, so compiling it fails as it would against the whole document.
func pruned(doc map[string]any, ref string) map[string]any {
	defs, _ := doc["definitions"].(map[string]any)
	props, _ := doc["properties"].(map[string]any)
	keep := map[string]any{}
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if r, ok := x.(string); ok && k == "$ref" {
					if name, ok := strings.CutPrefix(r, "#/definitions/"); ok {
						if _, seen := keep[name]; !seen && defs[name] != nil {
							keep[name] = defs[name]
							walk(defs[name])
						}
					}
					continue
				}
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	out := map[string]any{"definitions": keep}
	if name, ok := strings.CutPrefix(ref, "#/definitions/"); ok && defs[name] != nil {
		keep[name] = defs[name]
		walk(defs[name])
	}
	if name, ok := strings.CutPrefix(ref, "#/properties/"); ok && props[name] != nil {
		out["properties"] = map[string]any{name: props[name]}
		walk(props[name])
	}
	return out
}

const noValue = "\x00novalue"

// placeholders stands in for what CloudFormation does before it checks properties:
// intrinsic functions become values (a string; Fn::If its first branch), AWS::NoValue
// removes the property.
// A Ref to a Number parameter stands in as a number.
func placeholdersWith(v any, numbers map[string]bool) any {
	switch v := v.(type) {
	case map[string]any:
		if len(v) == 1 {
			for k, arg := range v {
				switch {
				case k == "Ref" && arg == "AWS::NoValue":
					return noValue
				case k == "Ref" && numbers[fmt.Sprint(arg)]:
					return 1
				case k == "Fn::If":
					if args, ok := arg.([]any); ok && len(args) == 3 {
						return placeholdersWith(args[1], numbers)
					}
				case k == "Ref" || strings.HasPrefix(k, "Fn::"):
					return "intrinsic"
				}
			}
		}
		out := map[string]any{}
		for k, x := range v {
			if p := placeholdersWith(x, numbers); p != noValue {
				out[k] = p
			}
		}
		return out
	case []any:
		out := []any{}
		for _, x := range v {
			if p := placeholdersWith(x, numbers); p != noValue {
				out = append(out, p)
			}
		}
		return out
	}
	return v
}

// validateSchema checks every resource against its type's definition in the schema, and
// every other section against its own part of the template schema (compiling the root
// schema would compile every resource type there is: minutes under -race).
func validateSchema(tmpl map[string]any) error {
	var errs []string
	check := func(ref string, v any) {
		s, err := schemaFor(ref)
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s: %v", ref, err))
			return
		}
		b, _ := json.Marshal(v) // so that numbers are what the validator expects
		inst, err := jsonschema.UnmarshalJSON(strings.NewReader(string(b)))
		if err == nil {
			err = s.Validate(inst)
		}
		if err != nil {
			errs = append(errs, err.Error())
		}
	}
	numbers := map[string]bool{}
	params, _ := tmpl["Parameters"].(map[string]any)
	for n, p := range params {
		if p, _ := p.(map[string]any); p["Type"] == "Number" {
			numbers[n] = true
		}
	}
	for k, v := range tmpl {
		switch k {
		case "Conditions": // the schema describes them with their functions
			check("#/properties/Conditions", v)
		case "AWSTemplateFormatVersion", "Description", "Metadata", "Parameters", "Mappings", "Outputs", "Transform":
			check("#/properties/"+k, placeholdersWith(v, numbers))
		case "Resources":
			res, _ := v.(map[string]any)
			for n, r := range res {
				r, _ := r.(map[string]any)
				typ, _ := r["Type"].(string)
				if strings.Contains(typ, "/") || typ == "" {
					errs = append(errs, fmt.Sprintf("Resources.%s: bad type %q", n, typ))
					continue
				}
				check("#/definitions/"+typ, placeholdersWith(r, numbers))
			}
		default:
			errs = append(errs, fmt.Sprintf("unknown top-level section %q", k))
		}
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "\n"))
	}
	return nil
}

var pseudo = []string{"AWS::AccountId", "AWS::NotificationARNs", "AWS::NoValue", "AWS::Partition",
	"AWS::Region", "AWS::StackId", "AWS::StackName", "AWS::URLSuffix"}

var subVar = regexp.MustCompile(`\$\{([^!}][^}]*)\}`)

// references lists every dangling name in the template, sorted.
func references(tmpl map[string]any) []string {
	params, _ := tmpl["Parameters"].(map[string]any)
	resources, _ := tmpl["Resources"].(map[string]any)
	conds, _ := tmpl["Conditions"].(map[string]any)
	var bad []string
	name := func(n string, extra map[string]any) bool {
		_, p := params[n]
		_, r := resources[n]
		_, e := extra[n]
		return p || r || e || slices.Contains(pseudo, n)
	}
	cond := func(where, c string) {
		if _, ok := conds[c]; !ok {
			bad = append(bad, where+": condition "+c)
		}
	}
	var walk func(where string, v any)
	walk = func(where string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, arg := range v {
				switch k {
				case "Ref":
					if s, _ := arg.(string); !name(s, nil) {
						bad = append(bad, where+": Ref "+s)
					}
				case "Fn::GetAtt":
					var res string
					switch a := arg.(type) {
					case []any:
						if len(a) > 0 {
							res, _ = a[0].(string)
						}
					case string:
						res, _, _ = strings.Cut(a, ".")
					}
					if _, ok := resources[res]; !ok {
						bad = append(bad, where+": GetAtt "+res)
					}
				case "Fn::Sub":
					str, vars := "", map[string]any{}
					switch a := arg.(type) {
					case string:
						str = a
					case []any:
						if len(a) == 2 {
							str, _ = a[0].(string)
							vars, _ = a[1].(map[string]any)
						}
					}
					for _, m := range subVar.FindAllStringSubmatch(str, -1) {
						n, _, _ := strings.Cut(m[1], ".")
						if !name(n, vars) {
							bad = append(bad, where+": Sub ${"+m[1]+"}")
						}
					}
				case "Fn::If":
					if a, ok := arg.([]any); ok && len(a) > 0 {
						c, _ := a[0].(string)
						cond(where, c)
					}
				case "Condition":
					if c, ok := arg.(string); ok {
						cond(where, c)
					}
				}
				walk(where, arg)
			}
		case []any:
			for _, x := range v {
				walk(where, x)
			}
		}
	}
	for n, r := range resources {
		res, _ := r.(map[string]any)
		walk("Resources."+n, res["Properties"])
		if c, ok := res["Condition"].(string); ok {
			cond("Resources."+n, c)
		}
		var deps []any
		switch d := res["DependsOn"].(type) {
		case string:
			deps = []any{d}
		case []any:
			deps = d
		}
		for _, d := range deps {
			if s, _ := d.(string); resources[s] == nil {
				bad = append(bad, "Resources."+n+": DependsOn "+s)
			}
		}
	}
	walk("Conditions", conds)
	walk("Outputs", tmpl["Outputs"])
	sort.Strings(bad)
	return bad
}

// wantTypes says which resource types each template must contain, and how many.
var wantTypes = map[string]map[string]int{
	"authorizer.yaml": {
		"AWS::Lambda::Function": 1, "AWS::IAM::Role": 1, "AWS::Logs::LogGroup": 1,
		"AWS::Lambda::Version": 1, "AWS::Lambda::Alias": 3,
	},
	"api.yaml": {
		"AWS::ApiGatewayV2::Api": 1, "AWS::ApiGatewayV2::Authorizer": 1, "AWS::Lambda::Permission": 1,
		"AWS::ApiGatewayV2::Integration": 4, "AWS::ApiGatewayV2::Route": 4,
		"AWS::ApiGatewayV2::Deployment": 1, "AWS::ApiGatewayV2::Stage": 1, "AWS::Logs::LogGroup": 1,
		"AWS::ApiGatewayV2::DomainName": 1, "AWS::ApiGatewayV2::ApiMapping": 1,
		"AWS::Route53::RecordSet": 1,
	},
}

// undeployedRoutes lists, for each AWS::ApiGatewayV2::Deployment, the routes it does not
// DependsOn: a deployment snapshots the routes that exist when it is created, so one
// created before a route deploys an API without it (or fails on an API without routes).
func undeployedRoutes(tmpl map[string]any) []string {
	resources, _ := tmpl["Resources"].(map[string]any)
	var routes, bad []string
	for n, r := range resources {
		if r, _ := r.(map[string]any); r["Type"] == "AWS::ApiGatewayV2::Route" {
			routes = append(routes, n)
		}
	}
	for n, r := range resources {
		r, _ := r.(map[string]any)
		if r["Type"] != "AWS::ApiGatewayV2::Deployment" {
			continue
		}
		var deps []string
		switch d := r["DependsOn"].(type) {
		case string:
			deps = []string{d}
		case []any:
			for _, x := range d {
				s, _ := x.(string)
				deps = append(deps, s)
			}
		}
		for _, route := range routes {
			if !slices.Contains(deps, route) {
				bad = append(bad, "Resources."+n+": DependsOn lacks "+route)
			}
		}
	}
	sort.Strings(bad)
	return bad
}

func TestTemplates(t *testing.T) {
	files, err := filepath.Glob("*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no templates: %v", err)
	}
	for _, f := range files {
		t.Run(f, func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			// CloudFormation passes Number parameters as numbers; goformation resolves a
			// Ref to the default as written, so give it numbers for those.
			overrides := map[string]any{}
			params, _ := longForm(t, data)["Parameters"].(map[string]any)
			for n, p := range params {
				p, _ := p.(map[string]any)
				if d, ok := p["Default"].(string); ok && p["Type"] == "Number" {
					var f float64
					if _, err := fmt.Sscan(d, &f); err != nil {
						t.Fatalf("parameter %s: default %q is not a number", n, d)
					}
					overrides[n] = f
				}
			}
			parsed, err := goformation.ParseYAMLWithOptions(data, &intrinsics.ProcessorOptions{ParameterOverrides: overrides})
			if err != nil {
				t.Fatalf("goformation: %v", err)
			}
			got := map[string]int{}
			for _, r := range parsed.Resources {
				got[r.AWSCloudFormationType()]++
			}
			want, ok := wantTypes[f]
			if !ok {
				t.Fatalf("add %s to wantTypes", f)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("resource types (-want +got):\n%s", diff)
			}
			tmpl := longForm(t, data)
			if err := validateSchema(tmpl); err != nil {
				t.Errorf("schema: %v", err)
			}
			if bad := references(tmpl); len(bad) > 0 {
				t.Errorf("dangling references:\n%s", strings.Join(bad, "\n"))
			}
			if bad := undeployedRoutes(tmpl); len(bad) > 0 {
				t.Errorf("incomplete DependsOn:\n%s", strings.Join(bad, "\n"))
			}
		})
	}
}

// The checks must catch what they claim to: each broken template fails exactly its check.
func TestChecksCatchMistakes(t *testing.T) {
	base := `
Parameters:
  Name: {Type: String}
Conditions:
  HasName: !Not [!Equals [!Ref Name, ""]]
Resources:
  Group:
    Type: AWS::Logs::LogGroup
    Properties:
      LogGroupName: !Sub /x/${Name}-${AWS::Region}
      RetentionInDays: 30
  Role:
    Type: AWS::IAM::Role
    DependsOn: Group
    Properties:
      AssumeRolePolicyDocument: {}
      Description: !If [HasName, !GetAtt Group.Arn, !Ref AWS::NoValue]
`
	for _, tc := range []struct {
		name, from, to string
		wantSchema     bool
		wantRefs       []string
	}{
		{name: "valid"},
		{name: "misspelled property", from: "RetentionInDays", to: "RetentionDays", wantSchema: true},
		{name: "wrong property type", from: "RetentionInDays: 30", to: "RetentionInDays: [30]", wantSchema: true},
		{name: "unknown resource type", from: "AWS::Logs::LogGroup", to: "AWS::Logs::LogGrup", wantSchema: true},
		{name: "dangling Ref", from: "!Ref Name", to: "!Ref Nme", wantRefs: []string{"Conditions: Ref Nme"}},
		{name: "dangling Sub variable", from: "${Name}", to: "${Nam}", wantRefs: []string{"Resources.Group: Sub ${Nam}"}},
		{name: "dangling GetAtt", from: "Group.Arn", to: "Grp.Arn", wantRefs: []string{"Resources.Role: GetAtt Grp"}},
		{name: "undefined condition", from: "[HasName,", to: "[HasNam,", wantRefs: []string{"Resources.Role: condition HasNam"}},
		{name: "dangling DependsOn", from: "DependsOn: Group", to: "DependsOn: Grp", wantRefs: []string{"Resources.Role: DependsOn Grp"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tmpl := longForm(t, []byte(strings.Replace(base, tc.from, tc.to, 1)))
			if err := validateSchema(tmpl); (err != nil) != tc.wantSchema {
				t.Errorf("schema error %v, want error: %v", err, tc.wantSchema)
			}
			if diff := cmp.Diff(tc.wantRefs, references(tmpl)); diff != "" {
				t.Errorf("references (-want +got):\n%s", diff)
			}
		})
	}
}

// contract is the authorizer Lambda's configuration (package lambdaauth). The template has
// no WSGATE_JWT_HMAC_SECRET on purpose: secrets stay in SSM.
var contract = []string{"WSGATE_JWT_COOKIE", "WSGATE_CSRF_COOKIE", "WSGATE_CSRF_QUERY_PARAM",
	"WSGATE_CSRF_CLAIM", "WSGATE_JWT_ALGORITHMS", "WSGATE_JWT_HMAC_SECRET_SSM_PARAMETER",
	"WSGATE_JWT_PUBLIC_KEY_PEM", "WSGATE_JWKS_URL", "WSGATE_JWT_ISSUER", "WSGATE_JWT_AUDIENCE",
	"WSGATE_JWT_LEEWAY", "WSGATE_ALLOWED_ORIGINS", "WSGATE_ALLOW_MISSING_ORIGIN", "WSGATE_CONTEXT_CLAIMS"}

func TestAuthorizerStack(t *testing.T) {
	data, err := os.ReadFile("authorizer.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tmpl := longForm(t, data)
	res := tmpl["Resources"].(map[string]any)
	vars := res["Function"].(map[string]any)["Properties"].(map[string]any)["Environment"].(map[string]any)["Variables"].(map[string]any)
	var got []string
	for k := range vars {
		got = append(got, k)
	}
	sort.Strings(got)
	want := slices.Clone(contract)
	sort.Strings(want)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("environment variables (-contract +template):\n%s", diff)
	}

	// Least privilege: no wildcard action or resource in the role's own policies.
	policies, _ := json.Marshal(res["Role"].(map[string]any)["Properties"].(map[string]any)["Policies"])
	for _, bad := range []string{`"*"`, `:*"`, `"Resource":"*"`} {
		if strings.Contains(string(policies), bad) {
			t.Errorf("role policies contain %s: %s", bad, policies)
		}
	}
	for _, want := range []string{`"ssm:GetParameter"`, `"kms:Decrypt"`, `"kms:ViaService"`} {
		if !strings.Contains(string(policies), want) {
			t.Errorf("role policies lack %s", want)
		}
	}
}
