// Package chat is wsgate's reference application: the backend and page of a small chat
// whose users log in with cookies and talk over a WebSocket API behind the built-in cookie
// authorizer, as in "Cookie authentication for AWS API Gateway WebSocket APIs".
//
// The page lives on ui.{env}.example.test and the WebSocket endpoint on
// ws.{env}.example.test. POST /login sets the JWT cookie (HttpOnly) for the shared parent
// domain {env}.example.test, so that the browser sends it to the ws host, and a
// host-only __Host-CSRF-TOKEN cookie (HttpOnly) on the UI host; the JWT's csrf claim
// binds it to a fresh CSRF token, which the login response and GET /api/session give the
// page (same origin: no sibling host can read them). The page keeps the token in
// sessionStorage and opens wss://ws.{env}.example.test/?csrf=<token> (or presents it as
// a csrf.<token> subprotocol): the browser sends the JWT cookie and its Origin, the
// gateway's authorizer checks the token against the JWT's claim, and the $connect
// integration tells this backend the connection id and the principal. No cookie a
// sibling host can plant (a second JWT, a CSRF-TOKEN) refuses the page or swaps its
// session: see docs/authorizer.md. Messages reach the backend through a message route; the backend delivers
// them with the @connections API (PostToConnection), forgetting connection ids that are
// gone, and POST /logout closes the user's sockets (DeleteConnection). Presence (who is
// online) is pushed from the $connect and $disconnect integrations to the other
// connections, and to a new one when it asks with the "who" action once open (API
// Gateway establishes a connection only after its $connect integration returns).
//
// A browser reports every refused handshake as close code 1006; POST /api/ws-check tells
// the page what its session, CSRF token, Origin and the gateway's readiness amount to, so
// that it can say which refusal it was. With Options.Dev (`wsgate dev` only) the page
// also gets the gateway's recent refusals and an attack panel (dev.go).
//
// The backend has two surfaces: [Server.Public] (the page, login, logout), which
// browsers reach, and [Server.Integration] (the gateway's HTTP integrations), which
// must only be reachable by the gateway: it trusts the principal the gateway passes.
package chat

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi/types"
	"github.com/golang-jwt/jwt/v5"
)

// Cookie names and the JWT claim binding the CSRF token, as the gateway's cookie
// authorizer expects them (Cookie.JwtCookie, CsrfCookie, CsrfClaim).
const (
	JWTCookie = "JWT"
	// CSRFCookie is the parent-domain CSRF cookie of earlier versions: no longer set
	// (every sibling host can read it), only cleared on logout. With a binding claim
	// the authorizer does not read it.
	CSRFCookie = "CSRF-TOKEN"
	// SessionCookie holds the CSRF token on the UI host only (HttpOnly, no Domain): the
	// __Host- prefix makes browsers refuse it from any other host, so it tells which
	// of several JWT cookies is this browser's own session.
	SessionCookie = "__Host-CSRF-TOKEN"
	CSRFClaim     = "csrf"
	// CSRFHeader carries the CSRF token on the backend's own state-changing requests
	// (logout), checked against the session's binding claim.
	CSRFHeader = "X-CSRF-Token"
	// IntegrationSecretHeader carries Options.IntegrationSecret from the gateway.
	IntegrationSecretHeader = "X-Integration-Secret"
)

// Users are the demo accounts; every password is DemoPassword.
var Users = []string{"alice", "bob"}

// DemoPassword is the demo users' password.
const DemoPassword = "demo"

// Connections is the part of the @connections API the backend uses;
// *apigatewaymanagementapi.Client is one.
type Connections interface {
	PostToConnection(ctx context.Context, in *apigatewaymanagementapi.PostToConnectionInput, optFns ...func(*apigatewaymanagementapi.Options)) (*apigatewaymanagementapi.PostToConnectionOutput, error)
	DeleteConnection(ctx context.Context, in *apigatewaymanagementapi.DeleteConnectionInput, optFns ...func(*apigatewaymanagementapi.Options)) (*apigatewaymanagementapi.DeleteConnectionOutput, error)
}

