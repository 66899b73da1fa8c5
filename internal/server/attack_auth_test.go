package server

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/golang-jwt/jwt/v5"
)

// Attacks on the cookie authorizer through real handshakes: cookies and CSRF, Origin,
// JWT forgery. Each asserts the status and that the $connect backend never heard of a
// refused handshake; an admitted one names the right principal.
func TestAuthorizerAttacks(t *testing.T) {
	be := echoBackend(t)
	r := startGateway(t, chatConfig(be.URL, ""), Deps{})
	exp := time.Now().Add(time.Hour)
	aliceJWT := mint(t, "alice", "csrf-alice", exp)
	malloryJWT := mint(t, "mallory", "csrf-mallory", exp)
	forged := func(method jwt.SigningMethod, key any, claims jwt.MapClaims) string {
		t.Helper()
		tok, err := jwt.NewWithClaims(method, claims).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		usedSecrets.Store(tok, true)
		return tok
	}
	base := jwt.MapClaims{"sub": "alice", "exp": exp.Unix(), "csrf": "csrf-alice"}
	with := func(k string, v any) jwt.MapClaims {
		c := jwt.MapClaims{}
		for kk, vv := range base {
			c[kk] = vv
		}
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
		return c
	}
	const ui = "https://ui.dev.example.test"
	tests := []struct {
		name          string
		cookie        string
		origin        string // "-" for none
		csrf          string // query parameter; "" for none
		subprotocols  []string
		wantStatus    int
		wantPrincipal string // for 101
	}{
		// Cookies and CSRF.
		{name: "no JWT cookie", cookie: "CSRF-TOKEN=csrf-alice", origin: ui, csrf: "csrf-alice", wantStatus: 401},
		{name: "the token of another session", cookie: "JWT=" + aliceJWT, origin: ui, csrf: "csrf-mallory", wantStatus: 403},
		{name: "no CSRF token presented", cookie: "JWT=" + aliceJWT, origin: ui, wantStatus: 403},
		{name: "the attacker's own session with the victim's token", cookie: "JWT=" + malloryJWT, origin: ui, csrf: "csrf-alice", wantStatus: 403},
		{name: "a tossed JWT beside the user's: the user's session", cookie: "JWT=" + malloryJWT + "; JWT=" + aliceJWT, origin: ui, csrf: "csrf-alice", wantStatus: 101, wantPrincipal: "alice"},
		{name: "a planted CSRF-TOKEN cookie does not refuse", cookie: "JWT=" + aliceJWT + "; CSRF-TOKEN=guess", origin: ui, csrf: "csrf-alice", wantStatus: 101, wantPrincipal: "alice"},
		{name: "the token as a subprotocol entry", cookie: "JWT=" + aliceJWT, origin: ui, subprotocols: []string{"chat", "csrf.csrf-alice"}, wantStatus: 101, wantPrincipal: "alice"},
		{name: "five JWT cookies", cookie: strings.Repeat("JWT="+malloryJWT+"; ", 4) + "JWT=" + aliceJWT, origin: ui, csrf: "csrf-alice", wantStatus: 401},
		{name: "a Cookie header over 8 KB", cookie: "JWT=" + aliceJWT + "; pad=" + strings.Repeat("p", 8200), origin: ui, csrf: "csrf-alice", wantStatus: 401},
		// Origin.
		{name: "cross-site origin", cookie: "JWT=" + aliceJWT, origin: "https://evil.test", csrf: "csrf-alice", wantStatus: 403},
		{name: "null origin", cookie: "JWT=" + aliceJWT, origin: "null", csrf: "csrf-alice", wantStatus: 403},
		{name: "no origin", cookie: "JWT=" + aliceJWT, origin: "-", csrf: "csrf-alice", wantStatus: 403},
		{name: "the allowed origin as a prefix of another host", cookie: "JWT=" + aliceJWT, origin: ui + ".evil.test", csrf: "csrf-alice", wantStatus: 403},
		{name: "the allowed host over http", cookie: "JWT=" + aliceJWT, origin: "http://ui.dev.example.test", csrf: "csrf-alice", wantStatus: 403},
		{name: "the allowed host on another port", cookie: "JWT=" + aliceJWT, origin: ui + ":8443", csrf: "csrf-alice", wantStatus: 403},
		// JWT forgery.
		{name: "alg none", cookie: "JWT=" + forged(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, base), origin: ui, csrf: "csrf-alice", wantStatus: 401},
		{name: "signed with another secret", cookie: "JWT=" + forged(jwt.SigningMethodHS256, []byte("another-secret-0123456789abcdef0123"), base), origin: ui, csrf: "csrf-alice", wantStatus: 401},
		{name: "HS512, not on the allowlist", cookie: "JWT=" + forged(jwt.SigningMethodHS512, []byte(testSecret), base), origin: ui, csrf: "csrf-alice", wantStatus: 401},
		{name: "no exp", cookie: "JWT=" + forged(jwt.SigningMethodHS256, []byte(testSecret), with("exp", nil)), origin: ui, csrf: "csrf-alice", wantStatus: 401},
		{name: "expired", cookie: "JWT=" + forged(jwt.SigningMethodHS256, []byte(testSecret), with("exp", time.Now().Add(-time.Hour).Unix())), origin: ui, csrf: "csrf-alice", wantStatus: 401},
		{name: "not valid before an hour from now", cookie: "JWT=" + forged(jwt.SigningMethodHS256, []byte(testSecret), with("nbf", time.Now().Add(time.Hour).Unix())), origin: ui, csrf: "csrf-alice", wantStatus: 401},
		{name: "a token with its signature cut", cookie: "JWT=" + aliceJWT[:strings.LastIndexByte(aliceJWT, '.')+1], origin: ui, csrf: "csrf-alice", wantStatus: 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := be.count("/connect")
			h := http.Header{"Cookie": {tt.cookie}}
			if tt.origin != "-" {
				h.Set("Origin", tt.origin)
			}
			q := "/"
			if tt.csrf != "" {
				q += "?csrf=" + tt.csrf
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			c, resp, err := websocket.Dial(ctx, r.wsURL(q), &websocket.DialOptions{HTTPHeader: h, Subprotocols: tt.subprotocols})
			if resp == nil {
				t.Fatalf("no response: %v", err)
			}
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status %d, want %d (%v)", resp.StatusCode, tt.wantStatus, err)
			}
			if tt.wantStatus != 101 {
				if n := be.count("/connect"); n != before {
					t.Errorf("a refused handshake reached the $connect backend")
				}
				return
			}
			defer c.CloseNow()
			if got := be.next(t, "/connect").Header.Get("X-Principal"); got != tt.wantPrincipal {
				t.Errorf("principal %q, want %q", got, tt.wantPrincipal)
			}
		})
	}
}
