// Package gateway is wsgate's WebSocket engine, with API Gateway's WebSocket contract:
// the handshake ($connect authorizer and integration, subprotocol: handshake.go), live
// connections, route selection, message and $disconnect integrations (conn.go), the
// WebSocket library behind one seam (ws.go, frameguard.go), connection ids (connid.go),
// close codes (close.go), limits and the sweeper, graceful shutdown (gateway.go) and
// their metrics. It depends on interfaces for what it calls: authorizer.Authorizer,
// integration.Integration, cluster.Registry; package server builds it from a config.
//
// Gateway.mu is the gateway's mutex; Conn has none (atomics only); the poller and each
// socket have their own, each held alone (ws.go, netpoll_linux.go).
package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/wsgate/wsgate/internal/authorizer"
	"github.com/wsgate/wsgate/internal/cluster"
	"github.com/wsgate/wsgate/internal/config"
	"github.com/wsgate/wsgate/internal/integration"
)

// Route is a compiled route.
type Route struct {
	Key         string
	Integration integration.Integration // nil: no target
	TwoWay      bool
	// Models validates message bodies before Integration (models.go); nil: no
	// validation, the default.
	Models *Models

	obs      routeObservers // set by New
	throttle *rate.Limiter  // the stage's RouteSettings for this route; nil: none (set by New)
}

// Options are what a Gateway is built from; [Build] makes them from a config.
type Options struct {
	Config *config.Config
	// Authorizer protects $connect; nil when its AuthorizationType is NONE.
	Authorizer authorizer.Authorizer
	// Routes maps route keys to compiled routes.
	Routes map[string]*Route
	// Selection is the compiled RouteSelectionExpression.
	Selection integration.Selection
	// Registry tracks connections; nil: an in-memory cluster.Local.
	Registry cluster.Registry
	Logger   *slog.Logger
	Metrics  *Metrics
	// Now is the clock; nil: time.Now.
	Now func() time.Time
	// Connections, when not nil, serves the requests that are not WebSocket upgrades
	// and whose path is /{stage}/@connections/{id} or /@connections/{id}: the
	// @connections API on the WebSocket listener. Nil: they get 426, as every other
	// request that is not an upgrade does.
	Connections http.Handler
	// APIKeys are the keys a $connect with ApiKeyRequired accepts (apikey.go). Nil:
	// none, so such a $connect is always refused.
	APIKeys []APIKey
	// IAM verifies the handshake's SigV4 signature when $connect's AuthorizationType
	// is AWS_IAM (iam.go). Nil: no AWS_IAM check.
	IAM IAMVerifier

	// --- access log (accesslog.go) ---

	// AccessLog, when not nil, is handed one record per $connect (accepted or
	// refused), message and $disconnect. Nil: no access log.
	AccessLog AccessLogger
}

// Gateway serves WebSocket handshakes (it is an http.Handler) and owns the connections
// it upgrades.
type Gateway struct {
	cfg    *config.Config
	limits config.Limits
	auth   authorizer.Authorizer
	// inProcessAuth: the authorizer decides in process (authorizer.InProcess). Its
	// handshakes grow their stack at once (growStack), where one that calls out keeps
	// a handshake waiting on it with the stack it needs; and its event names headers
	// as net/http does, which it reads whatever their case.
	inProcessAuth bool
	routes        map[string]*Route
	selection     integration.Selection
	reg           cluster.Registry
	log           *slog.Logger
	metrics       *Metrics
	now           func() time.Time
	limiter       *rate.Limiter // Limits.ConnectRate
	methodArn     string
	ws            *wsServer

	connections http.Handler // Options.Connections
	apiKeys     *apiKeys     // Options.APIKeys and the config's API key settings
	iam         IAMVerifier  // Options.IAM
	accessLog   AccessLogger // Options.AccessLog

	open atomic.Int64 // connections admitted or being admitted

	mu      sync.Mutex
	closing bool
	wg      sync.WaitGroup // handshakes in progress, live connections, $disconnect calls

	stopSweep chan struct{}
	sweepDone chan struct{}

	// ctx is the context of message integrations; Shutdown cancels it once the drain
	// is over, so that no integration call outlives the gateway.
	ctx    context.Context
	cancel context.CancelFunc
}

