package authorizer

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/go-cmp/cmp"

	"github.com/wsgate/wsgate/authevent"
	"github.com/wsgate/wsgate/cookieauth"
	"github.com/wsgate/wsgate/internal/config"
)

var cookieNow = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)

const (
	cookieSecret = "0123456789abcdef0123456789abcdef-test-secret"
	cookieCSRF   = "c5rf-Token_abcdefghijklmnop"
	cookieOrigin = "https://ui.dev.example.com"
)

func cookieConfig() cookieauth.Config {
	return cookieauth.Config{
		Algorithms:     []string{"HS256"},
		AllowedOrigins: []string{"https://*.dev.example.com"},
		CSRFClaim:      "csrf",
		ContextClaims:  []string{"role", "big"},
		MaxCookieBytes: 32 << 10,
	}
}

func newCookieAuthorizer(tb testing.TB, cfg cookieauth.Config) *cookieauth.Authorizer {
	tb.Helper()
	keys, err := cookieauth.HMACSecret([]byte(cookieSecret))
	if err != nil {
		tb.Fatal(err)
	}
	a, err := cookieauth.New(cfg, keys, cookieauth.WithClock(func() time.Time { return cookieNow }))
	if err != nil {
		tb.Fatal(err)
	}
	return a
}

// mintJWT signs an HS256 token for alice, valid 15 minutes, bound to cookieCSRF.
func mintJWT(tb testing.TB, mutate func(jwt.MapClaims)) string {
	tb.Helper()
	c := jwt.MapClaims{
		"sub":  "alice",
		"iat":  cookieNow.Add(-time.Minute).Unix(),
		"exp":  cookieNow.Add(15 * time.Minute).Unix(),
		"csrf": cookieCSRF,
		"role": "admin",
	}
	if mutate != nil {
		mutate(c)
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString([]byte(cookieSecret))
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// cookieEvent is a browser's $connect with the JWT and CSRF cookies, its Origin and the
// CSRF token in the query string. Header names are lower case, as HTTP/2 sends them.
func cookieEvent(token string) *authevent.Event {
	ev := testEvent()
	ev.Headers = nil
	ev.MultiValueHeaders = map[string][]string{
		"cookie": {"JWT=" + token + "; CSRF-TOKEN=" + cookieCSRF},
		"origin": {cookieOrigin},
	}
	ev.QueryStringParameters = map[string]string{"csrf": cookieCSRF}
	ev.MultiValueQueryStringParameters = map[string][]string{"csrf": {cookieCSRF}}
	return ev
}

func TestCookie(t *testing.T) {
	token := mintJWT(t, nil)
	exp := cookieNow.Add(15 * time.Minute)
	allowContext := map[string]any{"sub": "alice", "exp": float64(exp.Unix()), "role": "admin"}
	for _, tc := range []struct {
		name string
		ev   func() *authevent.Event
		want Result
	}{
		{
			name: "allow with the CSRF token in the query",
			ev:   func() *authevent.Event { return cookieEvent(token) },
			want: Result{Outcome: Allow, PrincipalID: "alice", Context: allowContext, ExpiresAt: exp, Reason: "allowed"},
		},
		{
			name: "allow with the CSRF token as a subprotocol",
			ev: func() *authevent.Event {
				ev := cookieEvent(token)
				ev.QueryStringParameters, ev.MultiValueQueryStringParameters = nil, nil
				ev.MultiValueHeaders["sec-websocket-protocol"] = []string{"chat.v1, csrf." + cookieCSRF}
				return ev
			},
			want: Result{Outcome: Allow, PrincipalID: "alice", Context: allowContext, ExpiresAt: exp,
				Subprotocol: "csrf." + cookieCSRF, Reason: "allowed"},
		},
		{
			name: "only single-value headers",
			ev: func() *authevent.Event {
				ev := cookieEvent(token)
				ev.Headers = map[string]string{"Cookie": ev.MultiValueHeaders["cookie"][0], "Origin": cookieOrigin}
				ev.MultiValueHeaders = nil
				return ev
			},
			want: Result{Outcome: Allow, PrincipalID: "alice", Context: allowContext, ExpiresAt: exp, Reason: "allowed"},
		},
		{
			name: "no JWT cookie is 401",
			ev: func() *authevent.Event {
				ev := cookieEvent(token)
				ev.MultiValueHeaders["cookie"] = []string{"CSRF-TOKEN=" + cookieCSRF}
				return ev
			},
			want: Result{Outcome: Unauthorized, Reason: "no JWT cookie"},
		},
		{
			name: "expired token is 401",
			ev: func() *authevent.Event {
				return cookieEvent(mintJWT(t, func(c jwt.MapClaims) { c["exp"] = cookieNow.Add(-time.Second).Unix() }))
			},
			want: Result{Outcome: Unauthorized, Reason: "invalid token: expired"},
		},
		{
			name: "foreign Origin is 403",
			ev: func() *authevent.Event {
				ev := cookieEvent(token)
				ev.MultiValueHeaders["origin"] = []string{"https://evil.example.net"}
				return ev
			},
			want: Result{Outcome: Forbidden, PrincipalID: "alice", ExpiresAt: exp, Reason: "Origin not allowed"},
		},
		{
			name: "wrong CSRF token is 403",
			ev: func() *authevent.Event {
				ev := cookieEvent(token)
				ev.MultiValueQueryStringParameters["csrf"] = []string{"other"}
				return ev
			},
			want: Result{Outcome: Forbidden, PrincipalID: "alice", ExpiresAt: exp, Reason: "CSRF token is not bound to this session"},
		},
		{
			name: "result over 8 KB is 500",
			ev: func() *authevent.Event {
				return cookieEvent(mintJWT(t, func(c jwt.MapClaims) { c["big"] = strings.Repeat("x", 9000) }))
			},
			want: Result{Outcome: Failed, Reason: "authorizer result of 9573 bytes exceeds 8192"},
		},
		{
			name: "no event is 500",
			ev:   func() *authevent.Event { return nil },
			want: Result{Outcome: Failed, Reason: "no authorizer event"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := NewCookie(newCookieAuthorizer(t, cookieConfig())).Authorize(context.Background(), tc.ev())
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Authorize mismatch (-want +got):\n%s", diff)
			}
			if strings.Contains(got.Reason, token) || strings.Contains(got.Reason, cookieCSRF) {
				t.Errorf("reason %q holds a credential", got.Reason)
			}
		})
	}
}

// TestCookieBehindCache checks that a cache keyed by the cookie authorizer's CacheKey
// never serves one request's decision to a request differing in a checked input.
func TestCookieBehindCache(t *testing.T) {
	cfg := cookieConfig()
	token := mintJWT(t, nil)
	cookie := NewCookie(newCookieAuthorizer(t, cfg))
	c := NewCache(cookie, cookie.CacheKey, time.Minute, 16,
		WithClock(func() time.Time { return cookieNow }))
	ctx := context.Background()

	if got := c.Authorize(ctx, cookieEvent(token)); got.Outcome != Allow || got.Cached {
		t.Fatalf("first request: %+v, want a fresh Allow", got)
	}
	if got := c.Authorize(ctx, cookieEvent(token)); got.Outcome != Allow || !got.Cached {
		t.Fatalf("same request again: %+v, want a cached Allow", got)
	}
	for _, tc := range []struct {
		name   string
		mutate func(ev *authevent.Event)
		want   Outcome
	}{
		{"same cookies, other Origin", func(ev *authevent.Event) { ev.MultiValueHeaders["origin"] = []string{"https://evil.example.net"} }, Forbidden},
		{"same cookies, no CSRF token", func(ev *authevent.Event) { ev.MultiValueQueryStringParameters = nil; ev.QueryStringParameters = nil }, Forbidden},
		{"same cookies, extra wrong subprotocol token", func(ev *authevent.Event) {
			ev.MultiValueHeaders["Sec-WebSocket-Protocol"] = []string{"csrf.wrong"}
		}, Forbidden},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev := cookieEvent(token)
			tc.mutate(ev)
			if got := c.Authorize(ctx, ev); got.Outcome != tc.want || got.Cached {
				t.Errorf("got %+v, want a fresh %v", got, tc.want)
			}
		})
	}
}

