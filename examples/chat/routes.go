package chat

import (
	"context"
	"embed"
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"slices"
	"strings"
	"time"
)

//go:embed static
var static embed.FS

// Public is the surface browsers reach on the UI host: the page, POST /login,
// POST /logout, GET /api/session, POST /api/ws-check and GET /api/config; with
// Options.Dev, the dev-only endpoints under /dev/ (dev.go).
func (s *Server) Public() http.Handler {
	mux := http.NewServeMux()
	sub, _ := fs.Sub(static, "static")
	mux.Handle("GET /", noCache(http.FileServerFS(sub)))
	mux.HandleFunc("GET /api/config", s.handleConfig)
	mux.HandleFunc("GET /api/session", s.handleSession)
	mux.HandleFunc("POST /api/ws-check", s.handleWSCheck)
	mux.HandleFunc("POST /login", s.handleLogin)
	mux.HandleFunc("POST /logout", s.handleLogout)
	if s.opts.Dev != nil {
		s.devRoutes(mux) // dev.go: only `wsgate dev` sets Options.Dev
	}
	return securityHeaders(mux)
}

// Integration is the surface the gateway's HTTP integrations call: POST /connect,
// /disconnect and /message with the connection id in X-Connection-Id and the
// authorizer's principal in X-Principal. It trusts those headers: only the gateway may
// reach it (a loopback or private listener, and Options.IntegrationSecret).
func (s *Server) Integration() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /connect", s.handleConnect)
	mux.HandleFunc("POST /disconnect", s.handleDisconnect)
	mux.HandleFunc("POST /message", s.handleMessage)
	return s.checkIntegrationSecret(mux)
}

func (s *Server) checkIntegrationSecret(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.opts.IntegrationSecret != "" && !constantEqual(r.Header.Get(IntegrationSecretHeader), s.opts.IntegrationSecret) {
			s.log.Warn("integration call without the integration secret", "path", r.URL.Path, "remote", r.RemoteAddr)
			http.Error(w, "forbidden", http.StatusForbidden)
			return
		}
		h.ServeHTTP(w, r)
	})
}

func noCache(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		h.ServeHTTP(w, r)
	})
}

func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("X-Frame-Options", "DENY")
		w.Header().Set("Referrer-Policy", "same-origin")
		h.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (s *Server) handleConfig(w http.ResponseWriter, _ *http.Request) {
	cfg := map[string]any{"webSocketURL": s.opts.WebSocketURL, "users": Users, "origin": s.opts.UIOrigin}
	if s.opts.Dev != nil {
		cfg["dev"] = map[string]any{"hostilePages": s.opts.Dev.HostilePages}
	}
	writeJSON(w, http.StatusOK, cfg)
}

// WSCheck is POST /api/ws-check's answer: what the page needs to explain a handshake
// the browser reports only as close code 1006 (browsers hide the HTTP status).
type WSCheck struct {
	// Session is "valid", "expired" (the JWT bound to this browser's host-only cookie
	// verifies but for its expiry) or "none"; User and ExpiresAt are set when valid.
	Session   string `json:"session"`
	User      string `json:"user,omitempty"`
	ExpiresAt string `json:"expiresAt,omitempty"`
	// CSRF compares the token the page presents (X-CSRF-Token) with the session's
	// binding claim: "match", "mismatch", "missing", or "" without a session.
	CSRF string `json:"csrf,omitempty"`
	// Origin is the Origin this request came with (the browser sends the same on the
	// handshake) and OriginAllowed whether it is the UI origin the gateway allows.
	Origin        string `json:"origin"`
	OriginAllowed bool   `json:"originAllowed"`
	// Gateway is "ready" (its readiness endpoint answers 200), "not ready" (it answers
	// otherwise: starting or shutting down), "unreachable" (no answer), or "unknown"
	// (Options.GatewayReadyURL is not set).
	Gateway string `json:"gateway"`
}

// handleWSCheck answers WSCheck. It is a POST so that the browser sends its Origin.
// It changes nothing and sets no CORS header: no other origin can read it.
func (s *Server) handleWSCheck(w http.ResponseWriter, r *http.Request) {
	var c WSCheck
	c.Origin = r.Header.Get("Origin")
	c.OriginAllowed = c.Origin == s.opts.UIOrigin
	state, p, claims := s.sessionState(r)
	c.Session = state
	if p != "" {
		c.User = p
		if exp, _ := claims.GetExpirationTime(); exp != nil {
			c.ExpiresAt = exp.UTC().Format(time.RFC3339)
		}
		bound, _ := claims[CSRFClaim].(string)
		switch got := r.Header.Get(CSRFHeader); {
		case got == "":
			c.CSRF = "missing"
		case constantEqual(got, bound):
			c.CSRF = "match"
		default:
			c.CSRF = "mismatch"
		}
	}
	c.Gateway = s.gatewayReady(r.Context())
	writeJSON(w, http.StatusOK, c)
}

