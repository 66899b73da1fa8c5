package cookieauth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/go-cmp/cmp"
)

// testNow is the fixed clock of these tests.
var testNow = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)

const (
	testSecret = "0123456789abcdef0123456789abcdef-test-secret"
	testCSRF   = "c5rf-Token_abcdefghijklmnop"
	testOrigin = "https://ui.dev.example.com"
)

// keySourceFunc is a KeySource made of a function: the fake for tests of the decision.
type keySourceFunc func(ctx context.Context, alg, kid string) (any, error)

func (f keySourceFunc) Key(ctx context.Context, alg, kid string) (any, error) {
	return f(ctx, alg, kid)
}

func fixedKey(key any) KeySource {
	return keySourceFunc(func(context.Context, string, string) (any, error) { return key, nil })
}

// testKeys holds one key pair per algorithm family.
type testKeys struct {
	rsa     *rsa.PrivateKey
	ec      *ecdsa.PrivateKey
	ed      ed25519.PrivateKey
	rsaPEM  []byte // the RSA public key, PEM: what an attacker can read
	hmacKey []byte
}

var keys = func() testKeys {
	r, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	e, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	_, ed, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&r.PublicKey)
	if err != nil {
		panic(err)
	}
	return testKeys{rsa: r, ec: e, ed: ed, hmacKey: []byte(testSecret),
		rsaPEM: pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})}
}()

func baseConfig() Config {
	return Config{
		Algorithms:     []string{"HS256"},
		AllowedOrigins: []string{"https://*.dev.example.com", "https://app.example.org"},
		CSRFClaim:      "csrf",
		Issuer:         "https://login.dev.example.com",
		Audience:       "wsgate",
		ContextClaims:  []string{"role", "tenant", "admin", "groups"},
	}
}

func validClaims() jwt.MapClaims {
	return jwt.MapClaims{
		"sub":    "alice",
		"iss":    "https://login.dev.example.com",
		"aud":    "wsgate",
		"iat":    testNow.Add(-time.Minute).Unix(),
		"exp":    testNow.Add(15 * time.Minute).Unix(),
		"csrf":   testCSRF,
		"role":   "admin",
		"tenant": float64(42),
		"admin":  true,
		"groups": []any{"a", "b"}, // not a scalar: left out of the context
	}
}

func sign(tb testing.TB, method jwt.SigningMethod, key any, claims jwt.MapClaims, header map[string]any) string {
	tb.Helper()
	tok := jwt.NewWithClaims(method, claims)
	for k, v := range header {
		tok.Header[k] = v
	}
	s, err := tok.SignedString(key)
	if err != nil {
		tb.Fatalf("sign: %v", err)
	}
	return s
}

func hs256(tb testing.TB, mutate func(jwt.MapClaims)) string {
	tb.Helper()
	c := validClaims()
	if mutate != nil {
		mutate(c)
	}
	return sign(tb, jwt.SigningMethodHS256, keys.hmacKey, c, nil)
}

func request(cookie, origin, csrfQuery string) Request {
	r := Request{Headers: map[string][]string{}, Query: map[string][]string{}}
	if cookie != "" {
		r.Headers["Cookie"] = []string{cookie}
	}
	if origin != "" {
		r.Headers["Origin"] = []string{origin}
	}
	if csrfQuery != "" {
		r.Query["csrf"] = []string{csrfQuery}
	}
	return r
}

func cookies(jwtValue, csrf string) string {
	return "theme=dark; JWT=" + jwtValue + "; CSRF-TOKEN=" + csrf + "; _ga=GA1.2.3"
}

func newTestAuthorizer(tb testing.TB, cfg Config, ks KeySource, opts ...Option) *Authorizer {
	tb.Helper()
	a, err := New(cfg, ks, append([]Option{WithClock(func() time.Time { return testNow })}, opts...)...)
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	return a
}

// result is the part of a Decision the table compares.
type result struct {
	Outcome     Outcome
	Reason      string
	PrincipalID string
	Context     map[string]any
}

