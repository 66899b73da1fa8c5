package cookieauth

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func pemOf(tb testing.TB, typ string, der []byte) []byte {
	tb.Helper()
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func pkixPEM(tb testing.TB, pub any) []byte {
	tb.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		tb.Fatal(err)
	}
	return pemOf(tb, "PUBLIC KEY", der)
}

func TestHMACSecret(t *testing.T) {
	if _, err := HMACSecret([]byte("short")); err == nil || !strings.Contains(err.Error(), "at least 32") {
		t.Fatalf("short secret: got %v", err)
	}
	in := []byte(testSecret)
	ks, err := HMACSecret(in)
	if err != nil {
		t.Fatal(err)
	}
	in[0] = 'X' // the source keeps its own copy
	k, _ := ks.Key(context.Background(), "HS256", "")
	if string(k.([]byte)) != testSecret {
		t.Fatal("secret changed with the caller's slice")
	}
}

func TestPublicKeyPEM(t *testing.T) {
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "wsgate test"}, NotBefore: testNow, NotAfter: testNow.Add(time.Hour)}
	certDER, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &keys.ec.PublicKey, keys.ec)
	if err != nil {
		t.Fatal(err)
	}
	ecPriv, _ := x509.MarshalECPrivateKey(keys.ec)
	for _, tc := range []struct {
		name    string
		pem     []byte
		wantErr string
		want    keyFamily
	}{
		{"RSA PKIX", keys.rsaPEM, "", familyRSA},
		{"RSA PKCS1", pemOf(t, "RSA PUBLIC KEY", x509.MarshalPKCS1PublicKey(&keys.rsa.PublicKey)), "", familyRSA},
		{"EC", pkixPEM(t, &keys.ec.PublicKey), "", familyEC},
		{"Ed25519", pkixPEM(t, keys.ed.Public()), "", familyEd25519},
		{"certificate", pemOf(t, "CERTIFICATE", certDER), "", familyEC},
		{"private key refused", pemOf(t, "EC PRIVATE KEY", ecPriv), "never the private one", 0},
		{"1024-bit RSA refused", pkixPEM(t, &small.PublicKey), "at least 2048", 0},
		{"garbage", []byte("not pem"), "no PEM block", 0},
		{"two blocks", append(append([]byte{}, keys.rsaPEM...), keys.rsaPEM...), "exactly one public key", 0},
		{"corrupt body", pemOf(t, "PUBLIC KEY", []byte{1, 2, 3}), "parse PUBLIC KEY", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ks, err := PublicKeyPEM(tc.pem)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got %v, want an error containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			k, _ := ks.Key(context.Background(), "", "")
			if got := familyOfKey(k); got != tc.want {
				t.Fatalf("family %v, want %v", got, tc.want)
			}
		})
	}
}

func TestPEMSourceRefusesOtherAlgorithmsAtNew(t *testing.T) {
	ks, err := PublicKeyPEM(keys.rsaPEM)
	if err != nil {
		t.Fatal(err)
	}
	cfg := baseConfig()
	cfg.Algorithms = []string{"RS256", "HS256"}
	if _, err := New(cfg, ks); err == nil || !strings.Contains(err.Error(), "HS256 cannot be verified with the configured RSA public key") {
		t.Fatalf("New: got %v", err)
	}
}

func TestSecretCache(t *testing.T) {
	now := testNow
	var fetches atomic.Int64
	var failing atomic.Bool
	c := CachedSecret(func(context.Context) ([]byte, error) {
		fetches.Add(1)
		if failing.Load() {
			return nil, errors.New("store unreachable")
		}
		return []byte(testSecret), nil
	}, CachedSecretOptions{TTL: time.Minute, StaleFor: 10 * time.Minute, Now: func() time.Time { return now }})
	ctx := context.Background()

	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			if k, err := c.Key(ctx, "HS256", ""); err != nil || string(k.([]byte)) != testSecret {
				t.Errorf("Key: %v", err)
			}
		})
	}
	wg.Wait()
	if n := fetches.Load(); n < 1 || n > 2 { // singleflight: the 50 callers share a fetch (at most one straggler)
		t.Fatalf("%d fetches for 50 concurrent callers", n)
	}
	base := fetches.Load()
	for range 100 {
		c.Key(ctx, "HS256", "")
	}
	if fetches.Load() != base {
		t.Fatal("fetched again within the TTL")
	}
	now = now.Add(2 * time.Minute)
	c.Key(ctx, "HS256", "")
	if fetches.Load() != base+1 {
		t.Fatalf("after the TTL: %d fetches, want %d", fetches.Load(), base+1)
	}
	failing.Store(true)
	now = now.Add(5 * time.Minute)
	if _, err := c.Key(ctx, "HS256", ""); err != nil {
		t.Fatalf("stale value not served during an outage: %v", err)
	}
	now = now.Add(10 * time.Minute)
	if _, err := c.Key(ctx, "HS256", ""); err == nil || !strings.Contains(err.Error(), "store unreachable") {
		t.Fatalf("past StaleFor: got %v, want the fetch error", err)
	}
}

func TestSecretCacheRefusesShortSecret(t *testing.T) {
	c := CachedSecret(func(context.Context) ([]byte, error) { return []byte("short"), nil }, CachedSecretOptions{})
	if err := c.Prime(context.Background()); err == nil || !strings.Contains(err.Error(), "at least 32") {
		t.Fatalf("got %v", err)
	}
}

