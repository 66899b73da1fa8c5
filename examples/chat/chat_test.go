package chat

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi/types"
	"github.com/google/go-cmp/cmp"
)

// fakeConnections records @connections calls; ids in gone answer GoneException.
type fakeConnections struct {
	mu      sync.Mutex
	gone    map[string]bool
	posts   map[string][]string
	deletes []string
}

func (f *fakeConnections) PostToConnection(_ context.Context, in *apigatewaymanagementapi.PostToConnectionInput, _ ...func(*apigatewaymanagementapi.Options)) (*apigatewaymanagementapi.PostToConnectionOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.gone[*in.ConnectionId] {
		return nil, &types.GoneException{}
	}
	f.posts[*in.ConnectionId] = append(f.posts[*in.ConnectionId], string(in.Data))
	return &apigatewaymanagementapi.PostToConnectionOutput{}, nil
}

func (f *fakeConnections) DeleteConnection(_ context.Context, in *apigatewaymanagementapi.DeleteConnectionInput, _ ...func(*apigatewaymanagementapi.Options)) (*apigatewaymanagementapi.DeleteConnectionOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.deletes = append(f.deletes, *in.ConnectionId)
	return &apigatewaymanagementapi.DeleteConnectionOutput{}, nil
}

// ofType returns the pushes to id whose type is typ.
func (f *fakeConnections) ofType(id, typ string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, p := range f.posts[id] {
		var m Push
		if json.Unmarshal([]byte(p), &m) == nil && m.Type == typ {
			out = append(out, p)
		}
	}
	return out
}

const origin = "https://ui.dev.example.test"

func newTestServer(t testing.TB) (*Server, *fakeConnections) {
	t.Helper()
	fc := &fakeConnections{gone: map[string]bool{}, posts: map[string][]string{}}
	s, err := New(Options{Domain: "dev.example.test", UIOrigin: origin, WebSocketURL: "wss://ws.dev.example.test/",
		Key: []byte(strings.Repeat("k", 32)), Connections: fc, IntegrationSecret: "s3cret"})
	if err != nil {
		t.Fatal(err)
	}
	return s, fc
}

func do(t *testing.T, h http.Handler, method, path, body string, hdr map[string]string, cookies ...*http.Cookie) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	for _, c := range cookies {
		r.AddCookie(c)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestLoginCookies(t *testing.T) {
	s, _ := newTestServer(t)
	w := do(t, s.Public(), "POST", "/login", `{"user":"alice","password":"demo"}`, map[string]string{"Origin": origin})
	if w.Code != 200 {
		t.Fatalf("login: %d %s", w.Code, w.Body)
	}
	sc := w.Result().Header.Values("Set-Cookie")
	if len(sc) != 2 {
		t.Fatalf("Set-Cookie = %q", sc)
	}
	for i, c := range []struct {
		prefix string
		attrs  []string
	}{
		// The JWT reaches the ws host through the parent Domain; the CSRF token stays
		// on the UI host (no Domain: no sibling host receives or can overwrite it).
		{"JWT=", []string{"Domain=dev.example.test", "Path=/", "Max-Age=900", "Secure", "HttpOnly", "SameSite=Lax"}},
		{SessionCookie + "=", []string{"Path=/", "Max-Age=900", "Secure", "HttpOnly", "SameSite=Strict"}},
	} {
		if !strings.HasPrefix(sc[i], c.prefix) {
			t.Errorf("cookie %d = %q, want %s...", i, sc[i], c.prefix)
		}
		for _, attr := range c.attrs {
			if !strings.Contains(sc[i], attr) {
				t.Errorf("%s lacks %s: %q", c.prefix, attr, sc[i])
			}
		}
	}
	if strings.Contains(sc[1], "Domain=") {
		t.Errorf("%s has a Domain: %q", SessionCookie, sc[1])
	}
	var body struct{ User, CSRFToken string }
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
		t.Fatal(err)
	}
	cookies := w.Result().Cookies()
	if p, _ := s.session(httptest.NewRequest("GET", "/", nil)); p != "" {
		t.Fatal("session without cookies")
	}
	r := httptest.NewRequest("GET", "/", nil)
	r.AddCookie(cookies[0])
	if p, _ := s.session(r); p != "" {
		t.Errorf("session from the JWT cookie alone = %q, want none (a tossed JWT must not be a session)", p)
	}
	r.AddCookie(cookies[1])
	p, claims := s.session(r)
	if p != "alice" || claims[CSRFClaim] != cookies[1].Value || body.CSRFToken != cookies[1].Value || body.User != "alice" {
		t.Errorf("session = %q, csrf claim %v, cookie %q, login body %+v", p, claims[CSRFClaim], cookies[1].Value, body)
	}

	for _, tc := range []struct{ name, body, origin string }{
		{"wrong password", `{"user":"alice","password":"x"}`, origin},
		{"unknown user", `{"user":"mallory","password":"demo"}`, origin},
		{"cross-site login", `{"user":"alice","password":"demo"}`, "https://evil.test"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := do(t, s.Public(), "POST", "/login", tc.body, map[string]string{"Origin": tc.origin})
			if w.Code == 200 || len(w.Result().Cookies()) != 0 {
				t.Errorf("status %d, cookies %v", w.Code, w.Result().Cookies())
			}
		})
	}
}

