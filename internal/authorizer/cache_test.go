package authorizer

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/wsgate/wsgate/authevent"
)

var cacheNow = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)

// clock is a settable clock for the cache.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func cacheSources(tb testing.TB) []IdentitySource {
	tb.Helper()
	src, err := ParseIdentitySources([]string{
		"route.request.header.Cookie",
		"route.request.header.Origin",
		"route.request.querystring.csrf",
		"route.request.header.Sec-WebSocket-Protocol",
		"stageVariables.tenant",
		"context.identity.sourceIp",
	})
	if err != nil {
		tb.Fatal(err)
	}
	return src
}

var allowAlice = Result{Outcome: Allow, PrincipalID: "alice", Context: map[string]any{"role": "admin"}, Reason: "allowed"}

func TestCacheHitMiss(t *testing.T) {
	next := returns(allowAlice)
	c := NewCache(next, KeyBySources(cacheSources(t)), time.Minute, 8, WithClock(func() time.Time { return cacheNow }))
	ctx := context.Background()

	if diff := cmp.Diff(allowAlice, c.Authorize(ctx, testEvent())); diff != "" {
		t.Errorf("miss mismatch (-want +got):\n%s", diff)
	}
	hit := allowAlice
	hit.Cached = true
	if diff := cmp.Diff(hit, c.Authorize(ctx, testEvent())); diff != "" {
		t.Errorf("hit mismatch (-want +got):\n%s", diff)
	}
	if n := next.calls.Load(); n != 1 {
		t.Errorf("next called %d times, want 1", n)
	}
}

func TestCacheKey(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(ev *authevent.Event)
		hit    bool
	}{
		{name: "same request", mutate: func(*authevent.Event) {}, hit: true},
		{name: "header not a source", mutate: func(ev *authevent.Event) { ev.MultiValueHeaders["User-Agent"] = []string{"other/2.0"} }, hit: true},
		{name: "header name case", mutate: func(ev *authevent.Event) {
			ev.MultiValueHeaders["origin"] = ev.MultiValueHeaders["Origin"]
			delete(ev.MultiValueHeaders, "Origin")
		}, hit: true},
		{name: "same Cookie, other Origin", mutate: func(ev *authevent.Event) { ev.MultiValueHeaders["Origin"] = []string{"https://evil.example.net"} }},
		{name: "other Cookie", mutate: func(ev *authevent.Event) { ev.MultiValueHeaders["Cookie"] = []string{"JWT=other"} }},
		{name: "other query token", mutate: func(ev *authevent.Event) { ev.MultiValueQueryStringParameters["csrf"] = []string{"x"} }},
		{name: "other subprotocol", mutate: func(ev *authevent.Event) { ev.MultiValueHeaders["Sec-WebSocket-Protocol"] = []string{"chat.v1"} }},
		{name: "other stage variable", mutate: func(ev *authevent.Event) { ev.StageVariables["tenant"] = "globex" }},
		{name: "other source IP", mutate: func(ev *authevent.Event) { ev.RequestContext.Identity.SourceIP = "198.51.100.7" }},
		{name: "other method ARN", mutate: func(ev *authevent.Event) {
			ev.MethodArn = "arn:aws:execute-api:eu-west-1:123456789012:abcdef1234/prod/$connect"
		}},
		{name: "source absent", mutate: func(ev *authevent.Event) {
			delete(ev.MultiValueHeaders, "Sec-WebSocket-Protocol")
			delete(ev.Headers, "Sec-WebSocket-Protocol")
		}},
		{name: "values split differently", mutate: func(ev *authevent.Event) {
			ev.MultiValueHeaders["Sec-WebSocket-Protocol"] = []string{"chat.v1", " csrf.c5rf"} // joined: same Value
		}},
		{name: "extra empty value", mutate: func(ev *authevent.Event) {
			ev.MultiValueHeaders["Origin"] = append(ev.MultiValueHeaders["Origin"], "")
		}},
		{name: "value moved across sources", mutate: func(ev *authevent.Event) {
			ev.MultiValueHeaders["Cookie"] = []string{"JWT=header.payload.sig; CSRF-TOKEN=c5rfhttps://ui.example.com"}
			ev.MultiValueHeaders["Origin"] = []string{""}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			next := returns(allowAlice)
			c := NewCache(next, KeyBySources(cacheSources(t)), time.Minute, 8, WithClock(func() time.Time { return cacheNow }))
			c.Authorize(context.Background(), testEvent())
			ev := testEvent()
			tc.mutate(ev)
			got := c.Authorize(context.Background(), ev)
			wantCalls := int64(2)
			if tc.hit {
				wantCalls = 1
			}
			if got.Cached != tc.hit || next.calls.Load() != wantCalls {
				t.Errorf("Cached = %v after %d calls, want hit = %v", got.Cached, next.calls.Load(), tc.hit)
			}
		})
	}
}

