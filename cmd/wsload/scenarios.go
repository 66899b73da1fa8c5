package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Report is one scenario run. Figures are named numbers; `wsload report` takes the
// median of each over runs with the same target, scenario and label.
type Report struct {
	Target       string             `json:"target"`
	Scenario     string             `json:"scenario"`
	Label        string             `json:"label,omitempty"`
	Start        time.Time          `json:"start"`
	Params       map[string]string  `json:"params"`
	Figures      map[string]float64 `json:"figures"`
	Latency      map[string]Latency `json:"latency,omitempty"`
	Errors       map[string]int     `json:"errors,omitempty"`
	ErrorSamples []string           `json:"errorSamples,omitempty"`
	Series       []Sample           `json:"series,omitempty"`
	Notes        []string           `json:"notes,omitempty"`
}

// Sample is the gateway's state at one time (soak).
type Sample struct {
	Seconds float64 `json:"s"`
	RSSMiB  float64 `json:"rssMiB"`
	gatewayMetrics
	Clients int `json:"clients"`
}

// ErrorCount is the total of the report's errors.
func (r *Report) ErrorCount() int {
	n := 0
	for _, v := range r.Errors {
		n += v
	}
	return n
}

func (l *loader) newReport(scenario string) *Report {
	c := l.cfg
	return &Report{
		Target: c.target, Scenario: scenario, Start: time.Now().UTC(),
		Params: map[string]string{
			"n": strconv.Itoa(c.n), "conc": strconv.Itoa(c.conc), "rate": fmt.Sprint(c.rate),
			"duration": c.duration.String(), "payload": strconv.Itoa(c.payload), "writers": strconv.Itoa(c.writers),
			"stale": fmt.Sprint(c.stale), "signed": strconv.FormatBool(c.signed), "slow": fmt.Sprint(c.slow),
			"srcIPs": strconv.Itoa(c.srcIPs), "auth": strconv.FormatBool(c.auth),
		},
		Figures: map[string]float64{},
		Latency: map[string]Latency{},
		Errors:  map[string]int{},
	}
}

func (l *loader) finish(r *Report) *Report {
	if n := l.badFrames.Load(); n > 0 {
		r.Errors["bad_frames"] += int(n)
	}
	l.errMu.Lock()
	r.ErrorSamples = append(r.ErrorSamples, l.errSamples...)
	l.errMu.Unlock()
	for k, v := range r.Errors {
		if v == 0 {
			delete(r.Errors, k)
		}
	}
	return r
}

func live(cs []*client) []*client {
	out := make([]*client, 0, len(cs))
	for _, c := range cs {
		if c != nil {
			out = append(out, c)
		}
	}
	return out
}

// connect opens cfg.n connections with fresh tokens (minted before the clock starts)
// and reports the failures into r.
//
// The gateway's, the backend's and wsload's CPU during the handshakes go into r.
func (l *loader) connect(ctx context.Context, r *Report, offset int) ([]*client, time.Duration, *recorder, error) {
	m, err := newMinter(l.cfg.secret, l.cfg.keyFile)
	if err != nil {
		return nil, 0, nil, err
	}
	toks, err := m.mintAll(l.cfg.n)
	if err != nil {
		return nil, 0, nil, err
	}
	cpu := l.startCPU()
	t0 := time.Now()
	cs, rec, fails := l.connectAll(ctx, toks, l.cfg.conc, offset)
	el := time.Since(t0)
	cpu.report(r, "connect_")
	for k, v := range fails {
		r.Errors["connect: "+k] += v
	}
	return live(cs), el, rec, nil
}

// learnIDs asks every client for its connection id.
func (l *loader) learnIDs(r *Report, cs []*client) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, 256)
	var failed atomic.Int64
	for _, c := range cs {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if _, err := c.whoami(10 * time.Second); err != nil {
				failed.Add(1)
			}
		})
	}
	wg.Wait()
	if n := failed.Load(); n > 0 {
		r.Errors["whoami"] += int(n)
	}
}

// drain closes the clients and waits for the gateway to forget them.
func (l *loader) drain(ctx context.Context, cs []*client) {
	closeAll(cs)
	waitConnections(ctx, l.cfg.metricsURL, 0, 60*time.Second)
}

