package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"sort"
	"strings"
	"time"
)

// group is the runs of one scenario with one label against one target.
type group struct {
	key  string
	runs []*Report
}

func (g *group) median(fig string) (float64, bool) {
	var v []float64
	for _, r := range g.runs {
		if x, ok := r.Figures[fig]; ok {
			v = append(v, x)
		}
	}
	return medianOf(v)
}

func (g *group) latency(name string, pick func(Latency) float64) (float64, bool) {
	var v []float64
	for _, r := range g.runs {
		if l, ok := r.Latency[name]; ok && l.N > 0 {
			v = append(v, pick(l))
		}
	}
	return medianOf(v)
}

func (g *group) errors() int {
	n := 0
	for _, r := range g.runs {
		n += r.ErrorCount()
	}
	return n
}

func medianOf(v []float64) (float64, bool) {
	if len(v) == 0 {
		return 0, false
	}
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2], true
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2, true
}

// readReports reads JSON reports, one a line, and groups them; a group keeps its last
// keep runs.
func readReports(files []string, keep int) (map[string]*group, error) {
	groups := map[string]*group{}
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			return nil, err
		}
		sc := bufio.NewScanner(fh)
		sc.Buffer(make([]byte, 1<<20), 64<<20)
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			if line == "" {
				continue
			}
			var r Report
			if err := json.Unmarshal([]byte(line), &r); err != nil {
				fh.Close()
				return nil, fmt.Errorf("%s: %w", f, err)
			}
			if r.Label == "profile" {
				continue
			}
			k := r.Target + "/" + r.Scenario + "/" + r.Label
			g := groups[k]
			if g == nil {
				g = &group{key: k}
				groups[k] = g
			}
			g.runs = append(g.runs, &r)
		}
		fh.Close()
		if err := sc.Err(); err != nil {
			return nil, err
		}
	}
	for _, g := range groups {
		if len(g.runs) > keep {
			g.runs = g.runs[len(g.runs)-keep:]
		}
	}
	return groups, nil
}

// row is one line of the headline table.
type row struct {
	scenario, figure, target string
	value                    string
	met                      string
}

func f0(v float64) string { return fmt.Sprintf("%.0f", v) }
func f1(v float64) string { return fmt.Sprintf("%.1f", v) }
func f2(v float64) string { return fmt.Sprintf("%.2f", v) }

func yes(ok bool) string {
	if ok {
		return "yes"
	}
	return "**no**"
}