func TestCacheTTLAndExpiry(t *testing.T) {
	const ttl = time.Minute
	for _, tc := range []struct {
		name    string
		result  Result
		advance time.Duration
		hit     bool
	}{
		{name: "within the TTL", result: allowAlice, advance: ttl - time.Nanosecond, hit: true},
		{name: "at the TTL", result: allowAlice, advance: ttl},
		{name: "before the credential expires", result: withExpiry(allowAlice, cacheNow.Add(10*time.Second)), advance: 10*time.Second - time.Nanosecond, hit: true},
		{name: "when the credential expires, within the TTL", result: withExpiry(allowAlice, cacheNow.Add(10*time.Second)), advance: 10 * time.Second},
		{name: "credential already expired", result: withExpiry(allowAlice, cacheNow), advance: 0},
		{name: "credential expires after the TTL", result: withExpiry(allowAlice, cacheNow.Add(time.Hour)), advance: ttl},
		{name: "Forbidden until the credential expires", result: withExpiry(Result{Outcome: Forbidden, Reason: "Origin not allowed"}, cacheNow.Add(time.Second)), advance: time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := &clock{now: cacheNow}
			next := returns(tc.result)
			c := NewCache(next, KeyBySources(cacheSources(t)), ttl, 8, WithClock(clk.Now))
			c.Authorize(context.Background(), testEvent())
			clk.Advance(tc.advance)
			got := c.Authorize(context.Background(), testEvent())
			if got.Cached != tc.hit {
				t.Errorf("Cached = %v, want %v (next called %d times)", got.Cached, tc.hit, next.calls.Load())
			}
		})
	}
}

func withExpiry(r Result, at time.Time) Result {
	r.ExpiresAt = at
	return r
}

