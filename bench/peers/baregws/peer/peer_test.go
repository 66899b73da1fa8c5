package peer

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// The JWT check opens a WebSocket only for a valid HS256 JWT cookie whose csrf claim is
// the csrf query parameter.
func TestJWTCheck(t *testing.T) {
	secret := []byte("peer-test-secret-0123456789abcdef")
	s := NewWithJWT(secret)
	defer s.Close()
	sign := func(key []byte, exp time.Time, csrf string) string {
		tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": "u", "exp": exp.Unix(), "csrf": csrf}).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	good := sign(secret, time.Now().Add(time.Hour), "c1")
	for _, tc := range []struct {
		name, cookie, query string
		want                bool
	}{
		{"valid", "JWT=" + good, "c1", true},
		{"no cookie", "", "c1", false},
		{"another csrf", "JWT=" + good, "c2", false},
		{"no csrf", "JWT=" + good, "", false},
		{"another key", "JWT=" + sign([]byte("another-secret-0123456789abcdef01"), time.Now().Add(time.Hour), "c1"), "c1", false},
		{"expired", "JWT=" + sign(secret, time.Now().Add(-time.Minute), "c1"), "c1", false},
	} {
		r := httptest.NewRequest(http.MethodGet, "/?csrf="+tc.query, nil)
		if tc.cookie != "" {
			r.Header.Set("Cookie", tc.cookie)
		}
		if got := s.authorized(r); got != tc.want {
			t.Errorf("%s: authorized = %v, want %v", tc.name, got, tc.want)
		}
		if !tc.want {
			w := httptest.NewRecorder()
			s.ServeHTTP(w, r)
			if w.Code != http.StatusUnauthorized {
				t.Errorf("%s: status %d, want 401", tc.name, w.Code)
			}
		}
	}
}