// idle measures the gateway's memory per idle authenticated connection.
func (l *loader) idle(ctx context.Context) (*Report, error) {
	r := l.newReport("idle")
	pid := l.cfg.pid
	before := settleRSS(pid, 10*time.Second)
	mb, _ := scrape(ctx, l.cfg.metricsURL)
	cs, el, hs, err := l.connect(ctx, r, 0)
	if err != nil {
		return nil, err
	}
	defer l.drain(ctx, cs)
	n := float64(len(cs))
	r.Figures["conns"] = n
	r.Figures["connects_per_s"] = n / el.Seconds()
	r.Latency["handshake"] = hs.summary()
	select {
	case <-ctx.Done():
	case <-time.After(l.cfg.hold):
	}
	after := settleRSS(pid, 30*time.Second)
	ma, _ := scrape(ctx, l.cfg.metricsURL)
	if n > 0 && pid > 0 {
		r.Figures["rss_before_mib"] = float64(before) / (1 << 20)
		r.Figures["rss_after_mib"] = float64(after) / (1 << 20)
		r.Figures["rss_per_conn_kib"] = float64(after-before) / n / 1024
	}
	if n > 0 && l.cfg.metricsURL != "" {
		r.Figures["heap_inuse_per_conn_kib"] = (ma.HeapInuse - mb.HeapInuse) / n / 1024
		r.Figures["stack_inuse_per_conn_kib"] = (ma.StackInuse - mb.StackInuse) / n / 1024
		r.Figures["goroutines_per_conn"] = (ma.Goroutines - mb.Goroutines) / n
		r.Figures["gateway_connections"] = ma.Connections
	}
	if dropped := l.closedByPeer.Load(); dropped > 0 {
		r.Errors["closed_while_idle"] = int(dropped)
	}
	return l.finish(r), nil
}

// connectStorm measures authenticated handshakes per second.
func (l *loader) connectStorm(ctx context.Context) (*Report, error) {
	r := l.newReport("connect")
	cs, el, hs, err := l.connect(ctx, r, 0)
	if err != nil {
		return nil, err
	}
	r.Figures["conns"] = float64(len(cs))
	r.Figures["connects_per_s"] = float64(len(cs)) / el.Seconds()
	r.Latency["handshake"] = hs.summary()
	l.drain(ctx, cs)
	return l.finish(r), nil
}

// push storms @connections with POSTs over live connections (a share to stale ids) and
// measures delivery latency from the timestamp in each message.
func (l *loader) push(ctx context.Context) (*Report, error) {
	r := l.newReport("push")
	cs, _, _, err := l.connect(ctx, r, 0)
	if err != nil {
		return nil, err
	}
	defer l.drain(ctx, cs)
	l.learnIDs(r, cs)
	r.Figures["conns"] = float64(len(cs))
	if len(cs) == 0 {
		return l.finish(r), nil
	}
	hc := newHTTPClient(l.cfg.writers)
	var p *poster
	var issued, dropped int64
	var cpu cpuMeters
	// A one-second warm-up (keep-alive connections, pools) whose figures are dropped.
	for _, d := range []time.Duration{time.Second, l.cfg.duration} {
		if d == l.cfg.duration {
			time.Sleep(500 * time.Millisecond)
			l.lat.Store(&recorder{})
			l.sendLag.Store(&recorder{})
			l.fromSend.Store(&recorder{})
			l.received.Store(0)
			cpu = l.startCPU()
		}
		p = l.newPoster()
		p.hc = hc
		issued, dropped = l.pushPhase(ctx, p, cs, d)
	}
	el := l.cfg.duration
	cpu.report(r, "")
	time.Sleep(time.Second) // deliveries in flight
	ok, stale := p.tally.ok.Load(), p.tally.goneStale.Load()
	r.Figures["posts_issued"] = float64(issued)
	r.Figures["posts_per_s"] = float64(ok+stale) / el.Seconds()
	r.Figures["posts_200"] = float64(ok)
	r.Figures["posts_410_stale"] = float64(stale)
	r.Figures["delivered"] = float64(l.received.Load())
	r.Figures["delivered_per_s"] = float64(l.received.Load()) / el.Seconds()
	r.Latency["delivery"] = l.lat.Load().summary()
	r.Latency["send_lag"] = l.sendLag.Swap(nil).summary()
	r.Latency["delivery_from_send"] = l.fromSend.Swap(nil).summary()
	addCounts(r.Errors, p.tally.errors())
	r.Errors["generator_dropped"] = int(dropped)
	if lost := ok - l.received.Load(); lost > 0 {
		r.Errors["not_delivered"] = int(lost)
	}
	return l.finish(r), nil
}

