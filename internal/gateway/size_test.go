package gateway

import (
	"math"
	"testing"
	"time"
	"unsafe"
)

// TestIdleConnectionSize keeps what every idle connection holds within the Go size
// classes it was fitted to (docs/benchmarks.md, "Idle connections"): a field added to
// Conn or socket that crosses 256 bytes costs the next class, 288 or 320 bytes more per
// connection, and should be a choice, not an accident.
func TestIdleConnectionSize(t *testing.T) {
	for _, c := range []struct {
		name      string
		size, max uintptr
	}{
		{"Conn", unsafe.Sizeof(Conn{}), 256},
		{"socket", unsafe.Sizeof(socket{}), 256},
		{"fdConn", unsafe.Sizeof(fdConn{}), 96},
	} {
		if c.size > c.max {
			t.Errorf("%s is %d bytes, over the %d-byte size class every idle connection pays for", c.name, c.size, c.max)
		}
	}
}

func TestExpiryNanos(t *testing.T) {
	for _, c := range []struct {
		name string
		in   time.Time
		want int64
	}{
		{"none", time.Time{}, 0},
		{"usual", time.Unix(1700000000, 5), 1700000000_000000005},
		{"year 3000", time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC), math.MaxInt64},
		{"epoch", time.Unix(0, 0), math.MinInt64},
		{"before 1970", time.Unix(-100, 0), math.MinInt64},
	} {
		if got := expiryNanos(c.in); got != c.want {
			t.Errorf("%s: expiryNanos(%v) = %d, want %d", c.name, c.in, got, c.want)
		}
	}
}
