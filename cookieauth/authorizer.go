package cookieauth

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Authorizer decides handshakes. It is safe for concurrent use.
type Authorizer struct {
	cfg     Config
	keys    KeySource
	origins []originPattern
	now     func() time.Time
	parser  *jwt.Parser
	claims  *claimSet
}

// Option adjusts an Authorizer.
type Option func(*Authorizer)

// WithClock sets the clock used for exp, nbf and iat; tests use it. Default time.Now.
func WithClock(now func() time.Time) Option { return func(a *Authorizer) { a.now = now } }

// New returns an Authorizer for cfg that verifies tokens with keys. It refuses a static
// key source whose key type cannot verify every algorithm in cfg.Algorithms (an HMAC
// secret with RS256, an RSA key with HS256: the classic confusion).
func New(cfg Config, keys KeySource, opts ...Option) (*Authorizer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if keys == nil {
		return nil, errors.New("keys: a key source is required")
	}
	if f, ok := keys.(interface{ family() keyFamily }); ok {
		for _, alg := range cfg.Algorithms {
			if knownAlgorithms[alg] != f.family() {
				return nil, fmt.Errorf("%s: %s cannot be verified with the configured %v", "Algorithms", alg, f.family())
			}
		}
	}
	a := &Authorizer{cfg: cfg.withDefaults(), keys: keys, now: time.Now}
	for _, o := range a.cfg.AllowedOrigins {
		p, _ := parseOriginPattern(o) // validated above
		a.origins = append(a.origins, p)
	}
	for _, opt := range opts {
		opt(a)
	}
	popts := []jwt.ParserOption{
		jwt.WithValidMethods(a.cfg.Algorithms),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(a.cfg.Leeway),
		jwt.WithTimeFunc(a.now),
	}
	if a.cfg.Issuer != "" {
		popts = append(popts, jwt.WithIssuer(a.cfg.Issuer))
	}
	if a.cfg.Audience != "" {
		popts = append(popts, jwt.WithAudience(a.cfg.Audience))
	}
	a.parser = jwt.NewParser(popts...)
	read := slices.Clone(cfg.ContextClaims)
	if a.bound() {
		read = append(read, cfg.CSRFClaim)
	}
	a.claims = newClaimSet(read...)
	return a, nil
}

// inputs are the parts of a request the decision reads.
type inputs struct {
	jwt         []string // every cookie named JWTCookie, in order
	csrfCookie  []string // every cookie named CSRFCookie; read only for unbound double submit
	origins     []string
	presented   []string // CSRF tokens from the query and the subprotocol list
	subprotocol string   // the subprotocol entry that carried a CSRF token
	cookieBytes int
}

// bound reports whether the CSRF token is checked against the JWT's binding claim
// (signed double submit): then the CSRF cookie is never read.
func (a *Authorizer) bound() bool { return !a.cfg.DisableCSRF && a.cfg.CSRFClaim != "" }

func (a *Authorizer) extract(r Request) inputs {
	var in inputs
	var cookies []string
	for name, vals := range r.Headers {
		switch {
		case strings.EqualFold(name, "Cookie"):
			cookies = append(cookies, vals...)
		case strings.EqualFold(name, "Origin"):
			in.origins = append(in.origins, vals...)
		case strings.EqualFold(name, "Sec-WebSocket-Protocol"):
			for _, v := range vals {
				for _, p := range strings.Split(v, ",") {
					p = strings.Trim(p, " \t")
					if tok, ok := strings.CutPrefix(p, a.cfg.CSRFSubprotocolPrefix); ok {
						in.presented = append(in.presented, tok)
						in.subprotocol = p
					}
				}
			}
		}
	}
	for _, c := range cookies {
		in.cookieBytes += len(c)
	}
	readCSRFCookie := !a.cfg.DisableCSRF && !a.bound()
	if in.cookieBytes <= a.cfg.MaxCookieBytes {
		scanCookies(cookies, func(name, value string) bool {
			switch {
			case name == a.cfg.JWTCookie:
				in.jwt = append(in.jwt, value)
			case name == a.cfg.CSRFCookie && readCSRFCookie:
				in.csrfCookie = append(in.csrfCookie, value)
			}
			return true
		})
	}
	in.presented = append(in.presented, r.Query[a.cfg.CSRFQueryParam]...)
	return in
}

// CSRFQueryParam returns the query parameter that presents the CSRF token, or "" when
// the CSRF check is off.
func (a *Authorizer) CSRFQueryParam() string {
	if a.cfg.DisableCSRF {
		return ""
	}
	return a.cfg.CSRFQueryParam
}

// CSRFInSubprotocol reports whether r presents a CSRF token as a Sec-WebSocket-Protocol
// entry (the other transport besides [Authorizer.CSRFQueryParam]).
func (a *Authorizer) CSRFInSubprotocol(r Request) bool {
	return !a.cfg.DisableCSRF && a.extract(r).subprotocol != ""
}

