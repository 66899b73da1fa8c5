package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	dto "github.com/prometheus/client_model/go"

	"github.com/wsgate/wsgate/authevent"
	"github.com/wsgate/wsgate/internal/authorizer"
	"github.com/wsgate/wsgate/internal/config"
	"github.com/wsgate/wsgate/internal/integration"
	"github.com/wsgate/wsgate/internal/testutil"
)

// integrationFunc is an Integration made of a function (a fake: the gateway is what is tested).
type integrationFunc func(ctx context.Context, req *integration.Request) (*integration.Response, error)

func (f integrationFunc) Invoke(ctx context.Context, req *integration.Request) (*integration.Response, error) {
	return f(ctx, req)
}

// A bug that panics in a message handler must not take the gateway down: the panic is
// recovered, counted, and the connection goes on.
func TestPanicInMessageHandlerIsRecovered(t *testing.T) {
	cfg, err := config.Parse([]byte("Routes: {$default: {}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	sel, _ := integration.CompileSelection(cfg.API.RouteSelectionExpression)
	g, err := New(Options{
		Config:    cfg,
		Selection: sel,
		Routes: map[string]*Route{
			"boom": {Key: "boom", Integration: integrationFunc(func(context.Context, *integration.Request) (*integration.Response, error) {
				panic("a bug")
			})},
			config.RouteDefault: {Key: config.RouteDefault, TwoWay: true, Integration: integrationFunc(func(_ context.Context, r *integration.Request) (*integration.Response, error) {
				return &integration.Response{StatusCode: 200, Body: r.Body}, nil
			})},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(g)
	defer srv.Close()
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := g.Shutdown(ctx); err != nil && !errors.Is(err, context.Canceled) {
			t.Error(err)
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"/", &websocket.DialOptions{HTTPHeader: http.Header{}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	if err := c.Write(ctx, websocket.MessageText, []byte(`{"action":"boom"}`)); err != nil {
		t.Fatal(err)
	}
	if err := c.Write(ctx, websocket.MessageText, []byte(`{"action":"echo"}`)); err != nil {
		t.Fatal(err)
	}
	if _, b, err := c.Read(ctx); err != nil || string(b) != `{"action":"echo"}` {
		t.Fatalf("after a panic: %q %v", b, err)
	}
	// The two messages are handled concurrently: the panic may be counted after the echo.
	testutil.Eventually(t, 5*time.Second, func() error {
		var m dto.Metric
		_ = g.metrics.panics.Write(&m)
		if got := m.GetCounter().GetValue(); got != 1 {
			return fmt.Errorf("panics counted: %v, want 1", got)
		}
		return nil
	})
}

// authorizerFunc is an Authorizer made of a function (a fake: the gateway is what is tested).
type authorizerFunc func(ctx context.Context, ev *authevent.Event) authorizer.Result

func (f authorizerFunc) Authorize(ctx context.Context, ev *authevent.Event) authorizer.Result {
	return f(ctx, ev)
}

// A bug that panics in a handshake (here the authorizer) or in a $disconnect fails only
// that handshake (500) or that call, is counted, and leaves the gateway serving and
// able to shut down.
func TestPanicInHandshakeAndDisconnectIsRecovered(t *testing.T) {
	cfg, err := config.Parse([]byte("Routes: {$default: {}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	sel, _ := integration.CompileSelection(cfg.API.RouteSelectionExpression)
	var calls atomic.Int32
	g, err := New(Options{
		Config:    cfg,
		Selection: sel,
		Authorizer: authorizerFunc(func(context.Context, *authevent.Event) authorizer.Result {
			if calls.Add(1) == 1 {
				panic("a bug in the authorizer")
			}
			return authorizer.Result{Outcome: authorizer.Allow, PrincipalID: "alice"}
		}),
		Routes: map[string]*Route{
			config.RouteDisconnect: {Key: config.RouteDisconnect, Integration: integrationFunc(func(context.Context, *integration.Request) (*integration.Response, error) {
				panic("a bug in $disconnect")
			})},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(g)
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	url := "ws" + strings.TrimPrefix(srv.URL, "http") + "/"
	if _, resp, err := websocket.Dial(ctx, url, nil); err == nil || resp == nil || resp.StatusCode != http.StatusInternalServerError {
		t.Fatalf("handshake whose authorizer panics: %v %v, want 500", resp, err)
	}
	c, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		t.Fatalf("the next handshake: %v", err)
	}
	c.Close(websocket.StatusNormalClosure, "") // its $disconnect panics
	testutil.Eventually(t, 5*time.Second, func() error {
		var m dto.Metric
		_ = g.metrics.panics.Write(&m)
		if got := m.GetCounter().GetValue(); got != 2 {
			return fmt.Errorf("panics counted: %v, want 2", got)
		}
		return nil
	})
	sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer scancel()
	if err := g.Shutdown(sctx); err != nil {
		t.Errorf("shutdown after the panics: %v", err)
	}
}
