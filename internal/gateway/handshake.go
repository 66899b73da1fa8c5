package gateway

import (
	"cmp"
	"context"
	"encoding/base64"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wsgate/wsgate/authevent"
	"github.com/wsgate/wsgate/internal/config"
	"github.com/wsgate/wsgate/internal/integration"
)

// connectionsPath reports whether r is for the @connections API: /{stage}/@connections/{id},
// or /@connections/{id} (a custom domain mapped with an empty base path), with a
// non-empty id, and the batch post /{stage}/@wsgate/post-to-connections: the shapes
// internal/mgmt/routes.go serves. It reads the escaped path, as
// that router does, so that an id holding an escaped "/" is still one segment.
func connectionsPath(r *http.Request) bool {
	segs := strings.Split(r.URL.EscapedPath(), "/")
	switch {
	case len(segs) == 4 && segs[0] == "": // an empty stage, as in //@connections/{id}, too: that router takes it
		segs = segs[2:]
	case len(segs) == 3 && segs[0] == "":
		segs = segs[1:]
	default:
		return false
	}
	api, err := url.PathUnescape(segs[0])
	if err == nil && api == "@wsgate" { // the batch post, a wsgate extension
		op, err := url.PathUnescape(segs[1])
		return err == nil && op == "post-to-connections"
	}
	return err == nil && api == "@connections" && segs[1] != ""
}

// ServeHTTP runs one handshake, in the order it happens: the request is checked to be
// a valid WebSocket upgrade (RFC 6455 §4.2.1) before anything with a side effect; then
// the gateway's own limits; the $connect authorizer (its identity sources first); the
// $connect integration; the subprotocol; the connection is registered; the upgrade.
// Every refusal goes through refuse, which writes the status and counts the outcome.
// A request that is not an upgrade is refused with 426, except one for the @connections
// API when Options.Connections is set: that goes to it, as API Gateway serves
// @connections on the API's own host.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// A bug in a handshake (an authorizer, an integration, a template) fails that
	// handshake with 500, counted; net/http would only log it.
	defer g.recoverHTTP(w, "a handshake")
	start := g.now()
	if f := checkUpgrade(r); f != nil {
		if f.outcome == outcomeNotWebSocket && g.connections != nil && connectionsPath(r) {
			g.connections.ServeHTTP(w, r)
			return
		}
		g.refuse(w, r, nil, f, start)
		return
	}
	if g.inProcessAuth {
		growStack()
	}
	g.handshake(w, r, start)
}