func TestDecide(t *testing.T) {
	valid := hs256(t, nil)
	otherSession := hs256(t, func(c jwt.MapClaims) { c["csrf"] = "another-session-csrf-token-xyz" })
	allowContext := map[string]any{"sub": "alice", "exp": float64(testNow.Add(15 * time.Minute).Unix()),
		"role": "admin", "tenant": float64(42), "admin": true}
	rsaCfg := baseConfig()
	rsaCfg.Algorithms = []string{"RS256"}
	unauth := func(reason string) result { return result{Outcome: Unauthorized, Reason: reason} }
	deny := func(reason string) result { return result{Outcome: Deny, Reason: reason, PrincipalID: "alice"} }

	tests := []struct {
		name string
		cfg  *Config
		keys KeySource
		req  Request
		want result
	}{
		{name: "valid", req: request(cookies(valid, testCSRF), testOrigin, testCSRF),
			want: result{Outcome: Allow, Reason: "allowed", PrincipalID: "alice", Context: allowContext}},
		{name: "valid from exact origin", req: request(cookies(valid, testCSRF), "https://app.example.org", testCSRF),
			want: result{Outcome: Allow, Reason: "allowed", PrincipalID: "alice", Context: allowContext}},
		{name: "no cookie header", req: request("", testOrigin, testCSRF), want: unauth("no JWT cookie")},
		{name: "no JWT cookie", req: request("CSRF-TOKEN="+testCSRF, testOrigin, testCSRF), want: unauth("no JWT cookie")},
		{name: "empty JWT cookie", req: request("JWT=; CSRF-TOKEN="+testCSRF, testOrigin, testCSRF), want: unauth("JWT cookie value malformed")},
		{name: "duplicated JWT cookie across two Cookie headers",
			req: Request{Headers: map[string][]string{"cookie": {"JWT=" + valid, "JWT=" + valid + "; CSRF-TOKEN=" + testCSRF}, "origin": {testOrigin}},
				Query: map[string][]string{"csrf": {testCSRF}}},
			want: result{Outcome: Allow, Reason: "allowed", PrincipalID: "alice", Context: allowContext}},
		{name: "duplicated CSRF cookie is not read with a binding claim", req: request(cookies(valid, testCSRF)+"; CSRF-TOKEN=evil", testOrigin, testCSRF),
			want: result{Outcome: Allow, Reason: "allowed", PrincipalID: "alice", Context: allowContext}},
		{name: "alg none", req: request(cookies(sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, validClaims(), nil), testCSRF), testOrigin, testCSRF),
			want: unauth("invalid token: algorithm not allowed")},
		{name: "HS256 signed with the RSA public key, RS256 allowed", cfg: &rsaCfg, keys: fixedKey(&keys.rsa.PublicKey),
			req:  request(cookies(sign(t, jwt.SigningMethodHS256, keys.rsaPEM, validClaims(), nil), testCSRF), testOrigin, testCSRF),
			want: unauth("invalid token: algorithm not allowed")},
		{name: "HS256 signed with the RSA public key, both allowed, dynamic key source",
			cfg:  func() *Config { c := baseConfig(); c.Algorithms = []string{"RS256", "HS256"}; return &c }(),
			keys: fixedKey(&keys.rsa.PublicKey),
			req:  request(cookies(sign(t, jwt.SigningMethodHS256, keys.rsaPEM, validClaims(), nil), testCSRF), testOrigin, testCSRF),
			want: unauth("invalid token: unverifiable (algorithm not allowed or no key)")},
		{name: "RS256 valid", cfg: &rsaCfg, keys: fixedKey(&keys.rsa.PublicKey),
			req:  request(cookies(sign(t, jwt.SigningMethodRS256, keys.rsa, validClaims(), nil), testCSRF), testOrigin, testCSRF),
			want: result{Outcome: Allow, Reason: "allowed", PrincipalID: "alice", Context: allowContext}},
		{name: "expired", req: request(cookies(hs256(t, func(c jwt.MapClaims) { c["exp"] = testNow.Add(-time.Second).Unix() }), testCSRF), testOrigin, testCSRF),
			want: unauth("invalid token: expired")},
		{name: "no exp", req: request(cookies(hs256(t, func(c jwt.MapClaims) { delete(c, "exp") }), testCSRF), testOrigin, testCSRF),
			want: unauth("invalid token: required claim missing")},
		{name: "not yet valid", req: request(cookies(hs256(t, func(c jwt.MapClaims) { c["nbf"] = testNow.Add(time.Minute).Unix() }), testCSRF), testOrigin, testCSRF),
			want: unauth("invalid token: not valid yet")},
		{name: "issued in the future", req: request(cookies(hs256(t, func(c jwt.MapClaims) { c["iat"] = testNow.Add(time.Hour).Unix() }), testCSRF), testOrigin, testCSRF),
			want: unauth("invalid token: used before issued")},
		{name: "wrong issuer", req: request(cookies(hs256(t, func(c jwt.MapClaims) { c["iss"] = "https://evil.example" }), testCSRF), testOrigin, testCSRF),
			want: unauth("invalid token: wrong issuer")},
		{name: "wrong audience", req: request(cookies(hs256(t, func(c jwt.MapClaims) { c["aud"] = []string{"other"} }), testCSRF), testOrigin, testCSRF),
			want: unauth("invalid token: wrong audience")},
		{name: "no sub", req: request(cookies(hs256(t, func(c jwt.MapClaims) { delete(c, "sub") }), testCSRF), testOrigin, testCSRF),
			want: unauth("token has no sub")},
		{name: "tampered signature", req: request(cookies(valid[:len(valid)-4]+"AAAA", testCSRF), testOrigin, testCSRF),
			want: unauth("invalid token: signature invalid")},
		{name: "tampered payload", req: request(cookies(tamperPayload(t, valid), testCSRF), testOrigin, testCSRF),
			want: unauth("invalid token: signature invalid")},
		{name: "signed with another secret", req: request(cookies(sign(t, jwt.SigningMethodHS256, []byte(strings.Repeat("x", 40)), validClaims(), nil), testCSRF), testOrigin, testCSRF),
			want: unauth("invalid token: signature invalid")},
		{name: "unknown kid", keys: keySourceFunc(func(_ context.Context, _, kid string) (any, error) {
			return nil, errors.Join(ErrKeyNotFound, errors.New("kid "+kid))
		}), req: request(cookies(valid, testCSRF), testOrigin, testCSRF),
			want: unauth("invalid token: unverifiable (algorithm not allowed or no key)")},
		{name: "key store down", keys: keySourceFunc(func(context.Context, string, string) (any, error) {
			return nil, errors.New("ssm: connection refused")
		}), req: request(cookies(valid, testCSRF), testOrigin, testCSRF),
			want: result{Outcome: Error, Reason: "verification key unavailable: ssm: connection refused"}},
		{name: "garbage token", req: request(cookies("not.a.jwt", testCSRF), testOrigin, testCSRF),
			want: unauth("invalid token: malformed")},
		{name: "16 KB cookie header", req: request(cookies(valid, testCSRF)+"; big="+strings.Repeat("a", 16<<10), testOrigin, testCSRF),
			want: unauth(fmt.Sprintf("cookie header too large (%d bytes, limit 8192)", len(cookies(valid, testCSRF))+len("; big=")+16<<10))},
		{name: "non UTF-8 bytes in the JWT cookie", req: request(cookies(valid+"\xff\xfe", testCSRF), testOrigin, testCSRF),
			want: unauth("JWT cookie value malformed")},
		{name: "non UTF-8 bytes in another cookie are ignored", req: request("x=\xff\xfe; "+cookies(valid, testCSRF), testOrigin, testCSRF),
			want: result{Outcome: Allow, Reason: "allowed", PrincipalID: "alice", Context: allowContext}},
		{name: "missing CSRF token", req: request(cookies(valid, testCSRF), testOrigin, ""),
			want: deny("no CSRF token presented (query parameter or subprotocol)")},
		{name: "no CSRF cookie: not needed with a binding claim", req: request("JWT="+valid, testOrigin, testCSRF),
			want: result{Outcome: Allow, Reason: "allowed", PrincipalID: "alice", Context: allowContext}},
		{name: "CSRF mismatch", req: request(cookies(valid, testCSRF), testOrigin, testCSRF+"x"),
			want: deny("CSRF token is not bound to this session")},
		// The attacker tosses their own CSRF cookie from a sibling subdomain and presents
		// its value: the binding claim refuses it.
		{name: "CSRF from another session (binding claim)", req: request(cookies(valid, "attacker-session-csrf-token"), testOrigin, "attacker-session-csrf-token"),
			want: deny("CSRF token is not bound to this session")},
		// ... and a tossed CSRF cookie does not stop the page that presents its own token.
		{name: "tossed CSRF cookie, own token presented", req: request(cookies(valid, "guess"), testOrigin, testCSRF),
			want: result{Outcome: Allow, Reason: "allowed", PrincipalID: "alice", Context: allowContext}},
		{name: "another session's consistent token and CSRF", req: request(cookies(otherSession, "another-session-csrf-token-xyz"), testOrigin, "another-session-csrf-token-xyz"),
			want: result{Outcome: Allow, Reason: "allowed", PrincipalID: "alice", Context: allowContext}},
		{name: "token without binding claim", req: request(cookies(hs256(t, func(c jwt.MapClaims) { delete(c, "csrf") }), testCSRF), testOrigin, testCSRF),
			want: deny("token has no CSRF binding claim")},
		{name: "one of two presented CSRF tokens wrong",
			req:  withSubprotocol(request(cookies(valid, testCSRF), testOrigin, testCSRF), "chat.v1, csrf.wrong"),
			want: deny("CSRF token is not bound to this session")},
		{name: "CSRF in subprotocol", req: withSubprotocol(request(cookies(valid, testCSRF), testOrigin, ""), "chat.v1, csrf."+testCSRF),
			want: result{Outcome: Allow, Reason: "allowed", PrincipalID: "alice", Context: allowContext}},
		{name: "evil Origin", req: request(cookies(valid, testCSRF), "https://evil.test", testCSRF), want: deny("Origin not allowed")},
		{name: "evil Origin with the allowed domain as prefix", req: request(cookies(valid, testCSRF), "https://ui.dev.example.com.evil.test", testCSRF), want: deny("Origin not allowed")},
		{name: "http Origin for an https pattern", req: request(cookies(valid, testCSRF), "http://ui.dev.example.com", testCSRF), want: deny("Origin not allowed")},
		{name: "null Origin", req: request(cookies(valid, testCSRF), "null", testCSRF), want: deny("Origin not allowed")},
		{name: "missing Origin", req: request(cookies(valid, testCSRF), "", testCSRF), want: deny("no Origin header")},
		{name: "missing Origin allowed", cfg: func() *Config { c := baseConfig(); c.AllowMissingOrigin = true; return &c }(),
			req:  request(cookies(valid, testCSRF), "", testCSRF),
			want: result{Outcome: Allow, Reason: "allowed", PrincipalID: "alice", Context: allowContext}},
		{name: "two Origin headers", req: Request{Headers: map[string][]string{"Cookie": {cookies(valid, testCSRF)}, "Origin": {testOrigin, "https://evil.test"}},
			Query: map[string][]string{"csrf": {testCSRF}}}, want: deny("Origin header present more than once")},
		{name: "oversized context", cfg: func() *Config {
			c := baseConfig()
			c.ContextClaims, c.MaxCookieBytes = []string{"blob"}, 16<<10
			return &c
		}(),
			req:  request(cookies(hs256(t, func(c jwt.MapClaims) { c["blob"] = strings.Repeat("b", 7800) }), testCSRF), testOrigin, testCSRF),
			want: result{Outcome: Error, Reason: "authorizer result of 8359 bytes exceeds 8192"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := baseConfig()
			if tt.cfg != nil {
				cfg = *tt.cfg
			}
			ks := tt.keys
			if ks == nil {
				ks = fixedKey(keys.hmacKey)
			}
			d := newTestAuthorizer(t, cfg, ks).Decide(context.Background(), tt.req)
			got := result{Outcome: d.Outcome, Reason: d.Reason, PrincipalID: d.PrincipalID, Context: d.Context}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("decision (-want +got):\n%s", diff)
			}
		})
	}
}

