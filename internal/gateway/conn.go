package gateway

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
	"unique"

	"golang.org/x/time/rate"

	"github.com/wsgate/wsgate/internal/cluster"
	"github.com/wsgate/wsgate/internal/config"
	"github.com/wsgate/wsgate/internal/integration"
)

// Conn is one live connection. Its fields are set during the handshake and read-only
// afterwards, but for the atomics. Every idle connection holds one, so its size counts:
// times are Unix nanoseconds (8 bytes, where a time.Time takes 24), the small atomics
// sit together, and the whole fits Go's 256-byte size class.
type Conn struct {
	g                *Gateway
	ws               *socket
	id               string
	connectRequestID string
	connectedAt      int64 // Unix nanoseconds (connectedTime)
	sourceIP         string
	// userAgent and domainName are interned: thousands of connections come from the
	// same browser build to the same host, and hold one copy of each between them.
	userAgent   unique.Handle[string]
	domainName  unique.Handle[string]
	subprotocol string
	principalID string
	authContext integration.AuthContext
	expiresAt   int64 // Unix nanoseconds the credential expires at (the JWT's exp); 0: unknown
	// ready is set while the handshake's upgrade runs (from registration to the 101):
	// its channel is closed, and ready cleared, once the upgrade is done (ws set) or has
	// failed. Cleared, so that a connection does not keep a channel for its whole life.
	ready atomic.Pointer[chan struct{}]

	iam *integration.IAMIdentity // who signed the handshake when $connect is AWS_IAM (iam.go)

	slots    chan struct{}  // message handlers in flight (made and filled by the reader)
	rate     *rate.Limiter  // Limits.MessageRate (made by the reader on the first message)
	inflight sync.WaitGroup // message handlers in flight: $disconnect waits for them

	lastActive   atomic.Int64 // unix nanoseconds of the last client frame
	queuedBytes  atomic.Int64
	closeFrame   atomic.Pointer[closeFrame] // set once, by the gateway when it closes the connection
	queuedMsgs   atomic.Int32
	closing      atomic.Bool
	disconnected atomic.Bool
}

// closeFrame is the code and reason the gateway closed a connection with, stored
// together so that no reader sees one without the other.
type closeFrame struct {
	code   int
	reason string
}

var _ cluster.Conn = (*Conn)(nil)

func (g *Gateway) newConn(r *http.Request, now time.Time) *Conn {
	c := &Conn{
		g:                g,
		id:               cluster.NewConnectionID(byte(g.cfg.Server.NodeID)),
		connectRequestID: requestID(),
		connectedAt:      now.UnixNano(),
		sourceIP:         remoteIP(r),
		userAgent:        unique.Make(r.UserAgent()),
	}
	if d := g.cfg.Server.DomainName; d != "" {
		c.domainName = unique.Make(d)
	} else {
		c.domainName = unique.Make(r.Host)
	}
	c.lastActive.Store(now.UnixNano())
	return c
}

// connectedTime is when the handshake began.
func (c *Conn) connectedTime() time.Time { return time.Unix(0, c.connectedAt) }

// ID is the connection id.
func (c *Conn) ID() string { return c.id }

// Info describes the connection for GET @connections.
func (c *Conn) Info() cluster.Info {
	return cluster.Info{
		ConnectedAt:  c.connectedTime(),
		LastActiveAt: time.Unix(0, c.lastActive.Load()),
		SourceIP:     c.sourceIP,
		UserAgent:    c.userAgent.Value(),
	}
}

// Send queues data for the client: a text frame if it is UTF-8, else binary. It fails
// with cluster.ErrLimitExceeded when the send queue is full, and cluster.ErrGone once
// the connection is closing. A write that does not complete within WriteTimeout closes
// the connection.
func (c *Conn) Send(data []byte) error {
	if !c.upgraded() || c.closing.Load() {
		return cluster.ErrGone
	}
	n := c.queuedMsgs.Add(1)
	b := c.queuedBytes.Add(int64(len(data)))
	if int(n) > c.g.limits.SendQueueMessages || b > int64(c.g.limits.SendQueueBytes) {
		c.queuedMsgs.Add(-1)
		c.queuedBytes.Add(-int64(len(data)))
		c.g.metrics.queueFull.Inc()
		return cluster.ErrLimitExceeded
	}
	c.writeAsync(data, c.g.limits.WriteTimeout.D(), func(err error) {
		c.queuedMsgs.Add(-1)
		c.queuedBytes.Add(-int64(len(data)))
		if err == nil {
			c.g.metrics.messagesOut.Inc()
		}
		// A write that failed because the client closed first is not the gateway's
		// close: the client's code stands. A write that timed out was reported by
		// writeTimedOut before the library ended the connection.
	})
	return nil
}

