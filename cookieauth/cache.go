package cookieauth

import (
	"crypto/sha256"
	"encoding/binary"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
)

// decisionCache keeps recent decisions keyed by a hash of the decision's inputs.
type decisionCache struct {
	ttl     time.Duration
	entries *lru.Cache[[sha256.Size]byte, cachedDecision]
}

type cachedDecision struct {
	d       Decision
	expires time.Time
}

func newDecisionCache(size int, ttl time.Duration) *decisionCache {
	entries, _ := lru.New[[sha256.Size]byte, cachedDecision](size) // size > 0 checked by WithCache
	return &decisionCache{ttl: ttl, entries: entries}
}

func (c *decisionCache) get(key [sha256.Size]byte, now time.Time) (Decision, bool) {
	e, ok := c.entries.Get(key)
	if !ok {
		return Decision{}, false
	}
	if !now.Before(e.expires) {
		c.entries.Remove(key)
		return Decision{}, false
	}
	return e.d, true
}

func (c *decisionCache) put(key [sha256.Size]byte, d Decision, now time.Time) {
	if d.Outcome != Allow && d.Outcome != Deny {
		return
	}
	expires := now.Add(c.ttl)
	if d.ExpiresAt.Before(expires) {
		expires = d.ExpiresAt
	}
	if !now.Before(expires) {
		return
	}
	c.entries.Add(key, cachedDecision{d: d, expires: expires})
}

// cacheKey hashes every input the decision reads (an oversized Cookie header leaves the
// cookie lists empty, and such a request is Unauthorized, which is never cached), each list with its length and each
// value length-prefixed, so that no two different inputs share a key.
func (in inputs) cacheKey() [sha256.Size]byte {
	h := sha256.New()
	var n [8]byte
	write := func(vals ...string) {
		binary.BigEndian.PutUint64(n[:], uint64(len(vals)))
		h.Write(n[:])
		for _, v := range vals {
			binary.BigEndian.PutUint64(n[:], uint64(len(v)))
			h.Write(n[:])
			h.Write([]byte(v))
		}
	}
	write(in.jwt...)
	write(in.csrfCookie...)
	write(in.origins...)
	write(in.presented...)
	write(in.subprotocol)
	var key [sha256.Size]byte
	h.Sum(key[:0])
	return key
}
