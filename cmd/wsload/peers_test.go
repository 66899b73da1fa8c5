package main

import (
	"strings"
	"testing"
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