// New returns a Gateway and starts its sweeper (idle, duration and credential expiry);
// Shutdown stops it.
func New(o Options) (*Gateway, error) {
	if o.Config == nil {
		return nil, errors.New("gateway: no config")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Registry == nil {
		o.Registry = cluster.NewLocal(o.Config.Server.Limits.MaxMessageBytes)
	}
	if o.Metrics == nil {
		o.Metrics = NewMetrics(nil)
	}
	c := o.Config
	g := &Gateway{
		cfg:           c,
		limits:        c.Server.Limits,
		auth:          o.Authorizer,
		inProcessAuth: o.Authorizer != nil && authorizer.InProcess(o.Authorizer),
		routes:        o.Routes,
		selection:     o.Selection,
		reg:           o.Registry,
		log:           o.Logger,
		accessLog:     o.AccessLog,
		iam:           o.IAM,
		metrics:       o.Metrics,
		now:           o.Now,
		methodArn:     fmt.Sprintf("arn:aws:execute-api:%s:%s:%s/%s/$connect", c.Server.Region, c.Server.AccountID, c.API.APIID, c.Stage.StageName),
		stopSweep:     make(chan struct{}),
		sweepDone:     make(chan struct{}),
	}
	for key, rt := range g.routes {
		rt.obs = g.metrics.routeObservers(key)
		if r, b := c.Stage.Throttling(key); r > 0 {
			rt.throttle = rate.NewLimiter(rate.Limit(r), b)
		}
	}
	g.connections = o.Connections
	g.apiKeys = newAPIKeys(c, o.APIKeys)
	g.ctx, g.cancel = context.WithCancel(context.Background())
	if c.Server.Limits.ConnectRate > 0 {
		g.limiter = rate.NewLimiter(rate.Limit(c.Server.Limits.ConnectRate), c.Server.Limits.ConnectBurst)
	}
	g.ws = newWSServer(g)
	go g.sweep()
	return g, nil
}

// Registry is the connection registry the @connections API serves from.
func (g *Gateway) Registry() cluster.Registry { return g.reg }

// Open returns the number of open (or opening) connections.
func (g *Gateway) Open() int64 { return g.open.Load() }

// MethodArn is the methodArn authorizers receive.
func (g *Gateway) MethodArn() string { return g.methodArn }

// Shutdown stops admitting connections, closes every connection with 1001, and waits
// for their $disconnect integrations until ctx ends.
func (g *Gateway) Shutdown(ctx context.Context) error {
	g.mu.Lock()
	already := g.closing
	g.closing = true
	g.mu.Unlock()
	if !already {
		close(g.stopSweep)
		<-g.sweepDone
	}
	g.reg.Each(func(c cluster.Conn) {
		if lc, ok := c.(*Conn); ok && lc.g == g {
			lc.close(CloseGoingAway, reasonShutdown)
		}
	})
	done := make(chan struct{})
	go func() { g.wg.Wait(); close(done) }()
	defer g.cancel()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("gateway: shutdown: %w (%d connections still closing)", ctx.Err(), g.open.Load())
	}
}

// sweep closes connections past their idle timeout, maximum duration or credential
// expiry. One goroutine checks every connection periodically, so connections need no
// timers of their own.
func (g *Gateway) sweep() {
	defer close(g.sweepDone)
	interval := min(g.limits.IdleTimeout.D(), g.limits.MaxConnectionDuration.D()) / 4
	interval = max(min(interval, time.Second), 10*time.Millisecond)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-g.stopSweep:
			return
		case <-t.C:
		}
		now := g.now()
		idle := g.limits.IdleTimeout.D()
		maxDur := g.limits.MaxConnectionDuration.D()
		g.reg.Each(func(cc cluster.Conn) {
			c, ok := cc.(*Conn)
			if !ok || c.g != g {
				return
			}
			switch {
			case g.limits.CloseOnCredentialExpiry && c.expiresAt != 0 && now.UnixNano() >= c.expiresAt:
				c.close(ClosePolicyViolation, reasonCredentialExpiry)
			case now.Sub(c.connectedTime()) >= maxDur:
				c.close(CloseGoingAway, reasonMaxDuration)
			case now.Sub(time.Unix(0, c.lastActive.Load())) >= idle:
				c.close(CloseGoingAway, reasonIdle)
			}
		})
	}
}