var _ Connections = (*apigatewaymanagementapi.Client)(nil)

// Options configure a Server.
type Options struct {
	// Domain is the cookies' Domain, the parent of the UI and WebSocket hosts, e.g.
	// "dev.example.test". Required.
	Domain string
	// UIOrigin is the page's origin, e.g. "https://ui.dev.example.test:8443"; login and
	// logout refuse other origins (login CSRF). Required.
	UIOrigin string
	// WebSocketURL is what the page opens, e.g. "wss://ws.dev.example.test:8444/".
	// Required.
	WebSocketURL string
	// Key is the HMAC-SHA256 key signing the JWT; the gateway's authorizer verifies with
	// it. Required, at least 32 bytes.
	Key []byte
	// Connections is the @connections client. Required.
	Connections Connections
	// IntegrationSecret, when set, must arrive in IntegrationSecretHeader on every
	// integration call (the gateway sends it as a static request parameter). Default:
	// not checked.
	IntegrationSecret string
	// TokenTTL is the JWT and cookies' lifetime. Default 15m.
	TokenTTL time.Duration
	// Logger logs; nil discards.
	Logger *slog.Logger
	// Now is the clock; nil: time.Now.
	Now func() time.Time
	// GatewayReadyURL, when set, is the gateway's readiness endpoint (wsgate's /readyz):
	// POST /api/ws-check asks it, so that the page can tell "gateway unreachable" from a
	// refused handshake. Default: the check answers "unknown" for the gateway.
	GatewayReadyURL string
	// Dev, when set, turns on the dev-only endpoints under /dev/ (the gateway's recent
	// refusals, the attack panel's server-side attempt). Never set it in production.
	Dev *DevOptions
}

// Server is the chat backend.
type Server struct {
	opts Options
	log  *slog.Logger
	now  func() time.Time

	mu    sync.Mutex
	conns map[string]string              // connection id → principal
	users map[string]map[string]struct{} // principal → connection ids

	stats Stats

	readyClient *http.Client // asks Options.GatewayReadyURL
}

// Stats count what the backend saw, for tests and the page's status line.
type Stats struct {
	// Connects, Disconnects and Messages count integration calls that were accepted.
	Connects, Disconnects, Messages int
	// Gone counts connection ids removed because @connections answered GoneException.
	Gone int
	// Open is the number of connections the backend believes open.
	Open int
}

// New returns a Server.
func New(opts Options) (*Server, error) {
	switch {
	case opts.Domain == "":
		return nil, errors.New("chat: Domain is required")
	case opts.UIOrigin == "":
		return nil, errors.New("chat: UIOrigin is required")
	case opts.WebSocketURL == "":
		return nil, errors.New("chat: WebSocketURL is required")
	case len(opts.Key) < 32:
		return nil, errors.New("chat: Key must be at least 32 bytes")
	case opts.Connections == nil:
		return nil, errors.New("chat: Connections is required")
	}
	if opts.TokenTTL == 0 {
		opts.TokenTTL = 15 * time.Minute
	}
	s := &Server{opts: opts, log: opts.Logger, now: opts.Now,
		conns: map[string]string{}, users: map[string]map[string]struct{}{}}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.readyClient = &http.Client{Timeout: time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return s, nil
}

// Stats returns a snapshot of the counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.Open = len(s.conns)
	return st
}

// ConnectionsOf returns the principal's open connection ids, sorted.
func (s *Server) ConnectionsOf(principal string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return sortedIDs(s.users[principal])
}

// MintToken returns a JWT for principal bound to csrf, expiring at exp; login uses it,
// and tests use it to make expired tokens.
func (s *Server) MintToken(principal, csrf string, exp time.Time) (string, error) {
	now := s.now()
	return jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"sub": principal, "name": displayName(principal), "iat": now.Unix(), "exp": exp.Unix(), CSRFClaim: csrf,
	}).SignedString(s.opts.Key)
}

