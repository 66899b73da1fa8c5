package main

import (
	"context"
	"io"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/wsgate/wsgate/bench/peers/baregws/peer"
	"github.com/wsgate/wsgate/internal/config"
	"github.com/wsgate/wsgate/internal/server"
)

// benchConfig is bench/gateway.yaml with its placeholders filled as bench/run does.
func benchConfig(t *testing.T, backendURL string) *config.Config {
	t.Helper()
	return benchConfigFrom(t, "gateway.yaml", backendURL)
}

// benchConfigFrom is bench/<name> with its placeholders filled as bench/run does.
func benchConfigFrom(t *testing.T, name, backendURL string) *config.Config {
	t.Helper()
	b, err := os.ReadFile("../../bench/" + name)
	if err != nil {
		t.Fatal(err)
	}
	y := strings.NewReplacer("@BACKEND@", backendURL, "@ALG@", "HS256", "@KEY@", "{DevKey: true}",
		"@IDLE@", "10m", "@MAXDUR@", "2h").Replace(string(b))
	cfg, err := config.Parse([]byte(y))
	if err != nil {
		t.Fatalf("bench/%s: %v", name, err)
	}
	return cfg
}

// bench/gateway-peers.yaml, wsgate's API in `bench/run peers`, is bench/gateway.yaml
// without the $connect and $disconnect backend calls, and nothing else.
func TestPeersConfigIsTheBenchConfigWithoutBackendCalls(t *testing.T) {
	full, peers := benchConfig(t, "http://127.0.0.1:9"), benchConfigFrom(t, "gateway-peers.yaml", "http://127.0.0.1:9")
	if r := peers.Routes["$connect"]; r.Target != "" || r.AuthorizerID != "cookie" {
		t.Errorf("peers $connect = %+v, want the cookie authorizer and no integration", r)
	}
	if _, ok := peers.Routes["$disconnect"]; ok {
		t.Error("peers config has a $disconnect route")
	}
	c := full.Routes["$connect"]
	c.Target = ""
	full.Routes["$connect"] = c
	delete(full.Routes, "$disconnect")
	if d := cmp.Diff(full, peers); d != "" {
		t.Errorf("bench/gateway-peers.yaml differs from bench/gateway.yaml by more than its backend calls (-gateway.yaml +gateway-peers.yaml):\n%s", d)
	}
}

