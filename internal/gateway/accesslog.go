package gateway

import (
	"net/http"
	"strings"
	"time"

	"github.com/wsgate/wsgate/internal/accesslog"
	"github.com/wsgate/wsgate/internal/config"
	"github.com/wsgate/wsgate/internal/integration"
)

// AccessLogger writes the stage's access log (Stage.AccessLogSettings): the gateway
// hands it one Record per event — each $connect accepted or refused, each message,
// each $disconnect. A Record holds no header, cookie, token or query string.
type AccessLogger interface {
	Log(*accesslog.Record)
}

var _ AccessLogger = (*accesslog.Logger)(nil)

// accessRecord is the part of a Record every event of c has; c may be nil (a
// handshake refused before the connection had an id).
func (g *Gateway) accessRecord(r *http.Request, c *Conn, eventType, routeKey, reqID string, at time.Time) *accesslog.Record {
	rec := &accesslog.Record{
		RequestID: reqID, EventType: eventType, RouteKey: routeKey, RequestTime: at,
		Stage: g.cfg.Stage.StageName, APIID: g.cfg.API.APIID, Status: http.StatusOK,
	}
	if c == nil {
		rec.SourceIP, rec.UserAgent, rec.DomainName = remoteIP(r), r.UserAgent(), g.cfg.Server.DomainName
		if rec.DomainName == "" {
			rec.DomainName = r.Host
		}
		return rec
	}
	rec.ConnectionID, rec.ConnectedAt = c.id, c.connectedTime()
	rec.SourceIP, rec.UserAgent, rec.DomainName = c.sourceIP, c.userAgent.Value(), c.domainName.Value()
	rec.PrincipalID, rec.AuthorizerContext = c.principalID, c.authContext
	if id := c.iam; id != nil { // AWS_IAM (iam.go)
		rec.IAM = accesslog.IAMIdentity{AccessKey: id.AccessKey, AccountID: id.AccountID, Caller: id.Caller, User: id.User, UserArn: id.UserArn}
	}
	return rec
}

// connectTimes is what the access log reports of a $connect's authorizer and
// integration, gathered as the handshake runs them.
type connectTimes struct {
	authRan, integRan bool
	auth, integ       time.Duration
	integStatus       int
}

func (t connectTimes) fill(rec *accesslog.Record) {
	rec.AuthorizerRan, rec.AuthorizerLatency = t.authRan, t.auth
	rec.IntegrationRan, rec.IntegrationLatency = t.integRan, t.integ
	if t.integStatus != 0 {
		rec.IntegrationStatus = t.integStatus
	}
}

// accessRefused logs a refused $connect with the status the client got. A request
// that was no WebSocket upgrade at all is not a $connect and is not logged.
func (g *Gateway) accessRefused(r *http.Request, c *Conn, f *refusal, start time.Time) {
	if g.accessLog == nil || f.outcome == outcomeNotWebSocket {
		return
	}
	reqID := ""
	if c != nil {
		reqID = c.connectRequestID
	} else {
		reqID = requestID()
	}
	rec := g.accessRecord(r, c, integration.EventConnect, config.RouteConnect, reqID, start)
	f.times.fill(rec)
	rec.Status, rec.Error = f.status, http.StatusText(f.status)
	if f.message != "" { // the message the client got (iam.go)
		rec.Error = f.message
	}
	switch {
	case strings.HasPrefix(string(f.outcome), "authorizer_"):
		rec.AuthorizerStatus, rec.AuthorizerError = f.status, http.StatusText(f.status)
	case f.outcome == outcomeIntegrationRejected:
		rec.IntegrationStatus = f.status
	case f.outcome == outcomeIntegrationError:
		rec.IntegrationError = "integration failed" // the cause may hold a URL: it goes to the log only
	}
	g.accessLog.Log(rec)
}

// accessConnected logs an accepted $connect: status 200, as API Gateway reports it.
func (c *Conn) accessConnected(t connectTimes) {
	if g := c.g; g.accessLog != nil {
		rec := g.accessRecord(nil, c, integration.EventConnect, config.RouteConnect, c.connectRequestID, c.connectedTime())
		t.fill(rec)
		if c.principalID != "" || c.authContext != nil {
			rec.AuthorizerStatus = http.StatusOK
		}
		g.accessLog.Log(rec)
	}
}

// accessDisconnect logs a $disconnect with the close code it reports.
func (g *Gateway) accessDisconnect(c *Conn, reqID string, at time.Time, code int, reason string) {
	if g.accessLog == nil {
		return
	}
	rec := g.accessRecord(nil, c, integration.EventDisconnect, config.RouteDisconnect, reqID, at)
	rec.DisconnectStatusCode, rec.DisconnectReason = code, reason
	g.accessLog.Log(rec)
}

// accessMessage is the access log line of one message, filled in as it is routed and
// written when the handler returns; nil when there is no access log (every method is a
// no-op then, but statusFrame, which still sends the frame).
type accessMessage struct {
	c   *Conn
	rec *accesslog.Record
}

func (c *Conn) accessMessage(reqID string, at time.Time) *accessMessage {
	if c.g.accessLog == nil {
		return nil
	}
	return &accessMessage{c: c, rec: c.g.accessRecord(nil, c, integration.EventMessage, "", reqID, at)}
}

// route records the selected route key.
func (a *accessMessage) route(key string) {
	if a != nil {
		a.rec.RouteKey = key
	}
}

// invoked records the route integration's request, its answer or failure, and its
// latency.
func (a *accessMessage) invoked(req *integration.Request, resp *integration.Response, err error, latency time.Duration) {
	if a == nil {
		return
	}
	a.rec.MessageID = req.MessageID
	a.rec.IntegrationRan, a.rec.IntegrationLatency = true, latency
	if err != nil {
		a.rec.IntegrationError = "integration failed" // the cause may hold a URL: it goes to the log only
		return
	}
	if resp != nil {
		a.rec.IntegrationStatus = resp.StatusCode
	}
}

// statusFrame sends API Gateway's status frame and records its status.
func (a *accessMessage) statusFrame(c *Conn, message, reqID string) {
	c.sendStatusFrame(message, reqID)
	switch message {
	case statusForbidden:
		a.status(http.StatusForbidden, message)
	case statusTooManyRequests:
		a.status(http.StatusTooManyRequests, message)
	default:
		a.status(http.StatusInternalServerError, message)
	}
}

// status records the status and error message the client was answered with.
func (a *accessMessage) status(status int, message string) {
	if a != nil {
		a.rec.Status, a.rec.Error = status, message
	}
}

// write writes the line.
func (a *accessMessage) write() {
	if a != nil {
		a.c.g.accessLog.Log(a.rec)
	}
}
