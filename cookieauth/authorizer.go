package cookieauth

import (
	"context"
	"errors"
	"time"
)

// Authorizer decides handshakes. It is safe for concurrent use.
type Authorizer struct {
	cfg     Config
	keys    KeySource
	origins []originPattern
	now     func() time.Time
}

// Option adjusts an Authorizer.
type Option func(*Authorizer)

// WithClock sets the clock used for exp/nbf/iat; tests use it. Default time.Now.
func WithClock(now func() time.Time) Option { return func(a *Authorizer) { a.now = now } }

// New returns an Authorizer for cfg that verifies tokens with keys.
func New(cfg Config, keys KeySource, opts ...Option) (*Authorizer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if keys == nil {
		return nil, errors.New("keys: a key source is required")
	}
	a := &Authorizer{cfg: cfg.withDefaults(), keys: keys, now: time.Now}
	for _, o := range a.cfg.AllowedOrigins {
		p, _ := parseOriginPattern(o)
		a.origins = append(a.origins, p)
	}
	for _, opt := range opts {
		opt(a)
	}
	return a, nil
}

// Decide decides one handshake.
func (a *Authorizer) Decide(ctx context.Context, r Request) Decision {
	return Decision{Outcome: Unauthorized, Reason: "not implemented"}
}