// NewCSRFToken returns a fresh random CSRF token.
func NewCSRFToken() string {
	b := make([]byte, 18)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func displayName(p string) string {
	if p == "" {
		return ""
	}
	return strings.ToUpper(p[:1]) + p[1:]
}

// maxJWTCookies bounds the JWT cookies session verifies, as the authorizer does
// (cookieauth.MaxJWTCookies).
const maxJWTCookies = 4

// session returns the principal and claims of r's session: the JWT cookie that verifies
// and whose csrf claim equals the host-only SessionCookie (compared in constant time).
// A JWT cookie tossed by a sibling host (another Domain or Path) is bound to another
// token and is never taken; without SessionCookie there is no session. It returns ""
// when r has no valid session.
func (s *Server) session(r *http.Request) (principal string, claims jwt.MapClaims) {
	hc, err := r.Cookie(SessionCookie)
	if err != nil || hc.Value == "" {
		return "", nil
	}
	jwts := r.CookiesNamed(JWTCookie)
	if len(jwts) > maxJWTCookies {
		return "", nil
	}
	for _, c := range jwts {
		claims := jwt.MapClaims{}
		_, err := jwt.ParseWithClaims(c.Value, claims, func(*jwt.Token) (any, error) { return s.opts.Key, nil },
			jwt.WithValidMethods([]string{"HS256"}), jwt.WithExpirationRequired(), jwt.WithTimeFunc(s.now))
		if err != nil {
			continue
		}
		sub, _ := claims["sub"].(string)
		bound, _ := claims[CSRFClaim].(string)
		if sub != "" && bound != "" && constantEqual(bound, hc.Value) {
			return sub, claims
		}
	}
	return "", nil
}

// sessionState is what a request's cookies amount to: "valid" (session returns the
// principal), "expired" (a JWT bound to the host-only cookie verifies but for its
// expiry), or "none".
func (s *Server) sessionState(r *http.Request) (state, principal string, claims jwt.MapClaims) {
	if p, c := s.session(r); p != "" {
		return "valid", p, c
	}
	hc, err := r.Cookie(SessionCookie)
	if err != nil || hc.Value == "" {
		return "none", "", nil
	}
	jwts := r.CookiesNamed(JWTCookie)
	if len(jwts) > maxJWTCookies {
		return "none", "", nil
	}
	for _, c := range jwts {
		claims := jwt.MapClaims{}
		_, err := jwt.ParseWithClaims(c.Value, claims, func(*jwt.Token) (any, error) { return s.opts.Key, nil },
			jwt.WithValidMethods([]string{"HS256"}), jwt.WithExpirationRequired(), jwt.WithTimeFunc(s.now))
		if !errors.Is(err, jwt.ErrTokenExpired) {
			continue
		}
		bound, _ := claims[CSRFClaim].(string)
		if bound != "" && constantEqual(bound, hc.Value) {
			return "expired", "", nil
		}
	}
	return "none", "", nil
}

// register records an open connection.
func (s *Server) register(id, principal string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.conns[id] = principal
	if s.users[principal] == nil {
		s.users[principal] = map[string]struct{}{}
	}
	s.users[principal][id] = struct{}{}
	s.stats.Connects++
}

// forget removes a connection; gone says @connections reported it gone.
func (s *Server) forget(id string, gone bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.conns[id]
	if !ok {
		return
	}
	delete(s.conns, id)
	delete(s.users[p], id)
	if len(s.users[p]) == 0 {
		delete(s.users, p)
	}
	if gone {
		s.stats.Gone++
	}
}

// Message is what the page sends on the "send" route.
type Message struct {
	Action string `json:"action"`
	// To is a user for a direct message; empty sends to the room (everyone).
	To   string `json:"to,omitempty"`
	Text string `json:"text"`
}

// Push is what the backend sends to pages through @connections.
type Push struct {
	Type string `json:"type"` // "message", "presence" or "error"
	From string `json:"from,omitempty"`
	To   string `json:"to,omitempty"`
	Text string `json:"text,omitempty"`
	At   string `json:"at,omitempty"`
	// Online lists the users with at least one open connection (type "presence").
	Online []string `json:"online,omitempty"`
}

// Online returns the users with at least one open connection, sorted.
func (s *Server) Online() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.onlineLocked()
}

