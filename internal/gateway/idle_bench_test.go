package gateway

import (
	"context"
	"io"
	"net"
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
// measures the process's RSS for 15,000 with the cookie authorizer on). The clients are
// bare sockets in the same process, so the heap figure includes each client's socket
// (about 0.3 KiB), and nothing else of theirs.
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
		conns := make([]net.Conn, 0, n)
		for range n {
			conns = append(conns, dialBare(b, addr))
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
		b.ReportMetric(float64(int64(after.StackInuse)-int64(before.StackInuse))/n, "stack-B/conn")
		for _, c := range conns {
			c.Close()
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_ = g.Shutdown(ctx)
		cancel()
		srv.Close()
	}
}

// dialBare opens a WebSocket connection on a bare socket and reads the 101 without a
// buffer, so that the client keeps nothing but its socket.
func dialBare(b *testing.B, addr string) net.Conn {
	b.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	req := "GET / HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
	if _, err := io.WriteString(conn, req); err != nil {
		b.Fatal(err)
	}
	var head []byte
	var c [1]byte
	for !strings.HasSuffix(string(head), "\r\n\r\n") {
		if _, err := conn.Read(c[:]); err != nil {
			b.Fatalf("handshake: %v", err)
		}
		head = append(head, c[0])
	}
	if !strings.HasPrefix(string(head), "HTTP/1.1 101 ") {
		b.Fatalf("handshake: %q", head)
	}
	return conn
}
