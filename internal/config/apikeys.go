package config

import "fmt"

// The API key selection expressions API Gateway accepts for a WebSocket API.
const (
	// APIKeyFromHeader reads the key from the handshake's x-api-key header (the default).
	APIKeyFromHeader = "$request.header.x-api-key"
	// APIKeyFromAuthorizer reads the key from the REQUEST authorizer's usageIdentifierKey.
	APIKeyFromAuthorizer = "$context.authorizer.usageIdentifierKey"
)

// APIKey is one API key a route with ApiKeyRequired accepts. Its secret comes from the
// environment or a file, never from the config itself; exactly one of ValueEnv and
// ValueFile is set.
type APIKey struct {
	// Name names the key in logs and metrics (AWS::ApiGateway::ApiKey Name). Required.
	Name string `yaml:"Name"`
	// ValueEnv names an environment variable holding the key's value.
	ValueEnv string `yaml:"ValueEnv"`
	// ValueFile is a file holding the key's value; one trailing newline is dropped.
	ValueFile string `yaml:"ValueFile"`
}

// APIKeySource is the API's ApiKeySelectionExpression with its default applied.
func (a API) APIKeySource() string {
	if a.APIKeySelectionExpression == "" {
		return APIKeyFromHeader
	}
	return a.APIKeySelectionExpression
}

// validateAPIKeys checks Api.ApiKeySelectionExpression, Routes.*.ApiKeyRequired and
// Server.ApiKeys.
func (c *Config) validateAPIKeys(errs *errorList) {
	switch src := c.API.APIKeySource(); src {
	case APIKeyFromHeader:
	case APIKeyFromAuthorizer:
		r, ok := c.Routes[RouteConnect]
		switch {
		case !ok || !r.APIKeyRequired:
		case r.AuthorizationType != "CUSTOM":
			errs.add("Api.ApiKeySelectionExpression", "%s needs a CUSTOM authorizer on $connect", src)
		case c.Authorizers[r.AuthorizerID].Cookie != nil:
			errs.add("Api.ApiKeySelectionExpression", "%s: the cookie authorizer names no usageIdentifierKey, so every $connect would be refused", src)
		}
	default:
		errs.add("Api.ApiKeySelectionExpression", "%q must be %s or %s", src, APIKeyFromHeader, APIKeyFromAuthorizer)
	}
	for _, key := range sortedKeys(c.Routes) {
		if c.Routes[key].APIKeyRequired && key != RouteConnect {
			errs.add("Routes."+key+".ApiKeyRequired", "API keys are checked on $connect only")
		}
	}
	if c.Routes[RouteConnect].APIKeyRequired && len(c.Server.APIKeys) == 0 {
		errs.add("Server.ApiKeys", "none, but Routes.$connect.ApiKeyRequired is true: every $connect would be refused")
	}
	names := make(map[string]bool, len(c.Server.APIKeys))
	for i, k := range c.Server.APIKeys {
		field := fmt.Sprintf("Server.ApiKeys[%d]", i)
		if k.Name == "" {
			errs.add(field+".Name", "is required")
		} else if names[k.Name] {
			errs.add(field+".Name", "%q is used twice", k.Name)
		}
		names[k.Name] = true
		if (k.ValueEnv == "") == (k.ValueFile == "") {
			errs.add(field, "exactly one of ValueEnv and ValueFile is required")
		}
	}
}
