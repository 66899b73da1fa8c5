package integration

import (
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

func FuzzSelection(f *testing.F) {
	for _, s := range []string{"$request.body.action", "${request.body.a}/${request.body.b}", `\$default`, "$request.body['x'][0]"} {
		f.Add(s, `{"action":"join","a":"x","b":[1,2]}`)
	}
	f.Fuzz(func(t *testing.T, expr, body string) {
		s, err := CompileSelection(expr)
		if err != nil {
			return
		}
		doc, ok := DecodeBody([]byte(body))
		_ = s.Eval(doc, ok)
	})
}
