package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/wsgate/wsgate/internal/authorizer"
	"github.com/wsgate/wsgate/internal/cluster"
	"github.com/wsgate/wsgate/internal/config"
	"github.com/wsgate/wsgate/internal/gateway"
	"github.com/wsgate/wsgate/internal/integration"
)

// LambdaInvoker invokes Lambda functions for authorizers and AWS_PROXY integrations;
// *lambda.Client is one.
type LambdaInvoker interface {
	authorizer.LambdaInvoker
	integration.LambdaInvoker
}

// Deps are the outside things a gateway is built and served with.
type Deps struct {
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
	Metrics *gateway.Metrics
	// Now is the clock; nil: time.Now.
	Now func() time.Time
	// Connections serves @connections on the WebSocket listener (gateway.Options);
	// nil: not served there.
	Connections http.Handler

	// --- access log (accesslog.go) ---

	// AccessLog receives the access log's records (gateway.Options). Nil: Serve makes
	// one from Stage.AccessLogSettings and Server.AccessLog; Build alone writes none.
	AccessLog gateway.AccessLogger
	// AccessLogStdout is where an access log whose Server.AccessLog.Path is "" or "-"
	// is written. Nil: os.Stdout.
	AccessLogStdout io.Writer

	// --- local Lambda functions (functions.go, docs/lambda.md) ---

	// FunctionsCAFile is a PEM CA bundle the local functions trust (wsgate dev's CA),
	// passed to them as NODE_EXTRA_CA_CERTS, AWS_CA_BUNDLE and SSL_CERT_FILE. Default
	// none.
	FunctionsCAFile string
	// FunctionsNodeModules is the node_modules directory node functions resolve the AWS
	// SDK from when they ship none. Default: $WSGATE_LAMBDA_NODE_MODULES.
	FunctionsNodeModules string
	// WatchFunctions reloads a local function when a file under its CodeDir changes.
	WatchFunctions bool
}

// Build compiles cfg (routes, selection expressions, templates, request parameters,
// identity sources, authorizer keys) into a Gateway. Its errors name the config field.
func Build(ctx context.Context, cfg *config.Config, deps Deps) (*gateway.Gateway, error) {
	if deps.Getenv == nil {
		deps.Getenv = os.Getenv
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	if deps.HTTPClient == nil {
		deps.HTTPClient = integration.NewHTTPClient()
	}
	if deps.Lambda == nil && len(cfg.Functions) > 0 {
		deps.Lambda = notStarted{} // Build alone (--check-config): functions.go
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
	routes := make(map[string]*gateway.Route, len(cfg.Routes))
	var auth authorizer.Authorizer
	for key, rc := range cfg.Routes {
		rt := &gateway.Route{Key: key, TwoWay: rc.RouteResponseSelectionExpression == "$default"}
		if id, ok := config.IntegrationID(rc.Target); ok {
			rt.Integration = integrations[id]
		}
		if rt.Models, err = buildModels(cfg, key, rc); err != nil { // request validation (models.go)
			errs = append(errs, err)
		}
		routes[key] = rt
		if key == config.RouteConnect && rc.AuthorizationType == "CUSTOM" {
			a, err := authorizer.FromConfig(ctx, "Authorizers."+rc.AuthorizerID, cfg.Authorizers[rc.AuthorizerID], authorizer.Deps{
				Getenv:     deps.Getenv,
				Logger:     deps.Logger,
				HTTPClient: deps.HTTPClient,
				Lambda:     deps.Lambda,
				Now:        deps.Now,
			})
			if err != nil {
				errs = append(errs, err)
			}
			auth = a
		}
	}
	keys, err := apiKeys(cfg, deps.Getenv) // Server.ApiKeys (apikeys.go)
	if err != nil {
		errs = append(errs, err)
	}
	var iam gateway.IAMVerifier // AWS_IAM on $connect, keys in Server.Iam
	if cfg.Routes[config.RouteConnect].AuthorizationType == "AWS_IAM" {
		a, err := authorizer.NewIAM(cfg, deps.Getenv, deps.Now)
		if err != nil {
			errs = append(errs, err)
		} else {
			iam = a
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("invalid configuration: %w", errors.Join(errs...))
	}
	return gateway.New(gateway.Options{
		Config:     cfg,
		Authorizer: auth,
		Routes:     routes,
		Selection:  sel,
		Registry:   deps.Registry,
		Logger:     deps.Logger,
		Metrics:    deps.Metrics,
		Now:        deps.Now,

		Connections: deps.Connections, // @connections on the WebSocket listener
		APIKeys:     keys,             // Server.ApiKeys
		IAM:         iam,              // Server.Iam
		AccessLog:   deps.AccessLog,   // accesslog.go
	})
}
