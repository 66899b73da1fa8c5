package accesslog

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestAuthContext(t *testing.T) {
	m := map[string]any{"sub": "alice", "exp": float64(1700000000), "role": "admin", "n": nil}
	a := NewAuthContext(m)
	want := AuthContext{{"exp", float64(1700000000)}, {"n", nil}, {"role", "admin"}, {"sub", "alice"}}
	if d := cmp.Diff(want, a); d != "" {
		t.Fatalf("NewAuthContext (-want +got):\n%s", d)
	}
	for k, v := range m {
		got, ok := a.Get(k)
		if !ok || got != v {
			t.Errorf("Get(%q) = %v, %v; want %v, true", k, got, ok, v)
		}
	}
	for _, k := range []string{"", "a", "sub2", "zzz", "Sub"} {
		if v, ok := a.Get(k); ok {
			t.Errorf("Get(%q) = %v, true; want nothing", k, v)
		}
	}
	if d := cmp.Diff(m, a.Map(1)); d != "" {
		t.Errorf("Map (-want +got):\n%s", d)
	}
	if a := NewAuthContext(nil); a != nil {
		t.Errorf("NewAuthContext(nil) = %v, want nil", a)
	}
	if v, ok := AuthContext(nil).Get("sub"); ok {
		t.Errorf("nil Get = %v, true", v)
	}
	if n := len(AuthContext(nil).Map(1)); n != 0 {
		t.Errorf("nil Map has %d entries", n)
	}
}
