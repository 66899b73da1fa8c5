package gateway

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/wsgate/wsgate/internal/config"
	"github.com/wsgate/wsgate/internal/integration"
	"github.com/wsgate/wsgate/internal/testutil"
)

// FuzzConnection writes arbitrary bytes on a live connection after a valid handshake,
// seeded with real and malformed frames. Whatever arrives, the gateway recovers no panic
// (a recovered one is still a bug), ends the connection once the client has, and runs
// its $disconnect.
func FuzzConnection(f *testing.F) {
	for _, seed := range [][]byte{
		testutil.Text(`{"action":"echo","x":1}`),
		append(testutil.Frame(0x01, []byte(`{"act`)), testutil.Frame(0x80, []byte(`ion":"a"}`))...),
		testutil.Frame(0x89, []byte("ping")),
		testutil.Frame(0x88, []byte{0x03, 0xE8, 'b', 'y', 'e'}),
		testutil.Frame(0x88, []byte{0x03}),
		testutil.FrameWithLength(0x81, 1<<63, nil),
		testutil.FrameWithLength(0x81, 70000, nil),
		testutil.Frame(0xC1, []byte("rsv")),
		testutil.Frame(0x82, []byte{0, 1, 2}),
		testutil.Frame(0x81, []byte{0xff, 0xfe}),
		{0x81, 0x05, 'h', 'e', 'l', 'l', 'o'},
		append(testutil.Frame(0x01, []byte("a")), testutil.Frame(0x81, []byte("b"))...),
	} {
		f.Add(seed)
	}
	cfg, err := config.Parse([]byte("Routes: {$default: {}}\n"))
	if err != nil {
		f.Fatal(err)
	}
	sel, _ := integration.CompileSelection(cfg.API.RouteSelectionExpression)
	// Inputs run one after the other in a fuzzing process, and each waits for its own
	// $disconnect: one at a time.
	disconnected := make(chan struct{}, 1)
	g, err := New(Options{
		Config:    cfg,
		Selection: sel,
		Routes: map[string]*Route{
			config.RouteDefault: {Key: config.RouteDefault, TwoWay: true, Integration: integrationFunc(func(_ context.Context, r *integration.Request) (*integration.Response, error) {
				return &integration.Response{StatusCode: 200, Body: r.Body}, nil
			})},
			config.RouteDisconnect: {Key: config.RouteDisconnect, Integration: integrationFunc(func(context.Context, *integration.Request) (*integration.Response, error) {
				disconnected <- struct{}{}
				return &integration.Response{StatusCode: 200}, nil
			})},
		},
	})
	if err != nil {
		f.Fatal(err)
	}
	srv := httptest.NewServer(g)
	f.Cleanup(func() {
		srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = g.Shutdown(ctx)
	})
	addr := strings.TrimPrefix(srv.URL, "http://")
	f.Fuzz(func(t *testing.T, data []byte) {
		c := testutil.RawDial(t, addr, "/", http.Header{})
		c.Send(data)
		c.CloseWrite()
		// The gateway's answers, then its end of the connection.
		if err := c.Drain(5 * time.Second); err != nil {
			t.Fatalf("the gateway kept the connection open after the client's end: %v", err)
		}
		c.Close()
		select {
		case <-disconnected:
		case <-time.After(5 * time.Second):
			t.Fatal("no $disconnect within 5s of the client going away")
		}
		var m dto.Metric
		_ = g.metrics.panics.Write(&m)
		if n := m.GetCounter().GetValue(); n != 0 {
			t.Fatalf("%v panics recovered", n)
		}
	})
}
