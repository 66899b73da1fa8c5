package cookieauth

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Limits that bound what a configuration may ask for.
const (
	// MaxLeeway bounds Config.Leeway: clock skew beyond it is a broken clock, not skew.
	MaxLeeway = 5 * time.Minute
	// DefaultMaxCookieBytes is the default bound on the Cookie header(s), all values
	// together. Browsers send at most ~4 KB per cookie; API Gateway caps all headers at
	// 10 KB.
	DefaultMaxCookieBytes = 8192
	// MaxResultBytes is API Gateway's limit on an authorizer's result.
	MaxResultBytes = 8192
	// MaxCSRFTokenBytes bounds the CSRF cookie's length.
	MaxCSRFTokenBytes = 512
	// MaxJWTCookies bounds how many cookies named Config.JWTCookie a request may carry
	// when a binding claim is set (without one, exactly one). A browser sends several
	// when a sibling host tossed its own JWT cookie next to the user's (another Domain
	// or Path); each is verified, so the bound also bounds the work of one request.
	MaxJWTCookies = 4
)

// Config says what an Authorizer checks. The zero value of every field but Algorithms is
// usable and documented; call [Config.Validate] (New does) before use.
type Config struct {
	// JWTCookie is the name of the cookie holding the JWT. Default "JWT".
	JWTCookie string
	// CSRFCookie is the name of the double-submit cookie. Default "CSRF-TOKEN". It is
	// read only when CSRFClaim is empty (plain double submit); with a binding claim
	// the presented token is checked against the claim and the cookie is ignored, so
	// that a cookie planted by a sibling host cannot refuse anyone.
	CSRFCookie string
	// CSRFQueryParam is the query parameter that presents the CSRF token. Default "csrf".
	CSRFQueryParam string
	// CSRFSubprotocolPrefix, when the CSRF token is presented as a Sec-WebSocket-Protocol
	// entry, is the entry's prefix (the token follows it). Default "csrf.".
	CSRFSubprotocolPrefix string
	// CSRFClaim names a JWT claim that must equal the presented CSRF token (signed double
	// submit); the page gets the token from its own origin (the login response, a
	// same-origin session endpoint), not from a cookie. With it, several JWT cookies (at
	// most MaxJWTCookies) are accepted and the one bound to the presented token decides.
	// Empty: plain double submit (the token must equal the CSRF cookie, and exactly one
	// JWT cookie is accepted), which a sibling host that can set cookies can defeat.
	CSRFClaim string
	// DisableCSRF turns the CSRF check off, for clients that are not browsers. Default
	// false: the CSRF token is required.
	DisableCSRF bool

	// Algorithms is the JWT algorithm allowlist (e.g. "HS256", "RS256", "ES256",
	// "EdDSA"). Required; "none" is never accepted.
	Algorithms []string
	// Issuer, when set, must equal the token's iss.
	Issuer string
	// Audience, when set, must be one of the token's aud values.
	Audience string
	// Leeway is the clock skew tolerated on exp, nbf and iat. Default 0, at most
	// MaxLeeway.
	Leeway time.Duration

	// AllowedOrigins lists the origins a browser may connect from: exact origins
	// ("https://ui.dev.example.com") and patterns whose host starts with "*."
	// ("https://*.dev.example.com", one or more labels). Empty: every Origin is refused.
	AllowedOrigins []string
	// AllowMissingOrigin admits requests without an Origin header (non-browser clients).
	// Default false. The "null" origin is never admitted.
	AllowMissingOrigin bool

	// ContextClaims lists the claims copied into the decision's context besides sub and
	// exp. Claims that are not strings, numbers or booleans are left out.
	ContextClaims []string

	// MaxCookieBytes bounds the Cookie header(s). Default DefaultMaxCookieBytes.
	MaxCookieBytes int
}

