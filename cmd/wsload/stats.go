package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// recorder collects latency samples from many goroutines into HDR histograms. Samples go
// to one of several shards (by the caller's index) so that receivers rarely contend.
type recorder struct {
	shards [64]struct {
		mu  sync.Mutex
		h   *hdrhistogram.Histogram // made on the shard's first sample
		max time.Duration           // the exact largest sample
		_   [40]byte                // keep shards on separate cache lines
	}
}

// Histogram bounds: samples are recorded in microseconds with three significant digits
// (percentiles within 0.1%), up to an hour. A shard's histogram is about 184 KiB
// whatever the number of samples.
const (
	histMaxMicros = int64(time.Hour / time.Microsecond)
	histSigFigs   = 3
)

func newHistogram() *hdrhistogram.Histogram { return hdrhistogram.New(1, histMaxMicros, histSigFigs) }

// add records d. A negative d counts as 0 and one over an hour as an hour (the maximum
// stays exact), so that every sample is counted.
func (r *recorder) add(shard int, d time.Duration) {
	us := min(max(d.Microseconds(), 0), histMaxMicros)
	s := &r.shards[shard&63]
	s.mu.Lock()
	if s.h == nil {
		s.h = newHistogram()
	}
	_ = s.h.RecordValue(us) // within the histogram's range: cannot fail
	if s.h.TotalCount() == 1 || d > s.max {
		s.max = d
	}
	s.mu.Unlock()
}

// Latency summarizes samples in milliseconds.
type Latency struct {
	N    int     `json:"n"`
	P50  float64 `json:"p50Ms"`
	P99  float64 `json:"p99Ms"`
	P999 float64 `json:"p999Ms"`
	Max  float64 `json:"maxMs"`
}

func (l Latency) String() string {
	if l.N == 0 {
		return "no samples"
	}
	return fmt.Sprintf("n=%d p50=%.2fms p99=%.2fms p99.9=%.2fms max=%.2fms", l.N, l.P50, l.P99, l.P999, l.Max)
}

func (r *recorder) summary() Latency {
	all := newHistogram()
	var top time.Duration
	seen := false
	for i := range r.shards {
		s := &r.shards[i]
		s.mu.Lock()
		if s.h != nil {
			all.Merge(s.h)
			if !seen || s.max > top {
				top, seen = s.max, true
			}
		}
		s.mu.Unlock()
	}
	if all.TotalCount() == 0 {
		return Latency{}
	}
	// A histogram's value is its bucket's top, a little above the samples in it: a
	// percentile is never above the exact maximum.
	q := func(p float64) float64 { return min(float64(all.ValueAtQuantile(p*100))/1000, ms(top)) }
	return Latency{N: int(all.TotalCount()), P50: q(0.50), P99: q(0.99), P999: q(0.999), Max: ms(top)}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// procStat is what /proc says about a process.
type procStat struct {
	RSS int64         // resident set size, bytes
	CPU time.Duration // user + system time
}

// clockTicks is USER_HZ, 100 on every Linux this runs on.
const clockTicks = 100

func readProc(pid int) (procStat, error) {
	var st procStat
	if pid <= 0 {
		return st, fmt.Errorf("no pid")
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return st, err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return st, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return st, fmt.Errorf("/proc/%d/stat: too few fields", pid)
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	stt, _ := strconv.ParseInt(f[12], 10, 64)
	st.CPU = time.Duration(ut+stt) * time.Second / clockTicks
	sb, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return st, err
	}
	for line := range strings.SplitSeq(string(sb), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			st.RSS = kb << 10
		}
	}
	return st, nil
}

// gatewayMetrics are the figures scraped from the gateway's /metrics.
type gatewayMetrics struct {
	Goroutines  float64 `json:"goroutines"`
	HeapInuse   float64 `json:"heapInuseBytes"`
	StackInuse  float64 `json:"stackInuseBytes"`
	Connections float64 `json:"connections"`
}

var metricNames = map[string]func(*gatewayMetrics) *float64{
	"go_goroutines":                 func(m *gatewayMetrics) *float64 { return &m.Goroutines },
	"go_memstats_heap_inuse_bytes":  func(m *gatewayMetrics) *float64 { return &m.HeapInuse },
	"go_memstats_stack_inuse_bytes": func(m *gatewayMetrics) *float64 { return &m.StackInuse },
	"wsgate_connections":            func(m *gatewayMetrics) *float64 { return &m.Connections },
}

