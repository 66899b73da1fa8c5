package gateway

import (
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wsgate/wsgate/internal/authorizer"
)

// outcome is how a handshake ended: the label of wsgate_connects_total and the
// "outcome" of the "connect refused" log line.
type outcome string

// The handshake outcomes; authorizerOutcome names the authorizer's.
const (
	outcomeAccepted            outcome = "accepted"
	outcomeNotWebSocket        outcome = "not_websocket"
	outcomeBadHandshake        outcome = "bad_handshake"
	outcomeURLTooLong          outcome = "url_too_long"
	outcomeShuttingDown        outcome = "shutting_down"
	outcomeRateLimited         outcome = "rate_limited"
	outcomeThrottled           outcome = "throttled"
	outcomeMaxConnections      outcome = "max_connections"
	outcomeIntegrationRejected outcome = "integration_rejected"
	outcomeIntegrationError    outcome = "integration_error"
	outcomeUpgradeFailed       outcome = "upgrade_failed"
)

// authorizerOutcome is the outcome of a handshake the authorizer refused with o.
func authorizerOutcome(o authorizer.Outcome) outcome { return outcome("authorizer_" + o.String()) }

// outcomes lists every outcome, in the order the metric's help gives them.
func outcomes() []string {
	return []string{
		string(outcomeAccepted), string(outcomeNotWebSocket), string(outcomeBadHandshake), string(outcomeURLTooLong),
		string(outcomeShuttingDown), string(outcomeRateLimited), string(outcomeThrottled), string(outcomeMaxConnections),
		string(authorizerOutcome(authorizer.Unauthorized)), string(authorizerOutcome(authorizer.Forbidden)), string(authorizerOutcome(authorizer.Failed)),
		string(outcomeIntegrationRejected), string(outcomeIntegrationError), string(outcomeUpgradeFailed),
		string(outcomeAPIKey),                                // apikey.go
		string(outcomeIAMUnsigned), string(outcomeIAMDenied), // iam.go
	}
}

// Metrics are the gateway's Prometheus metrics.
type Metrics struct {
	connections    prometheus.Gauge
	connects       *prometheus.CounterVec
	disconnects    *prometheus.CounterVec
	authorizer     *prometheus.HistogramVec
	authorizerHits *prometheus.CounterVec
	integration    *prometheus.HistogramVec
	messagesIn     prometheus.Counter
	messagesOut    prometheus.Counter
	queueFull      prometheus.Counter
	throttled      *prometheus.CounterVec
	// The two series of throttled, looked up once: a flood must not cost a label lookup
	// per message.
	throttledRoute, throttledConn prometheus.Counter
	panics                        prometheus.Counter
}

// NewMetrics creates the metrics and registers them with reg (nil: not registered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	buckets := []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 29}
	m := &Metrics{
		connections: prometheus.NewGauge(prometheus.GaugeOpts{Name: "wsgate_connections", Help: "Open WebSocket connections on this node."}),
		connects: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "wsgate_connects_total",
			Help: "Handshakes by outcome (" + strings.Join(outcomes(), ", ") + ")."}, []string{"outcome"}),
		disconnects: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "wsgate_disconnects_total", Help: "Closed connections by close code."}, []string{"code"}),
		authorizer: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "wsgate_authorizer_duration_seconds",
			Help: "Authorizer latency by outcome.", Buckets: buckets}, []string{"outcome"}),
		authorizerHits: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "wsgate_authorizer_cache_total", Help: "Authorizer results by cache result (hit, miss)."}, []string{"result"}),
		integration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "wsgate_integration_duration_seconds",
			Help: "Integration latency by route key and outcome (ok, error).", Buckets: buckets}, []string{"route", "outcome"}),
		messagesIn:  prometheus.NewCounter(prometheus.CounterOpts{Name: "wsgate_messages_in_total", Help: "Messages received from clients."}),
		messagesOut: prometheus.NewCounter(prometheus.CounterOpts{Name: "wsgate_messages_out_total", Help: "Messages written to clients."}),
		queueFull:   prometheus.NewCounter(prometheus.CounterOpts{Name: "wsgate_send_queue_full_total", Help: "Sends refused because a client's send queue was full."}),
		throttled: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "wsgate_messages_throttled_total",
			Help: "Client messages answered \"Too Many Requests\" and not routed, by limit (route: the stage's RouteSettings; connection: Limits.MessageRate)."}, []string{"limit"}),
		panics: prometheus.NewCounter(prometheus.CounterOpts{Name: "wsgate_panics_total", Help: "Panics recovered (each is a bug: please report it): in handshakes, connection readers, message handlers, $disconnect, @connections requests and cluster requests."}),
	}
	m.throttledRoute, m.throttledConn = m.throttled.WithLabelValues("route"), m.throttled.WithLabelValues("connection")
	if reg != nil {
		reg.MustRegister(m.connections, m.connects, m.disconnects, m.authorizer, m.authorizerHits, m.integration, m.messagesIn, m.messagesOut, m.queueFull, m.throttled, m.panics)
	}
	return m
}

// CountPanic counts a panic recovered outside the gateway (a cluster request handler).
func (m *Metrics) CountPanic() { m.panics.Inc() }

func (m *Metrics) observeAuthorizer(r authorizer.Result, d time.Duration) {
	m.authorizer.WithLabelValues(r.Outcome.String()).Observe(d.Seconds())
	if r.Cached {
		m.authorizerHits.WithLabelValues("hit").Inc()
	} else {
		m.authorizerHits.WithLabelValues("miss").Inc()
	}
}

// routeObservers are a route's integration latency histograms, looked up once.
type routeObservers struct{ ok, err prometheus.Observer }

func (m *Metrics) routeObservers(route string) routeObservers {
	return routeObservers{ok: m.integration.WithLabelValues(route, "ok"), err: m.integration.WithLabelValues(route, "error")}
}

func (o routeObservers) observe(err error, d time.Duration) {
	if err != nil {
		o.err.Observe(d.Seconds())
		return
	}
	o.ok.Observe(d.Seconds())
}
