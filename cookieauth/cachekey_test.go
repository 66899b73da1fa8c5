package cookieauth

import (
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

func TestCacheKeyDistinguishesInputs(t *testing.T) {
	base := inputs{jwt: []string{"a"}, csrfCookie: []string{"b"}, origins: []string{"c"}, presented: []string{"d"}}
	for name, other := range map[string]inputs{
		"value moved between fields": {jwt: []string{"a"}, csrfCookie: []string{}, origins: []string{"b", "c"}, presented: []string{"d"}},
		"concatenation":              {jwt: []string{"a"}, csrfCookie: []string{"b"}, origins: []string{"cd"}, presented: []string{}},
		"subprotocol":                {jwt: []string{"a"}, csrfCookie: []string{"b"}, origins: []string{"c"}, presented: []string{"d"}, subprotocol: "csrf.d"},
	} {
		if base.cacheKey() == other.cacheKey() {
			t.Errorf("%s: same cache key for different inputs", name)
		}
	}
}

// TestCacheKeyOfRequests: the key differs when any cookie the decision reads differs
// (another user's JWT, a tossed second one) and ignores what it does not read (with a
// binding claim, the CSRF cookie).
func TestCacheKeyOfRequests(t *testing.T) {
	a := newTestAuthorizer(t, baseConfig(), fixedKey(keys.hmacKey))
	alice, bob := hs256(t, nil), hs256(t, func(c jwt.MapClaims) { c["sub"] = "bob" })
	key := func(cookie string) [32]byte { return a.CacheKey(request(cookie, testOrigin, testCSRF)) }
	base := key(cookies(alice, testCSRF))
	if key(cookies(bob, testCSRF)) == base {
		t.Error("another user's JWT, same everything else: same key")
	}
	if key("JWT="+bob+"; "+cookies(alice, testCSRF)) == base {
		t.Error("a tossed second JWT cookie: same key")
	}
	if key(cookies(alice, "guess")) != base {
		t.Error("the CSRF cookie changes the key, but the decision does not read it with a binding claim")
	}
}
