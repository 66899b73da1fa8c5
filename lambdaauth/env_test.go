package lambdaauth

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/wsgate/wsgate/cookieauth"
)

// envSecret is an HMAC secret used only by the environment tests.
const envSecret = "env-test-secret-0123456789abcdef0123456789"

// envOf is a getenv over a map.
func envOf(m map[string]string) func(string) string {
	return func(name string) string { return m[name] }
}

// minimalEnv is the smallest valid environment, changed by each case.
func minimalEnv(changes map[string]string) map[string]string {
	m := map[string]string{
		EnvJWTAlgorithms:  "HS256",
		EnvAllowedOrigins: "https://ui.dev.example.com",
		EnvJWTHMACSecret:  envSecret,
	}
	for k, v := range changes {
		if v == "<unset>" {
			delete(m, k)
			continue
		}
		m[k] = v
	}
	return m
}

func TestParseEnv(t *testing.T) {
	base := func(change func(c *cookieauth.Config)) cookieauth.Config {
		c := cookieauth.Config{Algorithms: []string{"HS256"}, AllowedOrigins: []string{"https://ui.dev.example.com"}}
		if change != nil {
			change(&c)
		}
		return c
	}
	hmac := func(c cookieauth.Config) settings {
		return settings{auth: c, keys: cookieauth.KeySpec{HMACSecret: []byte(envSecret)}, keyVar: EnvJWTHMACSecret}
	}
	const pem = "-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----"
	for _, tc := range []struct {
		name    string
		env     map[string]string
		want    settings
		wantErr string
	}{
		{name: "minimal", env: minimalEnv(nil), want: hmac(base(nil))},
		{
			name: "every variable",
			env: minimalEnv(map[string]string{
				EnvJWTCookie:          "session",
				EnvCSRFCookie:         "XSRF",
				EnvCSRFQueryParam:     "xsrf",
				EnvCSRFClaim:          "csrf",
				EnvJWTAlgorithms:      " HS256 , HS512,",
				EnvJWTIssuer:          "https://login.example.com",
				EnvJWTAudience:        "wsgate",
				EnvJWTLeeway:          "30s",
				EnvAllowedOrigins:     "https://ui.dev.example.com, https://*.dev.example.com",
				EnvAllowMissingOrigin: "true",
				EnvContextClaims:      "tenant,role",
			}),
			want: hmac(cookieauth.Config{
				JWTCookie: "session", CSRFCookie: "XSRF", CSRFQueryParam: "xsrf", CSRFClaim: "csrf",
				Algorithms: []string{"HS256", "HS512"}, Issuer: "https://login.example.com", Audience: "wsgate",
				Leeway:         30 * time.Second,
				AllowedOrigins: []string{"https://ui.dev.example.com", "https://*.dev.example.com"}, AllowMissingOrigin: true,
				ContextClaims: []string{"tenant", "role"},
			}),
		},
		{name: "empty strings are unset", env: minimalEnv(map[string]string{EnvJWTCookie: "", EnvJWTLeeway: "", EnvAllowMissingOrigin: "", EnvJWKSURL: "", EnvContextClaims: " "}), want: hmac(base(nil))},
		{name: "missing Origin allowed without an allowlist", env: minimalEnv(map[string]string{EnvAllowedOrigins: "<unset>", EnvAllowMissingOrigin: "true"}),
			want: hmac(base(func(c *cookieauth.Config) { c.AllowedOrigins, c.AllowMissingOrigin = nil, true }))},
		{name: "allow missing origin false", env: minimalEnv(map[string]string{EnvAllowMissingOrigin: "false"}), want: hmac(base(nil))},
		{name: "HMAC secret kept as is", env: minimalEnv(map[string]string{EnvJWTHMACSecret: " " + envSecret + " "}),
			want: settings{auth: base(nil), keys: cookieauth.KeySpec{HMACSecret: []byte(" " + envSecret + " ")}, keyVar: EnvJWTHMACSecret}},
		{name: "SSM parameter", env: minimalEnv(map[string]string{EnvJWTHMACSecret: "<unset>", EnvJWTHMACSecretSSMParameter: " /wsgate/jwt-secret "}),
			want: settings{auth: base(nil), keys: cookieauth.KeySpec{HMACSecretParameter: "/wsgate/jwt-secret"}, keyVar: EnvJWTHMACSecretSSMParameter}},
		{name: "PEM with newlines", env: minimalEnv(map[string]string{EnvJWTHMACSecret: "<unset>", EnvJWTAlgorithms: "ES256", EnvJWTPublicKeyPEM: pem}),
			want: settings{auth: base(func(c *cookieauth.Config) { c.Algorithms = []string{"ES256"} }), keys: cookieauth.KeySpec{PublicKeyPEM: []byte(pem)}, keyVar: EnvJWTPublicKeyPEM}},
		{name: `PEM with literal \n`, env: minimalEnv(map[string]string{EnvJWTHMACSecret: "<unset>", EnvJWTAlgorithms: "ES256", EnvJWTPublicKeyPEM: strings.ReplaceAll(pem, "\n", `\n`)}),
			want: settings{auth: base(func(c *cookieauth.Config) { c.Algorithms = []string{"ES256"} }), keys: cookieauth.KeySpec{PublicKeyPEM: []byte(pem)}, keyVar: EnvJWTPublicKeyPEM}},
		{name: "JWKS URL", env: minimalEnv(map[string]string{EnvJWTHMACSecret: "<unset>", EnvJWTAlgorithms: "RS256", EnvJWKSURL: "https://login.example.com/.well-known/jwks.json"}),
			want: settings{auth: base(func(c *cookieauth.Config) { c.Algorithms = []string{"RS256"} }), keys: cookieauth.KeySpec{JWKSURL: "https://login.example.com/.well-known/jwks.json"}, keyVar: EnvJWKSURL}},

		{name: "no algorithms", env: minimalEnv(map[string]string{EnvJWTAlgorithms: "<unset>"}),
			wantErr: "WSGATE_JWT_ALGORITHMS: required: the comma-separated JWT algorithms to accept (e.g. HS256 or RS256,ES256)"},
		{name: "only commas", env: minimalEnv(map[string]string{EnvJWTAlgorithms: " , "}),
			wantErr: "WSGATE_JWT_ALGORITHMS: required: the comma-separated JWT algorithms to accept (e.g. HS256 or RS256,ES256)"},
		{name: "unknown algorithm", env: minimalEnv(map[string]string{EnvJWTAlgorithms: "HS256,none"}),
			wantErr: `WSGATE_JWT_ALGORITHMS: "none" is not a supported algorithm (none is never accepted)`},
		{name: "leeway not a duration", env: minimalEnv(map[string]string{EnvJWTLeeway: "30"}),
			wantErr: `WSGATE_JWT_LEEWAY: "30" is not a Go duration (e.g. 30s)`},
		{name: "leeway too large", env: minimalEnv(map[string]string{EnvJWTLeeway: "1h"}),
			wantErr: "WSGATE_JWT_LEEWAY: 1h0m0s is outside 0..5m0s"},
		{name: "leeway negative", env: minimalEnv(map[string]string{EnvJWTLeeway: "-1s"}),
			wantErr: "WSGATE_JWT_LEEWAY: -1s is outside 0..5m0s"},
		{name: "allow missing origin not a bool", env: minimalEnv(map[string]string{EnvAllowMissingOrigin: "yes"}),
			wantErr: `WSGATE_ALLOW_MISSING_ORIGIN: "yes" is not true or false`},
		{name: "no origins", env: minimalEnv(map[string]string{EnvAllowedOrigins: "<unset>"}),
			wantErr: "WSGATE_ALLOWED_ORIGINS: required unless WSGATE_ALLOW_MISSING_ORIGIN=true: without it every connection is denied"},
		{name: "bad origin", env: minimalEnv(map[string]string{EnvAllowedOrigins: "ui.dev.example.com"}),
			wantErr: `WSGATE_ALLOWED_ORIGINS: "ui.dev.example.com": scheme must be https or http`},
		{name: "bad JWT cookie name", env: minimalEnv(map[string]string{EnvJWTCookie: "a;b"}),
			wantErr: `WSGATE_JWT_COOKIE: "a;b" is not a valid cookie name`},
		{name: "bad CSRF cookie name", env: minimalEnv(map[string]string{EnvCSRFCookie: "a b"}),
			wantErr: `WSGATE_CSRF_COOKIE: "a b" is not a valid cookie name`},
		{name: "same cookie names", env: minimalEnv(map[string]string{EnvJWTCookie: "S", EnvCSRFCookie: "S"}),
			wantErr: "WSGATE_CSRF_COOKIE: must differ from WSGATE_JWT_COOKIE"},
		{name: "bad context claim", env: minimalEnv(map[string]string{EnvContextClaims: "tenant,principalId"}),
			wantErr: `WSGATE_CONTEXT_CLAIMS: "principalId" cannot be a context key`},
		{name: "zero key sources", env: minimalEnv(map[string]string{EnvJWTHMACSecret: "<unset>"}),
			wantErr: "no key source: set exactly one of WSGATE_JWT_HMAC_SECRET, WSGATE_JWT_HMAC_SECRET_SSM_PARAMETER, WSGATE_JWT_PUBLIC_KEY_PEM, WSGATE_JWKS_URL"},
		{name: "empty secret is no key source", env: minimalEnv(map[string]string{EnvJWTHMACSecret: ""}),
			wantErr: "no key source: set exactly one of WSGATE_JWT_HMAC_SECRET, WSGATE_JWT_HMAC_SECRET_SSM_PARAMETER, WSGATE_JWT_PUBLIC_KEY_PEM, WSGATE_JWKS_URL"},
		{name: "two key sources", env: minimalEnv(map[string]string{EnvJWTHMACSecretSSMParameter: "/wsgate/jwt"}),
			wantErr: "WSGATE_JWT_HMAC_SECRET and WSGATE_JWT_HMAC_SECRET_SSM_PARAMETER: set exactly one key source, not 2"},
		{name: "four key sources", env: minimalEnv(map[string]string{EnvJWTHMACSecretSSMParameter: "/p", EnvJWTPublicKeyPEM: pem, EnvJWKSURL: "https://x.example.com/jwks"}),
			wantErr: "WSGATE_JWT_HMAC_SECRET and WSGATE_JWT_HMAC_SECRET_SSM_PARAMETER and WSGATE_JWT_PUBLIC_KEY_PEM and WSGATE_JWKS_URL: set exactly one key source, not 4"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseEnv(envOf(tc.env))
			gotErr := ""
			if err != nil {
				gotErr = err.Error()
			}
			if diff := cmp.Diff(tc.wantErr, gotErr); diff != "" {
				t.Fatalf("error (-want +got):\n%s", diff)
			}
			if strings.Contains(gotErr, "\n") {
				t.Errorf("error spans lines: %q", gotErr)
			}
			if strings.Contains(gotErr, envSecret) {
				t.Errorf("error holds the secret")
			}
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(settings{})); diff != "" {
				t.Errorf("settings (-want +got):\n%s", diff)
			}
		})
	}
}
