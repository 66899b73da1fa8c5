package config

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestTemplateAPIKeys: serve --template reads the Api's ApiKeySelectionExpression and
// the $connect route's ApiKeyRequired (a boolean, or the string a parameter gives), and
// the keys come from the overrides' Server.ApiKeys; a non-boolean is refused, named.
func TestTemplateAPIKeys(t *testing.T) {
	tmpl := strings.Replace(baseTemplate, "RouteSelectionExpression: $request.body.action}",
		"RouteSelectionExpression: $request.body.action, ApiKeySelectionExpression: $request.header.x-api-key}", 1)
	tmpl = strings.Replace(tmpl, "RouteKey: $connect, AuthorizationType: CUSTOM,", "RouteKey: $connect, ApiKeyRequired: true, AuthorizationType: CUSTOM,", 1)
	if tmpl == baseTemplate || !strings.Contains(tmpl, "ApiKeyRequired") {
		t.Fatal("the edits did not apply to baseTemplate")
	}
	over := baseOverrides + "Server:\n  ApiKeys: [{Name: partner, ValueEnv: PARTNER_KEY}]\n"
	c, err := ParseTemplate([]byte(tmpl), []byte(over))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]any{
		"selection": c.API.APIKeySelectionExpression,
		"connect":   c.Routes[RouteConnect].APIKeyRequired,
		"send":      c.Routes["send"].APIKeyRequired,
		"keys":      c.Server.APIKeys,
	}
	want := map[string]any{
		"selection": APIKeyFromHeader,
		"connect":   true,
		"send":      false,
		"keys":      []APIKey{{Name: "partner", ValueEnv: "PARTNER_KEY"}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}

	for _, v := range []string{`"true"`, `"false"`} {
		s := strings.Replace(tmpl, "ApiKeyRequired: true", "ApiKeyRequired: "+v, 1)
		c, err := ParseTemplate([]byte(s), []byte(over))
		if err != nil {
			t.Fatalf("ApiKeyRequired %s: %v", v, err)
		}
		if got := c.Routes[RouteConnect].APIKeyRequired; got != (v == `"true"`) {
			t.Errorf("ApiKeyRequired %s read as %v", v, got)
		}
	}
	bad := strings.Replace(tmpl, "ApiKeyRequired: true", "ApiKeyRequired: yes-please", 1)
	if _, err := ParseTemplate([]byte(bad), []byte(over)); err == nil || !strings.Contains(err.Error(), "ApiKeyRequired") {
		t.Errorf("ApiKeyRequired yes-please: error %v, want one naming ApiKeyRequired", err)
	}
}