// TestDecideTossedJWTCookies is the rule for several JWT cookies (cookie tossing from a
// sibling host): with a binding claim the cookie that verifies and is bound to the
// presented token decides, so a tossed cookie can neither refuse the user nor swap
// the session; without one, more than one JWT cookie is refused.
func TestDecideTossedJWTCookies(t *testing.T) {
	const malloryCSRF = "mallory-session-csrf-token-0123"
	alice := hs256(t, nil)
	mallory := hs256(t, func(c jwt.MapClaims) { c["sub"], c["csrf"] = "mallory", malloryCSRF })
	expired := hs256(t, func(c jwt.MapClaims) { c["exp"] = testNow.Add(-time.Second).Unix() })
	foreign := sign(t, jwt.SigningMethodHS256, []byte(strings.Repeat("x", 40)), validClaims(), nil)
	jar := func(tokens ...string) string {
		var b strings.Builder
		for _, tok := range tokens {
			b.WriteString("JWT=" + tok + "; ")
		}
		return b.String() + "CSRF-TOKEN=guess"
	}
	unbound := baseConfig()
	unbound.CSRFClaim = ""
	allowAs := func(sub string) result { return result{Outcome: Allow, Reason: "allowed", PrincipalID: sub} }

	for _, tc := range []struct {
		name string
		cfg  *Config
		keys KeySource
		req  Request
		want result
	}{
		{name: "tossed session first, own token presented", req: request(jar(mallory, alice), testOrigin, testCSRF), want: allowAs("alice")},
		{name: "tossed session last, own token presented", req: request(jar(alice, mallory), testOrigin, testCSRF), want: allowAs("alice")},
		{name: "own token as a subprotocol", req: withSubprotocol(request(jar(mallory, alice), testOrigin, ""), "chat, csrf."+testCSRF),
			want: allowAs("alice")},
		// The attacker's session is used only with the attacker's token, which the
		// victim's page never presents.
		{name: "the tossed session's own token", req: request(jar(alice, mallory), testOrigin, malloryCSRF), want: allowAs("mallory")},
		{name: "only the tossed session: the page's token is not bound to it", req: request(jar(mallory), testOrigin, testCSRF),
			want: result{Outcome: Deny, Reason: "CSRF token is not bound to this session", PrincipalID: "mallory"}},
		{name: "two sessions, neither bound: the first is named", req: request(jar(mallory, alice), testOrigin, "guess"),
			want: result{Outcome: Deny, Reason: "CSRF token is not bound to this session", PrincipalID: "mallory"}},
		{name: "two sessions, no token presented", req: request(jar(mallory, alice), testOrigin, ""),
			want: result{Outcome: Deny, Reason: "no CSRF token presented (query parameter or subprotocol)", PrincipalID: "mallory"}},
		{name: "two sessions, cross-site Origin", req: request(jar(mallory, alice), "https://evil.test", testCSRF),
			want: result{Outcome: Deny, Reason: "Origin not allowed", PrincipalID: "alice"}},
		{name: "tossed garbage, expired and foreign tokens", req: request(jar("x;y", expired, foreign, alice), testOrigin, testCSRF), want: allowAs("alice")},
		{name: "tossed malformed value", req: request("JWT=\xff; "+jar(alice), testOrigin, testCSRF), want: allowAs("alice")},
		{name: "none verifies: the first refusal", req: request(jar(expired, foreign), testOrigin, testCSRF),
			want: result{Outcome: Unauthorized, Reason: "invalid token: expired"}},
		{name: "a tossed token whose key cannot be fetched", keys: keySourceFunc(func(_ context.Context, _, kid string) (any, error) {
			if kid == "attacker" {
				return nil, errors.New("jwks: fetch failed")
			}
			return keys.hmacKey, nil
		}), req: request(jar(sign(t, jwt.SigningMethodHS256, keys.hmacKey, validClaims(), map[string]any{"kid": "attacker"}), alice), testOrigin, testCSRF),
			want: allowAs("alice")},
		{name: "none verifies, one key unavailable: error", keys: keySourceFunc(func(context.Context, string, string) (any, error) {
			return nil, errors.New("jwks: fetch failed")
		}), req: request(jar(expired, alice), testOrigin, testCSRF),
			want: result{Outcome: Error, Reason: "verification key unavailable: jwks: fetch failed"}},
		{name: "four JWT cookies", req: request(jar(mallory, expired, foreign, alice), testOrigin, testCSRF), want: allowAs("alice")},
		{name: "five JWT cookies", req: request(jar(mallory, expired, foreign, mallory, alice), testOrigin, testCSRF),
			want: result{Outcome: Unauthorized, Reason: "JWT cookie present 5 times (limit 4)"}},
		{name: "without a binding claim two JWT cookies are refused", cfg: &unbound,
			req: request(jar(alice, alice), testOrigin, "guess"), want: result{Outcome: Unauthorized, Reason: "JWT cookie present 2 times"}},
		{name: "without the CSRF check two JWT cookies are refused",
			cfg: func() *Config { c := baseConfig(); c.DisableCSRF = true; return &c }(),
			req: request(jar(mallory, alice), testOrigin, testCSRF), want: result{Outcome: Unauthorized, Reason: "JWT cookie present 2 times"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := baseConfig()
			if tc.cfg != nil {
				cfg = *tc.cfg
			}
			ks := tc.keys
			if ks == nil {
				ks = fixedKey(keys.hmacKey)
			}
			d := newTestAuthorizer(t, cfg, ks).Decide(context.Background(), tc.req)
			got := result{Outcome: d.Outcome, Reason: d.Reason, PrincipalID: d.PrincipalID}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("decision (-want +got):\n%s", diff)
			}
		})
	}
}