func TestDeliverForgetsGoneAndLogoutDeletes(t *testing.T) {
	s, fc := newTestServer(t)
	in := s.Integration()
	sec := func(id, p string) map[string]string {
		return map[string]string{"X-Connection-Id": id, "X-Principal": p, IntegrationSecretHeader: "s3cret"}
	}
	if w := do(t, in, "POST", "/connect", "", map[string]string{"X-Connection-Id": "a1", "X-Principal": "alice"}); w.Code != 403 {
		t.Fatalf("connect without the integration secret: %d", w.Code)
	}
	for _, c := range [][2]string{{"a1", "alice"}, {"b1", "bob"}, {"b2", "bob"}} {
		if w := do(t, in, "POST", "/connect", "", sec(c[0], c[1])); w.Code != 200 {
			t.Fatalf("connect %v: %d", c, w.Code)
		}
	}
	fc.gone["b2"] = true
	if w := do(t, in, "POST", "/message", `{"action":"send","text":"hi","to":"bob"}`, sec("a1", "alice")); w.Code != 200 {
		t.Fatalf("message: %d %s", w.Code, w.Body)
	}
	if diff := cmp.Diff([]string{"b1"}, s.ConnectionsOf("bob")); diff != "" {
		t.Errorf("bob's connections (-want +got):\n%s", diff)
	}
	if got := s.Stats(); got.Gone != 1 || got.Messages != 1 || got.Open != 2 {
		t.Errorf("stats = %+v", got)
	}
	if a, b := fc.ofType("a1", "message"), fc.ofType("b1", "message"); len(a) != 1 || len(b) != 1 || !strings.Contains(b[0], `"from":"alice"`) {
		t.Errorf("posts = %v", fc.posts)
	}

	// Logout needs the CSRF token in the header, then deletes bob's sockets.
	tok, _ := s.MintToken("bob", "c1", s.now().Add(s.opts.TokenTTL))
	jc, cc := &http.Cookie{Name: JWTCookie, Value: tok}, &http.Cookie{Name: SessionCookie, Value: "c1"}
	if w := do(t, s.Public(), "POST", "/logout", "", map[string]string{"Origin": origin, CSRFHeader: "other"}, jc, cc); w.Code != 403 {
		t.Errorf("logout with a wrong CSRF header: %d", w.Code)
	}
	if w := do(t, s.Public(), "POST", "/logout", "", map[string]string{"Origin": origin, CSRFHeader: "c1"}, jc, cc); w.Code != 200 {
		t.Errorf("logout: %d %s", w.Code, w.Body)
	}
	if diff := cmp.Diff([]string{"b1"}, fc.deletes); diff != "" {
		t.Errorf("deleted (-want +got):\n%s", diff)
	}
	if got := s.ConnectionsOf("bob"); len(got) != 0 {
		t.Errorf("bob still has %v", got)
	}
}