func (s *Server) onlineLocked() []string {
	out := make([]string, 0, len(s.users))
	for u := range s.users {
		out = append(out, u)
	}
	sort.Strings(out)
	return out
}

// presenceTimeout bounds a presence broadcast: it runs inside $connect and $disconnect,
// and must not hold them up when @connections is slow (a gateway shutting down).
const presenceTimeout = 2 * time.Second

// broadcastPresence pushes who is online to every open connection except skip (the
// connection whose $connect is running: it cannot receive until it is open, and asks
// with the "who" action then, as on API Gateway).
func (s *Server) broadcastPresence(ctx context.Context, skip string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), presenceTimeout)
	defer cancel()
	s.mu.Lock()
	online := s.onlineLocked()
	ids := make([]string, 0, len(s.conns))
	for id := range s.conns {
		if id != skip {
			ids = append(ids, id)
		}
	}
	s.mu.Unlock()
	sort.Strings(ids)
	b, _ := json.Marshal(Push{Type: "presence", Online: online, At: s.now().UTC().Format(time.RFC3339)})
	for _, id := range ids {
		switch err := s.post(ctx, id, b); {
		case err == nil:
		case isGone(err):
			s.forget(id, true)
		default:
			s.log.Debug("presence not delivered", "connectionId", id, "error", err.Error())
		}
	}
}

// deliver sends m to the recipients' connections (everyone's when to is empty, else
// to's and from's), and forgets the connections @connections reports gone.
func (s *Server) deliver(ctx context.Context, from, to, text string) (int, error) {
	s.mu.Lock()
	var ids []string
	if to == "" {
		for id := range s.conns {
			ids = append(ids, id)
		}
	} else {
		ids = append(sortedIDs(s.users[to]), sortedIDs(s.users[from])...)
	}
	s.mu.Unlock()
	sort.Strings(ids)
	b, err := json.Marshal(Push{Type: "message", From: from, To: to, Text: text, At: s.now().UTC().Format(time.RFC3339)})
	if err != nil {
		return 0, err
	}
	sent := 0
	var errs []error
	for _, id := range ids {
		err := s.post(ctx, id, b)
		switch {
		case err == nil:
			sent++
		case isGone(err):
			s.log.Info("connection gone, forgetting it", "connectionId", id)
			s.forget(id, true)
		default:
			errs = append(errs, fmt.Errorf("post to %s: %w", id, err))
		}
	}
	return sent, errors.Join(errs...)
}

func (s *Server) post(ctx context.Context, id string, data []byte) error {
	_, err := s.opts.Connections.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: &id, Data: data})
	return err
}

func isGone(err error) bool {
	var g *types.GoneException
	return errors.As(err, &g)
}

// disconnectUser closes every socket of principal through @connections.
func (s *Server) disconnectUser(ctx context.Context, principal string) error {
	var errs []error
	for _, id := range s.ConnectionsOf(principal) {
		_, err := s.opts.Connections.DeleteConnection(ctx, &apigatewaymanagementapi.DeleteConnectionInput{ConnectionId: &id})
		switch {
		case err == nil, isGone(err):
			// $disconnect will (or did) forget it; forgetting now keeps pushes off it.
			s.forget(id, isGone(err))
		default:
			errs = append(errs, fmt.Errorf("delete %s: %w", id, err))
		}
	}
	return errors.Join(errs...)
}

func sortedIDs(m map[string]struct{}) []string {
	ids := make([]string, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

func constantEqual(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}
