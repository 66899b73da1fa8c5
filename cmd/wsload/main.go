// Command wsload is wsgate's load generator: it opens authenticated WebSocket
// connections (minting cookie JWTs for the gateway's key), drives open-loop message and
// @connections traffic, and reports latency percentiles, throughput, errors and the
// gateway's RSS and CPU read from /proc.
//
//	wsload SCENARIO [flags]     scenarios: idle, connect, push, route, fanout, broadcast, soak
//	wsload backend [flags]      the HTTP integration backend the bench config calls
//	wsload report [flags] FILE… the medians of JSON reports as a Markdown results file
//
// Each scenario prints one JSON report on stdout (also appended to -out) and a summary
// on stderr. bench/run runs them all; see docs/benchmarks.md.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"os/signal"
	"runtime/pprof"
	"slices"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "wsload:", err)
		os.Exit(1)
	}
}

const usage = "usage: wsload {idle|connect|push|route|fanout|broadcast|soak|backend|report} [flags]"

func selfPID() int { return os.Getpid() }

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New(usage)
	}
	switch args[0] {
	case "backend":
		return backendCmd(ctx, args[1:], stdout, stderr)
	case "report":
		return reportCmd(args[1:], stdout, stderr)
	case "idle", "connect", "push", "route", "fanout", "broadcast", "soak":
	default:
		return fmt.Errorf("unknown scenario %q; %s", args[0], usage)
	}
	scenario := args[0]
	fs := flag.NewFlagSet(scenario, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c loadConfig
	fs.StringVar(&c.target, "target", "wsgate", "what is measured: wsgate or serverless-offline (labels), baregws, baregws-jwt or centrifugo (their protocols: peers.go)")
	fs.StringVar(&c.wsURL, "ws", "ws://127.0.0.1:8080/", "WebSocket URL")
	fs.StringVar(&c.mgmtURL, "mgmt", "http://127.0.0.1:8081/dev", "@connections base URL (up to the stage)")
	fs.StringVar(&c.metricsURL, "metrics", "", "the gateway's /metrics URL (goroutines, heap, connections); empty: none")
	fs.IntVar(&c.pid, "pid", 0, "the gateway's process id (RSS and CPU from /proc); 0: not measured")
	fs.IntVar(&c.backendPID, "backend-pid", 0, "the integration backend's process id (CPU); 0: not measured")
	fs.BoolVar(&c.auth, "auth", true, "send the JWT and CSRF-TOKEN cookies and ?csrf=")
	secretEnv := fs.String("secret-env", "", "environment variable holding the HS256 secret; empty: wsgate's development key")
	fs.StringVar(&c.keyFile, "key-file", "", "PEM private key to sign with (EC P-256: ES256); overrides the HS256 secret")
	fs.IntVar(&c.srcIPs, "src-ips", 8, "spread connections over source addresses 127.0.0.1..N")
	fs.IntVar(&c.n, "n", 1000, "connections")
	fs.IntVar(&c.conc, "conc", 64, "handshakes in flight")
	fs.Float64Var(&c.rate, "rate", 1000, "messages or POSTs per second (open loop)")
	fs.DurationVar(&c.duration, "duration", 10*time.Second, "traffic phase (each of fanout's two phases; soak's whole run)")
	fs.IntVar(&c.payload, "payload", 64, "padding bytes per message")
	fs.IntVar(&c.writers, "writers", 64, "goroutines (and keep-alive connections) issuing POSTs or writes")
	fs.Float64Var(&c.stale, "stale", 0.05, "push: share of POSTs to connection ids that do not exist")
	fs.BoolVar(&c.signed, "signed", false, "SigV4-sign POSTs with -access-key and the secret in $WSLOAD_MGMT_SECRET")
	fs.StringVar(&c.accessKey, "access-key", "AKIDWSLOAD", "SigV4 access key id")
	fs.StringVar(&c.region, "region", "us-east-1", "SigV4 region")
	fs.Float64Var(&c.slow, "slow", 0.05, "fanout: share of slow readers")
	fs.DurationVar(&c.stallFor, "stall", time.Minute, "fanout: how long a slow reader stalls on each message")
	fs.IntVar(&c.rounds, "rounds", 20, "broadcast: batch posts, one after the other")
	fs.DurationVar(&c.hold, "hold", 10*time.Second, "idle: how long connections stay idle before measuring")
	fs.DurationVar(&c.sampleEach, "sample", 10*time.Second, "soak: sampling period")
	fs.Float64Var(&c.routeRate, "route-rate", 500, "soak: route messages per second (-rate is the POSTs)")
	label := fs.String("label", "", "a label for the report (e.g. hs256, es256)")
	out := fs.String("out", "", "append the JSON report to this file")
	timeout := fs.Duration("timeout", 10*time.Minute, "bound on the whole run")
	cpuProfile := fs.String("cpuprofile", "", "write wsload's own CPU profile to this file")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	c.secret = "wsgate-development-key--never-use-in-production" // config.DevHMACSecret
	if *secretEnv != "" {
		c.secret = getenv(*secretEnv)
	}
	if c.signed {
		c.secretKey = getenv("WSLOAD_MGMT_SECRET")
		if c.secretKey == "" {
			return errors.New("-signed needs the secret in WSLOAD_MGMT_SECRET")
		}
	}
	c.mgmtURL = strings.TrimRight(c.mgmtURL, "/")
	if err := applyTarget(&c, getenv); err != nil {
		return err
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	l := newLoader(c)
	defer close(l.done)
	r, err := l.runScenario(ctx, scenario)
	if err != nil {
		return err
	}
	r.Label = *label
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s\n", b)
	if *out != "" {
		f, err := os.OpenFile(*out, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(f, "%s\n", b)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	}
	summarize(stderr, r)
	return nil
}

func (l *loader) runScenario(ctx context.Context, scenario string) (*Report, error) {
	switch scenario {
	case "idle":
		return l.idle(ctx)
	case "connect":
		return l.connectStorm(ctx)
	case "push":
		return l.push(ctx)
	case "route":
		return l.route(ctx)
	case "fanout":
		return l.fanout(ctx)
	case "broadcast":
		return l.broadcast(ctx)
	case "soak":
		return l.soak(ctx)
	}
	return nil, fmt.Errorf("unknown scenario %q", scenario)
}

// summarize prints a report for people.
func summarize(w io.Writer, r *Report) {
	fmt.Fprintf(w, "%s %s %s\n", r.Target, r.Scenario, r.Label)
	for _, k := range slices.Sorted(maps.Keys(r.Figures)) {
		fmt.Fprintf(w, "  %-28s %.2f\n", k, r.Figures[k])
	}
	for k, v := range r.Latency {
		fmt.Fprintf(w, "  latency %-20s %s\n", k, v)
	}
	for k, v := range r.Errors {
		fmt.Fprintf(w, "  error %-22s %d\n", k, v)
	}
	for _, s := range r.ErrorSamples {
		fmt.Fprintf(w, "  e.g. %s\n", s)
	}
}