// TestSessionWithTossedJWT: a sibling host planted its own valid JWT cookie next to the
// user's (another Domain or Path). GET /api/session answers with the session bound to
// the host-only cookie, whichever order the browser sends them in; with only the tossed
// one, or with a guessed CSRF-TOKEN cookie, there is no session to read.
func TestSessionWithTossedJWT(t *testing.T) {
	s, _ := newTestServer(t)
	exp := s.now().Add(time.Minute)
	alice, _ := s.MintToken("alice", "alice-token", exp)
	bob, _ := s.MintToken("bob", "bob-token", exp)
	type answer struct {
		Status    int
		User      string
		CSRFToken string
	}
	get := func(cookies ...*http.Cookie) answer {
		w := do(t, s.Public(), "GET", "/api/session", "", nil, cookies...)
		var a answer
		_ = json.Unmarshal(w.Body.Bytes(), &a)
		a.Status = w.Code
		return a
	}
	jwtCookie := func(v string) *http.Cookie { return &http.Cookie{Name: JWTCookie, Value: v} }
	host := &http.Cookie{Name: SessionCookie, Value: "alice-token"}
	guess := &http.Cookie{Name: CSRFCookie, Value: "bob-token"}
	for _, tc := range []struct {
		name    string
		cookies []*http.Cookie
		want    answer
	}{
		{"own session", []*http.Cookie{jwtCookie(alice), host}, answer{200, "alice", "alice-token"}},
		{"tossed JWT first", []*http.Cookie{jwtCookie(bob), jwtCookie(alice), host, guess}, answer{200, "alice", "alice-token"}},
		{"tossed JWT last", []*http.Cookie{jwtCookie(alice), jwtCookie(bob), host}, answer{200, "alice", "alice-token"}},
		{"only the tossed JWT", []*http.Cookie{jwtCookie(bob), host, guess}, answer{Status: 401}},
		{"tossed JWT and CSRF cookie, no host cookie", []*http.Cookie{jwtCookie(bob), guess}, answer{Status: 401}},
		{"five JWT cookies", []*http.Cookie{jwtCookie(bob), jwtCookie(bob), jwtCookie(bob), jwtCookie(bob), jwtCookie(alice), host}, answer{Status: 401}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, get(tc.cookies...)); diff != "" {
				t.Errorf("GET /api/session (-want +got):\n%s", diff)
			}
		})
	}
}

// $connect selects the page's subprotocol when the handshake offered it (the page does
// when its CSRF token travels as a csrf.<token> entry), and none otherwise.
func TestConnectSelectsSubprotocol(t *testing.T) {
	s, _ := newTestServer(t)
	in := s.Integration()
	for _, tc := range []struct{ offered, want string }{
		{"chat, csrf.tok", "chat"},
		{"csrf.tok,chat", "chat"},
		{"", ""},
		{"other, csrf.tok", ""},
	} {
		h := map[string]string{"X-Connection-Id": "a1", "X-Principal": "alice", IntegrationSecretHeader: "s3cret", SubprotocolHeader: tc.offered}
		w := do(t, in, "POST", "/connect", "", h)
		if w.Code != 200 || w.Header().Get("Sec-WebSocket-Protocol") != tc.want {
			t.Errorf("offered %q: %d, Sec-WebSocket-Protocol %q, want %q", tc.offered, w.Code, w.Header().Get("Sec-WebSocket-Protocol"), tc.want)
		}
	}
}

// Presence: $connect tells the others who is online (not the connecting one, which
// cannot receive yet), "who" answers the asking connection, $disconnect tells the rest.
func TestPresence(t *testing.T) {
	s, fc := newTestServer(t)
	in := s.Integration()
	sec := func(id, p string) map[string]string {
		return map[string]string{"X-Connection-Id": id, "X-Principal": p, IntegrationSecretHeader: "s3cret"}
	}
	online := func(push string) []string {
		var m Push
		if err := json.Unmarshal([]byte(push), &m); err != nil {
			t.Fatal(err)
		}
		return m.Online
	}
	do(t, in, "POST", "/connect", "", sec("a1", "alice"))
	if got := fc.ofType("a1", "presence"); len(got) != 0 {
		t.Errorf("the connecting connection got %v during its own $connect", got)
	}
	do(t, in, "POST", "/connect", "", sec("b1", "bob"))
	if got := fc.ofType("a1", "presence"); len(got) != 1 || !cmp.Equal(online(got[0]), []string{"alice", "bob"}) {
		t.Errorf("alice's presence pushes after bob's $connect = %v", got)
	}
	if w := do(t, in, "POST", "/message", `{"action":"who"}`, sec("b1", "bob")); w.Code != 200 {
		t.Fatalf("who: %d", w.Code)
	}
	if got := fc.ofType("b1", "presence"); len(got) != 1 || !cmp.Equal(online(got[0]), []string{"alice", "bob"}) {
		t.Errorf("bob's answer to who = %v", got)
	}
	do(t, in, "POST", "/disconnect", "", sec("b1", "bob"))
	got := fc.ofType("a1", "presence")
	if len(got) != 2 || !cmp.Equal(online(got[1]), []string{"alice"}) {
		t.Errorf("alice's presence pushes after bob's $disconnect = %v", got)
	}
	if s.Stats().Messages != 0 {
		t.Errorf("who counted as a message: %+v", s.Stats())
	}
}

