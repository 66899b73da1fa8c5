package gateway

import (
	"testing"

	"github.com/wsgate/wsgate/internal/integration"
)

func TestModelSelection(t *testing.T) {
	sel, err := integration.CompileSelection("$request.body.kind")
	if err != nil {
		t.Fatal(err)
	}
	withDefault := &Models{Selection: sel, Schemas: map[string]Model{"a": {Name: "modelA"}, "$default": {Name: "fallback"}}}
	without := &Models{Selection: sel, Schemas: map[string]Model{"a": {Name: "modelA"}}}
	tests := []struct {
		name   string
		m      *Models
		body   string
		want   string
		wantOK bool
	}{
		{"the key's model", withDefault, `{"kind":"a"}`, "modelA", true},
		{"no model for the key: $default's", withDefault, `{"kind":"b"}`, "fallback", true},
		{"no key: $default's", withDefault, `{}`, "fallback", true},
		{"not JSON: $default's", withDefault, `a`, "fallback", true},
		{"no model and no $default: fails", without, `{"kind":"b"}`, "", false},
		{"the key's model without $default", without, `{"kind":"a"}`, "modelA", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, isJSON := integration.DecodeBody([]byte(tt.body))
			got, ok := tt.m.model(doc, isJSON)
			if got.Name != tt.want || ok != tt.wantOK {
				t.Errorf("model %q %v, want %q %v", got.Name, ok, tt.want, tt.wantOK)
			}
		})
	}
}