// TestDecidePlainDoubleSubmit: without a binding claim the presented token must equal
// the one CSRF cookie.
func TestDecidePlainDoubleSubmit(t *testing.T) {
	cfg := baseConfig()
	cfg.CSRFClaim = ""
	a := newTestAuthorizer(t, cfg, fixedKey(keys.hmacKey))
	valid := hs256(t, nil)
	for _, tc := range []struct {
		name string
		req  Request
		want result
	}{
		{"cookie and token equal", request(cookies(valid, "plain-token"), testOrigin, "plain-token"), result{Outcome: Allow, Reason: "allowed", PrincipalID: "alice"}},
		{"missing CSRF cookie", request("JWT="+valid, testOrigin, testCSRF), result{Outcome: Deny, Reason: "no CSRF cookie", PrincipalID: "alice"}},
		{"CSRF mismatch", request(cookies(valid, testCSRF), testOrigin, testCSRF+"x"),
			result{Outcome: Deny, Reason: "CSRF token does not match the CSRF cookie", PrincipalID: "alice"}},
		{"duplicated CSRF cookie", request(cookies(valid, testCSRF)+"; CSRF-TOKEN=evil", testOrigin, testCSRF),
			result{Outcome: Unauthorized, Reason: "CSRF cookie present 2 times"}},
		{"oversized CSRF cookie", request(cookies(valid, strings.Repeat("a", MaxCSRFTokenBytes+1)), testOrigin, testCSRF),
			result{Outcome: Deny, Reason: "CSRF cookie value malformed", PrincipalID: "alice"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := a.Decide(context.Background(), tc.req)
			got := result{Outcome: d.Outcome, Reason: d.Reason, PrincipalID: d.PrincipalID}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("decision (-want +got):\n%s", diff)
			}
		})
	}
}

