package authevent

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const testArn = "arn:aws:execute-api:us-east-1:123456789012:abcdef123/default/$connect"

func TestResponseRoundTrip(t *testing.T) {
	for _, name := range []string{"authorizer-response-allow.json", "authorizer-response-deny.json"} {
		t.Run(name, func(t *testing.T) {
			in := readFixture(t, name)
			var r Response
			if err := json.Unmarshal(in, &r); err != nil {
				t.Fatal(err)
			}
			out, err := json.Marshal(r)
			if err != nil {
				t.Fatal(err)
			}
			assertJSONEqual(t, in, out)
			if _, err := ParseResponse(in); err != nil {
				t.Errorf("ParseResponse: %v", err)
			}
		})
	}
}

func TestAllowDenyResponseEncoding(t *testing.T) {
	for _, tc := range []struct {
		name string
		resp Response
		want string
	}{
		{
			name: "allow with context",
			resp: AllowResponse("user-42", testArn, map[string]any{"sub": "user-42", "exp": float64(1697483628), "admin": false, "tenant": "acme"}),
			want: string(readFixture(t, "authorizer-response-allow.json")),
		},
		{
			name: "deny has no context",
			resp: DenyResponse("user-42", testArn),
			want: string(readFixture(t, "authorizer-response-deny.json")),
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := json.Marshal(tc.resp)
			if err != nil {
				t.Fatal(err)
			}
			assertJSONEqual(t, []byte(tc.want), got)
			if err := tc.resp.Validate(); err != nil {
				t.Errorf("Validate: %v", err)
			}
		})
	}
}

// policyJSON is an answer with one statement whose members are given as JSON.
func policyJSON(statement string) string {
	return `{"principalId":"p","policyDocument":{"Version":"2012-10-17","Statement":[` + statement + `]}}`
}