// POST /api/ws-check tells the page what a refused handshake means: the session
// (valid, expired, none), the CSRF token it presents, its Origin, and the gateway's
// readiness (a real HTTP server standing in for /readyz).
func TestWSCheck(t *testing.T) {
	ready := make(chan int, 1)
	ready <- http.StatusOK
	gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st := <-ready
		ready <- st
		w.WriteHeader(st)
	}))
	defer gw.Close()
	s, _ := newTestServer(t)
	s.opts.GatewayReadyURL = gw.URL + "/readyz"
	exp := s.now().Add(time.Minute)
	valid, _ := s.MintToken("alice", "tok", exp)
	expired, _ := s.MintToken("alice", "tok", s.now().Add(-time.Minute))
	host := &http.Cookie{Name: SessionCookie, Value: "tok"}
	check := func(hdr map[string]string, cookies ...*http.Cookie) WSCheck {
		t.Helper()
		w := do(t, s.Public(), "POST", "/api/ws-check", "", hdr, cookies...)
		var c WSCheck
		if err := json.Unmarshal(w.Body.Bytes(), &c); err != nil || w.Code != 200 {
			t.Fatalf("ws-check: %d %s", w.Code, w.Body)
		}
		c.ExpiresAt = ""
		return c
	}
	for _, tc := range []struct {
		name    string
		hdr     map[string]string
		cookies []*http.Cookie
		want    WSCheck
	}{
		{"valid, token matches", map[string]string{"Origin": origin, CSRFHeader: "tok"}, []*http.Cookie{{Name: JWTCookie, Value: valid}, host},
			WSCheck{Session: "valid", User: "alice", CSRF: "match", Origin: origin, OriginAllowed: true, Gateway: "ready"}},
		{"valid, another token", map[string]string{"Origin": origin, CSRFHeader: "other"}, []*http.Cookie{{Name: JWTCookie, Value: valid}, host},
			WSCheck{Session: "valid", User: "alice", CSRF: "mismatch", Origin: origin, OriginAllowed: true, Gateway: "ready"}},
		{"valid, no token", map[string]string{"Origin": origin}, []*http.Cookie{{Name: JWTCookie, Value: valid}, host},
			WSCheck{Session: "valid", User: "alice", CSRF: "missing", Origin: origin, OriginAllowed: true, Gateway: "ready"}},
		{"expired", map[string]string{"Origin": origin, CSRFHeader: "tok"}, []*http.Cookie{{Name: JWTCookie, Value: expired}, host},
			WSCheck{Session: "expired", Origin: origin, OriginAllowed: true, Gateway: "ready"}},
		{"expired JWT of another session", map[string]string{"Origin": origin}, []*http.Cookie{{Name: JWTCookie, Value: expired}, {Name: SessionCookie, Value: "x"}},
			WSCheck{Session: "none", Origin: origin, OriginAllowed: true, Gateway: "ready"}},
		{"none, other origin", map[string]string{"Origin": "https://evil.test"}, nil,
			WSCheck{Session: "none", Origin: "https://evil.test", Gateway: "ready"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, check(tc.hdr, tc.cookies...)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	<-ready
	ready <- http.StatusServiceUnavailable
	if got := check(nil).Gateway; got != "not ready" {
		t.Errorf("gateway answering 503: %q, want not ready", got)
	}
	gw.Close()
	if got := check(nil).Gateway; got != "unreachable" {
		t.Errorf("gateway closed: %q, want unreachable", got)
	}
	s.opts.GatewayReadyURL = ""
	if got := check(nil).Gateway; got != "unknown" {
		t.Errorf("no ready URL: %q, want unknown", got)
	}
}

// The refusal log keeps status, outcome and reason of "connect refused" records only,
// numbered, the last n; every record still reaches the next handler.
func TestRefusalLog(t *testing.T) {
	l := NewRefusalLog(2)
	var out strings.Builder
	log := slog.New(l.Handler(slog.NewTextHandler(&out, nil))).With("component", "gateway")
	log.Info("connect refused", "outcome", "unauthorized", "status", 401, "sourceIp", "127.0.0.1", slog.String("reason", "Cookie missing"))
	log.Info("connect accepted", "status", 101)
	log.Info("connect refused", "outcome", "forbidden", "status", 403, slog.String("reason", "Origin not allowed"))
	log.Info("connect refused", "outcome", "forbidden", "status", 403, slog.String("reason", "CSRF token missing"))
	recs, next := l.After(0)
	for i := range recs {
		recs[i].Time = time.Time{}
	}
	want := []Refusal{{Seq: 1, Status: 403, Outcome: "forbidden", Reason: "Origin not allowed"}, {Seq: 2, Status: 403, Outcome: "forbidden", Reason: "CSRF token missing"}}
	if diff := cmp.Diff(want, recs); diff != "" || next != 3 {
		t.Errorf("next %d, refusals (-want +got):\n%s", next, diff)
	}
	if recs, _ := l.After(2); len(recs) != 1 || recs[0].Seq != 2 {
		t.Errorf("After(2) = %+v", recs)
	}
	if n := strings.Count(out.String(), "component=gateway"); n != 4 {
		t.Errorf("next handler got %d records:\n%s", n, out.String())
	}
}

// The /dev/ endpoints exist only with Options.Dev; the hostile page may be framed by the
// UI origin alone.
func TestDevEndpointsOnlyInDev(t *testing.T) {
	s, _ := newTestServer(t)
	for _, r := range []struct{ method, path string }{{"GET", "/dev/refusals"}, {"POST", "/dev/attack/forged-cookie"}} {
		if w := do(t, s.Public(), r.method, r.path, "", map[string]string{"Origin": origin}); w.Code != http.StatusNotFound && w.Code != http.StatusMethodNotAllowed {
			t.Errorf("%s %s without Options.Dev: %d, want 404", r.method, r.path, w.Code)
		}
	}
	var cfg map[string]any
	_ = json.Unmarshal(do(t, s.Public(), "GET", "/api/config", "", nil).Body.Bytes(), &cfg)
	if _, ok := cfg["dev"]; ok {
		t.Errorf("/api/config without Options.Dev announces the attack panel: %v", cfg)
	}

	s.opts.Dev = &DevOptions{Refusals: NewRefusalLog(4), HandshakeClient: http.DefaultClient}
	if w := do(t, s.Public(), "GET", "/dev/refusals?after=0", "", nil); w.Code != 200 || !strings.Contains(w.Body.String(), `"next":0`) {
		t.Errorf("GET /dev/refusals with Options.Dev: %d %s", w.Code, w.Body)
	}
	if w := do(t, s.Public(), "POST", "/dev/attack/forged-cookie", "", map[string]string{"Origin": "https://evil.test"}); w.Code != http.StatusForbidden {
		t.Errorf("cross-origin forged-cookie attempt: %d, want 403", w.Code)
	}
	if w := do(t, s.Public(), "POST", "/dev/attack/forged-cookie", "", map[string]string{"Origin": origin}); w.Code != http.StatusUnauthorized {
		t.Errorf("forged-cookie attempt without a session: %d, want 401", w.Code)
	}

	w := do(t, HostileHandler(origin), "GET", "/", "", nil)
	if w.Code != 200 || w.Header().Get("Content-Security-Policy") != "frame-ancestors "+origin || !strings.Contains(w.Body.String(), "new WebSocket(url)") {
		t.Errorf("hostile page: %d %v", w.Code, w.Header())
	}
}