// pushPhase POSTs at cfg.rate for d to the clients round robin (a share to stale ids).
func (l *loader) pushPhase(ctx context.Context, p *poster, cs []*client, d time.Duration) (issued, dropped int64) {
	jobs := make(chan postJob, max(int(l.cfg.rate), 1))
	posted := make(chan struct{})
	go func() { p.run(jobs); close(posted) }()
	issued, dropped = pace(ctx, l.cfg.rate, d, func(seq int64, at time.Time) bool {
		j := postJob{at: at}
		if l.cfg.stale > 0 && rand.Float64() < l.cfg.stale {
			j.id, j.stale = staleID(), true
		} else {
			j.id = cs[int(seq)%len(cs)].connID()
		}
		select {
		case jobs <- j:
			return true
		default:
			return false
		}
	})
	close(jobs)
	<-posted
	return issued, dropped
}

// addCounts adds src's counts to dst.
func addCounts(dst map[string]int, src map[string]int) {
	for k, v := range src {
		dst[k] += v
	}
}

// route sends client messages routed to the HTTP integration, whose response (two-way
// route) comes back; latency is the round trip.
func (l *loader) route(ctx context.Context) (*Report, error) {
	r := l.newReport("route")
	cs, _, _, err := l.connect(ctx, r, 0)
	if err != nil {
		return nil, err
	}
	defer l.drain(ctx, cs)
	r.Figures["conns"] = float64(len(cs))
	if len(cs) == 0 {
		return l.finish(r), nil
	}
	type job struct {
		c  *client
		at time.Time
	}
	jobs := make(chan job, max(int(l.cfg.rate), 1))
	var wg sync.WaitGroup
	var writeErrs atomic.Int64
	for range l.cfg.writers {
		wg.Go(func() {
			for j := range jobs {
				if err := j.c.ws.WriteMessage(1, frame(`{"action":"route",`, j.at, l.cfg.payload)); err != nil {
					writeErrs.Add(1)
				}
			}
		})
	}
	cpu := l.startCPU()
	t0 := time.Now()
	issued, dropped := pace(ctx, l.cfg.rate, l.cfg.duration, func(seq int64, at time.Time) bool {
		select {
		case jobs <- job{cs[int(seq)%len(cs)], at}:
			return true
		default:
			return false
		}
	})
	close(jobs)
	wg.Wait()
	el := time.Since(t0)
	cpu.report(r, "")
	deadline := time.Now().Add(5 * time.Second)
	for l.received.Load() < issued-dropped-writeErrs.Load() && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	got := l.received.Load()
	r.Figures["sent"] = float64(issued - dropped)
	r.Figures["received"] = float64(got)
	r.Figures["messages_per_s"] = float64(got) / el.Seconds()
	r.Latency["roundtrip"] = l.lat.Load().summary()
	r.Errors["generator_dropped"] = int(dropped)
	r.Errors["write"] = int(writeErrs.Load())
	if lost := issued - dropped - writeErrs.Load() - got; lost > 0 {
		r.Errors["no_response"] = int(lost)
	}
	return l.finish(r), nil
}