// Decide decides one handshake. It never panics on any input and never allows without a
// valid token.
func (a *Authorizer) Decide(ctx context.Context, r Request) Decision {
	return a.decide(ctx, a.extract(r))
}

func unauthorized(reason string) Decision { return Decision{Outcome: Unauthorized, Reason: reason} }

// session is one JWT cookie that verified.
type session struct {
	claims *claims
	sub    string
	exp    time.Time
}

func (a *Authorizer) decide(ctx context.Context, in inputs) Decision {
	// 1. The cookies. Several JWT cookies are what cookie tossing from a sibling host
	// looks like: only a binding claim can tell which one is this page's session.
	switch {
	case in.cookieBytes > a.cfg.MaxCookieBytes:
		return unauthorized(fmt.Sprintf("cookie header too large (%d bytes, limit %d)", in.cookieBytes, a.cfg.MaxCookieBytes))
	case len(in.jwt) == 0:
		return unauthorized("no JWT cookie")
	case len(in.jwt) > 1 && !a.bound():
		return unauthorized(fmt.Sprintf("JWT cookie present %d times", len(in.jwt)))
	case len(in.jwt) > MaxJWTCookies:
		return unauthorized(fmt.Sprintf("JWT cookie present %d times (limit %d)", len(in.jwt), MaxJWTCookies))
	case len(in.csrfCookie) > 1:
		return unauthorized(fmt.Sprintf("CSRF cookie present %d times", len(in.csrfCookie)))
	}

	// 2. The token: every JWT cookie is verified; the one whose binding claim equals the
	// presented CSRF token is the session (the first that verified when none is).
	s, d := a.session(ctx, in)
	if s == nil {
		return d
	}
	d = Decision{PrincipalID: s.sub, ExpiresAt: s.exp}

	// 3. The Origin.
	switch {
	case len(in.origins) > 1:
		return d.deny("Origin header present more than once")
	case len(in.origins) == 0 && !a.cfg.AllowMissingOrigin:
		return d.deny("no Origin header")
	case len(in.origins) == 1 && !originAllowed(a.origins, in.origins[0]):
		return d.deny("Origin not allowed")
	}

	// 4. CSRF: the presented token against the binding claim (signed double submit) or,
	// without one, against the CSRF cookie (plain double submit).
	if !a.cfg.DisableCSRF {
		if reason := a.checkCSRF(in, s.claims); reason != "" {
			return d.deny(reason)
		}
		d.Subprotocol = in.subprotocol
	}

	// 5. The result.
	d.Context = map[string]any{"sub": s.sub, "exp": float64(s.exp.Unix())}
	for _, name := range a.cfg.ContextClaims {
		switch v, _ := s.claims.value(name); v := v.(type) {
		case string, bool, float64:
			d.Context[name] = v
		}
	}
	if n := resultSize(d); n > MaxResultBytes {
		return Decision{Outcome: Error, Reason: fmt.Sprintf("authorizer result of %d bytes exceeds %d", n, MaxResultBytes)}
	}
	d.Outcome, d.Reason = Allow, "allowed"
	return d
}

// session verifies every JWT cookie of in and returns the one that verifies and is bound
// to the presented CSRF token, else the first that verifies; with none, nil and the
// decision to return: Error if any verification could not be made (a key store down),
// else the first refusal. A tossed cookie therefore never refuses a request that
// also carries the session its token is bound to.
func (a *Authorizer) session(ctx context.Context, in inputs) (*session, Decision) {
	var first *session
	var refusal, failure Decision
	for _, raw := range in.jwt {
		var d Decision
		var s *session
		if !isCookieValue(raw) {
			d = unauthorized("JWT cookie value malformed")
		} else if claims, vd := a.verify(ctx, raw); claims == nil {
			d = vd
		} else if sub := claims.str("sub"); sub == "" {
			d = unauthorized("token has no sub")
		} else {
			exp, _ := claims.GetExpirationTime() // required and checked by the parser
			s = &session{claims: claims, sub: sub, exp: exp.Time}
		}
		if s == nil {
			if d.Outcome == Error && failure.Reason == "" {
				failure = d
			}
			if refusal.Reason == "" {
				refusal = d
			}
			continue
		}
		if !a.bound() || a.boundTo(s.claims, in.presented) == "" {
			return s, Decision{}
		}
		if first == nil {
			first = s
		}
	}
	switch {
	case first != nil:
		return first, Decision{}
	case failure.Reason != "":
		return nil, failure
	}
	return nil, refusal
}

func (d Decision) deny(reason string) Decision {
	d.Outcome, d.Reason = Deny, reason
	return d
}