// scrape reads the gateway's Prometheus metrics; url "" returns zeros.
func scrape(ctx context.Context, url string) (gatewayMetrics, error) {
	var m gatewayMetrics
	if url == "" {
		return m, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return m, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return m, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		name, val, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		if f := metricNames[name]; f != nil {
			*f(&m), _ = strconv.ParseFloat(strings.TrimSpace(val), 64)
		}
	}
	return m, sc.Err()
}

// waitConnections polls /metrics until the gateway holds at most n connections, or
// until timeout; it returns the last count seen.
func waitConnections(ctx context.Context, url string, n float64, timeout time.Duration) float64 {
	if url == "" {
		return -1
	}
	deadline := time.Now().Add(timeout)
	for {
		m, err := scrape(ctx, url)
		if err == nil && m.Connections <= n {
			return m.Connections
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return m.Connections
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// settleRSS samples RSS until two samples a second apart differ by less than 1%, at
// most for timeout, and returns the last.
func settleRSS(pid int, timeout time.Duration) int64 {
	deadline := time.Now().Add(timeout)
	prev, _ := readProc(pid)
	for time.Now().Before(deadline) {
		time.Sleep(time.Second)
		cur, err := readProc(pid)
		if err != nil {
			return prev.RSS
		}
		d := cur.RSS - prev.RSS
		if d < 0 {
			d = -d
		}
		if d*100 < cur.RSS {
			return cur.RSS
		}
		prev = cur
	}
	return prev.RSS
}

// cpuMeter measures the CPU a process uses over an interval, in cores.
type cpuMeter struct {
	pid   int
	start procStat
	t0    time.Time
}

func startCPU(pid int) cpuMeter {
	st, _ := readProc(pid)
	return cpuMeter{pid: pid, start: st, t0: time.Now()}
}

// stealMeter measures the share of the machine's CPU time the hypervisor gave to others
// (steal, in /proc/stat) over a phase: on a shared VM a latency figure taken while it is
// high says more about the neighbours than about the code.
type stealMeter struct{ start cpuTimes }

// cpuTimes is the machine's CPU time from /proc/stat's first line, in ticks.
type cpuTimes struct{ total, steal int64 }

func startSteal() stealMeter { return stealMeter{readCPUTimes()} }

// pct is the steal since start, in percent of all CPU time; -1 when unknown.
func (m stealMeter) pct() float64 {
	end := readCPUTimes()
	if d := end.total - m.start.total; d > 0 && m.start.total > 0 {
		return 100 * float64(end.steal-m.start.steal) / float64(d)
	}
	return -1
}

func readCPUTimes() cpuTimes {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return cpuTimes{}
	}
	line, _, _ := strings.Cut(string(b), "\n")
	return parseCPUTimes(line)
}

// parseCPUTimes reads "cpu user nice system idle iowait irq softirq steal ...": steal is
// the eighth number; guest time is already inside user and nice.
func parseCPUTimes(line string) cpuTimes {
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return cpuTimes{}
	}
	var t cpuTimes
	for i, v := range f[1:min(len(f), 9)] {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return cpuTimes{}
		}
		t.total += n
		if i == 7 {
			t.steal = n
		}
	}
	return t
}

// cores returns the average number of cores used since start.
func (m cpuMeter) cores() float64 {
	st, err := readProc(m.pid)
	if err != nil {
		return 0
	}
	wall := time.Since(m.t0)
	if wall <= 0 {
		return 0
	}
	return float64(st.CPU-m.start.CPU) / float64(wall)
}

// merge adds o's samples to r, shard by shard.
func (r *recorder) merge(o *recorder) {
	for i := range o.shards {
		src := &o.shards[i]
		src.mu.Lock()
		if src.h != nil {
			dst := &r.shards[i]
			dst.mu.Lock()
			if dst.h == nil {
				dst.h = newHistogram()
			}
			dst.h.Merge(src.h)
			dst.max = max(dst.max, src.max)
			dst.mu.Unlock()
		}
		src.mu.Unlock()
	}
}
