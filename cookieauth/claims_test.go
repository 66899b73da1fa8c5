package cookieauth

import (
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

// readNames is the claim set the tests read: a binding claim, context claims of every
// JSON type, and registered names (which the set reads through jwt.RegisteredClaims).
var readNames = []string{"csrf", "email", "admin", "level", "tags", "iss", "jti", "exp", "aud", "https://example.com/roles"}

// TestClaimsReadAsAMapWould decodes real-shaped claim sets both ways and checks that
// every name read holds what jwt.MapClaims holds.
func TestClaimsReadAsAMapWould(t *testing.T) {
	for _, tc := range []struct{ name, json string }{
		{"session", `{"sub":"alice","exp":1900000000,"iat":1800000000,"csrf":"k3Yq","email":"a@example.com","admin":true,"level":3.5}`},
		{"registered in context", `{"sub":"bob","iss":"https://login.example.com","jti":"id-1","exp":1900000000.5,"aud":"ws"}`},
		{"non-scalars", `{"sub":"c","exp":1,"tags":["a","b"],"csrf":{"x":1},"email":null}`},
		{"namespaced", `{"sub":"d","exp":1,"https://example.com/roles":"admin","unread":"u"}`},
		{"aud list", `{"sub":"e","exp":1,"aud":["a","b"]}`},
		{"empty", `{}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			compareWithMap(t, []byte(tc.json))
		})
	}
}

func compareWithMap(t *testing.T, b []byte) {
	t.Helper()
	set := newClaimSet(readNames...)
	c := set.new()
	if err := json.Unmarshal(b, c); err != nil {
		t.Fatalf("typed decode: %v", err)
	}
	var m jwt.MapClaims
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("map decode: %v", err)
	}
	for _, name := range append(readNames, "sub", "nbf", "iat") {
		got, gotOK := c.value(name)
		want, wantOK := m[name]
		if l, isList := want.([]any); isList && name == "aud" && len(l) != 1 {
			want, wantOK = nil, false // aud lists are read only when they hold one value
		} else if isList && name == "aud" {
			want = l[0]
		}
		if f, isNumber := want.(float64); isNumber && (name == "exp" || name == "nbf" || name == "iat") && got != nil {
			want = math.Trunc(f) // numeric dates are read to the second
		}
		if want == nil {
			wantOK = false
		}
		if s, isString := want.(string); isString && s == "" && registeredNames[name] {
			wantOK, want = false, nil // an empty registered string is an absent claim
		}
		if gotOK != wantOK || (gotOK && !jsonEqual(got, want)) {
			t.Errorf("%s: typed %#v (%v), map %#v (%v)", name, got, gotOK, want, wantOK)
		}
	}
}

func jsonEqual(a, b any) bool {
	if fa, ok := a.(float64); ok {
		fb, ok := b.(float64)
		return ok && math.Abs(fa-fb) < 1e-6
	}
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

// FuzzClaims checks, for any JSON object both decoders accept, that typed claims read
// what a map holds, and that no input panics the decoder.
func FuzzClaims(f *testing.F) {
	for _, s := range []string{
		`{"sub":"alice","exp":1900000000,"csrf":"k3Yq","email":"a@example.com"}`,
		`{"sub":"x","aud":["a"],"admin":false,"level":-1e300,"tags":[1,{"a":null}]}`,
		`{"SUB":"case","Exp":2}`, `{"csrf":1}`, `[]`, `null`, `{"exp":"soon"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c := newClaimSet(readNames...).new()
		typedErr := json.Unmarshal(b, c)
		var m jwt.MapClaims
		if typedErr != nil || json.Unmarshal(b, &m) != nil || m == nil {
			return
		}
		// encoding/json folds case when no exact name matches: a map keeps "SUB" apart
		// from "sub". Compare only objects whose keys are all lower case.
		for k := range m {
			if k != strings.ToLower(k) {
				return
			}
		}
		// Duplicate names: the map keeps the last; so does the struct. NumericDate
		// fields refuse what MapClaims accepts (strings), so typedErr filtered those.
		compareWithMap(t, b)
	})
}

// TestContextSizeBound checks the bound resultSize trusts is never below the real size.
func TestContextSizeBound(t *testing.T) {
	for _, ctx := range []map[string]any{
		{},
		{"sub": "alice", "exp": 1900000000.0},
		{"sub": strings.Repeat("\x00<>&\u2028\"\\", 50), "n": -1.2345678901234567e-308, "b": false, "m": math.MaxFloat64},
		{strings.Repeat("é", 40): "\xff\xfe"},
	} {
		b, err := json.Marshal(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if bound := contextSizeBound(ctx); bound < len(b) {
			t.Errorf("bound %d < marshalled %d for %v", bound, len(b), ctx)
		}
	}
	if contextSizeBound(map[string]any{"x": []any{}}) <= MaxResultBytes {
		t.Error("a value of another type must force the marshal")
	}
}

// TestClaimsFallBackToAMap covers names a struct tag cannot carry.
func TestClaimsFallBackToAMap(t *testing.T) {
	for _, name := range []string{"a,b", `quo"te`, `back\slash`, "\xff"} {
		set := newClaimSet("csrf", name)
		if !set.asMap {
			t.Fatalf("%q: want map decoding", name)
		}
		b, _ := json.Marshal(map[string]any{"sub": "alice", "exp": 1900000000, name: "v", "csrf": "c"})
		c := set.new()
		if err := json.Unmarshal(b, c); err != nil {
			t.Fatal(err)
		}
		want := "v"
		if name == "\xff" {
			want = "" // json.Marshal wrote the key as U+FFFD
		}
		if got := c.str(name); got != want || c.str("csrf") != "c" || c.str("sub") != "alice" {
			t.Errorf("%q: got %q, csrf %q, sub %q", name, got, c.str("csrf"), c.str("sub"))
		}
		if exp, err := c.GetExpirationTime(); err != nil || exp.Unix() != 1900000000 {
			t.Errorf("%q: exp %v %v", name, exp, err)
		}
	}
}