// headline is the table: each figure against its target.
func headline(groups map[string]*group) []row {
	var rows []row
	g := func(k string) *group { return groups["wsgate/"+k] }
	if x := g("idle/15k"); x != nil {
		if v, ok := x.median("rss_per_conn_kib"); ok {
			n, _ := x.median("conns")
			rows = append(rows, row{"idle capacity", fmt.Sprintf("RSS per idle authenticated connection (%s conns)", f0(n)), "≤ 10 KiB", f1(v) + " KiB", yes(v <= 10)})
		}
		h, ok1 := x.median("heap_inuse_per_conn_kib")
		s, ok2 := x.median("stack_inuse_per_conn_kib")
		if ok1 && ok2 {
			rows = append(rows, row{"idle capacity", "of which Go heap + stacks in use", "", f1(h) + " + " + f1(s) + " KiB", ""})
		}
	}
	for _, alg := range []string{"hs256", "es256"} {
		if x := g("connect/" + alg); x != nil {
			if v, ok := x.median("connects_per_s"); ok {
				p99, _ := x.latency("handshake", func(l Latency) float64 { return l.P99 })
				rows = append(rows, row{"connect storm", "authenticated connects/s, " + strings.ToUpper(alg) + " + $connect HTTP (handshake p99)", "≥ 5,000/s",
					f0(v) + "/s (" + f1(p99) + " ms)", yes(v >= 5000 && x.errors() == 0)})
			}
		}
	}
	for _, lbl := range []string{"10k", "10k-signed"} {
		if x := g("push/" + lbl); x != nil {
			v, _ := x.median("posts_per_s")
			p99, _ := x.latency("delivery", func(l Latency) float64 { return l.P99 })
			what := "unsigned"
			if strings.HasSuffix(lbl, "signed") {
				what = "SigV4-signed"
			}
			rows = append(rows, row{"push", "@connections POSTs/s over 10k conns, " + what + ", 5% stale (delivery p99)", "≥ 20,000/s, p99 < 10 ms",
				f0(v) + "/s (" + f2(p99) + " ms)", yes(v >= 19000 && p99 < 10 && x.errors() == 0)})
		}
	}
	if x := g("route/1k"); x != nil {
		v, _ := x.median("messages_per_s")
		p99, _ := x.latency("roundtrip", func(l Latency) float64 { return l.P99 })
		rows = append(rows, row{"route", "messages/s routed to HTTP integration, two-way (round-trip p99)", "≥ 20,000/s, p99 < 10 ms",
			f0(v) + "/s (" + f2(p99) + " ms)", yes(v >= 19000 && p99 < 10 && x.errors() == 0)})
	}
	if x := g("fanout/10k-5pct-slow"); x != nil {
		b, _ := x.median("fast_p99_base_ms")
		s, _ := x.median("fast_p99_slow_ms")
		grow, _ := x.median("rss_growth_mib")
		slow, _ := x.median("slow_readers")
		rows = append(rows, row{"fan-out", "fast readers' p99 without → with 5% stalled readers", "unaffected",
			f2(b) + " → " + f2(s) + " ms", yes(s <= 2*b || s < 10)})
		// Bound: every slow reader's send queue full (1 MiB) plus 64 MiB.
		bound := slow + 64
		rows = append(rows, row{"fan-out", "gateway RSS growth while readers stall", fmt.Sprintf("bounded (≤ %s MiB: 1 MiB queue × %s + 64)", f0(bound), f0(slow)),
			f1(grow) + " MiB", yes(grow <= bound)})
	}
	for k, x := range groups {
		if !strings.HasPrefix(k, "wsgate/soak/") {
			continue
		}
		rg, _ := x.median("rss_growth_pct")
		gg, _ := x.median("goroutines_growth_pct")
		posts, _ := x.median("posts_200")
		// A client write can race the server closing an idle or over-age connection:
		// tolerate one error in 10,000 operations, not more.
		rows = append(rows, row{"soak", "RSS and goroutines, end vs after warm-up (" + strings.TrimPrefix(k, "wsgate/soak/") + ")", "flat (≤ +10%)",
			fmt.Sprintf("%+.1f%% / %+.1f%%", rg, gg), yes(rg <= 10 && gg <= 10 && float64(x.errors())*10000 <= posts)})
	}
	return rows
}

func reportCmd(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("o", "", "write the Markdown here (default stdout)")
	commit := fs.String("commit", "", "the commit measured")
	keep := fs.Int("keep", 3, "use each group's last N runs")
	if err := fs.Parse(args); err != nil {
		return err
	}
	groups, err := readReports(fs.Args(), *keep)
	if err != nil {
		return err
	}
	var b strings.Builder
	writeReport(&b, groups, *commit)
	if *out == "" {
		_, err := io.WriteString(stdout, b.String())
		return err
	}
	return os.WriteFile(*out, []byte(b.String()), 0o644)
}

func machine() string {
	cpu := ""
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "model name"); ok {
				cpu = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	kernel := ""
	if o, err := exec.Command("uname", "-r").Output(); err == nil {
		kernel = strings.TrimSpace(string(o))
	}
	return fmt.Sprintf("%d cores (%s), Linux %s, gateway, load generator and backend on the same machine over loopback", runtime.NumCPU(), cpu, kernel)
}

