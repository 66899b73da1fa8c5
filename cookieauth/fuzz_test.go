package cookieauth

import (
	"context"
	"strings"
	"testing"
	"time"
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
// never allow unless the request really carries the one valid token, from an allowed
// Origin, with the matching CSRF token.
func FuzzDecide(f *testing.F) {
	valid := hs256(f, nil)
	a, err := New(baseConfig(), fixedKey(keys.hmacKey), WithClock(func() time.Time { return testNow }))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(cookies(valid, testCSRF), testOrigin, testCSRF, "")
	f.Add("JWT="+valid+"; JWT="+valid, testOrigin, testCSRF, "csrf."+testCSRF)
	f.Add(cookies(valid, testCSRF), "null", "", "chat, csrf."+testCSRF)
	f.Add("JWT=eyJhbGciOiJub25lIn0.eyJzdWIiOiJhIn0.", testOrigin, "x", "")
	f.Add(strings.Repeat("a=b;", 3000), "\xff", "\x00", "csrf.")
	f.Fuzz(func(t *testing.T, cookie, origin, csrf, subprotocol string) {
		r := Request{Headers: map[string][]string{"Cookie": {cookie}, "Origin": {origin}, "Sec-WebSocket-Protocol": {subprotocol}},
			Query: map[string][]string{"csrf": {csrf}}}
		d := a.Decide(context.Background(), r)
		if d.Outcome != Allow {
			return
		}
		if !strings.Contains(cookie, valid) || !originAllowed(a.origins, origin) || csrf != testCSRF || d.PrincipalID != "alice" {
			t.Fatalf("allowed an invalid request: cookie=%q origin=%q csrf=%q", cookie, origin, csrf)
		}
	})
}