// fanout pushes one message to every connection in turn, first with every client
// reading, then with a share of them stalled; it compares the fast readers' latency
// and watches the gateway's memory.
func (l *loader) fanout(ctx context.Context) (*Report, error) {
	r := l.newReport("fanout")
	cs, _, _, err := l.connect(ctx, r, 0)
	if err != nil {
		return nil, err
	}
	defer func() {
		l.stall.Store(false)
		l.drain(ctx, cs)
	}()
	l.learnIDs(r, cs)
	r.Figures["conns"] = float64(len(cs))
	if len(cs) == 0 {
		return l.finish(r), nil
	}
	nslow := 0
	if l.cfg.slow > 0 {
		every := max(int(1/l.cfg.slow), 1)
		for i, c := range cs {
			if i%every == every-1 {
				c.slow.Store(true)
				nslow++
			}
		}
	}
	r.Figures["slow_readers"] = float64(nslow)
	var slowClosed atomic.Int64
	onClose := func(c *client) {
		if c.slow.Load() {
			slowClosed.Add(1)
		}
	}
	l.onClose.Store(&onClose)
	phase := func(name string) (*poster, time.Duration, int64, int64) {
		p := l.newPoster()
		jobs := make(chan postJob, max(int(l.cfg.rate), 1))
		posted := make(chan struct{})
		go func() { p.run(jobs); close(posted) }()
		t0 := time.Now()
		issued, dropped := pace(ctx, l.cfg.rate, l.cfg.duration, func(seq int64, at time.Time) bool {
			c := cs[int(seq)%len(cs)]
			select {
			case jobs <- postJob{id: c.connID(), at: at, slow: c.slow.Load(), stale: c.slow.Load()}:
				return true
			default:
				return false
			}
		})
		close(jobs)
		<-posted
		time.Sleep(time.Second)
		return p, time.Since(t0), issued, dropped
	}
	// Warm-up (dropped), then phase 1: everyone reads.
	phase("warm-up")
	l.lat.Store(&recorder{})
	rssStart, _ := readProc(l.cfg.pid)
	p1, el1, _, d1 := phase("base")
	base := l.lat.Load().summary()
	r.Latency["fast_base"] = base
	r.Figures["deliveries_per_s_base"] = float64(p1.tally.ok.Load()) / el1.Seconds()
	addCounts(r.Errors, p1.tally.errors())
	r.Errors["generator_dropped"] += int(d1)

	// Phase 2: the slow readers stop reading.
	l.lat.Store(&recorder{})
	l.stall.Store(true)
	var maxRSS atomic.Int64
	stopSampling := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			if st, err := readProc(l.cfg.pid); err == nil && st.RSS > maxRSS.Load() {
				maxRSS.Store(st.RSS)
			}
			select {
			case <-stopSampling:
				return
			case <-t.C:
			}
		}
	}()
	cpu := l.startCPU()
	p2, el2, _, d2 := phase("slow")
	cpu.report(r, "")
	close(stopSampling)
	<-sampled
	withSlow := l.lat.Load().summary()
	r.Latency["fast_with_slow"] = withSlow
	r.Figures["deliveries_per_s_slow"] = float64(p2.tally.ok.Load()) / el2.Seconds()
	if base.P99 > 0 {
		r.Figures["fast_p99_ratio"] = withSlow.P99 / base.P99
	}
	r.Figures["fast_p99_base_ms"] = base.P99
	r.Figures["fast_p99_slow_ms"] = withSlow.P99
	r.Figures["slow_posts_429"] = float64(p2.tally.limitedSlow.Load())
	r.Figures["slow_closed"] = float64(slowClosed.Load())
	if l.cfg.pid > 0 {
		r.Figures["rss_start_mib"] = float64(rssStart.RSS) / (1 << 20)
		r.Figures["rss_max_mib"] = float64(maxRSS.Load()) / (1 << 20)
		r.Figures["rss_growth_mib"] = float64(maxRSS.Load()-rssStart.RSS) / (1 << 20)
		if nslow > 0 {
			r.Figures["rss_growth_per_slow_kib"] = float64(maxRSS.Load()-rssStart.RSS) / float64(nslow) / 1024
		}
	}
	addCounts(r.Errors, p2.tally.errors())
	r.Errors["generator_dropped"] += int(d2)
	return l.finish(r), nil
}