// jwksServer serves a JWK Set that the test can change, counting fetches.
type jwksServer struct {
	mu      sync.Mutex
	keys    []map[string]string
	fetches atomic.Int64
}

func (s *jwksServer) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	s.fetches.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"keys": s.keys})
}

func (s *jwksServer) set(keys ...map[string]string) {
	s.mu.Lock()
	s.keys = keys
	s.mu.Unlock()
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func rsaJWK(kid string, k *rsa.PublicKey) map[string]string {
	return map[string]string{"kty": "RSA", "kid": kid, "alg": "RS256", "use": "sig", "n": b64(k.N.Bytes()), "e": b64(big.NewInt(int64(k.E)).Bytes())}
}

func ecJWK(kid string, k *ecdsa.PublicKey) map[string]string {
	raw, err := k.Bytes() // 0x04 || X || Y
	if err != nil {
		panic(err)
	}
	return map[string]string{"kty": "EC", "kid": kid, "alg": "ES256", "crv": "P-256", "x": b64(raw[1:33]), "y": b64(raw[33:])}
}

func TestJWKS(t *testing.T) {
	srv := &jwksServer{}
	srv.set(rsaJWK("r1", &keys.rsa.PublicKey), ecJWK("e1", &keys.ec.PublicKey),
		map[string]string{"kty": "OKP", "crv": "Ed25519", "kid": "d1", "x": b64(keys.ed.Public().(ed25519.PublicKey))})
	hs := httptest.NewServer(srv)
	defer hs.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ks, err := JWKS(ctx, hs.URL, JWKSOptions{UnknownKIDRefreshEvery: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	cfg := baseConfig()
	cfg.Algorithms = []string{"RS256", "ES256", "EdDSA"}
	a := newTestAuthorizer(t, cfg, ks)
	decide := func(tok string) Decision {
		return a.Decide(ctx, request(cookies(tok, testCSRF), testOrigin, testCSRF))
	}
	for _, tc := range []struct {
		name   string
		method jwt.SigningMethod
		key    any
		kid    string
		want   Outcome
	}{
		{"RS256", jwt.SigningMethodRS256, keys.rsa, "r1", Allow},
		{"ES256", jwt.SigningMethodES256, keys.ec, "e1", Allow},
		{"EdDSA", jwt.SigningMethodEdDSA, keys.ed, "d1", Allow},
		{"JWK alg mismatch (RS256 key used for PS256)", jwt.SigningMethodPS256, keys.rsa, "r1", Unauthorized},
		{"no kid", jwt.SigningMethodRS256, keys.rsa, "", Unauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.method == jwt.SigningMethodPS256 {
				cfg := cfg
				cfg.Algorithms = []string{"PS256"}
				a := newTestAuthorizer(t, cfg, ks)
				if d := a.Decide(ctx, request(cookies(sign(t, tc.method, tc.key, validClaims(), map[string]any{"kid": tc.kid}), testCSRF), testOrigin, testCSRF)); d.Outcome != tc.want {
					t.Fatalf("got %v (%s)", d.Outcome, d.Reason)
				}
				return
			}
			hdr := map[string]any{}
			if tc.kid != "" {
				hdr["kid"] = tc.kid
			}
			if d := decide(sign(t, tc.method, tc.key, validClaims(), hdr)); d.Outcome != tc.want {
				t.Fatalf("got %v (%s), want %v", d.Outcome, d.Reason, tc.want)
			}
		})
	}

	// A new key appears (rotation): the unknown kid triggers one refresh and works.
	rotated, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	srv.set(rsaJWK("r1", &keys.rsa.PublicKey), rsaJWK("r2", &rotated.PublicKey))
	before := srv.fetches.Load()
	if d := decide(sign(t, jwt.SigningMethodRS256, rotated, validClaims(), map[string]any{"kid": "r2"})); d.Outcome != Allow {
		t.Fatalf("rotated key: got %v (%s)", d.Outcome, d.Reason)
	}
	if got := srv.fetches.Load() - before; got != 1 {
		t.Fatalf("rotation caused %d fetches, want 1", got)
	}
	// A storm of forged kids: the limiter (one refresh per hour here, spent above) stops
	// every further fetch, and each token is refused.
	before = srv.fetches.Load()
	for i := range 100 {
		d := decide(sign(t, jwt.SigningMethodRS256, keys.rsa, validClaims(), map[string]any{"kid": "forged-" + string(rune('a'+i%26))}))
		if d.Outcome != Unauthorized {
			t.Fatalf("forged kid: got %v (%s)", d.Outcome, d.Reason)
		}
	}
	if got := srv.fetches.Load() - before; got != 0 {
		t.Fatalf("100 unknown kids caused %d fetches, want 0", got)
	}
}

func TestJWKSRefusesPlainHTTPAndUnreachable(t *testing.T) {
	if _, err := JWKS(context.Background(), "http://keys.example.com/jwks.json"); err == nil || !strings.Contains(err.Error(), "must be https") {
		t.Fatalf("http URL: got %v", err)
	}
	hs := httptest.NewServer(http.NotFoundHandler())
	hs.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, err := JWKS(ctx, hs.URL); err == nil {
		t.Fatal("unreachable JWKS accepted at startup")
	}
}