func TestParseResponse(t *testing.T) {
	allow := func(action, resource []string) Response {
		return Response{PrincipalID: "p", PolicyDocument: PolicyDocument{Version: PolicyVersion, Statement: []Statement{{Action: action, Effect: EffectAllow, Resource: resource}}}}
	}
	big := `{"principalId":"p","policyDocument":{"Version":"2012-10-17","Statement":[{"Action":"execute-api:Invoke","Effect":"Allow","Resource":"*"}]},"context":{"k":"` + strings.Repeat("x", MaxResultBytes) + `"}}`
	for _, tc := range []struct {
		name    string
		in      string
		want    Response
		wantErr string
	}{
		{
			name: "AWS documentation style: strings and a mixed context",
			in:   string(readFixture(t, "authorizer-response-aws-doc-style.json")),
			want: Response{
				PrincipalID: "me",
				PolicyDocument: PolicyDocument{Version: PolicyVersion, Statement: []Statement{{
					Action: StringList{ActionInvoke}, Effect: EffectAllow, Resource: StringList{testArn},
				}}},
				Context: map[string]any{"stringKey": "value", "numberKey": json.Number("1"), "booleanKey": true},
			},
		},
		{
			name: "lists",
			in:   policyJSON(`{"Action":["execute-api:Invoke"],"Effect":"Allow","Resource":["a","b"]}`),
			want: allow(StringList{ActionInvoke}, StringList{"a", "b"}),
		},
		{
			name: "Statement as a single object, Sid and usageIdentifierKey",
			in:   `{"principalId":"p","usageIdentifierKey":"k1","policyDocument":{"Version":"2012-10-17","Statement":{"Sid":"s1","Action":"execute-api:*","Effect":"Deny","Resource":"*"}}}`,
			want: Response{PrincipalID: "p", UsageIdentifierKey: "k1", PolicyDocument: PolicyDocument{Version: PolicyVersion, Statement: []Statement{{Sid: "s1", Action: StringList{"execute-api:*"}, Effect: EffectDeny, Resource: StringList{"*"}}}}},
		},
		{
			name: "context null is no context",
			in:   `{"principalId":"p","context":null,"policyDocument":{"Version":"2012-10-17","Statement":[{"Action":"execute-api:Invoke","Effect":"Allow","Resource":"a"}]}}`,
			want: allow(StringList{ActionInvoke}, StringList{"a"}),
		},
		{name: "over 8 KB", in: big, wantErr: fmt.Sprintf("authorizer result of %d bytes exceeds 8192", len(big))},
		{name: "not an object", in: `[]`, wantErr: "authorizer result is not a JSON object: json: cannot unmarshal array into Go value of type map[string]json.RawMessage"},
		{name: "principalId missing", in: `{"policyDocument":{}}`, wantErr: "principalId: missing"},
		{name: "principalId wrong case", in: `{"PrincipalId":"p","policyDocument":{}}`, wantErr: "principalId: missing"},
		{name: "principalId a number", in: `{"principalId":1,"policyDocument":{}}`, wantErr: "principalId: must be a string"},
		{name: "principalId null", in: `{"principalId":null,"policyDocument":{}}`, wantErr: "principalId: must be a string"},
		{name: "policyDocument missing", in: `{"principalId":"p"}`, wantErr: "policyDocument: missing"},
		{name: "policyDocument a string", in: `{"principalId":"p","policyDocument":"x"}`, wantErr: "policyDocument: must be an object"},
		{name: "Version wrong", in: `{"principalId":"p","policyDocument":{"Version":"2020-01-01","Statement":[{"Action":"execute-api:Invoke","Effect":"Allow","Resource":"a"}]}}`, wantErr: `policyDocument.Version: "2020-01-01" is not 2012-10-17`},
		{name: "Version missing", in: `{"principalId":"p","policyDocument":{"Statement":[{"Action":"execute-api:Invoke","Effect":"Allow","Resource":"a"}]}}`, wantErr: `policyDocument.Version: "" is not 2012-10-17`},
		{name: "Statement missing", in: `{"principalId":"p","policyDocument":{"Version":"2012-10-17"}}`, wantErr: "policyDocument.Statement: missing"},
		{name: "Statement empty", in: policyJSON(``), wantErr: "policyDocument.Statement: no statement"},
		{name: "Statement a string", in: `{"principalId":"p","policyDocument":{"Version":"2012-10-17","Statement":"x"}}`, wantErr: "policyDocument.Statement: must be an object or a list of objects"},
		{name: "Effect lower case", in: policyJSON(`{"Action":"execute-api:Invoke","Effect":"allow","Resource":"a"}`), wantErr: `policyDocument.Statement[0].Effect: "allow" is not Allow or Deny`},
		{name: "Effect missing", in: policyJSON(`{"Action":"execute-api:Invoke","Resource":"a"}`), wantErr: `policyDocument.Statement[0].Effect: "" is not Allow or Deny`},
		{name: "member name in wrong case", in: policyJSON(`{"action":"execute-api:Invoke","Effect":"Allow","Resource":"a"}`), wantErr: `policyDocument.Statement[0]: "action" is not supported (Sid, Effect, Action, Resource)`},
		{name: "Condition refused", in: policyJSON(`{"Action":"execute-api:Invoke","Effect":"Allow","Resource":"a","Condition":{}}`), wantErr: `policyDocument.Statement[0]: "Condition" is not supported (Sid, Effect, Action, Resource)`},
		{name: "NotResource refused", in: policyJSON(`{"Action":"execute-api:Invoke","Effect":"Deny","NotResource":"a"}`), wantErr: `policyDocument.Statement[0]: "NotResource" is not supported (Sid, Effect, Action, Resource)`},
		{name: "Action missing", in: policyJSON(`{"Effect":"Allow","Resource":"a"}`), wantErr: "policyDocument.Statement[0].Action: missing"},
		{name: "Action empty list", in: policyJSON(`{"Action":[],"Effect":"Allow","Resource":"a"}`), wantErr: "policyDocument.Statement[0].Action: missing"},
		{name: "Action a number", in: policyJSON(`{"Action":1,"Effect":"Allow","Resource":"a"}`), wantErr: "policyDocument.Statement[0]: Action: must be a string or a list of strings"},
		{name: "Resource list holding a number", in: policyJSON(`{"Action":"execute-api:Invoke","Effect":"Allow","Resource":["a",1]}`), wantErr: "policyDocument.Statement[0]: Resource: must be a string or a list of strings"},
		{name: "Resource missing", in: policyJSON(`{"Action":"execute-api:Invoke","Effect":"Allow"}`), wantErr: "policyDocument.Statement[0].Resource: missing"},
		{name: "statement not an object", in: policyJSON(`"x"`), wantErr: "policyDocument.Statement[0]: must be an object"},
		{name: "context an array", in: `{"principalId":"p","context":[],"policyDocument":{"Version":"2012-10-17","Statement":[{"Action":"execute-api:Invoke","Effect":"Allow","Resource":"a"}]}}`, wantErr: "context: must be an object"},
		{name: "context value an object", in: `{"principalId":"p","context":{"a":{"b":1}},"policyDocument":{"Version":"2012-10-17","Statement":[{"Action":"execute-api:Invoke","Effect":"Allow","Resource":"a"}]}}`, wantErr: "context.a: an object is not a string, number or boolean"},
		{name: "context value an array", in: `{"principalId":"p","context":{"a":[1]},"policyDocument":{"Version":"2012-10-17","Statement":[{"Action":"execute-api:Invoke","Effect":"Allow","Resource":"a"}]}}`, wantErr: "context.a: an array is not a string, number or boolean"},
		{name: "context value null", in: `{"principalId":"p","context":{"a":null},"policyDocument":{"Version":"2012-10-17","Statement":[{"Action":"execute-api:Invoke","Effect":"Allow","Resource":"a"}]}}`, wantErr: "context.a: null is not a string, number or boolean"},
		{name: "usageIdentifierKey a number", in: `{"principalId":"p","usageIdentifierKey":1,"policyDocument":{"Version":"2012-10-17","Statement":[{"Action":"execute-api:Invoke","Effect":"Allow","Resource":"a"}]}}`, wantErr: "usageIdentifierKey: must be a string"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseResponse([]byte(tc.in))
			gotErr := ""
			if err != nil {
				gotErr = err.Error()
			}
			if diff := cmp.Diff(tc.wantErr, gotErr); diff != "" {
				t.Fatalf("error (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("response (-want +got):\n%s", diff)
			}
		})
	}
}

