package accesslog

import (
	"slices"
	"strings"
)

// AuthContext is a $connect authorizer's context as a connection keeps it for its whole
// life, for $context.authorizer.<key> in every event, template and access log line: its
// entries sorted by key. It is a slice and not a map because it is held by every idle
// connection and read, not changed: a Go map of the usual two or three entries takes
// about 360 bytes, this about 100.
type AuthContext []AuthEntry

// AuthEntry is one key and value of an AuthContext.
type AuthEntry struct {
	Key   string
	Value any
}

// NewAuthContext is m as an AuthContext (nil for an empty m).
func NewAuthContext(m map[string]any) AuthContext {
	if len(m) == 0 {
		return nil
	}
	a := make(AuthContext, 0, len(m))
	for k, v := range m {
		a = append(a, AuthEntry{Key: k, Value: v})
	}
	slices.SortFunc(a, func(x, y AuthEntry) int { return strings.Compare(x.Key, y.Key) })
	return a
}

// Get is the value of key, and whether a has it.
func (a AuthContext) Get(key string) (any, bool) {
	i, ok := slices.BinarySearchFunc(a, key, func(e AuthEntry, k string) int { return strings.Compare(e.Key, k) })
	if !ok {
		return nil, false
	}
	return a[i].Value, true
}

// Map is a as a new map with room for extra more entries.
func (a AuthContext) Map(extra int) map[string]any {
	m := make(map[string]any, len(a)+extra)
	for _, e := range a {
		m[e.Key] = e.Value
	}
	return m
}
