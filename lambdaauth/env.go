package lambdaauth

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/wsgate/wsgate/cookieauth"
)

// The environment variables [NewFromEnv] reads. An empty value is the same as an unset
// one. Exactly one of the four key sources must be set.
const (
	// EnvJWTCookie names the JWT cookie (cookieauth.Config.JWTCookie). Default "JWT".
	EnvJWTCookie = "WSGATE_JWT_COOKIE"
	// EnvCSRFCookie names the CSRF cookie. Default "CSRF-TOKEN".
	EnvCSRFCookie = "WSGATE_CSRF_COOKIE"
	// EnvCSRFQueryParam names the query parameter presenting the CSRF token. Default "csrf".
	EnvCSRFQueryParam = "WSGATE_CSRF_QUERY_PARAM"
	// EnvCSRFClaim names the JWT claim bound to the CSRF token. Default: none.
	EnvCSRFClaim = "WSGATE_CSRF_CLAIM"
	// EnvJWTAlgorithms is the comma-separated algorithm allowlist, e.g. "HS256". Required.
	EnvJWTAlgorithms = "WSGATE_JWT_ALGORITHMS"
	// EnvJWTHMACSecret is the HMAC secret itself (key source).
	EnvJWTHMACSecret = "WSGATE_JWT_HMAC_SECRET"
	// EnvJWTHMACSecretSSMParameter names an SSM parameter (SecureString) holding the HMAC
	// secret (key source). It is read at cold start and cached.
	EnvJWTHMACSecretSSMParameter = "WSGATE_JWT_HMAC_SECRET_SSM_PARAMETER"
	// EnvJWTPublicKeyPEM is a PEM public key or certificate (key source). Literal "\n"
	// sequences are read as newlines when the value has no newline.
	EnvJWTPublicKeyPEM = "WSGATE_JWT_PUBLIC_KEY_PEM"
	// EnvJWKSURL is the https URL of a JWKS (key source).
	EnvJWKSURL = "WSGATE_JWKS_URL"
	// EnvJWTIssuer, when set, must equal the token's iss.
	EnvJWTIssuer = "WSGATE_JWT_ISSUER"
	// EnvJWTAudience, when set, must be one of the token's aud.
	EnvJWTAudience = "WSGATE_JWT_AUDIENCE"
	// EnvJWTLeeway is the clock skew tolerated, a Go duration ("30s"). Default 0.
	EnvJWTLeeway = "WSGATE_JWT_LEEWAY"
	// EnvAllowedOrigins is the comma-separated Origin allowlist. Required unless
	// EnvAllowMissingOrigin is true.
	EnvAllowedOrigins = "WSGATE_ALLOWED_ORIGINS"
	// EnvAllowMissingOrigin admits requests without Origin: true or false. Default false.
	EnvAllowMissingOrigin = "WSGATE_ALLOW_MISSING_ORIGIN"
	// EnvContextClaims is the comma-separated list of claims copied into the context.
	EnvContextClaims = "WSGATE_CONTEXT_CLAIMS"
)

// settings is what the environment configures.
type settings struct {
	auth cookieauth.Config
	// keys is the selected key source (it may hold a secret: never print it) and
	// keyVar the variable that set it.
	keys   cookieauth.KeySpec
	keyVar string
}

// configVars maps cookieauth.Config fields to the variables that set them, so that a
// validation error names the variable.
var configVars = map[string]string{
	"JWTCookie":      EnvJWTCookie,
	"CSRFCookie":     EnvCSRFCookie,
	"Algorithms":     EnvJWTAlgorithms,
	"Leeway":         EnvJWTLeeway,
	"AllowedOrigins": EnvAllowedOrigins,
	"ContextClaims":  EnvContextClaims,
}

