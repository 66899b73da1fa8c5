package gateway

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
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

// echoGateway is a gateway whose $default route echoes, on a test server.
func echoGateway(t *testing.T) (*Gateway, string) {
	t.Helper()
	cfg, err := config.Parse([]byte("Routes: {$default: {}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	sel, _ := integration.CompileSelection(cfg.API.RouteSelectionExpression)
	g, err := New(Options{Config: cfg, Selection: sel, Routes: map[string]*Route{
		config.RouteDefault: {Key: config.RouteDefault, TwoWay: true, Integration: integrationFunc(func(_ context.Context, r *integration.Request) (*integration.Response, error) {
			return &integration.Response{StatusCode: 200, Body: r.Body}, nil
		})},
	}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(g)
	t.Cleanup(func() {
		srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := g.Shutdown(ctx); err != nil {
			t.Error(err)
		}
	})
	return g, strings.TrimPrefix(srv.URL, "http://")
}

// Idle connections wait in the poller: a hundred of them add no goroutine each, and
// every one still answers, again and again, after each idle spell. (Only Linux has the
// poller: elsewhere each connection keeps its reading goroutine, netpoll_other.go.)
func TestIdleConnectionsHoldNoGoroutine(t *testing.T) {
	g, addr := echoGateway(t)
	const n = 100
	before := runtime.NumGoroutine()
	conns := make([]*testutil.RawConn, n)
	for i := range conns {
		conns[i] = testutil.RawDial(t, addr, "/", http.Header{})
	}
	testutil.Eventually(t, 5*time.Second, func() error {
		if g.Open() != n {
			return fmt.Errorf("%d open", g.Open())
		}
		return nil
	})
	settled := func() error {
		d := runtime.NumGoroutine() - before
		if runtime.GOOS != "linux" && d < n {
			return fmt.Errorf("%d goroutines more than before %d idle connections, want one each without the poller", d, n)
		}
		if runtime.GOOS == "linux" && d > n/10 {
			return fmt.Errorf("%d goroutines more than before %d idle connections", d, n)
		}
		return nil
	}
	testutil.Eventually(t, 5*time.Second, settled)
	for round := range 3 {
		for i, c := range conns {
			msg := fmt.Sprintf(`{"conn":%d,"round":%d}`, i, round)
			c.Send(testutil.Text(msg))
			if f, ok := c.Next(5 * time.Second); !ok || string(f.Payload) != msg {
				t.Fatalf("round %d, connection %d: %q %v, want the echo %q", round, i, f.Payload, ok, msg)
			}
		}
		testutil.Eventually(t, 5*time.Second, settled)
	}
}

// Frames the client sends in the same segment as its handshake (read ahead by the HTTP
// server), and several frames in one write, are all read: none waits for more bytes.
func TestFramesSentWithTheHandshake(t *testing.T) {
	_, addr := echoGateway(t)
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	req := "GET / HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
	first := append(append([]byte(req), testutil.Text(`"one"`)...), testutil.Text(`"two"`)...)
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := conn.Write(first); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("handshake: %v %v", resp, err)
	}
	if got := resp.Header.Get("Sec-WebSocket-Accept"); got != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
		t.Errorf("Sec-WebSocket-Accept %q, want RFC 6455's example answer", got)
	}
	next := func() string {
		t.Helper()
		var h [2]byte
		if _, err := io.ReadFull(br, h[:]); err != nil {
			t.Fatalf("reading a frame: %v", err)
		}
		p := make([]byte, h[1]&0x7f)
		if _, err := io.ReadFull(br, p); err != nil {
			t.Fatalf("reading a frame: %v", err)
		}
		return string(p)
	}
	got := map[string]bool{next(): true, next(): true}
	if !got[`"one"`] || !got[`"two"`] {
		t.Errorf("echoes %v, want both messages sent with the handshake", got)
	}
	if _, err := conn.Write(append(testutil.Text(`"three"`), testutil.Text(`"four"`)...)); err != nil {
		t.Fatal(err)
	}
	got = map[string]bool{next(): true, next(): true}
	if !got[`"three"`] || !got[`"four"`] {
		t.Errorf("echoes %v, want both messages of one write", got)
	}
}
