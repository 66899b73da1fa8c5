package config

import (
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

func TestModelCompileSchema(t *testing.T) {
	tests := []struct {
		name    string
		schema  string
		body    string
		wantErr string // compile error; "" compiles
		valid   bool
	}{
		{"draft 4 exclusiveMaximum is a boolean", `{"type":"number","maximum":10,"exclusiveMaximum":true}`, `10`, "", false},
		{"draft 4 below the bound", `{"type":"number","maximum":10,"exclusiveMaximum":true}`, `9`, "", true},
		{"internal ref", `{"definitions":{"id":{"type":"string"}},"properties":{"id":{"$ref":"#/definitions/id"}}}`, `{"id":1}`, "", false},
		{"file ref is not loaded", `{"$ref":"file:///etc/hostname"}`, ``, "not a valid draft 4 schema", false},
		{"http ref is not loaded", `{"$ref":"http://127.0.0.1:1/s.json"}`, ``, "not a valid draft 4 schema", false},
		{"empty", ` `, ``, "a schema is required", false},
		{"too large", `{"description":"` + strings.Repeat("x", MaxModelSchemaBytes) + `"}`, ``, "bytes, at most", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Model{Schema: tt.schema}.CompileSchema()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			doc, err := jsonschema.UnmarshalJSON(strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			if got := s.Validate(doc) == nil; got != tt.valid {
				t.Errorf("valid %v, want %v", got, tt.valid)
			}
		})
	}
}

// FuzzModelSchema compiles arbitrary schemas and validates arbitrary bodies with them:
// neither may panic or load anything.
func FuzzModelSchema(f *testing.F) {
	f.Add(`{"type":"object","required":["action","text"],"properties":{"text":{"type":"string","maxLength":20}}}`, `{"action":"echo","text":"hi"}`)
	f.Add(`{"definitions":{"n":{"anyOf":[{"type":"null"},{"$ref":"#/definitions/n"}]}},"$ref":"#/definitions/n"}`, `null`)
	f.Add(`{"type":"array","uniqueItems":true,"items":{"pattern":"^[a-z]+$"}}`, `["a","b","a"]`)
	f.Add(`{"$ref":"http://127.0.0.1:1/x"}`, `1`)
	f.Add(`{"format":"email"}`, `"a@b"`)
	f.Fuzz(func(t *testing.T, schema, body string) {
		s, err := Model{Schema: schema}.CompileSchema()
		if err != nil {
			return
		}
		doc, err := jsonschema.UnmarshalJSON(strings.NewReader(body))
		if err != nil {
			return
		}
		_ = s.Validate(doc)
	})
}