func withSubprotocol(r Request, v string) Request {
	r.Headers["Sec-WebSocket-Protocol"] = []string{v}
	return r
}

// tamperPayload swaps the token's payload for one naming another subject, keeping the
// original signature.
func tamperPayload(tb testing.TB, tok string) string {
	tb.Helper()
	parts := strings.Split(tok, ".")
	forged := strings.Split(hs256(tb, func(c jwt.MapClaims) { c["sub"] = "root" }), ".")
	return parts[0] + "." + forged[1] + "." + parts[2]
}

func TestDecideEveryAlgorithm(t *testing.T) {
	for _, tc := range []struct {
		alg    jwt.SigningMethod
		signer crypto.Signer
		verify any
	}{
		{jwt.SigningMethodRS256, keys.rsa, &keys.rsa.PublicKey},
		{jwt.SigningMethodPS256, keys.rsa, &keys.rsa.PublicKey},
		{jwt.SigningMethodES256, keys.ec, &keys.ec.PublicKey},
		{jwt.SigningMethodEdDSA, keys.ed, keys.ed.Public()},
	} {
		t.Run(tc.alg.Alg(), func(t *testing.T) {
			cfg := baseConfig()
			cfg.Algorithms = []string{tc.alg.Alg()}
			a := newTestAuthorizer(t, cfg, fixedKey(tc.verify))
			tok := sign(t, tc.alg, tc.signer, validClaims(), map[string]any{"kid": "k1"})
			if d := a.Decide(context.Background(), request(cookies(tok, testCSRF), testOrigin, testCSRF)); d.Outcome != Allow {
				t.Fatalf("%s: got %v (%s), want allow", tc.alg.Alg(), d.Outcome, d.Reason)
			}
			// The same token is refused when its algorithm is not on the allowlist.
			cfg.Algorithms = []string{"HS256"}
			a = newTestAuthorizer(t, cfg, fixedKey(tc.verify))
			if d := a.Decide(context.Background(), request(cookies(tok, testCSRF), testOrigin, testCSRF)); d.Outcome != Unauthorized {
				t.Fatalf("%s not allowlisted: got %v (%s), want unauthorized", tc.alg.Alg(), d.Outcome, d.Reason)
			}
		})
	}
}

