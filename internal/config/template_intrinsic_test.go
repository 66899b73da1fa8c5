package config

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// intrinsicTemplate is a minimal WebSocket API whose one integration's IntegrationUri is
// uri, with the given Mappings and Conditions (YAML flow or block text).
func intrinsicTemplate(mappings, conditions, uri string) string {
	return fmt.Sprintf(`Mappings:
%s
Conditions:
%s
Resources:
  Api:
    Type: AWS::ApiGatewayV2::Api
    Properties: {Name: a, ProtocolType: WEBSOCKET, RouteSelectionExpression: $request.body.action}
  Backend:
    Type: AWS::ApiGatewayV2::Integration
    Properties:
      ApiId: !Ref Api
      IntegrationType: HTTP_PROXY
      IntegrationUri: %s
  Default:
    Type: AWS::ApiGatewayV2::Route
    Properties: {ApiId: !Ref Api, RouteKey: $default, Target: integrations/Backend}
`, mappings, conditions, uri)
}

// chain is n mapping entries M.a.k0 → M.a.k1 → ... → M.a.k{n} = "http://x".
func chain(n int) string {
	var b strings.Builder
	b.WriteString("  M:\n    a:\n")
	for i := range n {
		fmt.Fprintf(&b, "      k%d: !FindInMap [M, a, k%d]\n", i, i+1)
	}
	fmt.Fprintf(&b, "      k%d: http://x\n", n)
	return b.String()
}

// doubling is n mapping entries each made of the next one (NEXT in twice) twice, the
// last being leaf: evaluating k0 would take 2^n steps.
func doubling(n int, twice, leaf string) string {
	var b strings.Builder
	b.WriteString("  M:\n    a:\n")
	for i := range n {
		fmt.Fprintf(&b, "      k%d: %s\n", i, strings.ReplaceAll(twice, "NEXT", fmt.Sprint(i+1)))
	}
	fmt.Fprintf(&b, "      k%d: %s\n", n, leaf)
	return b.String()
}

