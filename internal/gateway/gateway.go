// Package gateway is wsgate's WebSocket gateway: the handshake ($connect authorizer and
// integration, subprotocol), connections (gws behind a small surface), route selection,
// message and $disconnect integrations, limits, and graceful shutdown, with API
// Gateway's WebSocket contract (../../SPEC.md).
//
// Lock order: Gateway.mu, then Gateway.upMu. Conn has no mutex (atomics only).
package gateway

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lxzan/gws"
	"golang.org/x/time/rate"

	"github.com/wsgate/wsgate/authevent"
	"github.com/wsgate/wsgate/internal/authorizer"
	"github.com/wsgate/wsgate/internal/cluster"
	"github.com/wsgate/wsgate/internal/config"
	"github.com/wsgate/wsgate/internal/integration"
)

// readBufferSize is the read buffer of a connection: 1 KiB instead of gws's 4, as an idle
// connection holds its read buffer; a frame larger than the buffer is read straight into
// the message.
const readBufferSize = 1024

// Route is a compiled route.
type Route struct {
	Key         string
	Integration integration.Integration // nil: no target
	TwoWay      bool

	obs routeObservers // set by New
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
}

// Gateway serves WebSocket handshakes (it is an http.Handler) and owns the connections
// it upgrades.
type Gateway struct {
	cfg        *config.Config
	limits     config.Limits
	auth       authorizer.Authorizer
	routes     map[string]*Route
	selection  integration.Selection
	reg        cluster.Registry
	log        *slog.Logger
	metrics    *Metrics
	now        func() time.Time
	limiter    *rate.Limiter
	methodArn  string
	upgraderOp gws.ServerOption

	// uncheckedFrames hands the client's bytes to the library unchecked (tests only: it
	// shows that a panic in the library's reader is recovered).
	uncheckedFrames bool

	open atomic.Int64 // connections admitted or being admitted

	mu      sync.Mutex
	closing bool
	wg      sync.WaitGroup // handshakes in progress, live connections, $disconnect calls

	upMu      sync.Mutex
	upgraders map[string]*gws.Upgrader // by selected subprotocol

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
		cfg:       c,
		limits:    c.Server.Limits,
		auth:      o.Authorizer,
		routes:    o.Routes,
		selection: o.Selection,
		reg:       o.Registry,
		log:       o.Logger,
		metrics:   o.Metrics,
		now:       o.Now,
		methodArn: fmt.Sprintf("arn:aws:execute-api:%s:%s:%s/%s/$connect", c.Server.Region, c.Server.AccountID, c.API.APIID, c.Stage.StageName),
		upgraders: make(map[string]*gws.Upgrader),
		stopSweep: make(chan struct{}),
		sweepDone: make(chan struct{}),
	}
	for key, rt := range g.routes {
		rt.obs = g.metrics.routeObservers(key)
	}
	g.ctx, g.cancel = context.WithCancel(context.Background())
	if c.Server.Limits.ConnectRate > 0 {
		g.limiter = rate.NewLimiter(rate.Limit(c.Server.Limits.ConnectRate), c.Server.Limits.ConnectBurst)
	}
	g.upgraderOp = gws.ServerOption{
		ReadMaxPayloadSize: g.limits.MaxMessageBytes,
		ReadBufferSize:     readBufferSize,
		CheckUtf8Enabled:   true,
		ParallelEnabled:    true,
		ParallelGolimit:    4,
		HandshakeTimeout:   g.limits.HandshakeTimeout.D(),
		NewSession:         func() gws.SessionStorage { return &session{} },
		Logger:             gwsLogger{g.log},
		// gws defers Recovery around every message handler: it must call recover
		// itself, so that a bug in one handler never takes the process down.
		Recovery: func(gws.Logger) {
			if e := recover(); e != nil {
				g.metrics.panics.Inc()
				g.log.Error("panic in a message handler (recovered)", "panic", fmt.Sprint(e), "stack", string(debug.Stack()))
			}
		},
	}
	go g.sweep()
	return g, nil
}

// Registry is the connection registry the @connections API serves from.
func (g *Gateway) Registry() cluster.Registry { return g.reg }

// Open returns the number of open (or opening) connections.
func (g *Gateway) Open() int64 { return g.open.Load() }