func TestDecideKeyOfWrongTypeNeverVerifies(t *testing.T) {
	// A key source that hands an ECDSA key to an RS256 token must not get it verified,
	// whatever golang-jwt would do with it.
	cfg := baseConfig()
	cfg.Algorithms = []string{"RS256"}
	a := newTestAuthorizer(t, cfg, fixedKey(&keys.ec.PublicKey))
	tok := sign(t, jwt.SigningMethodRS256, keys.rsa, validClaims(), nil)
	d := a.Decide(context.Background(), request(cookies(tok, testCSRF), testOrigin, testCSRF))
	if d.Outcome != Unauthorized {
		t.Fatalf("got %v (%s), want unauthorized", d.Outcome, d.Reason)
	}
}

func TestDecideLeeway(t *testing.T) {
	cfg := baseConfig()
	cfg.Leeway = 30 * time.Second
	a := newTestAuthorizer(t, cfg, fixedKey(keys.hmacKey))
	for _, tc := range []struct {
		name    string
		expired time.Duration
		want    Outcome
	}{
		{"within leeway", 20 * time.Second, Allow},
		{"beyond leeway", 40 * time.Second, Unauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok := hs256(t, func(c jwt.MapClaims) { c["exp"] = testNow.Add(-tc.expired).Unix() })
			if d := a.Decide(context.Background(), request(cookies(tok, testCSRF), testOrigin, testCSRF)); d.Outcome != tc.want {
				t.Fatalf("got %v (%s), want %v", d.Outcome, d.Reason, tc.want)
			}
		})
	}
}