// handshake runs ServeHTTP's WebSocket upgrade request r.
func (g *Gateway) handshake(w http.ResponseWriter, r *http.Request, start time.Time) {
	if len(r.RequestURI) > g.limits.MaxURLBytes {
		g.refuse(w, r, nil, &refusal{status: http.StatusRequestURITooLong, outcome: outcomeURLTooLong}, start)
		return
	}
	g.mu.Lock()
	if g.closing {
		g.mu.Unlock()
		g.refuse(w, r, nil, &refusal{status: http.StatusServiceUnavailable, outcome: outcomeShuttingDown}, start)
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
		g.refuse(w, r, nil, &refusal{status: http.StatusTooManyRequests, outcome: outcomeRateLimited}, start)
		return
	}
	if rt := g.routes[config.RouteConnect]; rt != nil && rt.throttle != nil && !rt.throttle.Allow() {
		g.refuse(w, r, nil, &refusal{status: http.StatusTooManyRequests, outcome: outcomeThrottled, reason: "$connect RouteSettings"}, start)
		return
	}
	if n := g.open.Add(1); g.limits.MaxConnections > 0 && n > int64(g.limits.MaxConnections) {
		g.open.Add(-1)
		g.refuse(w, r, nil, &refusal{status: http.StatusTooManyRequests, outcome: outcomeMaxConnections}, start)
		return
	}
	defer func() {
		if !admitted {
			g.open.Add(-1)
		}
	}()

	c := g.newConn(r, start)
	// An API key from the x-api-key header, checked before the authorizer (apikey.go).
	if g.apiKeyRefused(w, r, c, nil, start) {
		return
	}
	// An authorizer deciding in process reads headers whatever their case, so its event
	// names them as net/http does, and the head captured from the wire is read only if
	// the $connect integration needs the names as sent (below).
	ev := g.authorizerEvent(r, c, !g.inProcessAuth)
	if g.iamRefused(w, r, c, ev, start) { // AWS_IAM (iam.go)
		return
	}
	csrfEntry := ""        // the offered subprotocol entry that carried the CSRF token
	var times connectTimes // for the access log (accesslog.go)
	if g.auth != nil {
		t0 := time.Now()
		res := g.auth.Authorize(r.Context(), ev)
		times.authRan, times.auth = true, time.Since(t0)
		g.metrics.observeAuthorizer(res, times.auth)
		if st := res.Status(); st != 0 {
			g.refuse(w, r, c, &refusal{status: st, outcome: authorizerOutcome(res.Outcome), reason: res.Reason, times: times}, start)
			return
		}
		c.principalID, c.authContext = res.PrincipalID, integration.NewAuthContext(res.Context)
		c.expiresAt = expiryNanos(res.ExpiresAt)
		csrfEntry = res.Subprotocol
		if g.apiKeyRefused(w, r, c, &res, start) { // the authorizer's usageIdentifierKey (apikey.go)
			return
		}
	}

	if rt := g.routes[config.RouteConnect]; rt != nil && rt.Integration != nil {
		req := c.integrationRequest(config.RouteConnect, integration.EventConnect, c.connectRequestID, start)
		req.Headers, req.Query = ev.MultiValueHeaders, ev.MultiValueQueryStringParameters
		if g.inProcessAuth { // the event's names are net/http's: the integration gets them as sent
			_, req.Headers = g.headerMaps(r, true)
		}
		t0 := time.Now()
		resp, err := rt.Integration.Invoke(r.Context(), req)
		times.integRan, times.integ = true, time.Since(t0)
		rt.obs.observe(err, times.integ)
		if err != nil {
			g.refuse(w, r, c, &refusal{status: http.StatusBadGateway, outcome: outcomeIntegrationError, err: err, times: times}, start)
			return
		}
		times.integStatus = resp.StatusCode
		if resp.StatusCode < 200 || resp.StatusCode > 299 {
			g.refuse(w, r, c, &refusal{status: resp.StatusCode, outcome: outcomeIntegrationRejected, times: times}, start)
			return
		}
		if p := resp.Header.Get("Sec-WebSocket-Protocol"); p != "" {
			c.subprotocol = p
		}
	}
	c.subprotocol = selectSubprotocol(r, c.subprotocol, csrfEntry)

	// Registered before the 101 is written, so that a POST the client's peer makes as
	// soon as it sees the socket open finds it; operations wait for the upgrade.
	ready := make(chan struct{})
	c.ready.Store(&ready)
	upgradeDone := func() { c.ready.Store(nil); close(ready) } // ws set first, if it succeeded
	g.mu.Lock()                                                // against Shutdown: a connection registered now is closed by it
	if g.closing {
		g.mu.Unlock()
		g.refuse(w, r, c, &refusal{status: http.StatusServiceUnavailable, outcome: outcomeShuttingDown, times: times}, start)
		return
	}
	g.reg.Add(c)
	g.mu.Unlock()
	ws, err := g.ws.upgrade(w, r, c.subprotocol, c)
	if err != nil {
		g.reg.Remove(c.id)
		c.closing.Store(true)
		upgradeDone()
		g.metrics.connects.WithLabelValues(string(outcomeUpgradeFailed)).Inc()
		g.log.Info("connect: upgrade failed", "requestId", c.connectRequestID, "error", err.Error())
		return
	}
	admitted = true
	c.ws = ws
	ws.c = c
	upgradeDone()
	g.metrics.connects.WithLabelValues(string(outcomeAccepted)).Inc()
	g.metrics.connections.Inc()
	g.log.Info("connect", "requestId", c.connectRequestID, "connectionId", c.id, "principalId", c.principalID,
		"sourceIp", c.sourceIP, "status", http.StatusSwitchingProtocols, "durationMs", msSince(start))
	c.accessConnected(times) // accesslog.go
	// The handler returns so that net/http's request and connection state can be
	// collected; the connection lives on in its own goroutine.
	go c.readLoop()
}

