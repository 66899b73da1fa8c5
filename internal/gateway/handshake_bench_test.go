package gateway

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/wsgate/wsgate/internal/config"
	"github.com/wsgate/wsgate/internal/integration"
)

// BenchmarkAuthorizerEvent is the cost of the $connect authorizer's event (its header
// maps, query maps, X-Forwarded-* and request context) for a browser's handshake, which
// every authenticated connection pays whatever its authorizer reads.
//
//	go test -run '^$' -bench AuthorizerEvent -benchmem ./internal/gateway
func BenchmarkAuthorizerEvent(b *testing.B) {
	cfg, err := config.Parse([]byte("Routes: {$default: {}}\n"))
	if err != nil {
		b.Fatal(err)
	}
	sel, _ := integration.CompileSelection(cfg.API.RouteSelectionExpression)
	g, err := New(Options{Config: cfg, Selection: sel, Routes: map[string]*Route{}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = g.Shutdown(context.Background()) }) // its sweeper
	r := httptest.NewRequest(http.MethodGet, "/?csrf=0123456789abcdef0123456789abcdef", nil)
	for k, v := range map[string]string{
		"Host":                     "ws.example.com",
		"Upgrade":                  "websocket",
		"Connection":               "Upgrade",
		"Sec-WebSocket-Version":    "13",
		"Sec-WebSocket-Key":        "dGhlIHNhbXBsZSBub25jZQ==",
		"Sec-WebSocket-Extensions": "permessage-deflate; client_max_window_bits",
		"Origin":                   "https://app.example.com",
		"User-Agent":               "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
		"Cookie":                   "JWT=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl; CSRF-TOKEN=0123456789abcdef0123456789abcdef",
		"Accept-Language":          "en-GB,en;q=0.9",
		"Pragma":                   "no-cache",
		"Cache-Control":            "no-cache",
	} {
		r.Header.Set(k, v)
	}
	r.RemoteAddr = "203.0.113.7:52100"
	r = r.WithContext(context.WithValue(r.Context(), http.LocalAddrContextKey, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8080}))
	c := g.newConn(r, time.Now())
	b.Run("event", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = g.authorizerEvent(r, c, true)
		}
	})
	// The cookie authorizer reads the event as a cookieauth.Request.
	b.Run("event+request", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = g.authorizerEvent(r, c, true).Request()
		}
	})
}
