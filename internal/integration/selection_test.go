package integration

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestSelection(t *testing.T) {
	tests := []struct {
		name, expr, body, want string
	}{
		{"action", "$request.body.action", `{"action":"join"}`, "join"},
		{"nested", "$request.body.a.b", `{"a":{"b":"x"}}`, "x"},
		{"index", "$request.body.a[1]", `{"a":["x","y"]}`, "y"},
		{"missing", "$request.body.action", `{"other":"join"}`, ""},
		{"number", "$request.body.action", `{"action":12.50}`, "12.50"},
		{"bool", "$request.body.action", `{"action":true}`, "true"},
		{"object", "$request.body.action", `{"action":{"x":1}}`, ""},
		{"null", "$request.body.action", `{"action":null}`, ""},
		{"not json", "$request.body.action", `hello`, ""},
		{"trailing garbage", "$request.body.action", `{"action":"a"} {}`, ""},
		{"stray closing brace", "$request.body.action", `{"action":"x"}}`, ""},
		{"stray closing bracket", "$request.body[0]", `["x"]]`, ""},
		{"stray brace after spaces", "$request.body.action", "{\"action\":\"x\"}\n }", ""},
		{"trailing text", "$request.body.action", `{"action":"x"}x`, ""},
		{"white space around", "$request.body.action", " \t\r\n{\"action\":\"x\"} \t\r\n", "x"},
		{"only white space", "$request.body", " \n", ""},
		{"braces", "${request.body.action}", `{"action":"join"}`, "join"},
		{"concat", "${request.body.service}/${request.body.action}", `{"service":"chat","action":"join"}`, "chat/join"},
		{"literal", `\$default`, `{"action":"x"}`, "$default"},
		{"quoted name", "$request.body['my key']", `{"my key":"v"}`, "v"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := CompileSelection(tt.expr)
			if err != nil {
				t.Fatal(err)
			}
			doc, ok := DecodeBody([]byte(tt.body))
			if got := s.Eval(doc, ok); got != tt.want {
				t.Errorf("Eval = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestSelectionErrors(t *testing.T) {
	tests := []struct{ expr, want string }{
		{"", "empty"},
		{"$request.header.x", "not supported"},
		{"${request.header.x}", "not supported"},
		{"${request.body.a", "unclosed"},
		{"$request.bodyx", "does not continue"},
		{"$request.body.a[*]", "unsupported"},
		{"$context.routeKey", "not supported"},
	}
	for _, tt := range tests {
		_, err := CompileSelection(tt.expr)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("CompileSelection(%q) error = %v, want %q", tt.expr, err, tt.want)
		}
	}
}

// TestDecodeBody checks that a body is JSON only when it is one JSON value, with white
// space around it at most: what json.Valid says.
func TestDecodeBody(t *testing.T) {
	for _, body := range []string{
		`{"action":"x"}`, `{"action":"x"}}`, `{"action":"x"}]`, `{"action":"x"}{}`, `{"action":"x"},`,
		`[1]]`, `"s"}`, `1 2`, `1}`, `null]`, ` {} `, "{}\n", "", " ", "}", `{"a":1`, "\xff",
	} {
		doc, ok := DecodeBody([]byte(body))
		if want := json.Valid([]byte(body)); ok != want {
			t.Errorf("DecodeBody(%q) ok = %v, want %v", body, ok, want)
		}
		if !ok && doc != nil {
			t.Errorf("DecodeBody(%q) = %v with ok false, want nil", body, doc)
		}
	}
}

func FuzzSelection(f *testing.F) {
	for _, s := range []string{"$request.body.action", "${request.body.a}/${request.body.b}", `\$default`, "$request.body['x'][0]"} {
		f.Add(s, `{"action":"join","a":"x","b":[1,2]}`)
	}
	for _, body := range []string{`{"action":"x"}}`, `{"action":"x"}]`, `{"action":"x"} {}`, `{"action":"x"}x`, ` {"action":"x"} `, `["x"]]`, `hello`, ``, `{"action":1e400}`} {
		f.Add("$request.body.action", body)
	}
	f.Fuzz(func(t *testing.T, expr, body string) {
		doc, ok := DecodeBody([]byte(body))
		if want := json.Valid([]byte(body)); ok != want {
			t.Fatalf("DecodeBody(%q) ok = %v, json.Valid = %v", body, ok, want)
		}
		s, err := CompileSelection(expr)
		if err != nil {
			return
		}
		got := s.Eval(doc, ok)
		if !ok && s.UsesBody() && len(s.parts) == 1 && got != "" {
			t.Fatalf("Eval(%q) on a body that is not JSON = %q, want \"\"", expr, got)
		}
	})
}