// verify checks the token. It returns the claims, or nil and the decision to return.
func (a *Authorizer) verify(ctx context.Context, raw string) (*claims, Decision) {
	var keyErr error
	claims := a.claims.new()
	tok, err := a.parser.ParseWithClaims(raw, claims, func(t *jwt.Token) (any, error) {
		alg := t.Method.Alg()
		kid := ""
		if v, ok := t.Header["kid"]; ok {
			s, isString := v.(string)
			if !isString {
				return nil, errors.New("kid is not a string")
			}
			kid = s
		}
		key, err := a.keys.Key(ctx, alg, kid)
		if err != nil {
			keyErr = err
			return nil, err
		}
		if err := checkKeyForAlg(alg, key); err != nil {
			return nil, err
		}
		return key, nil
	})
	if err == nil {
		return claims, Decision{}
	}
	if keyErr != nil && !errors.Is(keyErr, ErrKeyNotFound) {
		return nil, Decision{Outcome: Error, Reason: "verification key unavailable: " + keyErr.Error()}
	}
	if tok != nil && errors.Is(err, jwt.ErrTokenSignatureInvalid) && !slices.Contains(a.cfg.Algorithms, fmt.Sprint(tok.Header["alg"])) {
		return nil, unauthorized("invalid token: algorithm not allowed")
	}
	return nil, unauthorized("invalid token: " + tokenErrorReason(err))
}

// tokenErrorReason names why a token was refused, without echoing any of it.
func tokenErrorReason(err error) string {
	for _, c := range []struct {
		err    error
		reason string
	}{
		{jwt.ErrTokenMalformed, "malformed"},
		{jwt.ErrTokenUnverifiable, "unverifiable (algorithm not allowed or no key)"},
		{jwt.ErrTokenSignatureInvalid, "signature invalid"},
		{jwt.ErrTokenRequiredClaimMissing, "required claim missing"},
		{jwt.ErrTokenExpired, "expired"},
		{jwt.ErrTokenNotValidYet, "not valid yet"},
		{jwt.ErrTokenUsedBeforeIssued, "used before issued"},
		{jwt.ErrTokenInvalidIssuer, "wrong issuer"},
		{jwt.ErrTokenInvalidAudience, "wrong audience"},
		{jwt.ErrTokenInvalidClaims, "invalid claims"},
	} {
		if errors.Is(err, c.err) {
			return c.reason
		}
	}
	return "rejected"
}

// checkCSRF returns why the CSRF check fails, or "" when it passes.
func (a *Authorizer) checkCSRF(in inputs, claims *claims) string {
	if a.bound() {
		return a.boundTo(claims, in.presented)
	}
	if len(in.csrfCookie) == 0 {
		return "no CSRF cookie"
	}
	cookie := in.csrfCookie[0]
	if !isCookieValue(cookie) || len(cookie) > MaxCSRFTokenBytes {
		return "CSRF cookie value malformed"
	}
	if len(in.presented) == 0 {
		return "no CSRF token presented (query parameter or subprotocol)"
	}
	for _, p := range in.presented {
		if subtle.ConstantTimeCompare([]byte(p), []byte(cookie)) != 1 {
			return "CSRF token does not match the CSRF cookie"
		}
	}
	return ""
}

// boundTo returns why the presented CSRF tokens are not all the binding claim of claims
// (compared in constant time), or "" when they are. The CSRF cookie plays no part: a
// cookie planted by a sibling host can neither pass nor fail this check.
func (a *Authorizer) boundTo(claims *claims, presented []string) string {
	if len(presented) == 0 {
		return "no CSRF token presented (query parameter or subprotocol)"
	}
	bound := claims.str(a.cfg.CSRFClaim)
	if bound == "" {
		return "token has no CSRF binding claim"
	}
	for _, p := range presented {
		if subtle.ConstantTimeCompare([]byte(p), []byte(bound)) != 1 {
			return "CSRF token is not bound to this session"
		}
	}
	return ""
}

// resultSize is the size of the authorizer response API Gateway would see: principal,
// context, and a policy on the method ARN (execute-api ARNs of $connect stay well under
// the 512 bytes counted for the policy). The context is marshalled only when a cheap
// upper bound of its size (every byte escaped as \u00XX) does not already fit: the
// marshal was an eighth of a decision's CPU, for a limit almost no session nears.
func resultSize(d Decision) int {
	const policyOverhead = 512
	if n := len(d.PrincipalID) + contextSizeBound(d.Context) + policyOverhead; n <= MaxResultBytes {
		return n
	}
	b, err := json.Marshal(d.Context)
	if err != nil {
		return MaxResultBytes + 1
	}
	return len(d.PrincipalID) + len(b) + policyOverhead
}

// contextSizeBound is at least the length of ctx marshalled as JSON, for the values a
// decision's context holds (strings, float64, bools); any other value makes it exceed
// MaxResultBytes, so that the caller marshals.
func contextSizeBound(ctx map[string]any) int {
	n := 2 // {}
	for k, v := range ctx {
		n += 6*len(k) + 2 + 2 // "key": and a comma
		switch v := v.(type) {
		case string:
			n += 6*len(v) + 2
		case float64:
			n += 24 // the longest float64 encoding/json writes, e.g. -1.2345678901234567e-308
		case bool:
			n += 5
		default:
			return MaxResultBytes + 1
		}
	}
	return n
}
