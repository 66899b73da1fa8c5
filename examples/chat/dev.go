package chat

import (
	"context"
	"crypto/rand"
	"embed"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/golang-jwt/jwt/v5"
)

// DevOptions turn on the dev-only endpoints of the page's server (`wsgate dev` sets
// them; a deployment must not):
//
//	GET  /dev/refusals?after=N       the gateway's recent "connect refused" log records:
//	                                 time, status, outcome and reason, nothing else
//	POST /dev/attack/forged-cookie   a handshake the backend sends itself, with a JWT
//	                                 cookie signed by a key the gateway does not know
//
// and the page's "try an attack" panel.
type DevOptions struct {
	// Refusals is where the gateway's refusals are kept (its logger's handler wraps
	// RefusalLog.Handler). Required.
	Refusals *RefusalLog
	// HostilePages are pages on other origins that try to open the socket; the panel
	// frames them. Each answers the panel with postMessage.
	HostilePages []HostilePage
	// HandshakeClient sends the forged-cookie handshake: it must trust the gateway's
	// certificate and reach its host. Required.
	HandshakeClient *http.Client
}

// HostilePage is one of the attack panel's hostile origins.
type HostilePage struct {
	// Name is "sibling" (a host under the cookies' Domain: the same site) or
	// "cross-site".
	Name string `json:"name"`
	// URL is the page, served by HostileHandler.
	URL string `json:"url"`
	// Origin is URL's origin: the panel accepts postMessage from it only.
	Origin string `json:"origin"`
}

// Refusal is one "connect refused" record of the gateway's log, as the dev endpoint
// shows it: no cookie, token, query string or address.
type Refusal struct {
	Seq     uint64    `json:"seq"`
	Time    time.Time `json:"time"`
	Status  int       `json:"status"`
	Outcome string    `json:"outcome"`
	Reason  string    `json:"reason"`
}

// RefusalLog keeps the last records of the gateway's "connect refused" log lines.
type RefusalLog struct {
	mu   sync.Mutex
	max  int
	next uint64
	recs []Refusal
}

// NewRefusalLog keeps the last n refusals.
func NewRefusalLog(n int) *RefusalLog { return &RefusalLog{max: n} }

// After returns the kept refusals numbered at least after, and the number the next
// refusal will get.
func (l *RefusalLog) After(after uint64) ([]Refusal, uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := []Refusal{}
	for _, r := range l.recs {
		if r.Seq >= after {
			out = append(out, r)
		}
	}
	return out, l.next
}

func (l *RefusalLog) add(r Refusal) {
	l.mu.Lock()
	defer l.mu.Unlock()
	r.Seq = l.next
	l.next++
	l.recs = append(l.recs, r)
	if len(l.recs) > l.max {
		l.recs = l.recs[len(l.recs)-l.max:]
	}
}

// Handler returns a slog handler that passes every record to next and keeps the
// status, outcome and reason of the gateway's "connect refused" records (the gateway
// logs one per refused handshake; the other attributes are not kept).
func (l *RefusalLog) Handler(next slog.Handler) slog.Handler { return refusalHandler{l, next} }

type refusalHandler struct {
	log  *RefusalLog
	next slog.Handler
}

func (h refusalHandler) Enabled(ctx context.Context, lv slog.Level) bool {
	return lv >= slog.LevelInfo || h.next.Enabled(ctx, lv)
}

func (h refusalHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == "connect refused" {
		rf := Refusal{Time: r.Time}
		r.Attrs(func(a slog.Attr) bool {
			switch a.Key {
			case "status":
				if n, ok := a.Value.Resolve().Any().(int64); ok {
					rf.Status = int(n)
				} else if n, ok := a.Value.Resolve().Any().(int); ok {
					rf.Status = n
				}
			case "outcome":
				rf.Outcome = a.Value.String()
			case "reason":
				rf.Reason = a.Value.String()
			}
			return true
		})
		h.log.add(rf)
	}
	if !h.next.Enabled(ctx, r.Level) {
		return nil
	}
	return h.next.Handle(ctx, r)
}

func (h refusalHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return refusalHandler{h.log, h.next.WithAttrs(as)}
}

func (h refusalHandler) WithGroup(name string) slog.Handler {
	return refusalHandler{h.log, h.next.WithGroup(name)}
}

func (s *Server) devRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /dev/refusals", s.handleRefusals)
	mux.HandleFunc("POST /dev/attack/forged-cookie", s.handleForgedCookie)
}

// handleRefusals answers the refusals numbered at least ?after=. Same origin only (no
// CORS header).
func (s *Server) handleRefusals(w http.ResponseWriter, r *http.Request) {
	after, _ := strconv.ParseUint(r.URL.Query().Get("after"), 10, 64)
	recs, next := s.opts.Dev.Refusals.After(after)
	writeJSON(w, http.StatusOK, map[string]any{"refusals": recs, "next": next})
}

// handleForgedCookie sends, from the backend, the handshake an attacker who forged a
// JWT cookie would send: the session's own claims (principal, CSRF binding) signed with
// a fresh random key, the right Origin and the session's CSRF token. It is done here
// and not in the browser because a page cannot write an HttpOnly cookie, and the
// browser would send the real JWT beside a forged one, which the authorizer would pick.
// It answers the HTTP status the gateway gave (a server, unlike a page, sees it).
func (s *Server) handleForgedCookie(w http.ResponseWriter, r *http.Request) {
	if !s.sameOrigin(w, r) {
		return
	}
	p, claims := s.session(r)
	if p == "" {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "log in first"})
		return
	}
	bound, _ := claims[CSRFClaim].(string)
	if bound == "" || !constantEqual(r.Header.Get(CSRFHeader), bound) {
		writeJSON(w, http.StatusForbidden, map[string]string{"error": "CSRF token missing or wrong"})
		return
	}
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	now := s.now()
	forged, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"sub": p, "name": displayName(p), "iat": now.Unix(), "exp": now.Add(s.opts.TokenTTL).Unix(), CSRFClaim: bound,
	}).SignedString(key)
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "internal error"})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	conn, resp, err := websocket.Dial(ctx, s.opts.WebSocketURL+"?csrf="+url.QueryEscape(bound), &websocket.DialOptions{
		HTTPClient: s.opts.Dev.HandshakeClient,
		HTTPHeader: http.Header{"Origin": {s.opts.UIOrigin}, "Cookie": {JWTCookie + "=" + forged}},
	})
	if err == nil {
		// Never expected: the gateway verifies the signature.
		s.log.Error("the forged-cookie handshake was accepted")
		_ = conn.Close(websocket.StatusNormalClosure, "")
		writeJSON(w, http.StatusOK, map[string]any{"opened": true, "status": http.StatusSwitchingProtocols})
		return
	}
	status := 0
	if resp != nil {
		status = resp.StatusCode
		if resp.Body != nil {
			resp.Body.Close()
		}
	}
	// err is not logged: it may quote the URL, whose query holds the token.
	writeJSON(w, http.StatusOK, map[string]any{"opened": false, "status": status})
}

//go:embed hostile
var hostile embed.FS

// HostileHandler serves the attack panel's hostile page on any host: a page that
// opens the socket with the visitor's cookies and no CSRF token an attacker could know,
// and tells the framing panel (allowed by frame-ancestors) what happened with
// postMessage. `wsgate dev` serves it on its own port, another origin than the page.
func HostileHandler(uiOrigin string) http.Handler {
	page, _ := hostile.ReadFile("hostile/index.html")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Content-Security-Policy", "frame-ancestors "+uiOrigin)
		_, _ = w.Write(page)
	})
}
