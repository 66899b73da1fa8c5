package authorizer

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"maps"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"golang.org/x/sync/singleflight"

	"github.com/wsgate/wsgate/authevent"
)

// Cache keeps an authorizer's results (ours: AWS does not cache WebSocket authorizer
// results). It is the one result cache of the gateway, whichever the authorizer. It is
// safe for concurrent use.
//
// Results are keyed by a [KeyFunc]: a hash of every input the authorizer decides on, so
// that a request that differs in any of them is a miss, and no credential is kept as a
// key ([KeyBySources] hashes identity sources; [Cookie.CacheKey] the inputs the cookie
// authorizer reads). Only Allow and Forbidden are cached: they are the authorizer's
// policy, as API Gateway caches policies on REST APIs. Unauthorized and Failed are not:
// a client that fixes its credential, or an authorizer that recovers, is seen on the
// next attempt. An entry lives ttl, never past the result's ExpiresAt. At most size
// entries are kept, the least recently used evicted first. Concurrent misses for the
// same key make one call.
type Cache struct {
	next    Authorizer
	key     KeyFunc
	ttl     time.Duration
	now     func() time.Time
	entries *lru.Cache[[sha256.Size]byte, cacheEntry] // nil: caching disabled
	flight  singleflight.Group
}

// KeyFunc returns the cache key of an event (never nil): a hash of every input the
// authorizer's result depends on.
type KeyFunc func(ev *authevent.Event) [sha256.Size]byte

type cacheEntry struct {
	r       Result
	expires time.Time
}

var (
	_ Authorizer = (*Cache)(nil)
	_ standIn    = (*Cache)(nil)
)

// CacheOption adjusts a Cache.
type CacheOption func(*Cache)

// WithClock sets the clock that ages entries; tests use it. Default time.Now.
func WithClock(now func() time.Time) CacheOption { return func(c *Cache) { c.now = now } }

// NewCache returns a cache in front of next keyed by key (see [Cache]). ttl <= 0 or
// size <= 0 disables caching: every call goes to next.
//
// A key that omits an input the authorizer decides on serves one caller's result to
// another: key must hash every such input.
func NewCache(next Authorizer, key KeyFunc, ttl time.Duration, size int, opts ...CacheOption) *Cache {
	c := &Cache{next: next, key: key, ttl: ttl, now: time.Now}
	if ttl > 0 && size > 0 {
		c.entries, _ = lru.New[[sha256.Size]byte, cacheEntry](size) // errors only on size <= 0
	}
	for _, o := range opts {
		o(c)
	}
	return c
}

// Authorize returns the cached result for the event's key, or calls the next authorizer
// once for all concurrent callers with that key and caches what it may. A caller whose
// ctx ends while it waits gets Failed; the call itself runs on, bounded by the next
// authorizer's own timeout, without the cancellation of the caller that started it.
func (c *Cache) Authorize(ctx context.Context, ev *authevent.Event) Result {
	if c.entries == nil || ev == nil {
		return c.next.Authorize(ctx, ev)
	}
	key := c.key(ev)
	if r, ok := c.get(key); ok {
		return r
	}
	ch := c.flight.DoChan(string(key[:]), func() (any, error) {
		if r, ok := c.get(key); ok { // filled by a flight that just ended
			return r, nil
		}
		r := c.next.Authorize(context.WithoutCancel(ctx), ev)
		c.put(key, r)
		return r, nil
	})
	select {
	case res := <-ch:
		r := res.Val.(Result)
		r.Context = maps.Clone(r.Context) // callers must not share a map
		return r
	case <-ctx.Done():
		return failed("authorizer call abandoned: " + ctx.Err().Error())
	}
}

// standsIn is the next authorizer's (see [WithIdentitySources]): a cache decides on
// nothing of its own.
func (c *Cache) standsIn(src IdentitySource, ev *authevent.Event) bool {
	alt, ok := c.next.(standIn)
	return ok && alt.standsIn(src, ev)
}

func (c *Cache) get(key [sha256.Size]byte) (Result, bool) {
	e, ok := c.entries.Get(key)
	if !ok {
		return Result{}, false
	}
	if !c.now().Before(e.expires) {
		c.entries.Remove(key)
		return Result{}, false
	}
	r := e.r
	r.Context = maps.Clone(r.Context)
	r.Cached = true
	return r, true
}

func (c *Cache) put(key [sha256.Size]byte, r Result) {
	if r.Outcome != Allow && r.Outcome != Forbidden {
		return
	}
	now := c.now()
	expires := now.Add(c.ttl)
	if !r.ExpiresAt.IsZero() && r.ExpiresAt.Before(expires) {
		expires = r.ExpiresAt
	}
	if !now.Before(expires) {
		return
	}
	c.entries.Add(key, cacheEntry{r: r, expires: expires})
}

// KeyBySources is the key of an authorizer that decides on the method ARN and the
// values of sources: each source hashed as its number of values (0: absent) then each
// value length-prefixed, so no two different inputs share a key. Callers list every
// input the authorizer decides on in sources.
func KeyBySources(sources []IdentitySource) KeyFunc {
	return func(ev *authevent.Event) [sha256.Size]byte {
		h := sha256.New()
		var n [8]byte
		write := func(s string) {
			binary.BigEndian.PutUint64(n[:], uint64(len(s)))
			h.Write(n[:])
			h.Write([]byte(s))
		}
		write(ev.MethodArn)
		for _, s := range sources {
			vals := s.values(ev)
			binary.BigEndian.PutUint64(n[:], uint64(len(vals)))
			h.Write(n[:])
			for _, v := range vals {
				write(v)
			}
		}
		var key [sha256.Size]byte
		h.Sum(key[:0])
		return key
	}
}
