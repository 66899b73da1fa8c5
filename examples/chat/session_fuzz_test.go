package chat

import (
	"net/http/httptest"
	"testing"
	"time"
)

// FuzzSessionState: no Cookie header panics POST /api/ws-check's reading of the
// session, and only a JWT signed with the key and bound to the host-only cookie is a
// valid session.
func FuzzSessionState(f *testing.F) {
	s, _ := newTestServer(f)
	valid, _ := s.MintToken("alice", "tok", s.now().Add(time.Minute))
	expired, _ := s.MintToken("alice", "tok", s.now().Add(-time.Minute))
	for _, seed := range []string{
		"",
		JWTCookie + "=" + valid + "; " + SessionCookie + "=tok",
		JWTCookie + "=" + expired + "; " + SessionCookie + "=tok",
		JWTCookie + "=x; " + JWTCookie + "=" + valid + "; " + SessionCookie + "=tok; CSRF-TOKEN=guess",
		JWTCookie + "=eyJhbGciOiJub25lIn0.eyJzdWIiOiJhbGljZSJ9.; " + SessionCookie + "=tok",
		SessionCookie + "=; " + JWTCookie + "=\"\"",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, cookie string) {
		r := httptest.NewRequest("POST", "/api/ws-check", nil)
		r.Header.Set("Cookie", cookie)
		state, p, claims := s.sessionState(r)
		switch state {
		case "valid":
			if p == "" || claims == nil {
				t.Fatalf("valid session without a principal: %q", cookie)
			}
			if sp, _ := s.session(r); sp != p {
				t.Fatalf("sessionState %q, session %q", p, sp)
			}
		case "expired", "none":
			if p != "" {
				t.Fatalf("%s session with principal %q", state, p)
			}
		default:
			t.Fatalf("state %q", state)
		}
	})
}
