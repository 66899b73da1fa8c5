package cookieauth

import "testing"

func TestCacheKeyDistinguishesInputs(t *testing.T) {
	base := inputs{jwt: []string{"a"}, csrfCookie: []string{"b"}, origins: []string{"c"}, presented: []string{"d"}}
	for name, other := range map[string]inputs{
		"value moved between fields": {jwt: []string{"a"}, csrfCookie: []string{}, origins: []string{"b", "c"}, presented: []string{"d"}},
		"concatenation":              {jwt: []string{"a"}, csrfCookie: []string{"b"}, origins: []string{"cd"}, presented: []string{}},
		"subprotocol":                {jwt: []string{"a"}, csrfCookie: []string{"b"}, origins: []string{"c"}, presented: []string{"d"}, subprotocol: "csrf.d"},
	} {
		if base.cacheKey() == other.cacheKey() {
			t.Errorf("%s: same cache key for different inputs", name)
		}
	}
}