// withDefaults returns c with its zero fields set to their defaults.
func (c Config) withDefaults() Config {
	if c.JWTCookie == "" {
		c.JWTCookie = "JWT"
	}
	if c.CSRFCookie == "" {
		c.CSRFCookie = "CSRF-TOKEN"
	}
	if c.CSRFQueryParam == "" {
		c.CSRFQueryParam = "csrf"
	}
	if c.CSRFSubprotocolPrefix == "" {
		c.CSRFSubprotocolPrefix = "csrf."
	}
	if c.MaxCookieBytes == 0 {
		c.MaxCookieBytes = DefaultMaxCookieBytes
	}
	return c
}

// knownAlgorithms are the algorithms golang-jwt/jwt/v5 verifies, by key family.
var knownAlgorithms = map[string]keyFamily{
	"HS256": familyHMAC, "HS384": familyHMAC, "HS512": familyHMAC,
	"RS256": familyRSA, "RS384": familyRSA, "RS512": familyRSA,
	"PS256": familyRSA, "PS384": familyRSA, "PS512": familyRSA,
	"ES256": familyEC, "ES384": familyEC, "ES512": familyEC,
	"EdDSA": familyEd25519,
}

// Validate reports the first problem with the configuration, naming the field.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
	}
	if len(c.Algorithms) == 0 {
		bad("Algorithms", "required: list the JWT algorithms to accept (e.g. HS256, RS256, ES256, EdDSA)")
	}
	for _, a := range c.Algorithms {
		if _, ok := knownAlgorithms[a]; !ok {
			bad("Algorithms", "%q is not a supported algorithm (none is never accepted)", a)
		}
	}
	for field, name := range map[string]string{"JWTCookie": c.JWTCookie, "CSRFCookie": c.CSRFCookie} {
		if !isToken(name) {
			bad(field, "%q is not a valid cookie name", name)
		}
	}
	if c.JWTCookie == c.CSRFCookie {
		bad("CSRFCookie", "must differ from JWTCookie")
	}
	if c.Leeway < 0 || c.Leeway > MaxLeeway {
		bad("Leeway", "%v is outside 0..%v", c.Leeway, MaxLeeway)
	}
	if c.MaxCookieBytes < 0 {
		bad("MaxCookieBytes", "must not be negative")
	}
	if !isToken(c.CSRFSubprotocolPrefix) {
		bad("CSRFSubprotocolPrefix", "%q is not a valid subprotocol token", c.CSRFSubprotocolPrefix)
	}
	for _, o := range c.AllowedOrigins {
		if _, err := parseOriginPattern(o); err != nil {
			bad("AllowedOrigins", "%q: %v", o, err)
		}
	}
	for _, cl := range c.ContextClaims {
		if cl == "" || cl == "principalId" {
			bad("ContextClaims", "%q cannot be a context key", cl)
		}
	}
	return errors.Join(errs...)
}

// originPattern is one parsed AllowedOrigins entry.
type originPattern struct {
	scheme string
	// host is the exact host (with port), or the suffix after "*." for wildcards.
	host     string
	wildcard bool
}

func parseOriginPattern(s string) (originPattern, error) {
	u, err := url.Parse(s)
	if err != nil {
		return originPattern{}, fmt.Errorf("not a URL: %w", err)
	}
	if u.Scheme != "https" && u.Scheme != "http" {
		return originPattern{}, errors.New("scheme must be https or http")
	}
	if u.Host == "" || u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return originPattern{}, errors.New("must be scheme://host[:port] only")
	}
	p := originPattern{scheme: u.Scheme, host: strings.ToLower(u.Host)}
	if rest, ok := strings.CutPrefix(p.host, "*."); ok {
		if rest == "" || strings.Contains(rest, "*") || !strings.Contains(rest, ".") {
			return originPattern{}, errors.New(`a wildcard must be "*." followed by a domain with at least two labels`)
		}
		p.host, p.wildcard = rest, true
	} else if strings.Contains(p.host, "*") {
		return originPattern{}, errors.New(`"*" is allowed only as the whole first label`)
	}
	return p, nil
}