func TestDecideCSRFDisabledAndCustomNames(t *testing.T) {
	cfg := baseConfig()
	cfg.JWTCookie, cfg.CSRFCookie, cfg.CSRFQueryParam, cfg.CSRFClaim = "session", "xsrf", "x", ""
	a := newTestAuthorizer(t, cfg, fixedKey(keys.hmacKey))
	tok := hs256(t, nil)
	r := Request{Headers: map[string][]string{"Cookie": {"session=" + tok + "; xsrf=abc"}, "Origin": {testOrigin}},
		Query: map[string][]string{"x": {"abc"}}}
	if d := a.Decide(context.Background(), r); d.Outcome != Allow {
		t.Fatalf("custom names: got %v (%s), want allow", d.Outcome, d.Reason)
	}
	cfg.DisableCSRF = true
	a = newTestAuthorizer(t, cfg, fixedKey(keys.hmacKey))
	r.Query = nil
	if d := a.Decide(context.Background(), r); d.Outcome != Allow {
		t.Fatalf("CSRF disabled: got %v (%s), want allow", d.Outcome, d.Reason)
	}
}

func TestDecisionReasonNeverHoldsSecrets(t *testing.T) {
	tok := hs256(t, nil)
	a := newTestAuthorizer(t, baseConfig(), fixedKey(keys.hmacKey))
	for _, r := range []Request{
		request(cookies(tok, testCSRF), testOrigin, testCSRF),
		request(cookies(tok, testCSRF), "https://evil.test", testCSRF),
		request(cookies(tok, testCSRF), testOrigin, "wrong-csrf"),
		request(cookies(tok[:len(tok)-3]+"abc", testCSRF), testOrigin, testCSRF),
	} {
		d := a.Decide(context.Background(), r)
		for _, secret := range []string{tok, strings.Split(tok, ".")[2], testCSRF, "wrong-csrf", testSecret} {
			if strings.Contains(d.Reason, secret) {
				t.Errorf("reason %q contains a secret", d.Reason)
			}
		}
	}
}

func TestNewRefusesAlgorithmKeyMismatch(t *testing.T) {
	ks := hmacFamily{fixedKey(keys.hmacKey)}
	cfg := baseConfig()
	cfg.Algorithms = []string{"HS256", "RS256"}
	if _, err := New(cfg, ks); err == nil || !strings.Contains(err.Error(), "RS256 cannot be verified with the configured HMAC secret") {
		t.Fatalf("New: got %v, want the mismatch refused", err)
	}
}

