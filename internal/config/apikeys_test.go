package config

import (
	"strings"
	"testing"
)

// TestAPIKeyValidation: each API key setting that cannot work is refused, naming its
// field; a $connect requiring a key from the header or from a CUSTOM authorizer passes.
func TestAPIKeyValidation(t *testing.T) {
	const keys = "\nServer:\n  ApiKeys: [{Name: partner, ValueEnv: PARTNER_KEY}]\n"
	for _, tc := range []struct {
		name      string
		api, rest string // the Api line and what follows the routes
		want      string // "" for valid
	}{
		{"header key on $connect", "Api: {ApiKeySelectionExpression: $request.header.x-api-key}", keys, ""},
		{"default selection", "Api: {}", keys, ""},
		{"authorizer key", "Api: {ApiKeySelectionExpression: $context.authorizer.usageIdentifierKey}", keys, ""},
		{"other selection", "Api: {ApiKeySelectionExpression: $request.querystring.key}", keys, `Api.ApiKeySelectionExpression: "$request.querystring.key" must be`},
		{"authorizer key without authorizer", "Api: {ApiKeySelectionExpression: $context.authorizer.usageIdentifierKey}", keys, "needs a CUSTOM authorizer on $connect"},
		{"authorizer key from the cookie authorizer", "Api: {ApiKeySelectionExpression: $context.authorizer.usageIdentifierKey}", keys, "the cookie authorizer names no usageIdentifierKey"},
		{"required off $connect", "Api: {}", "  $default: {ApiKeyRequired: true}" + keys, "Routes.$default.ApiKeyRequired: API keys are checked on $connect only"},
		{"required without keys", "Api: {}", "\n", "Server.ApiKeys: none, but Routes.$connect.ApiKeyRequired is true"},
		{"no name", "Api: {}", "\nServer:\n  ApiKeys: [{ValueEnv: K}]\n", "Server.ApiKeys[0].Name: is required"},
		{"name twice", "Api: {}", "\nServer:\n  ApiKeys: [{Name: a, ValueEnv: K}, {Name: a, ValueFile: /k}]\n", `Server.ApiKeys[1].Name: "a" is used twice`},
		{"no value source", "Api: {}", "\nServer:\n  ApiKeys: [{Name: a}]\n", "Server.ApiKeys[0]: exactly one of ValueEnv and ValueFile is required"},
		{"both value sources", "Api: {}", "\nServer:\n  ApiKeys: [{Name: a, ValueEnv: K, ValueFile: /k}]\n", "Server.ApiKeys[0]: exactly one of ValueEnv and ValueFile is required"},
		{"a literal value is not a field", "Api: {}", "\nServer:\n  ApiKeys: [{Name: a, Value: secret}]\n", "field Value not found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			connect := "  $connect: {ApiKeyRequired: true}\n"
			switch tc.name {
			case "authorizer key":
				connect = "  $connect: {ApiKeyRequired: true, AuthorizationType: CUSTOM, AuthorizerId: a}\n" +
					"Authorizers:\n  a: {AuthorizerUri: \"http://127.0.0.1:9/auth\"}\n"
			case "authorizer key from the cookie authorizer":
				connect = "  $connect: {ApiKeyRequired: true, AuthorizationType: CUSTOM, AuthorizerId: a}\n" +
					"Authorizers:\n  a: {Cookie: {Algorithms: [HS256], AllowedOrigins: [\"https://a.example\"], Key: {HmacSecretEnv: S}}}\n"
			}
			rest := tc.rest
			routes := "Routes:\n" + connect
			if strings.HasPrefix(rest, "  $default") {
				routes += rest[:strings.Index(rest, "\n")+1]
				rest = rest[strings.Index(rest, "\n"):]
			}
			_, err := Parse([]byte(tc.api + "\n" + routes + rest))
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("Parse: %v, want no error", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("Parse: %v, want an error holding %q", err, tc.want)
			}
		})
	}
}
