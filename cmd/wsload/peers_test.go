package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// TestWritePeers checks the Peers table's arithmetic on made-up reports: the ratio
// is wsgate ÷ peer, CPU per 1,000 operations is cores ÷ rate × 1,000, and a peer that
// did not run shows a dash.
func TestWritePeers(t *testing.T) {
	rep := func(target, scenario string, figs map[string]float64) *Report {
		return &Report{Target: target, Scenario: scenario, Label: peerLabel, Figures: figs}
	}
	groups := map[string]*group{}
	for _, r := range []*Report{
		rep(targetWsgate, "idle", map[string]float64{"rss_per_conn_kib": 10}),
		rep(targetCentrifugo, "idle", map[string]float64{"rss_per_conn_kib": 50}),
		rep(targetBareGWS, "idle", map[string]float64{"rss_per_conn_kib": 8}),
		rep(targetWsgate, "push", map[string]float64{"posts_per_s": 2000, "gateway_cores": 0.5}),
		rep(targetCentrifugo, "push", map[string]float64{"posts_per_s": 1000, "gateway_cores": 1}),
	} {
		k := r.Target + "/" + r.Scenario + "/" + r.Label
		groups[k] = &group{key: k, runs: []*Report{r}}
	}
	var b strings.Builder
	writePeers(&b, groups)
	md := b.String()
	for _, want := range []string{
		"| idle | RSS per idle connection, KiB (lower is better) | 10.0 | 50.0 | 8.0 | 0.20 | 1.25 | 0 / 0 / 0 |",
		// wsgate 0.5 cores at 2000/s = 0.25 CPU-s per 1,000; Centrifugo 1 at 1000/s = 1.
		"| push | server CPU-s per 1,000 pushes (lower is better) | 0.25 | 1.00 | – | 0.25 | – | 0 / 0 / – |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("missing row\n%s\nin\n%s", want, md)
		}
	}
	if strings.Contains(md, "| connect |") {
		t.Errorf("a scenario nobody ran has rows:\n%s", md)
	}
}

// FuzzCentrifugoFrame feeds arbitrary server frames to the Centrifugo frame handler:
// it must not panic, and every line is counted exactly once as a delivery, a reply, a
// ping or a bad frame.
func FuzzCentrifugoFrame(f *testing.F) {
	for _, s := range []string{
		`{"id":1,"connect":{"client":"8c0a9a4e-7a43-4b8e-9e0c-1b2f3a4d5e6f","version":"6.9.1","subs":{"#load-0":{}},"ping":25,"pong":true}}`,
		`{"id":1,"error":{"code":109,"message":"token expired"}}`,
		`{"push":{"channel":"#load-0","pub":{"data":{"t":1764586800000000000,"p":"xxxx"}}}}` + "\n" + `{}`,
		`{}`,
		"\n\n",
		`{"push":{"channel":"#x","pub":{"data":{"t":`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		l := newLoader(loadConfig{target: targetCentrifugo})
		defer close(l.done)
		c := &client{l: l, idCh: make(chan string, 1)}
		pongs := 0
		c.centrifugoFrame(b, time.Now(), false, func() { pongs++ })
		lines := 0
		for line := range bytes.SplitSeq(b, []byte{'\n'}) {
			if len(line) > 0 {
				lines++
			}
		}
		answered := len(c.idCh)
		// Replies beyond the first are dropped (the channel holds one); count them apart.
		replies := 0
		for line := range bytes.SplitSeq(b, []byte{'\n'}) {
			if bytes.HasPrefix(line, []byte(`{"id":1,"connect":`)) || bytes.HasPrefix(line, []byte(`{"id":1,"error":`)) {
				replies++
			}
		}
		if replies > 0 && answered != 1 {
			t.Fatalf("%d replies, %d answered", replies, answered)
		}
		if got := int(l.received.Load()+l.badFrames.Load()) + pongs + replies; got != lines {
			t.Fatalf("%d lines, %d accounted for", lines, got)
		}
	})
}