// hmacFamily marks a source as a static HMAC secret, as the package's own static sources do.
type hmacFamily struct{ KeySource }

func (hmacFamily) family() keyFamily { return familyHMAC }

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Config)
		want   string // substring of the error; "" for valid
	}{
		{"valid", func(*Config) {}, ""},
		{"no algorithms", func(c *Config) { c.Algorithms = nil }, "Algorithms: required"},
		{"alg none", func(c *Config) { c.Algorithms = []string{"none"} }, `Algorithms: "none" is not a supported algorithm`},
		{"same cookie names", func(c *Config) { c.CSRFCookie = "JWT" }, "CSRFCookie: must differ from JWTCookie"},
		{"bad cookie name", func(c *Config) { c.JWTCookie = "a b" }, `JWTCookie: "a b" is not a valid cookie name`},
		{"leeway too big", func(c *Config) { c.Leeway = time.Hour }, "Leeway: 1h0m0s is outside 0..5m0s"},
		{"origin with path", func(c *Config) { c.AllowedOrigins = []string{"https://a.example.com/x"} }, "must be scheme://host[:port] only"},
		{"origin bare wildcard", func(c *Config) { c.AllowedOrigins = []string{"https://*.com"} }, "at least two labels"},
		{"origin inner wildcard", func(c *Config) { c.AllowedOrigins = []string{"https://a.*.example.com"} }, `"*" is allowed only as the whole first label`},
		{"origin bad scheme", func(c *Config) { c.AllowedOrigins = []string{"ftp://a.example.com"} }, "scheme must be https or http"},
		{"context claim principalId", func(c *Config) { c.ContextClaims = []string{"principalId"} }, "ContextClaims"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := baseConfig()
			tt.mutate(&c)
			err := c.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate: got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestOriginAllowed(t *testing.T) {
	var patterns []originPattern
	for _, s := range []string{"https://*.dev.example.com", "https://app.example.org", "http://localhost:8080"} {
		p, err := parseOriginPattern(s)
		if err != nil {
			t.Fatal(err)
		}
		patterns = append(patterns, p)
	}
	for origin, want := range map[string]bool{
		"https://ui.dev.example.com":          true,
		"https://a.b.dev.example.com":         true,
		"https://UI.DEV.EXAMPLE.COM":          true,
		"https://app.example.org":             true,
		"http://localhost:8080":               true,
		"https://dev.example.com":             false, // the wildcard needs a label
		"https://evildev.example.com":         false,
		"https://ui.dev.example.com.evil.com": false,
		"https://ui.dev.example.com:8443":     false,
		"http://ui.dev.example.com":           false,
		"https://app.example.org/":            false,
		"https://user@app.example.org":        false,
		"https://app.example.org.":            false,
		"http://localhost":                    false,
		"null":                                false,
		"":                                    false,
		"https://a_b.dev.example.com":         false,
		"https://%2e.dev.example.com":         false,
	} {
		if got := originAllowed(patterns, origin); got != want {
			t.Errorf("originAllowed(%q) = %v, want %v", origin, got, want)
		}
	}
}

func TestScanCookies(t *testing.T) {
	type pair struct{ Name, Value string }
	for _, tc := range []struct {
		name  string
		lines []string
		want  []pair
	}{
		{"simple", []string{"a=1; b=2"}, []pair{{"a", "1"}, {"b", "2"}}},
		{"no spaces", []string{"a=1;b=2"}, []pair{{"a", "1"}, {"b", "2"}}},
		{"quoted", []string{`a="1"`}, []pair{{"a", "1"}}},
		{"value with =", []string{"a=x=y"}, []pair{{"a", "x=y"}}},
		{"pair without =", []string{"flag; a=1"}, []pair{{"a", "1"}}},
		{"empty parts", []string{";; a=1 ;"}, []pair{{"a", "1"}}},
		{"two lines", []string{"a=1", "b=2"}, []pair{{"a", "1"}, {"b", "2"}}},
		{"empty", []string{""}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []pair
			scanCookies(tc.lines, func(n, v string) bool { got = append(got, pair{n, v}); return true })
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("pairs (-want +got):\n%s", diff)
			}
		})
	}
}