func TestResponseValidate(t *testing.T) {
	for _, tc := range []struct {
		name    string
		resp    Response
		wantErr string
	}{
		{name: "allow", resp: AllowResponse("p", testArn, map[string]any{"n": 1, "f": 1.5, "b": true, "s": "x"})},
		{name: "context map value", resp: AllowResponse("p", testArn, map[string]any{"m": map[string]any{}}), wantErr: "context.m: an object is not a string, number or boolean"},
		{name: "context struct value", resp: AllowResponse("p", testArn, map[string]any{"t": struct{}{}}), wantErr: "context.t: struct {} is not a string, number or boolean"},
		// "<" is escaped to 6 bytes: 2730 of them fit in 8 KB as text, not encoded.
		{name: "too large once encoded", resp: AllowResponse("p", "a", map[string]any{"s": strings.Repeat("<", MaxResultBytes/3)}), wantErr: "authorizer result of 16542 bytes exceeds 8192"},
		{name: "no statement", resp: Response{PrincipalID: "p", PolicyDocument: PolicyDocument{Version: PolicyVersion}}, wantErr: "policyDocument.Statement: no statement"},
		{name: "principal not UTF-8", resp: DenyResponse("\xff", testArn), wantErr: "principalId: not valid UTF-8"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gotErr := ""
			if err := tc.resp.Validate(); err != nil {
				gotErr = err.Error()
			}
			if diff := cmp.Diff(tc.wantErr, gotErr); diff != "" {
				t.Errorf("Validate error (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPolicyAllows(t *testing.T) {
	stmt := func(effect string, action, resource []string) Statement {
		return Statement{Action: action, Effect: effect, Resource: resource}
	}
	invoke := StringList{ActionInvoke}
	for _, tc := range []struct {
		name       string
		statements []Statement
		methodArn  string
		want       bool
	}{
		{name: "exact allow", statements: []Statement{stmt(EffectAllow, invoke, StringList{testArn})}, methodArn: testArn, want: true},
		{name: "exact deny", statements: []Statement{stmt(EffectDeny, invoke, StringList{testArn})}, methodArn: testArn, want: false},
		{name: "no statement", methodArn: testArn, want: false},
		{name: "other resource", statements: []Statement{stmt(EffectAllow, invoke, StringList{"arn:aws:execute-api:us-east-1:123456789012:abcdef123/default/$default"})}, methodArn: testArn, want: false},
		{name: "api wildcard crosses slashes", statements: []Statement{stmt(EffectAllow, invoke, StringList{"arn:aws:execute-api:us-east-1:123456789012:abcdef123/*"})}, methodArn: testArn, want: true},
		{name: "stage wildcard", statements: []Statement{stmt(EffectAllow, invoke, StringList{"arn:aws:execute-api:us-east-1:123456789012:abcdef123/*/$connect"})}, methodArn: testArn, want: true},
		{name: "wildcard in region and account", statements: []Statement{stmt(EffectAllow, invoke, StringList{"arn:aws:execute-api:*:*:abcdef123/default/$connect"})}, methodArn: testArn, want: true},
		{name: "trailing wildcard crosses colons", statements: []Statement{stmt(EffectAllow, invoke, StringList{"arn:aws:execute-api:*"})}, methodArn: testArn, want: true},
		{name: "star alone", statements: []Statement{stmt(EffectAllow, invoke, StringList{"*"})}, methodArn: testArn, want: true},
		{name: "question mark is one character", statements: []Statement{stmt(EffectAllow, invoke, StringList{"arn:aws:execute-api:us-east-?:123456789012:abcdef123/default/$connect"})}, methodArn: testArn, want: true},
		{name: "question mark is not zero characters", statements: []Statement{stmt(EffectAllow, invoke, StringList{"arn:aws:execute-api:us-east-1?:123456789012:abcdef123/default/$connect"})}, methodArn: testArn, want: false},
		{name: "other api does not match", statements: []Statement{stmt(EffectAllow, invoke, StringList{"arn:aws:execute-api:us-east-1:123456789012:zzz/*"})}, methodArn: testArn, want: false},
		{name: "prefix without wildcard does not match", statements: []Statement{stmt(EffectAllow, invoke, StringList{"arn:aws:execute-api:us-east-1:123456789012:abcdef123/default"})}, methodArn: testArn, want: false},
		{name: "resource is case-sensitive", statements: []Statement{stmt(EffectAllow, invoke, StringList{"arn:aws:execute-api:us-east-1:123456789012:ABCDEF123/default/$connect"})}, methodArn: testArn, want: false},
		{name: "one of several resources", statements: []Statement{stmt(EffectAllow, invoke, StringList{"x", testArn})}, methodArn: testArn, want: true},
		{name: "explicit deny wins over allow", statements: []Statement{stmt(EffectAllow, invoke, StringList{"*"}), stmt(EffectDeny, invoke, StringList{"arn:aws:execute-api:*:*:abcdef123/default/*"})}, methodArn: testArn, want: false},
		{name: "deny of another route does not block", statements: []Statement{stmt(EffectAllow, invoke, StringList{"*"}), stmt(EffectDeny, invoke, StringList{"arn:aws:execute-api:*:*:abcdef123/default/sendmessage"})}, methodArn: testArn, want: true},
		{name: "action wildcard execute-api:*", statements: []Statement{stmt(EffectAllow, StringList{"execute-api:*"}, StringList{testArn})}, methodArn: testArn, want: true},
		{name: "action star", statements: []Statement{stmt(EffectAllow, StringList{"*"}, StringList{testArn})}, methodArn: testArn, want: true},
		{name: "action case-insensitive", statements: []Statement{stmt(EffectAllow, StringList{"Execute-API:invoke"}, StringList{testArn})}, methodArn: testArn, want: true},
		{name: "other action", statements: []Statement{stmt(EffectAllow, StringList{"execute-api:ManageConnections"}, StringList{testArn})}, methodArn: testArn, want: false},
		{name: "deny with other action does not block", statements: []Statement{stmt(EffectAllow, invoke, StringList{testArn}), stmt(EffectDeny, StringList{"execute-api:ManageConnections"}, StringList{"*"})}, methodArn: testArn, want: true},
		{name: "unknown effect never allows", statements: []Statement{stmt("allow", invoke, StringList{testArn})}, methodArn: testArn, want: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := PolicyDocument{Version: PolicyVersion, Statement: tc.statements}
			if got := p.Allows(tc.methodArn); got != tc.want {
				t.Errorf("Allows(%q) = %v, want %v", tc.methodArn, got, tc.want)
			}
		})
	}
}

func TestWildcardMatch(t *testing.T) {
	for _, tc := range []struct {
		pattern, s string
		want       bool
	}{
		{"", "", true},
		{"", "a", false},
		{"*", "", true},
		{"?", "", false},
		{"a*b*c", "aXXbYYc", true},
		{"a*b*c", "aXXbYY", false},
		{"*a", "bbba", true},
		{"**", "x", true},
		{"a?c", "abc", true},
		{"a?c", "ac", false},
		{"?", "é", true},
		{"a*", "a*", true},
		{"a\\*", "a\\x", true},
		{strings.Repeat("*a", 50) + "b", strings.Repeat("a", 200), false},
	} {
		t.Run(tc.pattern+"|"+tc.s, func(t *testing.T) {
			if got := wildcardMatch(tc.pattern, tc.s); got != tc.want {
				t.Errorf("wildcardMatch(%q, %q) = %v, want %v", tc.pattern, tc.s, got, tc.want)
			}
		})
	}
}

func FuzzParseResponse(f *testing.F) {
	f.Add(string(readFixture(f, "authorizer-response-allow.json")))
	f.Add(string(readFixture(f, "authorizer-response-deny.json")))
	f.Add(string(readFixture(f, "authorizer-response-aws-doc-style.json")))
	f.Add(policyJSON(`{"Action":"execute-api:*","Effect":"Allow","Resource":"arn:aws:execute-api:*:*:*/?/$connect"}`))
	f.Fuzz(func(t *testing.T, in string) {
		r, err := ParseResponse([]byte(in))
		if err != nil {
			return
		}
		// A valid answer encodes, stays valid, and parses back to the same policy.
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatalf("valid response does not encode: %v", err)
		}
		r2, err := ParseResponse(b)
		if err != nil && !strings.Contains(err.Error(), "exceeds") {
			t.Fatalf("re-encoded response invalid: %v", err)
		}
		if err == nil {
			if diff := cmp.Diff(r.PolicyDocument, r2.PolicyDocument); diff != "" {
				t.Errorf("policy changed through encoding (-first +second):\n%s", diff)
			}
			if r.PolicyDocument.Allows(testArn) != r2.PolicyDocument.Allows(testArn) {
				t.Error("Allows changed through encoding")
			}
		}
	})
}