// upgraded waits for the handshake's upgrade to finish (it is registered just before
// the 101 is written) and reports whether it succeeded.
func (c *Conn) upgraded() bool {
	if p := c.ready.Load(); p != nil {
		t := time.NewTimer(c.g.limits.HandshakeTimeout.D())
		defer t.Stop()
		select {
		case <-*p:
		case <-t.C:
			return false
		}
	}
	return c.ws != nil
}

// Close closes the connection for DELETE @connections.
func (c *Conn) Close() { c.close(CloseNormal, reasonDeleted) }

// markClosed records the code the gateway closes with, once.
func (c *Conn) markClosed(code int, reason string) bool {
	if !c.closing.CompareAndSwap(false, true) {
		return false
	}
	c.closeFrame.Store(&closeFrame{code, reason})
	return true
}

// writeTimedOut records that a write to the client missed WriteTimeout (a slow reader):
// the connection ends with 1011, which $disconnect reports, as the close frame cannot
// reach the client.
func (c *Conn) writeTimedOut() { c.markClosed(CloseInternalError, reasonWriteTimeout) }

// fail closes the connection at once with code: it is called from the connection's
// read goroutine, which stops reading after it.
func (c *Conn) fail(code int, reason string) {
	if !c.markClosed(code, reason) {
		return // already closing: that close ends the connection
	}
	c.writeClose(code, reason)
}

// close sends a close frame and closes the connection. It does not block: a write in
// progress to a slow reader is cut short by a deadline.
func (c *Conn) close(code int, reason string) {
	if !c.markClosed(code, reason) {
		return
	}
	go func() {
		if !c.upgraded() {
			return
		}
		c.writeClose(code, reason)
	}()
}

// integrationRequest is the base integration request of an event on this connection.
func (c *Conn) integrationRequest(routeKey, eventType, reqID string, now time.Time) *integration.Request {
	g := c.g
	return &integration.Request{
		RouteKey:          routeKey,
		EventType:         eventType,
		ConnectionID:      c.id,
		RequestID:         reqID,
		ExtendedRequestID: reqID,
		ConnectedAt:       c.connectedTime(),
		RequestTime:       now,
		DomainName:        c.domainName.Value(),
		Stage:             g.cfg.Stage.StageName,
		APIID:             g.cfg.API.APIID,
		SourceIP:          c.sourceIP,
		UserAgent:         c.userAgent.Value(),
		PrincipalID:       c.principalID,
		AuthorizerContext: c.authContext,
		IAM:               c.iam,
		StageVariables:    g.cfg.Stage.StageVariables,
	}
}

func (c *Conn) touch() { c.lastActive.Store(c.g.now().UnixNano()) }

// closed runs once the connection is gone: code and reason are what the client's close
// frame said, or what the library failed the connection with; a close the gateway
// initiated reports its own code. $disconnect runs after the connection's message
// handlers have finished.
func (c *Conn) closed(code int, reason string) {
	if !c.disconnected.CompareAndSwap(false, true) {
		return
	}
	c.closing.Store(true)
	if f := c.closeFrame.Load(); f != nil {
		code, reason = f.code, f.reason
	}
	g := c.g
	g.reg.Remove(c.id)
	g.metrics.connections.Dec()
	g.metrics.disconnects.WithLabelValues(closeLabel(code)).Inc()
	go func() {
		defer g.wg.Done()
		defer g.open.Add(-1)
		defer func() {
			if e := recover(); e != nil {
				g.recovered("a $disconnect", c.id, e)
			}
		}()
		c.inflight.Wait()
		g.disconnect(c, code, reason)
	}()
}

func closeLabel(code int) string {
	switch code {
	case 1000, 1001, 1002, 1003, 1005, 1006, 1007, 1008, 1009, 1011:
		return itoa(code)
	default:
		return "other"
	}
}

func itoa(n int) string {
	var b [8]byte
	i := len(b)
	for n >= 10 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	i--
	b[i] = byte('0' + n)
	return string(b[i:])
}

