package cookieauth

import (
	"crypto/sha256"
	"encoding/binary"
)

// CacheKey is a SHA-256 of exactly the inputs [Authorizer.Decide] reads from r: the JWT
// and CSRF cookies, the Origin, the presented CSRF tokens and the subprotocol entry
// that carried one, each list with its length and each value length-prefixed. Requests
// with the same key are decided alike at the same instant, so a cache keyed by it never
// serves one request's decision to a request that differs in anything that is checked.
// (An oversized Cookie header hashes as no cookies: both are Unauthorized, which a cache
// must not keep, as it must not keep Error.) The key holds no credential.
func (a *Authorizer) CacheKey(r Request) [sha256.Size]byte {
	return a.extract(r).cacheKey()
}

// cacheKey hashes in (see [Authorizer.CacheKey]) so that no two different inputs share
// a key.
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
