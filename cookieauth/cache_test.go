package cookieauth

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// countingKeys counts how often a key is asked for: once per real verification.
func countingKeys(calls *atomic.Int64) KeySource {
	return keySourceFunc(func(context.Context, string, string) (any, error) {
		calls.Add(1)
		return keys.hmacKey, nil
	})
}

func TestCache(t *testing.T) {
	now := testNow
	var calls atomic.Int64
	a, err := New(baseConfig(), countingKeys(&calls), WithClock(func() time.Time { return now }), WithCache(100, time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	tok := hs256(t, func(c jwt.MapClaims) { c["exp"] = testNow.Add(90 * time.Second).Unix() })
	decide := func(r Request) Decision { return a.Decide(context.Background(), r) }
	good := request(cookies(tok, testCSRF), testOrigin, testCSRF)

	steps := []struct {
		name      string
		advance   time.Duration
		req       Request
		want      Outcome
		wantCalls int64
	}{
		{"first: verified", 0, good, Allow, 1},
		{"same inputs: served from the cache", 0, good, Allow, 1},
		{"unrelated cookie changes: still a hit", 0, request("x=1; "+cookies(tok, testCSRF), testOrigin, testCSRF), Allow, 1},
		{"other Origin: a miss, denied", 0, request(cookies(tok, testCSRF), "https://evil.test", testCSRF), Deny, 2},
		{"other Origin again: cached deny", 0, request(cookies(tok, testCSRF), "https://evil.test", testCSRF), Deny, 2},
		{"other CSRF: a miss, denied", 0, request(cookies(tok, testCSRF), testOrigin, "nope"), Deny, 3},
		{"bad token: not cached", 0, request(cookies(tok+"x", testCSRF), testOrigin, testCSRF), Unauthorized, 4},
		{"bad token again: verified again", 0, request(cookies(tok+"x", testCSRF), testOrigin, testCSRF), Unauthorized, 5},
		{"after the TTL: verified again", 61 * time.Second, good, Allow, 6},
		// The entry stored at +61s would live to +121s, but the token expires at +90s.
		{"past the token's exp: never served from the cache", 30 * time.Second, good, Unauthorized, 7},
	}
	for _, s := range steps {
		now = now.Add(s.advance)
		d := decide(s.req)
		if d.Outcome != s.want || calls.Load() != s.wantCalls {
			t.Fatalf("%s: got %v (%s) after %d key lookups, want %v after %d", s.name, d.Outcome, d.Reason, calls.Load(), s.want, s.wantCalls)
		}
	}
}

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
