// Package peer is the bare gws server of the peers bench: what a WebSocket server
// built directly on gws costs with nothing of wsgate's on top — no authorizer, no
// route selection, no integrations, no limits beyond gws's defaults. It is the floor
// wsgate is compared with (docs/benchmarks.md, "Peers").
//
// One HTTP handler serves everything on one port:
//
//	GET  /                   the WebSocket; gws's defaults, one goroutine per connection
//	POST /@connections/{id}  write the body to connection id as a text message: 200, or
//	                         410 when there is no such connection (wsgate's push shape,
//	                         so wsload drives both with the same poster)
//	GET  /metrics            Go runtime gauges and the open connections
//
// A connection's text message {"action":"whoami"} is answered with {"id":"<id>"};
// any other message is echoed (the analogue of a two-way route).
//
// With a JWT secret ([NewWithJWT]) the WebSocket is opened only for a request whose JWT
// cookie is an HS256 token signed with it, unexpired, whose csrf claim equals the csrf
// query parameter (401 otherwise): the least a cookie-authenticated server does, with
// golang-jwt, to calibrate what the rest of wsgate's handshake costs.
package peer

import (
	"crypto/subtle"
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/golang-jwt/jwt/v5"
	"github.com/lxzan/gws"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Server is the bare gws server. The zero value is not usable; call New.
type Server struct {
	up     *gws.Upgrader
	nextID atomic.Uint64
	mu     sync.RWMutex
	conns  map[string]*gws.Conn
	mux    *http.ServeMux
	secret []byte // the JWT check's HS256 key; nil: no check
	parser *jwt.Parser
}

var _ http.Handler = (*Server)(nil)

// NewWithJWT returns a Server that opens a WebSocket only for a valid JWT cookie bound to
// the csrf query parameter (see the package documentation).
func NewWithJWT(secret []byte) *Server {
	s := New()
	s.secret = secret
	s.parser = jwt.NewParser(jwt.WithValidMethods([]string{"HS256"}), jwt.WithExpirationRequired())
	return s
}

// New returns a Server with gws's default options.
func New() *Server {
	s := &Server{conns: map[string]*gws.Conn{}, mux: http.NewServeMux()}
	s.up = gws.NewUpgrader(handler{s}, &gws.ServerOption{})
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		// Named as wsgate's gauge so that wsload's scraper reads both unchanged.
		Name: "wsgate_connections",
		Help: "Open WebSocket connections.",
	}, func() float64 { return float64(s.Len()) }))
	s.mux.HandleFunc("GET /{$}", s.serveWS)
	s.mux.HandleFunc("POST /@connections/{id}", s.push)
	s.mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	return s
}

// ServeHTTP serves the WebSocket, the push endpoint and /metrics.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Len returns the number of open connections.
func (s *Server) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.conns)
}

// Close closes every open connection (http.Server.Shutdown does not: they are
// hijacked); their handler goroutines then return.
func (s *Server) Close() {
	s.mu.RLock()
	cs := make([]*gws.Conn, 0, len(s.conns))
	for _, c := range s.conns {
		cs = append(cs, c)
	}
	s.mu.RUnlock()
	for _, c := range cs {
		_ = c.NetConn().Close()
	}
}

// serveWS upgrades and reads the connection in the handler's goroutine until it ends.
func (s *Server) serveWS(w http.ResponseWriter, r *http.Request) {
	if s.secret != nil && !s.authorized(r) {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	c, err := s.up.Upgrade(w, r)
	if err != nil {
		return
	}
	id := strconv.FormatUint(s.nextID.Add(1), 10)
	c.Session().Store("id", id)
	s.mu.Lock()
	s.conns[id] = c
	s.mu.Unlock()
	c.ReadLoop()
}

// tokenClaims are the claims the JWT check reads.
type tokenClaims struct {
	jwt.RegisteredClaims
	CSRF string `json:"csrf"`
}

// authorized reports whether r carries a JWT cookie signed with the secret, unexpired,
// whose csrf claim is the csrf query parameter.
func (s *Server) authorized(r *http.Request) bool {
	ck, err := r.Cookie("JWT")
	if err != nil {
		return false
	}
	var claims tokenClaims
	if _, err := s.parser.ParseWithClaims(ck.Value, &claims, func(*jwt.Token) (any, error) { return s.secret, nil }); err != nil {
		return false
	}
	csrf := r.URL.Query().Get("csrf")
	return csrf != "" && subtle.ConstantTimeCompare([]byte(csrf), []byte(claims.CSRF)) == 1
}

func (s *Server) push(w http.ResponseWriter, r *http.Request) {
	s.mu.RLock()
	c := s.conns[r.PathValue("id")]
	s.mu.RUnlock()
	if c == nil {
		http.Error(w, `{"message":"Gone"}`, http.StatusGone)
		return
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		http.Error(w, `{"message":"bad body"}`, http.StatusBadRequest)
		return
	}
	if err := c.WriteMessage(gws.OpcodeText, b); err != nil {
		http.Error(w, `{"message":"Gone"}`, http.StatusGone)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// maxBody is the largest push body, API Gateway's 128 KiB message quota.
const maxBody = 128 << 10

type handler struct{ s *Server }

func (handler) OnOpen(*gws.Conn) {}

func (h handler) OnClose(c *gws.Conn, _ error) {
	if id, ok := c.Session().Load("id"); ok {
		h.s.mu.Lock()
		delete(h.s.conns, id.(string))
		h.s.mu.Unlock()
	}
}

func (handler) OnPing(c *gws.Conn, p []byte) { _ = c.WritePong(p) }
func (handler) OnPong(*gws.Conn, []byte)     {}

func (handler) OnMessage(c *gws.Conn, m *gws.Message) {
	defer m.Close()
	if m.Opcode == gws.OpcodeText && string(m.Bytes()) == `{"action":"whoami"}` {
		id, _ := c.Session().Load("id")
		_ = c.WriteString(`{"id":"` + id.(string) + `"}`)
		return
	}
	_ = c.WriteMessage(m.Opcode, m.Bytes())
}