// expiryNanos is t as Conn.expiresAt keeps it: Unix nanoseconds, 0 for none, clamped
// to what an int64 holds (a JWT may say it expires in the year 3000).
func expiryNanos(t time.Time) int64 {
	switch {
	case t.IsZero():
		return 0
	case t.After(time.Unix(0, math.MaxInt64)):
		return math.MaxInt64
	case !t.After(time.Unix(0, 0)):
		return math.MinInt64 // long expired (and not 0, which means none)
	}
	return t.UnixNano()
}

// refusal is a refused handshake: the status the client gets (with an empty body, as
// API Gateway answers), the outcome it is counted under, and for the log a reason and
// the cause.
type refusal struct {
	status  int
	outcome outcome
	reason  string // safe to log: never a token, cookie or secret
	err     error
	header  http.Header // extra response headers (Sec-WebSocket-Version on a 426)
	// message, when set, is sent as the body {"message": ...} (AWS_IAM's refusals,
	// iam.go) and is the access log's error.message; safe for the client.
	message string
	// times are the authorizer's and the integration's, when they ran (access log).
	times connectTimes
}

// refuse answers a handshake with f, counts it and logs it. c is nil when the refusal
// comes before the connection has an id.
func (g *Gateway) refuse(w http.ResponseWriter, r *http.Request, c *Conn, f *refusal, start time.Time) {
	g.metrics.connects.WithLabelValues(string(f.outcome)).Inc()
	args := []any{"outcome", string(f.outcome), "status", f.status, "sourceIp", remoteIP(r), "durationMs", msSince(start)}
	if c != nil {
		args = append(args, "connectionId", c.id, "requestId", c.connectRequestID)
	} else {
		args = append(args, "connectionId", "")
	}
	if f.reason != "" {
		args = append(args, slog.String("reason", f.reason))
	}
	if f.err != nil {
		args = append(args, slog.String("error", f.err.Error()))
	}
	g.log.Info("connect refused", args...)
	g.accessRefused(r, c, f, start) // accesslog.go
	for k, vs := range f.header {
		w.Header()[k] = vs
	}
	w.Header().Set("Connection", "close")
	if f.message != "" {
		body := messageBody(f.message)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(f.status)
		_, _ = w.Write(body)
		return
	}
	w.WriteHeader(f.status)
}