// gatewayReady asks Options.GatewayReadyURL, within a second.
func (s *Server) gatewayReady(ctx context.Context) string {
	if s.opts.GatewayReadyURL == "" {
		return "unknown"
	}
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.opts.GatewayReadyURL, nil)
	if err != nil {
		return "unknown"
	}
	resp, err := s.readyClient.Do(req)
	if err != nil {
		return "unreachable"
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "not ready"
	}
	return "ready"
}

// handleSession tells the page who it is logged in as and the CSRF token bound to its
// JWT (both cookies are HttpOnly: the page cannot read them). Same origin only: it sets
// no CORS header, so no other origin, sibling hosts included, can read the answer.
func (s *Server) handleSession(w http.ResponseWriter, r *http.Request) {
	p, claims := s.session(r)
	if p == "" {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"user": nil})
		return
	}
	exp, _ := claims.GetExpirationTime()
	writeJSON(w, http.StatusOK, map[string]any{"user": p, "expiresAt": exp.UTC().Format(time.RFC3339), "csrfToken": claims[CSRFClaim]})
}

// sameOrigin refuses cross-site state-changing requests (login CSRF, forced logout).
func (s *Server) sameOrigin(w http.ResponseWriter, r *http.Request) bool {
	if r.Header.Get("Origin") != s.opts.UIOrigin {
		writeJSON(w, http.StatusForbidden, map[string]string{"error": "cross-origin request refused"})
		return false
	}
	return true
}

// cookie is a cookie for the parent domain (sent to the ws host); hostCookie one for
// the UI host only (the __Host- prefix: Secure, Path=/, no Domain).
func (s *Server) cookie(name, value string, maxAge int, httpOnly bool) *http.Cookie {
	return &http.Cookie{
		Name: name, Value: value, Path: "/", Domain: s.opts.Domain, MaxAge: maxAge,
		Secure: true, HttpOnly: httpOnly, SameSite: http.SameSiteLaxMode,
	}
}

func (s *Server) hostCookie(name, value string, maxAge int) *http.Cookie {
	return &http.Cookie{
		Name: name, Value: value, Path: "/", MaxAge: maxAge,
		Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode,
	}
}

func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) {
	if !s.sameOrigin(w, r) {
		return
	}
	var in struct{ User, Password string }
	if err := json.NewDecoder(io.LimitReader(r.Body, 4096)).Decode(&in); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "expected JSON {\"user\", \"password\"}"})
		return
	}
	if !slices.Contains(Users, in.User) || !constantEqual(in.Password, DemoPassword) {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "unknown user or wrong password"})
		return
	}
	csrf := NewCSRFToken()
	exp := s.now().Add(s.opts.TokenTTL)
	tok, err := s.MintToken(in.User, csrf, exp)
	if err != nil {
		s.log.Error("minting a token", "error", err.Error())
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "internal error"})
		return
	}
	maxAge := int(s.opts.TokenTTL / time.Second)
	http.SetCookie(w, s.cookie(JWTCookie, tok, maxAge, true))
	http.SetCookie(w, s.hostCookie(SessionCookie, csrf, maxAge))
	s.log.Info("login", "user", in.User)
	writeJSON(w, http.StatusOK, map[string]any{"user": in.User, "expiresAt": exp.UTC().Format(time.RFC3339), "csrfToken": csrf})
}

// handleLogout clears the cookies and closes the user's sockets. It needs the CSRF
// token in X-CSRF-Token, equal to the session's binding claim, so that no other site
// can log the user out.
func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request) {
	if !s.sameOrigin(w, r) {
		return
	}
	p, claims := s.session(r)
	if p != "" {
		bound, _ := claims[CSRFClaim].(string)
		if bound == "" || !constantEqual(r.Header.Get(CSRFHeader), bound) {
			writeJSON(w, http.StatusForbidden, map[string]string{"error": "CSRF token missing or wrong"})
			return
		}
	}
	http.SetCookie(w, s.cookie(JWTCookie, "", -1, true))
	http.SetCookie(w, s.hostCookie(SessionCookie, "", -1))
	http.SetCookie(w, s.cookie(CSRFCookie, "", -1, false)) // set by earlier versions
	closed := 0
	if p != "" {
		closed = len(s.ConnectionsOf(p))
		if err := s.disconnectUser(r.Context(), p); err != nil {
			s.log.Error("closing sockets on logout", "user", p, "error", err.Error())
			writeJSON(w, http.StatusBadGateway, map[string]string{"error": "logged out, but some sockets could not be closed"})
			return
		}
		s.log.Info("logout", "user", p, "closed", closed)
	}
	writeJSON(w, http.StatusOK, map[string]any{"closed": closed})
}