// TestSmoke runs every scenario with a handful of connections for about a second
// against an in-process gateway built from bench/gateway.yaml, so the harness does not
// rot: each report must show traffic and no errors.
func TestSmoke(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	beURL, beDone, err := startBackend(ctx, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := benchConfig(t, beURL)
	getenv := func(k string) string {
		if k == "WSLOAD_MGMT_SECRET" {
			return "smoke-secret"
		}
		return ""
	}
	ready := make(chan server.Addrs, 1)
	served := make(chan error, 1)
	go func() {
		served <- server.Serve(ctx, cfg, server.Deps{Getenv: getenv}, func(a server.Addrs) { ready <- a })
	}()
	var a server.Addrs
	select {
	case a = <-ready:
	case err := <-served:
		t.Fatalf("Serve: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("gateway not ready")
	}
	base := loadConfig{
		target: "wsgate", wsURL: "ws://" + a.WebSocket + "/", mgmtURL: "http://" + a.Management + "/bench",
		metricsURL: "http://" + a.Management + "/metrics", pid: os.Getpid(), backendPID: os.Getpid(),
		auth: true, secret: config.DevHMACSecret, srcIPs: 2, n: 20, conc: 8, rate: 200,
		duration: time.Second, payload: 32, writers: 4, stale: 0.1, slow: 0.1, stallFor: time.Minute,
		hold: 100 * time.Millisecond, sampleEach: 500 * time.Millisecond, routeRate: 100,
		accessKey: "AKIDWSLOAD", secretKey: "smoke-secret", region: "us-east-1",
	}
	// want names, per scenario, the figures that must be positive.
	cases := []struct {
		scenario string
		edit     func(*loadConfig)
		want     []string
	}{
		{"idle", nil, []string{"conns", "connects_per_s", "rss_after_mib", "goroutines_per_conn"}},
		{"connect", nil, []string{"conns", "connects_per_s", "connect_gateway_cores"}},
		{"push", nil, []string{"posts_per_s", "posts_200", "posts_410_stale", "delivered"}},
		{"push", func(c *loadConfig) { c.signed = true }, []string{"posts_per_s", "delivered"}},
		{"route", nil, []string{"messages_per_s", "received"}},
		{"fanout", func(c *loadConfig) { c.duration = 500 * time.Millisecond }, []string{"deliveries_per_s_base", "deliveries_per_s_slow", "slow_readers", "rss_max_mib"}},
		{"broadcast", func(c *loadConfig) { c.signed, c.rounds = true, 3 }, []string{"conns", "rounds"}},
		{"soak", func(c *loadConfig) { c.duration = 2 * time.Second; c.rate = 50 }, []string{"messages_per_s", "posts_200"}},
	}
	groups := map[string]*group{}
	for _, tc := range cases {
		c := base
		if tc.edit != nil {
			tc.edit(&c)
		}
		name := tc.scenario
		if c.signed {
			name += "-signed"
		}
		t.Run(name, func(t *testing.T) {
			l := newLoader(c)
			defer close(l.done)
			r, err := l.runScenario(context.Background(), tc.scenario)
			if err != nil {
				t.Fatal(err)
			}
			summarize(io.Discard, r)
			groups[name] = &group{key: name, runs: []*Report{r}}
			for _, f := range tc.want {
				v, ok := r.Figures[f]
				// CPU is read from /proc in clock ticks (10 ms): a phase this short may
				// take none, so a cores figure need only be there.
				if !ok || v < 0 || (v == 0 && !strings.HasSuffix(f, "_cores")) {
					t.Errorf("figure %s = %v (reported %v), want > 0", f, v, ok)
				}
			}
			if n := r.ErrorCount(); n > 0 && !(tc.scenario == "fanout" && onlyGeneratorSlack(r)) {
				t.Errorf("errors: %v %v", r.Errors, r.ErrorSamples)
			}
			for name, lat := range r.Latency {
				if lat.N == 0 && name != "fast_with_slow" {
					t.Errorf("latency %s: no samples", name)
				}
			}
		})
	}
	var md strings.Builder
	writeReport(&md, groups, "smoke")
	if !strings.Contains(md.String(), "### push-signed") {
		t.Errorf("report:\n%s", md.String())
	}
	cancel()
	if err := <-served; err != nil {
		t.Errorf("Serve: %v", err)
	}
	if err := <-beDone; err != nil {
		t.Errorf("backend: %v", err)
	}
}

func onlyGeneratorSlack(r *Report) bool {
	for k := range r.Errors {
		if k != "generator_dropped" {
			return false
		}
	}
	return true
}

// TestSmokeBareGWS runs the scenarios the peers bench runs against the bare gws peer
// (bench/peers/baregws, in process): its own protocol hooks (no cookies, whoami and
// POST /@connections/{id} as wsgate's) must give traffic and no errors. Centrifugo,
// the other peer, is built from the module proxy by bench/run only (too slow here).
func TestSmokeBareGWS(t *testing.T) {
	p := peer.New()
	srv := httptest.NewServer(p)
	defer srv.Close()
	defer p.Close()
	base := loadConfig{
		target: targetBareGWS, wsURL: "ws" + strings.TrimPrefix(srv.URL, "http") + "/", mgmtURL: srv.URL,
		metricsURL: srv.URL + "/metrics", pid: os.Getpid(), auth: true, secret: config.DevHMACSecret,
		srcIPs: 2, n: 20, conc: 8, rate: 200, duration: time.Second, payload: 32, writers: 4, stale: 0.1,
		hold: 100 * time.Millisecond,
	}
	if err := applyTarget(&base, func(string) string { return "" }); err != nil {
		t.Fatal(err)
	}
	if base.auth {
		t.Fatal("baregws target still sends cookies")
	}
	cases := []struct {
		scenario string
		want     []string
	}{
		{"idle", []string{"conns", "connects_per_s", "rss_after_mib", "goroutines_per_conn"}},
		{"connect", []string{"conns", "connects_per_s"}},
		{"push", []string{"posts_per_s", "posts_200", "posts_410_stale", "delivered"}},
		{"route", []string{"messages_per_s", "received"}},
	}
	for _, tc := range cases {
		t.Run(tc.scenario, func(t *testing.T) {
			l := newLoader(base)
			defer close(l.done)
			r, err := l.runScenario(context.Background(), tc.scenario)
			if err != nil {
				t.Fatal(err)
			}
			if r.Target != targetBareGWS {
				t.Errorf("target %q", r.Target)
			}
			for _, f := range tc.want {
				if v := r.Figures[f]; !(v > 0) {
					t.Errorf("figure %s = %v, want > 0", f, v)
				}
			}
			if n := r.ErrorCount(); n > 0 {
				t.Errorf("errors: %v %v", r.Errors, r.ErrorSamples)
			}
		})
	}
}