// disconnect runs the $disconnect integration (best effort, as on AWS).
func (g *Gateway) disconnect(c *Conn, code int, reason string) {
	reqID := requestID()
	now := g.now()
	rt := g.routes[config.RouteDisconnect]
	g.log.Info("disconnect", "requestId", reqID, "connectionId", c.id, "principalId", c.principalID,
		"disconnectStatusCode", code, "disconnectReason", reason, "connectedMs", now.Sub(c.connectedTime()).Milliseconds())
	g.accessDisconnect(c, reqID, now, code, reason) // accesslog.go
	if rt == nil || rt.Integration == nil {
		return
	}
	req := c.integrationRequest(config.RouteDisconnect, integration.EventDisconnect, reqID, now)
	req.DisconnectStatusCode, req.DisconnectReason = code, reason
	t0 := time.Now()
	_, err := rt.Integration.Invoke(context.Background(), req)
	rt.obs.observe(err, time.Since(t0))
	if err != nil {
		g.log.Warn("disconnect integration failed", "requestId", reqID, "connectionId", c.id, "error", err.Error())
	}
}

// message routes one client message.
func (c *Conn) message(body []byte, binary bool) {
	c.touch()
	g := c.g
	if binary && !g.limits.AllowBinaryFrames {
		c.close(CloseUnsupportedData, reasonBinary)
		return
	}
	g.metrics.messagesIn.Inc()
	reqID := requestID()
	now := g.now()
	acc := c.accessMessage(reqID, now) // access log: accesslog.go
	defer acc.write()
	if c.rate != nil && !c.rate.Allow() {
		g.metrics.throttledConn.Inc()
		acc.statusFrame(c, statusTooManyRequests, reqID)
		return
	}

	var doc any
	var isJSON bool
	if g.selection.UsesBody() && !binary {
		doc, isJSON = integration.DecodeBody(body)
	}
	key := g.selection.Eval(doc, isJSON)
	rt := g.routes[key]
	if rt == nil || key == config.RouteConnect || key == config.RouteDisconnect {
		key = config.RouteDefault
		rt = g.routes[config.RouteDefault]
	}
	acc.route(key)
	if rt == nil {
		g.log.Debug("message: no route", "requestId", reqID, "connectionId", c.id)
		acc.statusFrame(c, statusForbidden, reqID)
		return
	}
	if rt.throttle != nil && !rt.throttle.Allow() {
		g.metrics.throttledRoute.Inc()
		acc.statusFrame(c, statusTooManyRequests, reqID)
		return
	}
	if !c.validBody(rt, body, binary, doc, isJSON, g.selection.UsesBody()) { // request validation (models.go)
		acc.status(http.StatusBadRequest, statusBadRequestBody)
		return
	}
	if rt.Integration == nil {
		acc.statusFrame(c, statusInternalError, reqID)
		return
	}
	req := c.integrationRequest(key, integration.EventMessage, reqID, now)
	req.MessageID = requestID()
	req.Body, req.IsBase64Encoded = body, binary
	t0 := time.Now()
	resp, err := rt.Integration.Invoke(g.ctx, req)
	rt.obs.observe(err, time.Since(t0))
	acc.invoked(req, resp, err, time.Since(t0))
	if err != nil {
		g.log.Warn("message: integration failed", "requestId", reqID, "connectionId", c.id, "routeKey", key, "error", err.Error())
		acc.statusFrame(c, statusInternalError, reqID)
		return
	}
	if g.log.Enabled(g.ctx, slog.LevelDebug) {
		g.log.Debug("message", "requestId", reqID, "connectionId", c.id, "routeKey", key, "status", resp.StatusCode, "durationMs", msSince(t0))
	}
	if rt.TwoWay && len(resp.Body) > 0 {
		if err := c.Send(resp.Body); err != nil {
			g.log.Info("message: route response dropped", "requestId", reqID, "connectionId", c.id, "error", err.Error())
		}
	}
}

// The messages of API Gateway's status frames.
const (
	statusForbidden       = "Forbidden"
	statusInternalError   = "Internal server error"
	statusTooManyRequests = "Too Many Requests"
)

// sendStatusFrame sends API Gateway's {"message": ..., "connectionId": ..., "requestId": ...}.
func (c *Conn) sendStatusFrame(message, reqID string) {
	b, _ := json.Marshal(struct {
		Message      string `json:"message"`
		ConnectionID string `json:"connectionId"`
		RequestID    string `json:"requestId"`
	}{message, c.id, reqID})
	if err := c.Send(b); err != nil {
		c.g.log.Info("status frame dropped", "requestId", reqID, "connectionId", c.id, "error", err.Error())
	}
}