// integrationIDs reads the connection id and principal the gateway maps into headers.
func integrationIDs(w http.ResponseWriter, r *http.Request, needPrincipal bool) (id, principal string, ok bool) {
	id, principal = r.Header.Get("X-Connection-Id"), r.Header.Get("X-Principal")
	if id == "" || (needPrincipal && principal == "") {
		http.Error(w, "X-Connection-Id and X-Principal are required", http.StatusBadRequest)
		return "", "", false
	}
	return id, principal, true
}

// handleConnect runs on $connect, after the authorizer admitted the handshake; a non-2xx
// answer would refuse it.
func (s *Server) handleConnect(w http.ResponseWriter, r *http.Request) {
	id, p, ok := integrationIDs(w, r, true)
	if !ok {
		return
	}
	if !slices.Contains(Users, p) {
		http.Error(w, "unknown user", http.StatusForbidden)
		return
	}
	s.register(id, p)
	s.log.Info("$connect", "connectionId", id, "user", p)
	s.broadcastPresence(r.Context(), id)
	// A page that presents its CSRF token as a csrf.<token> subprotocol entry offers
	// "chat" beside it; as on API Gateway, the $connect integration selects the
	// subprotocol (a browser drops a connection that offered some and got none).
	if offersSubprotocol(r.Header.Get(SubprotocolHeader), Subprotocol) {
		w.Header().Set("Sec-WebSocket-Protocol", Subprotocol)
	}
	w.WriteHeader(http.StatusOK)
}

// Subprotocol is the reference page's application protocol, and SubprotocolHeader the
// request header the gateway maps the handshake's Sec-WebSocket-Protocol into.
const (
	Subprotocol       = "chat"
	SubprotocolHeader = "X-Sec-WebSocket-Protocol"
)

func offersSubprotocol(offered, want string) bool {
	for part := range strings.SplitSeq(offered, ",") {
		if strings.TrimSpace(part) == want {
			return true
		}
	}
	return false
}

func (s *Server) handleDisconnect(w http.ResponseWriter, r *http.Request) {
	id, _, ok := integrationIDs(w, r, false)
	if !ok {
		return
	}
	s.forget(id, false)
	s.mu.Lock()
	s.stats.Disconnects++
	s.mu.Unlock()
	s.log.Info("$disconnect", "connectionId", id)
	s.broadcastPresence(r.Context(), "")
	w.WriteHeader(http.StatusOK)
}

// handleMessage runs on the "send" and "who" routes: the body is the client's message.
// "who" answers the asking connection with who is online (a connection cannot receive
// during its own $connect, so the page asks once it is open).
func (s *Server) handleMessage(w http.ResponseWriter, r *http.Request) {
	id, p, ok := integrationIDs(w, r, true)
	if !ok {
		return
	}
	var m Message
	err := json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&m)
	if err == nil && m.Action == "who" {
		b, _ := json.Marshal(Push{Type: "presence", Online: s.Online(), At: s.now().UTC().Format(time.RFC3339)})
		if err := s.post(r.Context(), id, b); err != nil && !isGone(err) {
			s.log.Warn("presence reply", "connectionId", id, "error", err.Error())
		}
		w.WriteHeader(http.StatusOK)
		return
	}
	if err != nil || m.Text == "" {
		s.reply(r, id, "messages are {\"action\":\"send\",\"text\":\"...\",\"to\":\"optional user\"}")
		w.WriteHeader(http.StatusOK)
		return
	}
	if m.To != "" && !slices.Contains(Users, m.To) {
		s.reply(r, id, "no such user: "+m.To)
		w.WriteHeader(http.StatusOK)
		return
	}
	s.mu.Lock()
	s.stats.Messages++
	s.mu.Unlock()
	n, err := s.deliver(r.Context(), p, m.To, m.Text)
	if err != nil {
		s.log.Error("delivering", "from", p, "error", err.Error())
		http.Error(w, "delivery failed", http.StatusBadGateway)
		return
	}
	s.log.Info("message", "from", p, "to", m.To, "delivered", n)
	w.WriteHeader(http.StatusOK)
}

// reply pushes an error notice to one connection.
func (s *Server) reply(r *http.Request, id, text string) {
	b, _ := json.Marshal(Push{Type: "error", Text: text})
	if err := s.post(r.Context(), id, b); err != nil && !isGone(err) {
		s.log.Warn("replying", "connectionId", id, "error", err.Error())
	}
}