// countingKeys is an HMAC key source that counts its lookups: one per real verification.
type countingKeys struct{ calls atomic.Int64 }

func (k *countingKeys) Key(context.Context, string, string) (any, error) {
	k.calls.Add(1)
	return []byte(cookieSecret), nil
}

// TestCookieCache checks the cookie authorizer's cache: what is served from it, what is
// verified again, and that nothing outlives its TTL or the token's exp.
func TestCookieCache(t *testing.T) {
	clk := &clock{now: cookieNow}
	keys := &countingKeys{}
	a, err := cookieauth.New(cookieConfig(), keys, cookieauth.WithClock(clk.Now))
	if err != nil {
		t.Fatal(err)
	}
	cookie := NewCookie(a)
	c := NewCache(cookie, cookie.CacheKey, time.Minute, 100, WithClock(clk.Now))
	tok := mintJWT(t, func(c jwt.MapClaims) { c["exp"] = cookieNow.Add(90 * time.Second).Unix() })
	request := func(cookies, origin, csrf string) *authevent.Event {
		ev := cookieEvent(tok)
		ev.MultiValueHeaders = map[string][]string{"cookie": {cookies}, "origin": {origin}}
		ev.QueryStringParameters = map[string]string{"csrf": csrf}
		ev.MultiValueQueryStringParameters = map[string][]string{"csrf": {csrf}}
		return ev
	}
	cookies := func(jwt string) string { return "JWT=" + jwt + "; CSRF-TOKEN=" + cookieCSRF }
	good := request(cookies(tok), cookieOrigin, cookieCSRF)

	steps := []struct {
		name      string
		advance   time.Duration
		ev        *authevent.Event
		want      Outcome
		wantCalls int64
	}{
		{"first: verified", 0, good, Allow, 1},
		{"same inputs: served from the cache", 0, good, Allow, 1},
		{"unrelated cookie changes: still a hit", 0, request("x=1; "+cookies(tok), cookieOrigin, cookieCSRF), Allow, 1},
		{"other Origin: a miss, denied", 0, request(cookies(tok), "https://evil.test", cookieCSRF), Forbidden, 2},
		{"other Origin again: cached deny", 0, request(cookies(tok), "https://evil.test", cookieCSRF), Forbidden, 2},
		{"other CSRF: a miss, denied", 0, request(cookies(tok), cookieOrigin, "nope"), Forbidden, 3},
		{"bad token: not cached", 0, request(cookies(tok+"x"), cookieOrigin, cookieCSRF), Unauthorized, 4},
		{"bad token again: verified again", 0, request(cookies(tok+"x"), cookieOrigin, cookieCSRF), Unauthorized, 5},
		{"after the TTL: verified again", 61 * time.Second, good, Allow, 6},
		// The entry stored at +61s would live to +121s, but the token expires at +90s.
		{"past the token's exp: never served from the cache", 30 * time.Second, good, Unauthorized, 7},
	}
	for _, s := range steps {
		clk.Advance(s.advance)
		r := c.Authorize(context.Background(), s.ev)
		if r.Outcome != s.want || keys.calls.Load() != s.wantCalls {
			t.Fatalf("%s: got %v (%s) after %d key lookups, want %v after %d", s.name, r.Outcome, r.Reason, keys.calls.Load(), s.want, s.wantCalls)
		}
	}
}

