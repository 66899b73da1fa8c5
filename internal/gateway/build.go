package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/wsgate/wsgate/cookieauth"
	"github.com/wsgate/wsgate/internal/authorizer"
	"github.com/wsgate/wsgate/internal/cluster"
	"github.com/wsgate/wsgate/internal/config"
	"github.com/wsgate/wsgate/internal/integration"
)

// DevHMACSecret is the public development key of Cookie.Key.DevKey (see
// config.DevHMACSecret).
const DevHMACSecret = config.DevHMACSecret

// LambdaInvoker invokes Lambda functions for authorizers and AWS_PROXY integrations;
// *lambda.Client is one.
type LambdaInvoker interface {
	authorizer.LambdaInvoker
	integration.LambdaInvoker
}

// BuildDeps are the outside things a gateway is built with.
type BuildDeps struct {
	// Getenv reads the environment (secrets named in the config). Nil: os.Getenv.
	Getenv func(string) string
	// Logger logs; nil discards.
	Logger *slog.Logger
	// HTTPClient calls HTTP integrations and authorizers; nil: a pooled client.
	HTTPClient *http.Client
	// Lambda invokes Lambda authorizers and AWS_PROXY integrations; required only when
	// the config has one.
	Lambda LambdaInvoker
	// Registry tracks connections; nil: in memory.
	Registry cluster.Registry
	// Metrics; nil: unregistered metrics.
	Metrics *Metrics
	// Now is the clock; nil: time.Now.
	Now func() time.Time
}

// Build compiles cfg (routes, selection expressions, templates, request parameters,
// identity sources, authorizer keys) into a Gateway. Its errors name the config field.
func Build(ctx context.Context, cfg *config.Config, deps BuildDeps) (*Gateway, error) {
	if deps.Getenv == nil {
		deps.Getenv = os.Getenv
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	if deps.HTTPClient == nil {
		deps.HTTPClient = integration.NewHTTPClient()
	}
	var errs []error
	sel, err := integration.CompileSelection(cfg.API.RouteSelectionExpression)
	if err != nil {
		errs = append(errs, fmt.Errorf("Api.RouteSelectionExpression: %w", err))
	}
	integrations := make(map[string]integration.Integration, len(cfg.Integrations))
	for id, ic := range cfg.Integrations {
		ideps := integration.Deps{HTTPClient: deps.HTTPClient, StageVariables: cfg.Stage.StageVariables}
		if deps.Lambda != nil {
			ideps.Lambda = deps.Lambda
		}
		in, err := integration.New(ic, ideps)
		if err != nil {
			errs = append(errs, fmt.Errorf("Integrations.%s.%w", id, err))
			continue
		}
		integrations[id] = in
	}
	routes := make(map[string]*Route, len(cfg.Routes))
	var auth authorizer.Authorizer
	for key, rc := range cfg.Routes {
		rt := &Route{Key: key, TwoWay: rc.RouteResponseSelectionExpression == "$default"}
		if id, ok := config.IntegrationID(rc.Target); ok {
			rt.Integration = integrations[id]
		}
		routes[key] = rt
		if key == config.RouteConnect && rc.AuthorizationType == "CUSTOM" {
			a, err := buildAuthorizer(ctx, "Authorizers."+rc.AuthorizerID, cfg.Authorizers[rc.AuthorizerID], deps)
			if err != nil {
				errs = append(errs, err)
			}
			auth = a
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("invalid configuration: %w", errors.Join(errs...))
	}
	return New(Options{
		Config:     cfg,
		Authorizer: auth,
		Routes:     routes,
		Selection:  sel,
		Registry:   deps.Registry,
		Logger:     deps.Logger,
		Metrics:    deps.Metrics,
		Now:        deps.Now,
	})
}

func buildAuthorizer(ctx context.Context, field string, ac config.Authorizer, deps BuildDeps) (authorizer.Authorizer, error) {
	sources, err := authorizer.ParseIdentitySources(ac.IdentitySource)
	if err != nil {
		return nil, fmt.Errorf("%s.IdentitySource: %w", field, err)
	}
	ttl := time.Duration(ac.AuthorizerResultTTLInSeconds) * time.Second
	var a authorizer.Authorizer
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
		if ttl > 0 {
			// cookieauth's own cache keys on every input it decides on, whatever
			// the identity sources say.
			opts = append(opts, cookieauth.WithCache(10000, ttl))
		}
		ca, err := cookieauth.New(ac.Cookie.CookieConfig(), keys, opts...)
		if err != nil {
			return nil, fmt.Errorf("%s.Cookie: %w", field, err)
		}
		a = authorizer.NewCookie(ca)
	case config.AuthorizerHTTP:
		a = authorizer.NewHTTP(deps.HTTPClient, ac.AuthorizerURI, 10*time.Second)
	default:
		fn, err := config.LambdaFunction(ac.AuthorizerURI)
		if err != nil {
			return nil, fmt.Errorf("%s.AuthorizerUri: %w", field, err)
		}
		if deps.Lambda == nil {
			return nil, fmt.Errorf("%s.AuthorizerUri: no Lambda client configured", field)
		}
		a = authorizer.NewLambda(deps.Lambda, fn, 10*time.Second)
	}
	if ttl > 0 && ac.Cookie == nil {
		if len(sources) == 0 {
			return nil, fmt.Errorf("%s.AuthorizerResultTtlInSeconds: caching needs identity sources to key on", field)
		}
		deps.Logger.Warn("authorizer results are cached by the identity sources: they must cover every input the authorizer decides on", "authorizer", field, "identitySources", ac.IdentitySource)
		a = authorizer.NewCache(a, sources, ttl, 10000)
	}
	if len(sources) > 0 {
		a = authorizer.WithIdentitySources(a, sources)
	}
	return a, nil
}
