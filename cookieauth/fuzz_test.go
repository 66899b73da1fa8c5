package cookieauth

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func FuzzScanCookies(f *testing.F) {
	for _, s := range []string{"JWT=a.b.c; CSRF-TOKEN=x", `a="q"; b`, ";;=;", "JWT=\xff", "a=b=c;  d = e "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		n := 0
		scanCookies([]string{line}, func(name, value string) bool {
			n++
			if strings.Contains(name, ";") || strings.Contains(value, ";") {
				t.Fatalf("pair %q=%q contains a separator", name, value)
			}
			return true
		})
		if n > strings.Count(line, "=") {
			t.Fatalf("%d pairs from %d '='", n, strings.Count(line, "="))
		}
	})
}

// FuzzDecide throws arbitrary handshakes at the decision: it must never panic, and it must
// never allow unless the request really carries a valid token, from an allowed Origin,
// with the CSRF token bound to that token, and then as that token's subject.
func FuzzDecide(f *testing.F) {
	const malloryCSRF = "mallory-session-csrf-token-0123"
	valid := hs256(f, nil)
	mallory := hs256(f, func(c jwt.MapClaims) { c["sub"], c["csrf"] = "mallory", malloryCSRF })
	sessions := []struct{ token, csrf, sub string }{{valid, testCSRF, "alice"}, {mallory, malloryCSRF, "mallory"}}
	a, err := New(baseConfig(), fixedKey(keys.hmacKey), WithClock(func() time.Time { return testNow }))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(cookies(valid, testCSRF), testOrigin, testCSRF, "")
	f.Add("JWT="+valid+"; JWT="+valid, testOrigin, testCSRF, "csrf."+testCSRF)
	f.Add(cookies(valid, testCSRF), "null", "", "chat, csrf."+testCSRF)
	f.Add("JWT=eyJhbGciOiJub25lIn0.eyJzdWIiOiJhIn0.", testOrigin, "x", "")
	f.Add(strings.Repeat("a=b;", 3000), "\xff", "\x00", "csrf.")
	// A sibling host tossed its own session and a guessed CSRF cookie next to alice's,
	// as the browser test does.
	f.Add("JWT="+mallory+"; JWT="+valid+"; CSRF-TOKEN=guess", testOrigin, testCSRF, "")
	f.Add("JWT="+valid+"; JWT="+mallory+"; CSRF-TOKEN=guess", testOrigin, "", "chat, csrf."+testCSRF)
	f.Add("JWT="+mallory+"; JWT="+valid, testOrigin, malloryCSRF, "")
	f.Add("JWT="+mallory+"; JWT=x; JWT="+valid+"; JWT=; JWT="+valid, testOrigin, testCSRF, "")
	f.Fuzz(func(t *testing.T, cookie, origin, csrf, subprotocol string) {
		r := Request{Headers: map[string][]string{"Cookie": {cookie}, "Origin": {origin}, "Sec-WebSocket-Protocol": {subprotocol}},
			Query: map[string][]string{"csrf": {csrf}}}
		d := a.Decide(context.Background(), r)
		if d.Outcome != Allow {
			return
		}
		for _, s := range sessions {
			if strings.Contains(cookie, s.token) && csrf == s.csrf && d.PrincipalID == s.sub && originAllowed(a.origins, origin) {
				return
			}
		}
		t.Fatalf("allowed an invalid request as %q: cookie=%q origin=%q csrf=%q", d.PrincipalID, cookie, origin, csrf)
	})
}