// soak holds cfg.n connections for cfg.duration with route and push traffic,
// reconnecting those the gateway closes (scaled idle timeout and maximum duration),
// and samples the gateway's RSS and goroutines.
func (l *loader) soak(ctx context.Context) (*Report, error) {
	r := l.newReport("soak")
	m, err := newMinter(l.cfg.secret, l.cfg.keyFile)
	if err != nil {
		return nil, err
	}
	toks, err := m.mintAll(l.cfg.n)
	if err != nil {
		return nil, err
	}
	slots := make([]atomic.Pointer[client], l.cfg.n)
	redial := make(chan int, l.cfg.n)
	onClose := func(c *client) {
		select {
		case redial <- c.idx:
		default:
		}
	}
	l.onClose.Store(&onClose)
	cs, _, fails := l.connectAll(ctx, toks, l.cfg.conc, 0)
	for k, v := range fails {
		r.Errors["connect: "+k] += v
	}
	for i, c := range cs {
		if c != nil {
			slots[i].Store(c)
		} else {
			redial <- i
		}
	}
	l.learnIDs(r, live(cs))
	ctx, cancel := context.WithTimeout(ctx, l.cfg.duration)
	defer cancel()
	var reconnects, reconnectFails atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for {
				select {
				case <-ctx.Done():
					return
				case i := <-redial:
					c, err := l.dial(i, toks[i])
					if err != nil {
						reconnectFails.Add(1)
						l.noteError("redial: " + err.Error())
						time.Sleep(100 * time.Millisecond)
						redial <- i
						continue
					}
					slots[i].Store(c)
					reconnects.Add(1)
					_, _ = c.whoami(10 * time.Second)
				}
			}
		})
	}
	// Traffic: route messages and pushes to random live connections.
	var writeErrs atomic.Int64
	pick := func() *client {
		c := slots[rand.IntN(len(slots))].Load()
		if c == nil || c.closed.Load() {
			return nil
		}
		return c
	}
	wg.Go(func() {
		pace(ctx, l.cfg.routeRate, l.cfg.duration, func(_ int64, at time.Time) bool {
			if c := pick(); c != nil {
				if err := c.ws.WriteMessage(1, frame(`{"action":"route",`, at, l.cfg.payload)); err != nil && !c.closed.Load() {
					writeErrs.Add(1)
				}
			}
			return true
		})
	})
	p := l.newPoster()
	jobs := make(chan postJob, max(int(l.cfg.rate), 1))
	wg.Go(func() { p.run(jobs) })
	wg.Go(func() {
		defer close(jobs)
		pace(ctx, l.cfg.rate, l.cfg.duration, func(_ int64, at time.Time) bool {
			c := pick()
			if c == nil || c.connID() == "" {
				return true
			}
			select {
			case jobs <- postJob{id: c.connID(), at: at, stale: true}: // a connection may close meanwhile: 410 is fine
				return true
			default:
				return false
			}
		})
	})
	t0 := time.Now()
	tick := time.NewTicker(l.cfg.sampleEach)
	sample := func() {
		st, _ := readProc(l.cfg.pid)
		gm, _ := scrape(context.Background(), l.cfg.metricsURL)
		n := 0
		for i := range slots {
			if c := slots[i].Load(); c != nil && !c.closed.Load() {
				n++
			}
		}
		r.Series = append(r.Series, Sample{Seconds: time.Since(t0).Seconds(), RSSMiB: float64(st.RSS) / (1 << 20), gatewayMetrics: gm, Clients: n})
	}
	sample()
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-tick.C:
			sample()
		}
	}
	tick.Stop()
	sample()
	wg.Wait()
	var all []*client
	for i := range slots {
		all = append(all, slots[i].Load())
	}
	el := time.Since(t0)
	// Flat: compare the end with the state after the first fifth (warm-up).
	if len(r.Series) >= 3 {
		w := r.Series[max(len(r.Series)/5, 1)]
		e := r.Series[len(r.Series)-1]
		r.Figures["rss_warm_mib"] = w.RSSMiB
		r.Figures["rss_end_mib"] = e.RSSMiB
		if w.RSSMiB > 0 {
			r.Figures["rss_growth_pct"] = 100 * (e.RSSMiB - w.RSSMiB) / w.RSSMiB
		}
		r.Figures["goroutines_warm"] = w.Goroutines
		r.Figures["goroutines_end"] = e.Goroutines
		if w.Goroutines > 0 {
			r.Figures["goroutines_growth_pct"] = 100 * (e.Goroutines - w.Goroutines) / w.Goroutines
		}
	}
	r.Figures["reconnects"] = float64(reconnects.Load())
	r.Figures["messages_per_s"] = float64(l.received.Load()) / el.Seconds()
	r.Figures["posts_200"] = float64(p.tally.ok.Load())
	r.Latency["traffic"] = l.lat.Load().summary()
	r.Errors["reconnect_failed"] = int(reconnectFails.Load())
	r.Errors["write"] = int(writeErrs.Load())
	addCounts(r.Errors, p.tally.errors())
	l.onClose.Store(nil)
	l.drain(context.Background(), live(all))
	return l.finish(r), nil
}

// cpuMeters measure the gateway's, the backend's and wsload's CPU over a phase.
type cpuMeters struct {
	gw, be, self cpuMeter
	steal        stealMeter
}

func (l *loader) startCPU() cpuMeters {
	return cpuMeters{startCPU(l.cfg.pid), startCPU(l.cfg.backendPID), startCPU(selfPID()), startSteal()}
}

// report records the average cores each used, as <prefix>gateway_cores etc., and the
// machine's steal time over the phase as <prefix>steal_pct.
func (m cpuMeters) report(r *Report, prefix string) {
	if p := m.steal.pct(); p >= 0 {
		r.Figures[prefix+"steal_pct"] = p
	}
	if m.gw.pid > 0 {
		r.Figures[prefix+"gateway_cores"] = m.gw.cores()
	}
	if m.be.pid > 0 {
		r.Figures[prefix+"backend_cores"] = m.be.cores()
	}
	r.Figures[prefix+"wsload_cores"] = m.self.cores()
}