// intrinsicCases are templates whose intrinsic functions recurse: each must be an error
// naming where, never a crash. FuzzParseTemplate starts from them too.
var intrinsicCases = []struct {
	name     string
	template string
	wantErr  []string // substrings of the error; none: success, with IntegrationUri wantURI
	wantURI  string
}{
	{
		name:     "a mapping entry that finds itself",
		template: intrinsicTemplate("  M: {a: {b: !FindInMap [M, a, b]}}", "  {}", "!FindInMap [M, a, b]"),
		wantErr:  []string{"Resources.Backend.Properties.IntegrationUri: Fn::FindInMap M.a.b refers to itself: Fn::FindInMap M.a.b → Fn::FindInMap M.a.b"},
	},
	{
		name:     "two mapping entries that find each other",
		template: intrinsicTemplate("  M: {a: {b: !FindInMap [M, a, c], c: !Join ['', [x, !FindInMap [M, a, b]]]}}", "  {}", "!FindInMap [M, a, b]"),
		wantErr:  []string{"Fn::FindInMap M.a.b refers to itself: Fn::FindInMap M.a.b → Fn::FindInMap M.a.c → Fn::FindInMap M.a.b"},
	},
	{
		name:     "a mapping key found in the entry itself",
		template: intrinsicTemplate("  M: {a: {b: !FindInMap [M, a, !FindInMap [M, a, b]]}}", "  {}", "!FindInMap [M, a, b]"),
		wantErr:  []string{"Fn::FindInMap M.a.b refers to itself"},
	},
	{
		name:     "a mapping entry that finds itself through Fn::Sub variables",
		template: intrinsicTemplate("  M: {a: {b: !Sub ['${x}', {x: !FindInMap [M, a, b]}]}}", "  {}", "!FindInMap [M, a, b]"),
		wantErr:  []string{"Fn::FindInMap M.a.b refers to itself"},
	},
	{
		name:     "a mapping entry that finds itself through Fn::Select and Fn::If",
		template: intrinsicTemplate("  M: {a: {b: !Select [0, [!If [T, !FindInMap [M, a, b], y]]]}}", "  T: !Equals [a, a]", "!FindInMap [M, a, b]"),
		wantErr:  []string{"Fn::FindInMap M.a.b refers to itself"},
	},
	{
		name:     "conditions that refer to each other",
		template: intrinsicTemplate("  {}", "  A: !Not [!Condition B]\n  B: !And [!Condition A, !Equals [x, x]]", "!If [A, http://a, http://b]"),
		wantErr:  []string{"Resources.Backend.Properties.IntegrationUri: condition A: condition B: Condition A refers to itself: Condition A → Condition B → Condition A"},
	},
	{
		name:     "a condition that refers to itself through a mapping",
		template: intrinsicTemplate("  M: {a: {b: !If [A, x, y]}}", "  A: !Equals [!FindInMap [M, a, b], x]", "!If [A, http://a, http://b]"),
		wantErr:  []string{"Condition A refers to itself: Condition A → Fn::FindInMap M.a.b → Condition A"},
	},
	{
		name:     "a resource's condition that refers to itself",
		template: strings.Replace(intrinsicTemplate("  {}", "  A: !Or [!Condition A, !Equals [x, y]]", "http://x"), "    Type: AWS::ApiGatewayV2::Integration\n", "    Type: AWS::ApiGatewayV2::Integration\n    Condition: A\n", 1),
		wantErr:  []string{"Resources.Backend.Condition: condition A: Condition A refers to itself"},
	},
	{
		name:     "a long chain of mapping entries",
		template: intrinsicTemplate(chain(300), "  {}", "!FindInMap [M, a, k0]"),
		wantErr:  []string{"Resources.Backend.Properties.IntegrationUri: values and intrinsic functions nest deeper than 200 levels (in Fn::FindInMap M.a.k0 → Fn::FindInMap M.a.k1 → Fn::FindInMap M.a.k2 → ... → "},
	},
	{
		name:     "functions nested deeper than the limit",
		template: intrinsicTemplate("  {}", "  {}", strings.Repeat("!Join ['', [", 250)+"http://x"+strings.Repeat("]]", 250)),
		wantErr:  []string{"Resources.Backend.Properties.IntegrationUri: values and intrinsic functions nest deeper than 200 levels"},
	},
	{
		name:     "lists that double at each entry",
		template: intrinsicTemplate(doubling(40, "[!FindInMap [M, a, kNEXT], !FindInMap [M, a, kNEXT]]", "x"), "  {}", "!Select [0, !FindInMap [M, a, k0]]"),
		wantErr:  []string{"intrinsic functions expand to more than 1048576 values (in Fn::FindInMap M.a.k0 → "},
	},
	{
		name:     "strings that double at each entry",
		template: intrinsicTemplate(doubling(40, "!Join ['', [!FindInMap [M, a, kNEXT], !FindInMap [M, a, kNEXT]]]", strings.Repeat("x", 64<<10)), "  {}", "!FindInMap [M, a, k0]"),
		wantErr:  []string{"intrinsic functions build more than 16 MB of strings (in Fn::FindInMap M.a.k0 → "},
	},
	{
		name:     "Fn::Sub variables that double",
		template: intrinsicTemplate(doubling(40, "!Sub ['${x}${x}', {x: !FindInMap [M, a, kNEXT]}]", strings.Repeat("x", 64<<10)), "  {}", "!FindInMap [M, a, k0]"),
		wantErr:  []string{"intrinsic functions build more than 16 MB of strings"},
	},
	{
		name:     "an alias inside the value it names",
		template: intrinsicTemplate("  M: &m {a: {b: [*m]}}", "  {}", "http://x"),
		wantErr:  []string{"template: line 2: alias *m stands inside the value it names"},
	},
	{
		name:     "values nested deeper than the limit",
		template: intrinsicTemplate("  M: {a: {b: "+strings.Repeat("[", 1100)+strings.Repeat("]", 1100)+"}}", "  {}", "http://x"),
		wantErr:  []string{"template: line 2: values nest deeper than 1000 levels"},
	},
	{
		name: "every intrinsic function, the same entry used twice and a chain: no cycle",
		template: intrinsicTemplate(chain(5)+"      host: !Join ['', [!FindInMap [M, a, h], !FindInMap [M, a, h]]]\n      h: ab\n",
			"  T: !And [!Equals [!Ref AWS::Region, us-east-1], !Not [!Equals [a, b]]]\n  U: !Or [!Condition T, !Equals [x, y]]",
			`!Join ["", [!If [U, !FindInMap [M, a, k0], nope], "/", !Select [1, !Split [",", "p,q"]], "/", !Base64 hi, !Sub ["/${h}-${AWS::Region}", {h: !FindInMap [M, a, host]}]]]`),
		wantURI: "http://x/q/aGk=/abab-us-east-1",
	},
}

func TestIntrinsicRecursion(t *testing.T) {
	for _, tc := range intrinsicCases {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			c, err := ParseTemplate([]byte(tc.template), nil)
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("ParseTemplate took %v", d)
			}
			if len(tc.wantErr) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				if got := c.Integrations["Backend"].IntegrationURI; got != tc.wantURI {
					t.Errorf("IntegrationUri = %q, want %q", got, tc.wantURI)
				}
				return
			}
			checkErrorHolds(t, err, tc.wantErr)
			if len(err.Error()) > 4096 {
				t.Errorf("error is %d bytes long", len(err.Error()))
			}
		})
	}
}