// MethodArn is the methodArn authorizers receive.
func (g *Gateway) MethodArn() string { return g.methodArn }

// upgrader returns the upgrader that selects subprotocol (none for "").
func (g *Gateway) upgrader(subprotocol string) (*gws.Upgrader, error) {
	g.upMu.Lock()
	defer g.upMu.Unlock()
	if u, ok := g.upgraders[subprotocol]; ok {
		return u, nil
	}
	if len(g.upgraders) >= 64 {
		return nil, errors.New("more than 64 distinct subprotocols selected")
	}
	op := g.upgraderOp
	if subprotocol != "" {
		op.SubProtocols = []string{subprotocol}
	}
	u := gws.NewUpgrader(handler{g}, &op)
	g.upgraders[subprotocol] = u
	return u, nil
}

// ServeHTTP runs one handshake: limits, the $connect authorizer, the $connect
// integration, then the upgrade.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := g.now()
	if !isUpgrade(r) {
		w.Header().Set("Connection", "close")
		http.Error(w, "Upgrade Required", http.StatusUpgradeRequired)
		return
	}
	if len(r.RequestURI) > g.limits.MaxURLBytes {
		g.refuse(w, r, http.StatusRequestURITooLong, "url_too_long", "", start)
		return
	}
	g.mu.Lock()
	if g.closing {
		g.mu.Unlock()
		g.refuse(w, r, http.StatusServiceUnavailable, "shutting_down", "", start)
		return
	}
	g.wg.Add(1)
	g.mu.Unlock()
	admitted := false
	defer func() {
		if !admitted {
			g.wg.Done()
		}
	}()
	if g.limiter != nil && !g.limiter.Allow() {
		g.refuse(w, r, http.StatusTooManyRequests, "rate_limited", "", start)
		return
	}
	if n := g.open.Add(1); g.limits.MaxConnections > 0 && n > int64(g.limits.MaxConnections) {
		g.open.Add(-1)
		g.refuse(w, r, http.StatusTooManyRequests, "max_connections", "", start)
		return
	}
	defer func() {
		if !admitted {
			g.open.Add(-1)
		}
	}()

	c := g.newConn(r, start)
	ev := g.authorizerEvent(r, c)
	csrfEntry := "" // the offered subprotocol entry that carried the CSRF token
	if g.auth != nil {
		t0 := time.Now()
		res := g.auth.Authorize(r.Context(), ev)
		g.metrics.observeAuthorizer(res, time.Since(t0))
		if st := res.Status(); st != 0 {
			g.refuse(w, r, st, "authorizer_"+res.Outcome.String(), c.id, start, slog.String("requestId", c.connectRequestID), slog.String("reason", res.Reason))
			return
		}
		c.principalID, c.authContext, c.expiresAt = res.PrincipalID, res.Context, res.ExpiresAt
		csrfEntry = res.Subprotocol
	}

	if rt := g.routes[config.RouteConnect]; rt != nil && rt.Integration != nil {
		req := c.integrationRequest(config.RouteConnect, integration.EventConnect, c.connectRequestID, start)
		req.Headers, req.Query = ev.MultiValueHeaders, ev.MultiValueQueryStringParameters
		t0 := time.Now()
		resp, err := rt.Integration.Invoke(r.Context(), req)
		rt.obs.observe(err, time.Since(t0))
		if err != nil {
			g.refuse(w, r, http.StatusBadGateway, "integration_error", c.id, start, slog.String("requestId", c.connectRequestID), slog.String("error", err.Error()))
			return
		}
		if resp.StatusCode < 200 || resp.StatusCode > 299 {
			g.refuse(w, r, resp.StatusCode, "integration_rejected", c.id, start, slog.String("requestId", c.connectRequestID))
			return
		}
		if p := resp.Header.Get("Sec-WebSocket-Protocol"); p != "" {
			c.subprotocol = p
		}
	}
	c.subprotocol = selectSubprotocol(r, c.subprotocol, csrfEntry)
	up, err := g.upgrader(c.subprotocol)
	if err != nil {
		g.refuse(w, r, http.StatusInternalServerError, "subprotocol", c.id, start, slog.String("error", err.Error()))
		return
	}
	// Registered before the 101 is written, so that a POST the client's peer makes as
	// soon as it sees the socket open finds it; operations wait for the upgrade.
	c.ready = make(chan struct{})
	g.mu.Lock() // against Shutdown: a connection registered now is closed by it
	if g.closing {
		g.mu.Unlock()
		g.refuse(w, r, http.StatusServiceUnavailable, "shutting_down", c.id, start)
		return
	}
	g.reg.Add(c)
	g.mu.Unlock()
	ws, err := g.upgrade(up, w, r, c)
	if err != nil {
		g.reg.Remove(c.id)
		c.closing.Store(true)
		close(c.ready)
		g.metrics.connects.WithLabelValues("upgrade_failed").Inc()
		g.log.Info("connect: upgrade failed", "requestId", c.connectRequestID, "error", err.Error())
		return
	}
	admitted = true
	c.ws = ws
	ws.Session().(*session).c = c
	close(c.ready)
	g.metrics.connects.WithLabelValues("accepted").Inc()
	g.metrics.connections.Inc()
	g.log.Info("connect", "requestId", c.connectRequestID, "connectionId", c.id, "principalId", c.principalID,
		"sourceIp", c.sourceIP, "status", http.StatusSwitchingProtocols, "durationMs", msSince(start))
	// The handler returns so that net/http's request and connection state can be
	// collected; the connection lives on in its own goroutine.
	go c.readLoop()
}

