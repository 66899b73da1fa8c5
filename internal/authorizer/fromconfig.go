package authorizer

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/wsgate/wsgate/cookieauth"
	"github.com/wsgate/wsgate/internal/config"
)

// cacheSize is how many results a cached authorizer keeps.
const cacheSize = 10000

// Deps are what [FromConfig] builds an authorizer with.
type Deps struct {
	// Getenv reads the environment (an HMAC secret named by Cookie.Key.HmacSecretEnv).
	// Nil: os.Getenv.
	Getenv func(string) string
	// Logger receives the warnings about risky configurations. Nil discards.
	Logger *slog.Logger
	// HTTPClient calls HTTP authorizers. Nil: http.DefaultClient.
	HTTPClient *http.Client
	// Lambda invokes Lambda authorizers; required only for one.
	Lambda LambdaInvoker
	// Now is the clock of the cookie authorizer and of the cache. Nil: time.Now.
	Now func() time.Time
}

// FromConfig builds the authorizer ac configures (see [config.Authorizer.Kind]): the
// cookie authorizer, an HTTP one or a Lambda one; with AuthorizerResultTtlInSeconds, a
// [Cache] in front of it (keyed by the cookie authorizer's own inputs, or else by the
// identity sources); with identity sources, the guard of [WithIdentitySources] in
// front of all. The cookie authorizer's key is read now. Errors name the field under
// field, e.g. "Authorizers.cookie".
func FromConfig(ctx context.Context, field string, ac config.Authorizer, deps Deps) (Authorizer, error) {
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	sources, err := ParseIdentitySources(ac.IdentitySource)
	if err != nil {
		return nil, fmt.Errorf("%s.IdentitySource: %w", field, err)
	}
	ttl := time.Duration(ac.AuthorizerResultTTLInSeconds) * time.Second
	var cacheOpts []CacheOption
	if deps.Now != nil {
		cacheOpts = append(cacheOpts, WithClock(deps.Now))
	}
	var a Authorizer
	switch ac.Kind() {
	case config.AuthorizerCookie:
		keys, err := cookieauth.NewKeySource(ctx, ac.Cookie.Key.Spec(), cookieauth.KeyDeps{Getenv: deps.Getenv})
		if err != nil {
			return nil, fmt.Errorf("%s.Cookie.Key: %w", field, err)
		}
		if ac.Cookie.Key.DevKey {
			deps.Logger.Warn("the cookie authorizer uses the public development key: never expose this gateway", "authorizer", field)
		}
		var opts []cookieauth.Option
		if deps.Now != nil {
			opts = append(opts, cookieauth.WithClock(deps.Now))
		}
		ca, err := cookieauth.New(ac.Cookie.CookieConfig(), keys, opts...)
		if err != nil {
			return nil, fmt.Errorf("%s.Cookie: %w", field, err)
		}
		cookie := NewCookie(ca)
		a = cookie
		if ttl > 0 {
			// Keyed on every input cookieauth decides on, whatever the identity
			// sources say.
			a = NewCache(cookie, cookie.CacheKey, ttl, cacheSize, cacheOpts...)
		}
	case config.AuthorizerHTTP:
		a = NewHTTP(deps.HTTPClient, ac.AuthorizerURI, DefaultTimeout)
	default:
		fn, err := config.LambdaFunction(ac.AuthorizerURI)
		if err != nil {
			return nil, fmt.Errorf("%s.AuthorizerUri: %w", field, err)
		}
		if deps.Lambda == nil {
			return nil, fmt.Errorf("%s.AuthorizerUri: no Lambda client configured", field)
		}
		a = NewLambda(deps.Lambda, fn, DefaultTimeout)
	}
	if ttl > 0 && ac.Kind() != config.AuthorizerCookie {
		if len(sources) == 0 {
			return nil, fmt.Errorf("%s.AuthorizerResultTtlInSeconds: caching needs identity sources to key on", field)
		}
		deps.Logger.Warn("authorizer results are cached by the identity sources: they must cover every input the authorizer decides on", "authorizer", field, "identitySources", ac.IdentitySource)
		a = NewCache(a, KeyBySources(sources), ttl, cacheSize, cacheOpts...)
	}
	return WithIdentitySources(a, sources), nil
}