// parseEnv reads the configuration. Its error is one line naming the variable and the
// reason, never a secret's value.
func parseEnv(getenv func(string) string) (settings, error) {
	get := func(name string) string { return strings.TrimSpace(getenv(name)) }
	var s settings
	c := &s.auth
	c.JWTCookie = get(EnvJWTCookie)
	c.CSRFCookie = get(EnvCSRFCookie)
	c.CSRFQueryParam = get(EnvCSRFQueryParam)
	c.CSRFClaim = get(EnvCSRFClaim)
	c.Issuer = get(EnvJWTIssuer)
	c.Audience = get(EnvJWTAudience)
	c.Algorithms = list(get(EnvJWTAlgorithms))
	c.AllowedOrigins = list(get(EnvAllowedOrigins))
	c.ContextClaims = list(get(EnvContextClaims))

	if len(c.Algorithms) == 0 {
		return settings{}, fmt.Errorf("%s: required: the comma-separated JWT algorithms to accept (e.g. HS256 or RS256,ES256)", EnvJWTAlgorithms)
	}
	if v := get(EnvJWTLeeway); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			return settings{}, fmt.Errorf("%s: %q is not a Go duration (e.g. 30s)", EnvJWTLeeway, v)
		}
		c.Leeway = d
	}
	if v := get(EnvAllowMissingOrigin); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return settings{}, fmt.Errorf("%s: %q is not true or false", EnvAllowMissingOrigin, v)
		}
		c.AllowMissingOrigin = b
	}
	if len(c.AllowedOrigins) == 0 && !c.AllowMissingOrigin {
		return settings{}, fmt.Errorf("%s: required unless %s=true: without it every connection is denied", EnvAllowedOrigins, EnvAllowMissingOrigin)
	}
	if err := c.Validate(); err != nil {
		return settings{}, configError(err)
	}

	var set []string
	for _, k := range []struct {
		name string
		set  func(k *cookieauth.KeySpec, v string)
	}{
		{EnvJWTHMACSecret, func(k *cookieauth.KeySpec, v string) { k.HMACSecret = []byte(v) }},
		{EnvJWTHMACSecretSSMParameter, func(k *cookieauth.KeySpec, v string) { k.HMACSecretParameter = v }},
		{EnvJWTPublicKeyPEM, func(k *cookieauth.KeySpec, v string) {
			if !strings.Contains(v, "\n") {
				v = strings.ReplaceAll(v, `\n`, "\n")
			}
			k.PublicKeyPEM = []byte(v)
		}},
		{EnvJWKSURL, func(k *cookieauth.KeySpec, v string) { k.JWKSURL = v }},
	} {
		v := getenv(k.name) // a secret is taken as is: its spaces are part of it
		if k.name != EnvJWTHMACSecret {
			v = strings.TrimSpace(v)
		}
		if v == "" {
			continue
		}
		set = append(set, k.name)
		k.set(&s.keys, v)
		s.keyVar = k.name
	}
	switch len(set) {
	case 0:
		return settings{}, fmt.Errorf("no key source: set exactly one of %s, %s, %s, %s",
			EnvJWTHMACSecret, EnvJWTHMACSecretSSMParameter, EnvJWTPublicKeyPEM, EnvJWKSURL)
	case 1:
	default:
		return settings{}, fmt.Errorf("%s: set exactly one key source, not %d", strings.Join(set, " and "), len(set))
	}
	return s, nil
}

// list splits a comma-separated value, trimming spaces and dropping empty entries.
func list(v string) []string {
	var out []string
	for _, e := range strings.Split(v, ",") {
		if e = strings.TrimSpace(e); e != "" {
			out = append(out, e)
		}
	}
	return out
}

// configError rewrites the first line of a cookieauth configuration error ("Field:
// reason") to name the environment variable instead of the field.
func configError(err error) error {
	line, _, _ := strings.Cut(err.Error(), "\n")
	if field, reason, ok := strings.Cut(line, ": "); ok {
		if name, ok := configVars[field]; ok {
			for f, v := range configVars {
				reason = strings.ReplaceAll(reason, f, v)
			}
			return fmt.Errorf("%s: %s", name, reason)
		}
	}
	return errors.New(line)
}