// checkUpgrade checks that r is a WebSocket opening handshake (RFC 6455 §4.2.1): GET
// over HTTP/1.1 or later, Upgrade: websocket, Connection: Upgrade, a Sec-WebSocket-Key
// that is 16 bytes in base64, and Sec-WebSocket-Version 13. A request that asks for no
// upgrade at all gets 426; a broken upgrade 400; another version 426 with the version
// this server speaks (§4.4).
func checkUpgrade(r *http.Request) *refusal {
	if r.Method != http.MethodGet || !headerContainsToken(r.Header.Values("Upgrade"), "websocket") ||
		!headerContainsToken(r.Header.Values("Connection"), "upgrade") {
		return &refusal{status: http.StatusUpgradeRequired, outcome: outcomeNotWebSocket, header: http.Header{"Upgrade": {"websocket"}}}
	}
	if !r.ProtoAtLeast(1, 1) {
		return &refusal{status: http.StatusBadRequest, outcome: outcomeBadHandshake, reason: "HTTP/1.1 or later required"}
	}
	if r.Header.Get("Sec-WebSocket-Version") != "13" {
		return &refusal{status: http.StatusUpgradeRequired, outcome: outcomeBadHandshake, reason: "Sec-WebSocket-Version is not 13",
			header: http.Header{"Sec-Websocket-Version": {"13"}}}
	}
	keys := r.Header.Values("Sec-WebSocket-Key")
	if len(keys) != 1 {
		return &refusal{status: http.StatusBadRequest, outcome: outcomeBadHandshake, reason: "not exactly one Sec-WebSocket-Key"}
	}
	if k, err := base64.StdEncoding.DecodeString(strings.TrimSpace(keys[0])); err != nil || len(k) != 16 {
		return &refusal{status: http.StatusBadRequest, outcome: outcomeBadHandshake, reason: "Sec-WebSocket-Key is not 16 bytes in base64"}
	}
	return nil
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

// selectSubprotocol picks the connection's subprotocol by API Gateway's rule: the one
// the $connect integration selected, if the client offered it; otherwise none. The gateway
// never chooses one itself. The entry that carried the CSRF token (csrfEntry) is never
// selected, even if an integration echoes it back, so that the token is not sent back in
// the response. A browser that offers subprotocols drops a connection that selects none,
// so a page presenting its token as a csrf.<token> entry needs a $connect integration
// that selects its application protocol (the reference app's does).
func selectSubprotocol(r *http.Request, selected, csrfEntry string) string {
	if selected == "" || selected == csrfEntry {
		return ""
	}
	for _, v := range r.Header.Values("Sec-WebSocket-Protocol") {
		for part := range strings.SplitSeq(v, ",") {
			if strings.TrimSpace(part) == selected {
				return selected
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

func msSince(t time.Time) float64 { return float64(time.Since(t).Microseconds()) / 1000 }

// authorizerEvent builds the REQUEST authorizer event for a handshake. Header names are
// as the client sent them when the listener captured the request head (see
// [ContextWithWireHead]); stageVariables is {} when the stage has none, and the query
// maps are null when the URL has no query, as API Gateway sends them.
func (g *Gateway) authorizerEvent(r *http.Request, c *Conn, wire bool) *authevent.Event {
	single, headers := g.headerMaps(r, wire)
	q := r.URL.Query()
	var qs map[string]string
	var mq map[string][]string
	if len(q) > 0 {
		qs, mq = make(map[string]string, len(q)), map[string][]string(q)
		for k, vs := range q {
			qs[k] = vs[len(vs)-1]
		}
	}
	stageVars := g.cfg.Stage.StageVariables
	if stageVars == nil {
		stageVars = map[string]string{}
	}
	return &authevent.Event{
		Type:                            authevent.EventTypeRequest,
		MethodArn:                       g.methodArn,
		Headers:                         single,
		MultiValueHeaders:               headers,
		QueryStringParameters:           qs,
		MultiValueQueryStringParameters: mq,
		StageVariables:                  stageVars,
		RequestContext: authevent.RequestContext{
			RouteKey:          config.RouteConnect,
			EventType:         integration.EventConnect,
			ExtendedRequestID: c.connectRequestID,
			RequestTime:       c.connectedTime().UTC().Format(integration.RequestTimeLayout),
			MessageDirection:  "IN",
			Stage:             g.cfg.Stage.StageName,
			ConnectedAt:       c.connectedTime().UnixMilli(),
			RequestTimeEpoch:  c.connectedTime().UnixMilli(),
			Identity:          authevent.Identity{SourceIP: c.sourceIP, UserAgent: c.userAgent.Value()},
			RequestID:         c.connectRequestID,
			DomainName:        c.domainName.Value(),
			ConnectionID:      c.id,
			APIID:             g.cfg.API.APIID,
		},
	}
}

// headerMaps is the events' headers and multiValueHeaders (see eventHeaders), with
// the X-Forwarded-* headers the gateway sets.
func (g *Gateway) headerMaps(r *http.Request, wire bool) (map[string]string, map[string][]string) {
	multi, single := eventHeaders(r, wire)
	// The listener may hand net/http a wrapped connection (to record the request head),
	// so r.TLS is not the only sign of TLS: the config says whether the listener is.
	return withForwarded(r, r.TLS != nil || g.cfg.Server.TLS != nil, single, multi)
}

// WireHeader is one header line of a request head as the client sent it: the name in
// its original case, the value without the blanks around it (as net/http trims it).
type WireHeader struct {
	Name, Value string
}

// WireHead returns the request line and the header lines of the request head a client
// sent on its connection, in order, or ok false when they were not captured (the head
// was too long, or is not this request's). It may be called once per connection.
type WireHead func() (requestLine string, fields []WireHeader, ok bool)

type wireHeadKey struct{}

// ContextWithWireHead returns ctx carrying head, for the requests of one connection: a
// listener that captures the bytes of the request head sets it (http.Server.ConnContext),
// so that the events the gateway sends name headers as the client sent them
// (Sec-WebSocket-Protocol, HeaderAuth1), where net/http would give its canonical form
// (Sec-Websocket-Protocol, Headerauth1). Without it the events use the canonical names.
func ContextWithWireHead(ctx context.Context, head WireHead) context.Context {
	return context.WithValue(ctx, wireHeadKey{}, head)
}

// eventHeaders returns the handshake's headers as the events carry them: every value of
// each header, and its last value, Host included. Names are as sent when wire is set and
// the head captured from the wire is this request's (its request line and every header value
// agree with what net/http parsed); otherwise they are net/http's canonical names.
// Header lines whose names differ only in case are one header, named as its first line
// is, with the values of all of them in the order sent.
func eventHeaders(r *http.Request, wire bool) (map[string][]string, map[string]string) {
	// Room for the three X-Forwarded-* withForwarded adds: a map that grows rehashes.
	multi := make(map[string][]string, len(r.Header)+4)
	single := make(map[string]string, len(r.Header)+4)
	if wire {
		if hs, ok := wireNames(r); ok {
			for _, h := range hs {
				// r.Header's own values (wireNames checked they are the head's), capped so
				// that an append to the event's copy never writes into r.Header's array.
				vs := h.values[:len(h.values):len(h.values)]
				multi[h.name], single[h.name] = vs, vs[len(vs)-1]
			}
			return multi, single
		}
	}
	for k, vs := range r.Header {
		multi[k] = vs[:len(vs):len(vs)]
		single[k] = vs[len(vs)-1]
	}
	multi["Host"], single["Host"] = []string{r.Host}, r.Host
	return multi, single
}

// wireHeader is one header of a request as the events name it: its values (r.Header's)
// and the spelling of its first line in the captured head.
type wireHeader struct {
	canonical string // r.Header's key
	name      string
	values    []string
	seen      int // lines of the head matched to values so far
}

// wireNames returns r's headers, Host included, named as the captured head spells
// them, if the head is r's: the request line is r's, there is one Host line whose
// value is r.Host, and the other lines, grouped by canonical name, hold exactly
// r.Header's values in order. It allocates one slice: lines are matched to r.Header's
// entries by comparisons that canonicalize the line's name as they go
// (textproto.CanonicalMIMEHeaderKey would allocate for every name a browser sends in
// mixed case, Sec-WebSocket-Key for one).
func wireNames(r *http.Request) ([]wireHeader, bool) {
	head, _ := r.Context().Value(wireHeadKey{}).(WireHead)
	if head == nil {
		return nil, false
	}
	line, fields, ok := head()
	if !ok || !isRequestLine(line, r) {
		return nil, false
	}
	hs := make([]wireHeader, 0, len(r.Header)+1)
	for k, vs := range r.Header {
		hs = append(hs, wireHeader{canonical: k, values: vs})
	}
	// A browser sends about fifteen headers: looked up one by one, they cost less than a
	// sort; a longer head is sorted and searched, so that it costs n log n, not n².
	sorted := len(hs) > 24
	if sorted {
		slices.SortFunc(hs, func(a, b wireHeader) int { return strings.Compare(a.canonical, b.canonical) })
	}
	host := ""
	hosts := 0
	for _, f := range fields {
		tok := isToken(f.Name) // once per line, not once per comparison
		if compareCanonical("Host", f.Name, tok) == 0 {
			if hosts++; f.Value != r.Host {
				return nil, false
			}
			host = f.Name
			continue
		}
		i := -1
		if sorted {
			if j, found := slices.BinarySearchFunc(hs, f.Name, func(h wireHeader, name string) int { return compareCanonical(h.canonical, name, tok) }); found {
				i = j
			}
		} else {
			i = slices.IndexFunc(hs, func(h wireHeader) bool {
				return len(h.canonical) == len(f.Name) && compareCanonical(h.canonical, f.Name, tok) == 0
			})
		}
		if i < 0 {
			return nil, false
		}
		h := &hs[i]
		if h.seen == len(h.values) || h.values[h.seen] != f.Value {
			return nil, false
		}
		if h.seen == 0 {
			h.name = f.Name
		}
		h.seen++
	}
	if hosts != 1 {
		return nil, false
	}
	for _, h := range hs {
		if h.seen != len(h.values) {
			return nil, false
		}
	}
	return append(hs, wireHeader{name: host, values: []string{r.Host}}), true
}

// isRequestLine reports whether line is r's request line, without building it.
func isRequestLine(line string, r *http.Request) bool {
	m, rest, ok := strings.Cut(line, " ")
	if !ok || m != r.Method {
		return false
	}
	uri, proto, ok := strings.Cut(rest, " ")
	return ok && uri == r.RequestURI && proto == r.Proto
}

// compareCanonical compares key, a canonical header name, with name as
// textproto.CanonicalMIMEHeaderKey writes name: a token (RFC 9110 §5.6.2) with its
// first letter and every letter after a '-' in upper case and the others in lower
// case; any other name as it is. token is isToken(name).
func compareCanonical(key, name string, token bool) int {
	if !token {
		return strings.Compare(key, name)
	}
	upper := true
	for i := 0; i < len(key) && i < len(name); i++ {
		c := name[i]
		switch {
		case upper && 'a' <= c && c <= 'z':
			c -= 'a' - 'A'
		case !upper && 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		}
		upper = c == '-'
		if key[i] != c {
			return cmp.Compare(key[i], c)
		}
	}
	return cmp.Compare(len(key), len(name))
}

// isToken reports whether s is an RFC 9110 token, the names
// textproto.CanonicalMIMEHeaderKey changes.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := range len(s) {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			c < 0x80 && strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0 {
			continue
		}
		return false
	}
	return true
}

// handshakeStack is what growStack reserves in its frame so that the goroutine's
// stack grows to 32 KiB when the handshake starts, which is what a handshake through
// the cookie authorizer reaches (in golang-jwt's decoding of the token). A goroutine
// starts with a small stack that the runtime doubles and copies each time a call needs
// more: a handshake deepened it three or four times, copied deep in the authorizer,
// where a copy (adjusting every frame's pointers) costs most; 6 % of a handshake's CPU
// in BenchmarkHandshake's profile (internal/server). Grown when the handshake starts it is
// copied once, with a few frames: 2 %. Requests that are not upgrades (the
// @connections API on this host) do not pay for it, nor handshakes whose authorizer
// calls out (Gateway.inProcessAuth): thousands of those may wait at once.
const handshakeStack = 16 << 10

// growStack grows the goroutine's stack to hold handshakeStack bytes more than it
// holds now, and returns with that room free.
//
//go:noinline
func growStack() {
	var b [handshakeStack]byte
	touchStack(&b)
}

// touchStack writes to b, so that the compiler keeps growStack's array.
//
//go:noinline
func touchStack(b *[handshakeStack]byte) { b[0] = 1 }
