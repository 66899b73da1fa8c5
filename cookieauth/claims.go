package cookieauth

import (
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"
)

// claimSet says which claims the authorizer reads of a token besides the registered ones
// golang-jwt validates: the CSRF binding claim and the context claims. It is built once
// per Authorizer.
//
// A token's claims are decoded into a struct type made for the configuration with
// reflect.StructOf: the registered claims typed (jwt.RegisteredClaims) and one field per
// other name read. encoding/json then skips every claim nobody reads, where decoding
// into jwt.MapClaims allocated a map entry, a string and an interface for each claim
// of each token (half of a decision's CPU, measured in BenchmarkDecide).
//
// Two differences from map decoding, both harmless for a signed token: encoding/json
// matches names case-insensitively when no exact match exists ("Exp" fills exp), and a
// registered claim of the wrong JSON type ("sub": 1) fails decoding (reason
// "malformed") instead of validation ("invalid claims").
//
// A name that a struct tag cannot carry (a comma, a quote or a backslash in it) makes the
// whole set fall back to map decoding.
type claimSet struct {
	typ   reflect.Type // struct{ jwt.RegisteredClaims; X0 any `json:"name0"`; ... }
	names []string     // the other names, in field order X0, X1, ...
	index map[string]int
	asMap bool // decode into jwt.MapClaims
}

// registeredNames are the JSON names of jwt.RegisteredClaims' fields.
var registeredNames = map[string]bool{"iss": true, "sub": true, "aud": true, "exp": true, "nbf": true, "iat": true, "jti": true}

func newClaimSet(names ...string) *claimSet {
	s := &claimSet{index: map[string]int{}}
	fields := []reflect.StructField{{
		Name:      "RegisteredClaims",
		Type:      reflect.TypeFor[jwt.RegisteredClaims](),
		Anonymous: true,
	}}
	for _, n := range names {
		if _, dup := s.index[n]; dup || registeredNames[n] || n == "" {
			continue
		}
		if strings.ContainsAny(n, ",\"\\") || !utf8.ValidString(n) {
			return &claimSet{asMap: true}
		}
		s.index[n] = len(s.names)
		fields = append(fields, reflect.StructField{
			Name: "X" + strconv.Itoa(len(s.names)),
			Type: reflect.TypeFor[any](),
			Tag:  reflect.StructTag(`json:` + strconv.Quote(n)),
		})
		s.names = append(s.names, n)
	}
	s.typ = reflect.StructOf(fields)
	return s
}

// new returns empty claims to decode one token into.
func (s *claimSet) new() *claims {
	if s.asMap {
		return &claims{set: s, m: jwt.MapClaims{}}
	}
	v := reflect.New(s.typ)
	return &claims{set: s, v: v.Elem(), ptr: v.Interface(), std: v.Elem().Field(0).Addr().Interface().(*jwt.RegisteredClaims)}
}

// claims is one token's claims as claimSet reads them; it implements jwt.Claims through
// the embedded registered claims.
type claims struct {
	set *claimSet
	v   reflect.Value         // the struct
	ptr any                   // a pointer to it, for json.Unmarshal
	std *jwt.RegisteredClaims // its registered claims
	m   jwt.MapClaims         // instead of all three when set.asMap
}

var _ jwt.Claims = (*claims)(nil)

// UnmarshalJSON decodes the claims golang-jwt hands over.
func (c *claims) UnmarshalJSON(b []byte) error {
	if c.m != nil {
		return json.Unmarshal(b, &c.m)
	}
	return json.Unmarshal(b, c.ptr)
}

func (c *claims) registered() jwt.Claims {
	if c.m != nil {
		return c.m
	}
	return c.std
}

// GetExpirationTime implements jwt.Claims.
func (c *claims) GetExpirationTime() (*jwt.NumericDate, error) {
	return c.registered().GetExpirationTime()
}

// GetIssuedAt implements jwt.Claims.
func (c *claims) GetIssuedAt() (*jwt.NumericDate, error) { return c.registered().GetIssuedAt() }

// GetNotBefore implements jwt.Claims.
func (c *claims) GetNotBefore() (*jwt.NumericDate, error) { return c.registered().GetNotBefore() }

// GetIssuer implements jwt.Claims.
func (c *claims) GetIssuer() (string, error) { return c.registered().GetIssuer() }

// GetSubject implements jwt.Claims.
func (c *claims) GetSubject() (string, error) { return c.registered().GetSubject() }

// GetAudience implements jwt.Claims.
func (c *claims) GetAudience() (jwt.ClaimStrings, error) { return c.registered().GetAudience() }

// value returns the claim called name as a map would hold it: string, float64, bool,
// nil, []any or map[string]any; a registered claim as its JSON value would decode
// (numeric dates as float64 seconds, aud as a string when it holds one value). ok is
// false for a claim the token lacks or the set does not read.
func (c *claims) value(name string) (v any, ok bool) {
	if c.m != nil {
		v = c.m[name]
		return v, v != nil
	}
	if i, read := c.set.index[name]; read {
		v = c.v.Field(1 + i).Interface()
		return v, v != nil
	}
	r := c.std
	date := func(d *jwt.NumericDate) (any, bool) {
		if d == nil {
			return nil, false
		}
		// Seconds and nanoseconds apart: UnixNano overflows past 2262, and an exp of
		// 10000000000 (2286) must read as the map reads it.
		return float64(d.Unix()) + float64(d.Nanosecond())/1e9, true
	}
	str := func(s string) (any, bool) {
		if s == "" {
			return nil, false
		}
		return s, true
	}
	switch name {
	case "iss":
		return str(r.Issuer)
	case "sub":
		return str(r.Subject)
	case "jti":
		return str(r.ID)
	case "exp":
		return date(r.ExpiresAt)
	case "nbf":
		return date(r.NotBefore)
	case "iat":
		return date(r.IssuedAt)
	case "aud":
		if len(r.Audience) == 1 {
			return str(r.Audience[0])
		}
	}
	return nil, false
}

// str returns the claim called name when it is a non-empty string, else "".
func (c *claims) str(name string) string {
	v, _ := c.value(name)
	s, _ := v.(string)
	return s
}