func TestCacheOutcomes(t *testing.T) {
	for _, tc := range []struct {
		result Result
		cached bool
	}{
		{allowAlice, true},
		{Result{Outcome: Forbidden, PrincipalID: "alice", Reason: "policy denies the method ARN"}, true},
		{Result{Outcome: Unauthorized, Reason: "no JWT cookie"}, false},
		{Result{Outcome: Failed, Reason: "lambda authorizer timed out after 1s"}, false},
		{Result{Reason: "zero outcome"}, false},
	} {
		t.Run(tc.result.Outcome.String(), func(t *testing.T) {
			next := returns(tc.result)
			c := NewCache(next, KeyBySources(cacheSources(t)), time.Minute, 8, WithClock(func() time.Time { return cacheNow }))
			c.Authorize(context.Background(), testEvent())
			got := c.Authorize(context.Background(), testEvent())
			want := tc.result
			want.Cached = tc.cached
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("second call mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCacheSize(t *testing.T) {
	next := returns(allowAlice)
	c := NewCache(next, KeyBySources(cacheSources(t)), time.Minute, 2, WithClock(func() time.Time { return cacheNow }))
	event := func(i int) *authevent.Event {
		ev := testEvent()
		ev.MultiValueHeaders["Cookie"] = []string{fmt.Sprintf("JWT=%d", i)}
		return ev
	}
	ctx := context.Background()
	for i := range 3 { // 0 is evicted by 2
		c.Authorize(ctx, event(i))
	}
	if n := c.entries.Len(); n != 2 {
		t.Errorf("%d entries, want 2", n)
	}
	for _, tc := range []struct {
		i   int
		hit bool
	}{{2, true}, {1, true}, {0, false}} {
		if got := c.Authorize(ctx, event(tc.i)); got.Cached != tc.hit {
			t.Errorf("request %d: Cached = %v, want %v", tc.i, got.Cached, tc.hit)
		}
	}
}

func TestCacheDisabled(t *testing.T) {
	for _, tc := range []struct {
		name string
		ttl  time.Duration
		size int
	}{{"zero TTL", 0, 8}, {"zero size", time.Minute, 0}} {
		t.Run(tc.name, func(t *testing.T) {
			next := returns(allowAlice)
			c := NewCache(next, KeyBySources(cacheSources(t)), tc.ttl, tc.size)
			for range 3 {
				if got := c.Authorize(context.Background(), testEvent()); got.Cached {
					t.Error("served from a disabled cache")
				}
			}
			if n := next.calls.Load(); n != 3 {
				t.Errorf("next called %d times, want 3", n)
			}
		})
	}
}

func TestCacheContextNotShared(t *testing.T) {
	c := NewCache(returns(allowAlice), KeyBySources(cacheSources(t)), time.Minute, 8, WithClock(func() time.Time { return cacheNow }))
	first := c.Authorize(context.Background(), testEvent())
	first.Context["role"] = "root"
	second := c.Authorize(context.Background(), testEvent())
	second.Context["role"] = "root"
	if diff := cmp.Diff(allowAlice.Context, c.Authorize(context.Background(), testEvent()).Context); diff != "" {
		t.Errorf("a caller changed the cached context (-want +got):\n%s", diff)
	}
}

// TestCacheSingleflight checks that concurrent misses for one key make one call, and
// that a caller that gives up while waiting neither gets the result nor stops the call.
func TestCacheSingleflight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		next := &fakeAuthorizer{authorize: func(ctx context.Context, _ *authevent.Event) Result {
			<-release
			if ctx.Err() != nil {
				return Result{Outcome: Failed, Reason: "cancelled"}
			}
			return allowAlice
		}}
		c := NewCache(next, KeyBySources(cacheSources(t)), time.Minute, 8)

		const n = 10
		results := make([]Result, n)
		var wg sync.WaitGroup
		leaderCtx, cancelLeader := context.WithCancel(context.Background())
		for i := range n {
			ctx := context.Background()
			if i == 0 {
				ctx = leaderCtx
			}
			wg.Go(func() { results[i] = c.Authorize(ctx, testEvent()) })
			if i == 0 {
				synctest.Wait() // the first caller starts the call
			}
		}
		waiterCtx, cancelWaiter := context.WithCancel(context.Background())
		var abandoned Result
		wg.Go(func() { abandoned = c.Authorize(waiterCtx, testEvent()) })
		synctest.Wait() // everyone waits on the one call
		if got := next.calls.Load(); got != 1 {
			t.Fatalf("next called %d times while %d callers wait, want 1", got, n+1)
		}
		cancelWaiter()
		cancelLeader() // the caller that started the call goes away: the call goes on
		synctest.Wait()
		close(release)
		wg.Wait()

		for i, r := range results[1:] {
			if diff := cmp.Diff(allowAlice, r); diff != "" {
				t.Errorf("caller %d mismatch (-want +got):\n%s", i+1, diff)
			}
		}
		want := Result{Outcome: Failed, Reason: "authorizer call abandoned: context canceled"}
		if diff := cmp.Diff(want, abandoned); diff != "" {
			t.Errorf("abandoned caller mismatch (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(want, results[0]); diff != "" {
			t.Errorf("cancelled first caller mismatch (-want +got):\n%s", diff)
		}
		if got := c.Authorize(context.Background(), testEvent()); !got.Cached || next.calls.Load() != 1 {
			t.Errorf("after the call: %+v after %d calls, want a cached Allow", got, next.calls.Load())
		}
	})
}

func TestWithIdentitySources(t *testing.T) {
	sources := []IdentitySource{
		mustSource(t, "route.request.header.cookie"),
		mustSource(t, "route.request.querystring.csrf"),
	}
	for _, tc := range []struct {
		name   string
		mutate func(ev *authevent.Event)
		want   Result
		calls  int64
	}{
		{name: "all present", mutate: func(*authevent.Event) {}, want: allowAlice, calls: 1},
		{name: "header missing", mutate: func(ev *authevent.Event) {
			delete(ev.MultiValueHeaders, "Cookie")
			delete(ev.Headers, "Cookie")
		}, want: Result{Outcome: Unauthorized, Reason: "identity source route.request.header.cookie missing"}},
		{name: "query empty", mutate: func(ev *authevent.Event) {
			ev.MultiValueQueryStringParameters["csrf"] = []string{""}
		}, want: Result{Outcome: Unauthorized, Reason: "identity source route.request.querystring.csrf missing"}},
		{name: "no event", want: Result{Outcome: Unauthorized, Reason: "identity source route.request.header.cookie missing"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			next := returns(allowAlice)
			var ev *authevent.Event
			if tc.mutate != nil {
				ev = testEvent()
				tc.mutate(ev)
			}
			got := WithIdentitySources(next, sources).Authorize(context.Background(), ev)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Authorize mismatch (-want +got):\n%s", diff)
			}
			if n := next.calls.Load(); n != tc.calls {
				t.Errorf("next called %d times, want %d", n, tc.calls)
			}
		})
	}
	next := returns(allowAlice)
	if got := WithIdentitySources(next, nil); got != Authorizer(next) {
		t.Errorf("WithIdentitySources(next, nil) = %T, want next itself", got)
	}
}