func writeReport(w io.Writer, groups map[string]*group, commit string) {
	fmt.Fprintf(w, "# wsgate benchmark results, %s\n\n", time.Now().UTC().Format("2006-01-02"))
	fmt.Fprintf(w, "- Machine: %s\n- Go: %s\n- Commit: %s\n", machine(), runtime.Version(), commit)
	fmt.Fprintf(w, "- Figures: median of each group's runs (count per group below); reproduce with `bench/run` (docs/benchmarks.md).\n\n")
	if rows := headline(groups); len(rows) > 0 { // none in a peers-only run
		fmt.Fprintf(w, "## Against the targets\n\n| scenario | figure | target | measured | met? |\n|---|---|---|---|---|\n")
		for _, r := range rows {
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s |\n", r.scenario, r.figure, r.target, r.value, r.met)
		}
	}
	writeSideBySide(w, groups)
	writePeers(w, groups) // peers.go
	fmt.Fprintf(w, "\n## Every figure (medians)\n")
	for _, k := range slices.Sorted(maps.Keys(groups)) {
		g := groups[k]
		fmt.Fprintf(w, "\n### %s (%d runs)\n\n", k, len(g.runs))
		r0 := g.runs[len(g.runs)-1]
		params := make([]string, 0, len(r0.Params))
		for p, v := range r0.Params {
			params = append(params, p+"="+v)
		}
		sort.Strings(params)
		fmt.Fprintf(w, "Parameters: %s\n\n| figure | median | runs |\n|---|---|---|\n", strings.Join(params, " "))
		figs := map[string]bool{}
		for _, r := range g.runs {
			for f := range r.Figures {
				figs[f] = true
			}
		}
		for _, f := range slices.Sorted(maps.Keys(figs)) {
			m, _ := g.median(f)
			var all []string
			for _, r := range g.runs {
				all = append(all, f2(r.Figures[f]))
			}
			fmt.Fprintf(w, "| %s | %s | %s |\n", f, f2(m), strings.Join(all, ", "))
		}
		lat := map[string]bool{}
		for _, r := range g.runs {
			for n := range r.Latency {
				lat[n] = true
			}
		}
		for n := range lat {
			p50, _ := g.latency(n, func(l Latency) float64 { return l.P50 })
			p99, _ := g.latency(n, func(l Latency) float64 { return l.P99 })
			p999, _ := g.latency(n, func(l Latency) float64 { return l.P999 })
			fmt.Fprintf(w, "| latency %s p50 / p99 / p99.9 (ms) | %s / %s / %s | |\n", n, f2(p50), f2(p99), f2(p999))
		}
		errs := map[string]int{}
		for _, r := range g.runs {
			addCounts(errs, r.Errors)
		}
		if len(errs) > 0 {
			en := make([]string, 0, len(errs))
			for e, v := range errs {
				en = append(en, fmt.Sprintf("%s: %d", e, v))
			}
			sort.Strings(en)
			fmt.Fprintf(w, "\nErrors (all runs): %s\n", strings.Join(en, "; "))
			for _, r := range g.runs {
				for _, s := range r.ErrorSamples {
					fmt.Fprintf(w, "- e.g. `%s`\n", strings.ReplaceAll(s, "`", "'"))
				}
			}
		}
		if len(r0.Series) > 0 {
			fmt.Fprintf(w, "\nSeries (last run): seconds, RSS MiB, goroutines, heap in use MiB, gateway connections, wsload clients\n\n```\n")
			for _, s := range r0.Series {
				fmt.Fprintf(w, "%6.0f %8.1f %8.0f %8.1f %7.0f %7d\n", s.Seconds, s.RSSMiB, s.Goroutines, s.HeapInuse/(1<<20), s.Connections, s.Clients)
			}
			fmt.Fprintf(w, "```\n")
		}
	}
}

// writeSideBySide compares wsgate with serverless-offline where both ran a scenario.
func writeSideBySide(w io.Writer, groups map[string]*group) {
	type cmp struct{ scenario, label, fig, what string }
	cmps := []cmp{
		{"connect", "side", "connects_per_s", "connects/s"},
		{"route", "side", "messages_per_s", "route messages/s"},
		{"push", "side", "posts_per_s", "@connections POSTs/s"},
	}
	header := false
	for _, c := range cmps {
		a := groups["wsgate/"+c.scenario+"/"+c.label]
		b := groups["serverless-offline/"+c.scenario+"/"+c.label]
		if a == nil || b == nil {
			continue
		}
		if !header {
			fmt.Fprintf(w, "\n## Side by side with serverless-offline (same scenario, same load, same machine)\n\n| scenario | wsgate | serverless-offline | ratio | p99 wsgate / offline (ms) | errors wsgate / offline |\n|---|---|---|---|---|---|\n")
			header = true
		}
		va, _ := a.median(c.fig)
		vb, _ := b.median(c.fig)
		lat := map[string]string{"connect": "handshake", "route": "roundtrip", "push": "delivery"}[c.scenario]
		pa, _ := a.latency(lat, func(l Latency) float64 { return l.P99 })
		pb, _ := b.latency(lat, func(l Latency) float64 { return l.P99 })
		ratio := "n/a"
		if vb > 0 {
			ratio = fmt.Sprintf("%.1f×", va/vb)
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s / %s | %d / %d |\n", c.what, f0(va), f0(vb), ratio, f2(pa), f2(pb), a.errors(), b.errors())
	}
}
