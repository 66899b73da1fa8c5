package cookieauth

import (
	"context"
	"fmt"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
)

// CachedSecretOptions tune a CachedSecret. Zero fields take the documented defaults.
type CachedSecretOptions struct {
	// TTL is how long a fetched secret is used before it is fetched again. Default 5m.
	TTL time.Duration
	// StaleFor is how long past its TTL a secret keeps being served while refreshes
	// fail (a secret store outage must not lock every user out). Default 1h.
	StaleFor time.Duration
	// Now is the clock; tests set it. Default time.Now.
	Now func() time.Time
}

// SecretCache is an HMAC secret fetched from a slow store (SSM Parameter Store) and
// cached: fetched when missing or past its TTL, by one caller at a time, never once per
// request. It is a KeySource.
type SecretCache struct {
	fetch func(ctx context.Context) ([]byte, error)
	opts  CachedSecretOptions
	group singleflight.Group

	mu      sync.Mutex
	secret  []byte
	fetched time.Time
}

var _ KeySource = (*SecretCache)(nil)

// CachedSecret returns a SecretCache over fetch.
func CachedSecret(fetch func(ctx context.Context) ([]byte, error), opts CachedSecretOptions) *SecretCache {
	if opts.TTL <= 0 {
		opts.TTL = 5 * time.Minute
	}
	if opts.StaleFor <= 0 {
		opts.StaleFor = time.Hour
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &SecretCache{fetch: fetch, opts: opts}
}

// family lets New refuse non-HMAC algorithms for this source.
func (c *SecretCache) family() keyFamily { return familyHMAC }

// Prime fetches the secret now; a Lambda calls it at cold start to fail fast.
func (c *SecretCache) Prime(ctx context.Context) error {
	_, err := c.refresh(ctx)
	return err
}

// Key returns the cached secret, fetching it when missing or past its TTL.
func (c *SecretCache) Key(ctx context.Context, _, _ string) (any, error) {
	now := c.opts.Now()
	c.mu.Lock()
	secret, fetched := c.secret, c.fetched
	c.mu.Unlock()
	if secret != nil && now.Sub(fetched) < c.opts.TTL {
		return secret, nil
	}
	fresh, err := c.refresh(ctx)
	if err == nil {
		return fresh, nil
	}
	if secret != nil && now.Sub(fetched) < c.opts.TTL+c.opts.StaleFor {
		return secret, nil
	}
	return nil, err
}

func (c *SecretCache) refresh(ctx context.Context) ([]byte, error) {
	v, err, _ := c.group.Do("", func() (any, error) {
		s, err := c.fetch(ctx)
		if err != nil {
			return nil, fmt.Errorf("fetch HMAC secret: %w", err)
		}
		if len(s) < MinHMACSecretBytes {
			return nil, fmt.Errorf("fetched HMAC secret has %d bytes, at least %d are required", len(s), MinHMACSecretBytes)
		}
		s = append([]byte(nil), s...)
		c.mu.Lock()
		c.secret, c.fetched = s, c.opts.Now()
		c.mu.Unlock()
		return s, nil
	})
	if err != nil {
		return nil, err
	}
	return v.([]byte), nil
}
