package gateway

import (
	"context"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/wsgate/wsgate/internal/config"
	"github.com/wsgate/wsgate/internal/integration"
	"github.com/wsgate/wsgate/internal/testutil"
)

// BenchmarkIdleConnection reports what an idle connection costs the gateway in Go heap
// and goroutine stack, for 2,000 connections held open over loopback (bench/run idle
// measures the process's RSS for 15,000 with the cookie authorizer on).
//
//	go test -run '^$' -bench IdleConnection -benchtime 1x ./internal/gateway
func BenchmarkIdleConnection(b *testing.B) {
	const n = 2000
	cfg, err := config.Parse([]byte("Routes: {$default: {}}\n"))
	if err != nil {
		b.Fatal(err)
	}
	sel, _ := integration.CompileSelection(cfg.API.RouteSelectionExpression)
	for range b.N {
		g, err := New(Options{Config: cfg, Selection: sel, Routes: map[string]*Route{}})
		if err != nil {
			b.Fatal(err)
		}
		srv := httptest.NewServer(g)
		addr := strings.TrimPrefix(srv.URL, "http://")
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		conns := make([]*testutil.RawConn, 0, n)
		for range n {
			conns = append(conns, testutil.RawDial(b, addr, "/", http.Header{}))
		}
		testutil.Eventually(b, 10*time.Second, func() error {
			if g.Open() != n {
				return context.DeadlineExceeded
			}
			return nil
		})
		// Stacks shrink in garbage collections (to half, while a goroutine uses under a
		// quarter of its stack): collect until they have.
		for range 4 {
			runtime.GC()
		}
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapInuse-before.HeapInuse)/n, "heap-B/conn")
		b.ReportMetric(float64(after.StackInuse-before.StackInuse)/n, "stack-B/conn")
		for _, c := range conns {
			c.Close()
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_ = g.Shutdown(ctx)
		cancel()
		srv.Close()
	}
}
