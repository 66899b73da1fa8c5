package cookieauth

import (
	"context"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

// BenchmarkDecide measures one full decision (cookie scan, JWT verification, Origin,
// CSRF with binding claim, context) per algorithm. A cache hit is measured by
// internal/authorizer's BenchmarkCookieCacheHit.
//
//	go test ./cookieauth -run '^$' -bench Decide -benchmem -count 6
func BenchmarkDecide(b *testing.B) {
	for _, tc := range []struct {
		alg    jwt.SigningMethod
		sign   any
		verify any
	}{
		{jwt.SigningMethodHS256, keys.hmacKey, keys.hmacKey},
		{jwt.SigningMethodRS256, keys.rsa, &keys.rsa.PublicKey},
		{jwt.SigningMethodES256, keys.ec, &keys.ec.PublicKey},
		{jwt.SigningMethodEdDSA, keys.ed, keys.ed.Public()},
	} {
		cfg := baseConfig()
		cfg.Algorithms = []string{tc.alg.Alg()}
		req := request(cookies(sign(b, tc.alg, tc.sign, validClaims(), nil), testCSRF), testOrigin, testCSRF)
		b.Run(tc.alg.Alg(), func(b *testing.B) {
			a := newTestAuthorizer(b, cfg, fixedKey(tc.verify))
			ctx := context.Background()
			if d := a.Decide(ctx, req); d.Outcome != Allow {
				b.Fatalf("got %v (%s)", d.Outcome, d.Reason)
			}
			b.ReportAllocs()
			for b.Loop() {
				if d := a.Decide(ctx, req); d.Outcome != Allow {
					b.Fatalf("got %v (%s)", d.Outcome, d.Reason)
				}
			}
		})
	}
}