// BenchmarkCookieCacheHit measures a cookie authorizer decision served from its cache:
// the key (event merge, cookie scan, hash) and the lookup.
//
//	go test ./internal/authorizer -run '^$' -bench CookieCacheHit -benchmem
func BenchmarkCookieCacheHit(b *testing.B) {
	cookie := NewCookie(newCookieAuthorizer(b, cookieConfig()))
	c := NewCache(cookie, cookie.CacheKey, time.Minute, 1024, WithClock(func() time.Time { return cookieNow }))
	ev := cookieEvent(mintJWT(b, nil))
	ctx := context.Background()
	if r := c.Authorize(ctx, ev); r.Outcome != Allow {
		b.Fatalf("got %v (%s)", r.Outcome, r.Reason)
	}
	b.ReportAllocs()
	for b.Loop() {
		if r := c.Authorize(ctx, ev); r.Outcome != Allow || !r.Cached {
			b.Fatalf("got %+v, want a cached Allow", r)
		}
	}
}

// TestCookieCacheBothTransports builds the cached cookie authorizer from config, with
// the identity sources the rule asks for and with the older list that names the CSRF
// query parameter: both CSRF transports are admitted and served from the cache, the
// guard still refuses a handshake with neither, and two users never share an entry.
func TestCookieCacheBothTransports(t *testing.T) {
	bob := mintJWT(t, func(c jwt.MapClaims) { c["sub"] = "bob" }) // the same csrf claim
	alice := mintJWT(t, nil)
	query := func(tok string) *authevent.Event { return cookieEvent(tok) }
	subprotocol := func(tok string) *authevent.Event {
		ev := cookieEvent(tok)
		ev.QueryStringParameters, ev.MultiValueQueryStringParameters = nil, nil
		ev.MultiValueHeaders["sec-websocket-protocol"] = []string{"chat, csrf." + cookieCSRF}
		return ev
	}
	neither := func(tok string) *authevent.Event {
		ev := subprotocol(tok)
		ev.MultiValueHeaders["sec-websocket-protocol"] = []string{"chat"}
		return ev
	}
	for _, sources := range [][]string{
		{"route.request.header.Cookie", "route.request.header.Origin"},
		{"route.request.header.Cookie", "route.request.header.Origin", "route.request.querystring.csrf"},
	} {
		t.Run(strings.Join(sources, ","), func(t *testing.T) {
			ac := config.Authorizer{
				IdentitySource:               sources,
				AuthorizerResultTTLInSeconds: 60,
				Cookie: &config.CookieAuthorizer{
					Algorithms: []string{"HS256"}, CSRFClaim: "csrf",
					AllowedOrigins: []string{"https://*.dev.example.com"},
					Key:            config.KeySource{HMACSecretEnv: "KEY"},
				},
			}
			a, err := FromConfig(context.Background(), "Authorizers.cookie", ac, Deps{
				Getenv: func(string) string { return cookieSecret },
				Now:    func() time.Time { return cookieNow },
			})
			if err != nil {
				t.Fatal(err)
			}
			for _, step := range []struct {
				name       string
				ev         *authevent.Event
				want       Outcome
				principal  string
				wantCached bool
			}{
				{"query: verified", query(alice), Allow, "alice", false},
				{"query again: a hit", query(alice), Allow, "alice", true},
				{"subprotocol: verified", subprotocol(alice), Allow, "alice", false},
				{"subprotocol again: a hit", subprotocol(alice), Allow, "alice", true},
				{"another user's cookie, same everything else: not alice's entry", query(bob), Allow, "bob", false},
				{"another user by subprotocol", subprotocol(bob), Allow, "bob", false},
				{"alice again", subprotocol(alice), Allow, "alice", true},
			} {
				got := a.Authorize(context.Background(), step.ev)
				if got.Outcome != step.want || got.PrincipalID != step.principal || got.Cached != step.wantCached {
					t.Fatalf("%s: got %v as %q (cached %v, %s), want %v as %q (cached %v)", step.name,
						got.Outcome, got.PrincipalID, got.Cached, got.Reason, step.want, step.principal, step.wantCached)
				}
			}
			got := a.Authorize(context.Background(), neither(alice))
			wantReason := "no CSRF token presented (query parameter or subprotocol)"
			if len(sources) == 3 {
				wantReason = "identity source route.request.querystring.csrf missing"
			}
			if got.Reason != wantReason {
				t.Errorf("no CSRF token by either transport: %v (%s), want %q", got.Outcome, got.Reason, wantReason)
			}
		})
	}
}

func TestInProcess(t *testing.T) {
	cookie := NewCookie(newCookieAuthorizer(t, cookieConfig()))
	remote := NewHTTP(http.DefaultClient, "http://127.0.0.1:1/authorize", time.Second)
	for _, tc := range []struct {
		name string
		a    Authorizer
		want bool
	}{
		{"cookie", cookie, true},
		{"cookie behind its identity sources and a cache",
			NewCache(WithIdentitySources(cookie, nil), cookie.CacheKey, time.Minute, 16), true},
		{"HTTP", remote, false},
		{"HTTP behind a cache", NewCache(remote, func(*authevent.Event) [32]byte { return [32]byte{} }, time.Minute, 16), false},
	} {
		if got := InProcess(tc.a); got != tc.want {
			t.Errorf("%s: InProcess = %v, want %v", tc.name, got, tc.want)
		}
	}
}
