package cookieauth

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/time/rate"
)

// JWKSOptions tune a JWKS key source. Zero fields take the documented defaults.
type JWKSOptions struct {
	// RefreshInterval is how often the set is fetched again in the background. Default 1h.
	RefreshInterval time.Duration
	// UnknownKIDRefreshEvery bounds refreshes caused by tokens with an unknown kid (a
	// flood of forged kids must not become a flood of fetches). Default 10s.
	UnknownKIDRefreshEvery time.Duration
	// HTTPTimeout bounds one fetch. Default 10s.
	HTTPTimeout time.Duration
}

type jwksSource struct{ kf keyfunc.Keyfunc }

// JWKS returns a KeySource backed by the JSON Web Key Set at rawURL, fetched now (an
// unreachable set fails here), refreshed in the background until ctx ends, and refreshed
// on an unknown kid at most once per UnknownKIDRefreshEvery. The URL must be https,
// except on a loopback host. A JWK whose "alg" differs from the token's is refused.
func JWKS(ctx context.Context, rawURL string, opts ...JWKSOptions) (KeySource, error) {
	var o JWKSOptions
	if len(opts) > 0 {
		o = opts[0]
	}
	if o.RefreshInterval <= 0 {
		o.RefreshInterval = time.Hour
	}
	if o.UnknownKIDRefreshEvery <= 0 {
		o.UnknownKIDRefreshEvery = 10 * time.Second
	}
	if o.HTTPTimeout <= 0 {
		o.HTTPTimeout = 10 * time.Second
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("JWKS URL: %w", err)
	}
	if u.Scheme != "https" && !(u.Scheme == "http" && isLoopback(u.Hostname())) {
		return nil, errors.New("JWKS URL must be https (http only for a loopback host)")
	}
	fail := false
	kf, err := keyfunc.NewDefaultOverrideCtx(ctx, []string{rawURL}, keyfunc.Override{
		HTTPTimeout:       o.HTTPTimeout,
		RefreshInterval:   o.RefreshInterval,
		RefreshUnknownKID: rate.NewLimiter(rate.Every(o.UnknownKIDRefreshEvery), 1),
		// The deadline for taking a refresh slot (jwkset also hands it to the refresh it
		// then makes). At 1ms, as it was, a loaded machine could pass it before the
		// limiter was even asked, and a rotated key was refused (a test failed so under
		// -race on 2 cores). It never holds a handshake for a slot: once the slot is
		// spent the limiter's next token is UnknownKIDRefreshEvery away, beyond the
		// deadline, and the wait fails at once.
		RateLimitWaitMax:          o.HTTPTimeout,
		NoErrorReturnFirstHTTPReq: &fail,
		// Background refresh errors keep the last good set; keyfunc would log them
		// through slog.Default, which this library must not write to.
		RefreshErrorHandlerFunc: func(string) func(context.Context, error) { return func(context.Context, error) {} },
	})
	if err != nil {
		return nil, fmt.Errorf("JWKS: %w", err)
	}
	return jwksSource{kf: kf}, nil
}

func (s jwksSource) Key(ctx context.Context, alg, kid string) (any, error) {
	if kid == "" {
		return nil, fmt.Errorf("%w: token has no kid", ErrKeyNotFound)
	}
	key, err := s.kf.KeyfuncCtx(ctx)(&jwt.Token{Header: map[string]any{"alg": alg, "kid": kid}})
	if err != nil {
		// Unknown kid, or a JWK whose alg or use does not fit this token: the token
		// is what is wrong.
		return nil, errors.Join(ErrKeyNotFound, err)
	}
	return key, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