// upgrade hijacks the HTTP connection and upgrades it with up, reading the client's
// frames through a frameGuard that fails c when a header breaks a rule.
func (g *Gateway) upgrade(up *gws.Upgrader, w http.ResponseWriter, r *http.Request, c *Conn) (*gws.Conn, error) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		return nil, errors.New("the response writer cannot be hijacked")
	}
	netConn, brw, err := hj.Hijack()
	if err != nil {
		return nil, err
	}
	var src io.Reader = netConn
	if n := brw.Reader.Buffered(); n > 0 {
		// Bytes the client sent after its request, already read by net/http.
		pre, _ := brw.Reader.Peek(n)
		src = io.MultiReader(bytes.NewReader(bytes.Clone(pre)), netConn)
	}
	guard := &frameGuard{Conn: netConn, src: src, fail: c.fail, unchecked: g.uncheckedFrames}
	return up.UpgradeFromConn(guard, bufio.NewReaderSize(guard, readBufferSize), r)
}

// readLoop reads the connection's frames until it ends. A panic in the WebSocket
// library's reader (a bug: frameGuard rejects every header known to cause one) closes
// this connection with 1011 and runs $disconnect; the process and every other
// connection go on.
func (c *Conn) readLoop() {
	defer func() {
		if e := recover(); e != nil {
			c.g.metrics.panics.Inc()
			c.g.log.Error("panic in a connection's reader (recovered)", "connectionId", c.id, "panic", fmt.Sprint(e), "stack", string(debug.Stack()))
			c.fail(CloseInternalError, reasonInternalError)
			_ = c.ws.NetConn().Close()
			handler{c.g}.OnClose(c.ws, nil)
		}
	}()
	c.ws.ReadLoop()
}

func msSince(t time.Time) float64 { return float64(time.Since(t).Microseconds()) / 1000 }

// refuse answers a handshake with a status and an empty body, as API Gateway does.
func (g *Gateway) refuse(w http.ResponseWriter, r *http.Request, status int, outcome, connID string, start time.Time, attrs ...slog.Attr) {
	g.metrics.connects.WithLabelValues(outcome).Inc()
	args := []any{"outcome", outcome, "status", status, "connectionId", connID, "sourceIp", remoteIP(r), "durationMs", msSince(start)}
	for _, a := range attrs {
		args = append(args, a)
	}
	g.log.Info("connect refused", args...)
	w.Header().Set("Connection", "close")
	w.WriteHeader(status)
}

func isUpgrade(r *http.Request) bool {
	return r.Method == http.MethodGet && strings.EqualFold(r.Header.Get("Upgrade"), "websocket") &&
		headerContainsToken(r.Header.Values("Connection"), "upgrade")
}

func headerContainsToken(values []string, token string) bool {
	for _, v := range values {
		for part := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(part), token) {
				return true
			}
		}
	}
	return false
}

