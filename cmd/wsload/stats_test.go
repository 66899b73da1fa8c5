package main

import (
	"encoding/json"
	"math"
	"sync"
	"testing"
	"time"
)

func TestRecorderSummary(t *testing.T) {
	r := &recorder{}
	// 1..10000 ms over 8 goroutines and all shards: p50 5000, p99 9900, p99.9 9990.
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := g + 1; i <= 10000; i += 8 {
				r.add(i, time.Duration(i)*time.Millisecond)
			}
		})
	}
	wg.Wait()
	got := r.summary()
	if got.N != 10000 {
		t.Errorf("N = %d, want 10000", got.N)
	}
	if got.Max != 10000 {
		t.Errorf("Max = %v ms, want 10000 (exact)", got.Max)
	}
	for _, c := range []struct {
		name      string
		got, want float64
	}{{"p50", got.P50, 5000}, {"p99", got.P99, 9900}, {"p99.9", got.P999, 9990}} {
		if math.Abs(c.got-c.want) > c.want*0.002 {
			t.Errorf("%s = %v ms, want %v within 0.2%%", c.name, c.got, c.want)
		}
	}
}

func TestRecorderKeepsEverySample(t *testing.T) {
	r := &recorder{}
	const n = 1<<20 + 1000 // more than the million a shard used to keep
	for i := range n {
		r.add(0, time.Duration(i%1000)*time.Microsecond)
	}
	r.add(1, 2*time.Hour) // over the histogram's range: counted, the maximum exact
	r.add(2, -time.Millisecond)
	got := r.summary()
	if got.N != n+2 {
		t.Errorf("N = %d, want %d", got.N, n+2)
	}
	if got.Max != ms(2*time.Hour) {
		t.Errorf("Max = %v ms, want %v", got.Max, ms(2*time.Hour))
	}
	if got.P50 > 0.51 || got.P50 < 0.49 {
		t.Errorf("p50 = %v ms, want 0.5", got.P50)
	}
}

func TestRecorderEmpty(t *testing.T) {
	if got := (&recorder{}).summary(); got != (Latency{}) {
		t.Errorf("summary of no samples = %+v", got)
	}
}

func TestParseCPUTimes(t *testing.T) {
	for _, c := range []struct {
		line string
		want cpuTimes
	}{
		{"cpu  100 2 30 400 5 6 7 50 9 0", cpuTimes{total: 600, steal: 50}},
		{"cpu 1 0 0 0 0 0 0 0", cpuTimes{total: 1}},
		{"cpu0 100 2 30 400 5 6 7 50 9 0", cpuTimes{}},
		{"cpu 1 2 3", cpuTimes{}},
		{"cpu 1 2 3 x 5 6 7 8", cpuTimes{}},
		{"", cpuTimes{}},
	} {
		if got := parseCPUTimes(c.line); got != c.want {
			t.Errorf("parseCPUTimes(%q) = %+v, want %+v", c.line, got, c.want)
		}
	}
	if m := startSteal(); m.pct() < -1 || m.pct() > 100 {
		t.Errorf("steal on this machine: %.1f %%, not a share", m.pct())
	}
}

func TestSentFrameCarriesBothTimes(t *testing.T) {
	at, sent := time.Unix(0, 1_700_000_000_123_456_789), time.Unix(0, 1_700_000_000_223_456_789)
	b := sentFrame("{", at, sent, 8)
	if got, ok := timestamp(b); !ok || got != at.UnixNano() {
		t.Errorf("t = %d, %v; want %d", got, ok, at.UnixNano())
	}
	if got, ok := stamp(b, 's'); !ok || got != sent.UnixNano() {
		t.Errorf("s = %d, %v; want %d", got, ok, sent.UnixNano())
	}
	if _, ok := stamp(frame("{", at, 8), 's'); ok {
		t.Error("a frame without a send time has an s")
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Errorf("%s is not JSON: %v", b, err)
	}
}
