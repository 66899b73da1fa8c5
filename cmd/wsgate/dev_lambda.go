package main

import (
	"path/filepath"
	"time"

	"github.com/wsgate/wsgate/examples/chat"
	"github.com/wsgate/wsgate/internal/config"
	"github.com/wsgate/wsgate/lambdaauth"
)

// devAuthorizerFunction is the name of the local function --authorizer-bootstrap runs.
const devAuthorizerFunction = "wsgate-authorizer"

// useLambdaAuthorizer makes $connect's authorizer the Lambda authorizer that
// `make authorizer` builds (dir/bootstrap), run locally as a provided.al2023 function
// configured as the built-in cookie authorizer of dev is: the same cookies, CSRF claim,
// origin and key (dev's fresh HMAC key, passed in the function's environment, in memory
// only).
func useLambdaAuthorizer(cfg *config.Config, dir, hmacKey, uiOrigin string) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	a := cfg.Authorizers["cookie"]
	c := a.Cookie
	a.Cookie = nil
	a.AuthorizerResultTTLInSeconds = 0      // the built-in cache's identity-source rule is the built-in's
	a.AuthorizerURI = devAuthorizerFunction // a function name: the local one
	cfg.Authorizers["cookie"] = a
	if cfg.Functions == nil {
		cfg.Functions = map[string]config.Function{}
	}
	cfg.Functions[devAuthorizerFunction] = config.Function{
		Runtime: "provided.al2023",
		CodeDir: abs,
		// authorizer.yaml's defaults (dev validates its config without SetDefaults).
		Timeout: config.Duration(5 * time.Second), MemorySize: 128, MaxConcurrency: 10,
		Environment: map[string]string{
			lambdaauth.EnvJWTCookie:      chat.JWTCookie,
			lambdaauth.EnvCSRFCookie:     chat.CSRFCookie,
			lambdaauth.EnvCSRFQueryParam: c.CSRFQueryParam,
			lambdaauth.EnvCSRFClaim:      chat.CSRFClaim,
			lambdaauth.EnvJWTAlgorithms:  "HS256",
			lambdaauth.EnvJWTHMACSecret:  hmacKey,
			lambdaauth.EnvAllowedOrigins: uiOrigin,
			"WSGATE_CONTEXT_CLAIMS":      "name",
		},
	}
	return nil
}