// selectSubprotocol picks the connection's subprotocol: the one the $connect
// integration selected (API Gateway's rule) if the client offered it; otherwise, when
// the CSRF token travelled as a subprotocol entry, the first other entry the client
// offered (a wsgate extension: browsers drop a connection that offered subprotocols
// and got none back). The CSRF entry itself is never selected.
func selectSubprotocol(r *http.Request, selected, csrfEntry string) string {
	var offered []string
	for _, v := range r.Header.Values("Sec-WebSocket-Protocol") {
		for part := range strings.SplitSeq(v, ",") {
			if p := strings.TrimSpace(part); p != "" {
				offered = append(offered, p)
			}
		}
	}
	if selected != "" && selected != csrfEntry && slices.Contains(offered, selected) {
		return selected
	}
	if csrfEntry != "" {
		for _, p := range offered {
			if p != csrfEntry {
				return p
			}
		}
	}
	return ""
}

func remoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// newID returns a 16-character base64 id ending in "=" (11 bytes), AWS's connection id
// shape; the first byte is the node id, so any node can tell a connection's owner. The
// URL-safe alphabet keeps "/" and "+" out of ids, which clients put in URL paths (the
// "=" must still be escaped by strict clients; the AWS SDKs do).
func newID(node byte) string {
	var b [11]byte
	b[0] = node
	_, _ = rand.Read(b[1:])
	return base64.URLEncoding.EncodeToString(b[:])
}

// NodeOf returns the node id encoded in a connection id, and false if id is not one.
func NodeOf(id string) (byte, bool) {
	if len(id) != 16 {
		return 0, false
	}
	b, err := base64.URLEncoding.DecodeString(id)
	if err != nil || len(b) != 11 {
		return 0, false
	}
	return b[0], true
}

// requestID returns a request id ($context.requestId / extendedRequestId).
func requestID() string {
	var b [11]byte
	_, _ = rand.Read(b[:])
	return base64.StdEncoding.EncodeToString(b[:])
}

// authorizerEvent builds the REQUEST authorizer event for a handshake.
func (g *Gateway) authorizerEvent(r *http.Request, c *Conn) *authevent.Event {
	headers := make(map[string][]string, len(r.Header)+1)
	single := make(map[string]string, len(r.Header)+1)
	for k, vs := range r.Header {
		headers[k] = vs
		single[k] = vs[len(vs)-1]
	}
	headers["Host"], single["Host"] = []string{r.Host}, r.Host
	q := r.URL.Query()
	var qs map[string]string
	if len(q) > 0 {
		qs = make(map[string]string, len(q))
		for k, vs := range q {
			qs[k] = vs[len(vs)-1]
		}
	}
	return &authevent.Event{
		Type:                            authevent.EventTypeRequest,
		MethodArn:                       g.methodArn,
		Headers:                         single,
		MultiValueHeaders:               headers,
		QueryStringParameters:           qs,
		MultiValueQueryStringParameters: map[string][]string(q),
		StageVariables:                  g.cfg.Stage.StageVariables,
		RequestContext: authevent.RequestContext{
			RouteKey:          config.RouteConnect,
			EventType:         integration.EventConnect,
			ExtendedRequestID: c.connectRequestID,
			RequestTime:       c.connectedAt.UTC().Format(integration.RequestTimeLayout),
			MessageDirection:  "IN",
			Stage:             g.cfg.Stage.StageName,
			ConnectedAt:       c.connectedAt.UnixMilli(),
			RequestTimeEpoch:  c.connectedAt.UnixMilli(),
			Identity:          authevent.Identity{SourceIP: c.sourceIP, UserAgent: c.userAgent},
			RequestID:         c.connectRequestID,
			DomainName:        c.domainName,
			ConnectionID:      c.id,
			APIID:             g.cfg.API.APIID,
		},
	}
}

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
			case g.limits.CloseOnCredentialExpiry && !c.expiresAt.IsZero() && !now.Before(c.expiresAt):
				c.close(ClosePolicyViolation, reasonCredentialExpiry)
			case now.Sub(c.connectedAt) >= maxDur:
				c.close(CloseGoingAway, reasonMaxDuration)
			case now.Sub(time.Unix(0, c.lastActive.Load())) >= idle:
				c.close(CloseGoingAway, reasonIdle)
			}
		})
	}
}
