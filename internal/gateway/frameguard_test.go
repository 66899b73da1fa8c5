package gateway

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/wsgate/wsgate/internal/accesslog"
	"github.com/wsgate/wsgate/internal/config"
	"github.com/wsgate/wsgate/internal/integration"
	"github.com/wsgate/wsgate/internal/testutil"
)

// A panic in a connection's reader closes that connection with 1011, runs its
// $disconnect and is counted; the process and the other connections go on. The case is
// a panic the test hook makes the reader raise on one frame's payload.
func TestPanicInReaderIsRecovered(t *testing.T) {
	cfg, err := config.Parse([]byte("Routes: {$default: {}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	sel, _ := integration.CompileSelection(cfg.API.RouteSelectionExpression)
	disconnects := make(chan *integration.Request, 2)
	g, err := New(Options{
		Config:    cfg,
		Selection: sel,
		Routes: map[string]*Route{
			config.RouteDisconnect: {Key: config.RouteDisconnect, Integration: integrationFunc(func(_ context.Context, r *integration.Request) (*integration.Response, error) {
				disconnects <- r
				return &integration.Response{StatusCode: 200}, nil
			})},
			config.RouteDefault: {Key: config.RouteDefault, TwoWay: true, Integration: integrationFunc(func(_ context.Context, r *integration.Request) (*integration.Response, error) {
				return &integration.Response{StatusCode: 200, Body: r.Body}, nil
			})},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	g.ws.panicOn = "reader bug"
	srv := httptest.NewServer(g)
	defer srv.Close()
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := g.Shutdown(ctx); err != nil {
			t.Error(err)
		}
	}()
	addr := strings.TrimPrefix(srv.URL, "http://")
	other := testutil.RawDial(t, addr, "/", http.Header{})
	c := testutil.RawDial(t, addr, "/", http.Header{})
	c.Send(testutil.Text("reader bug"))
	if code, _ := c.CloseCode(5 * time.Second); code != CloseInternalError {
		t.Errorf("close code %d, want 1011", code)
	}
	select {
	case d := <-disconnects:
		if d.DisconnectStatusCode != CloseInternalError {
			t.Errorf("$disconnect code %d, want 1011", d.DisconnectStatusCode)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no $disconnect within 5s")
	}
	var m dto.Metric
	_ = g.metrics.panics.Write(&m)
	if got := m.GetCounter().GetValue(); got != 1 {
		t.Errorf("wsgate_panics_total = %v, want 1", got)
	}
	other.Send(testutil.Text(`{"still":"here"}`))
	f, ok := other.Next(5 * time.Second)
	if !ok || !bytes.Contains(f.Payload, []byte(`"still":"here"`)) {
		t.Errorf("the other connection after the panic: %q %v", f.Payload, ok)
	}
}

// FuzzFrameScanner: any byte stream, cut anywhere, is scanned without a panic, and the
// scanner's verdict does not depend on how the stream was cut.
func FuzzFrameScanner(f *testing.F) {
	f.Add(testutil.Text(`{"action":"echo"}`), uint8(3))
	f.Add(testutil.FrameWithLength(0x81, 1<<63, nil), uint8(5))
	f.Add(append(testutil.Frame(0x01, []byte("ab")), testutil.Frame(0x80, []byte("cd"))...), uint8(1))
	f.Add(testutil.FrameWithLength(0x82, 70000, bytes.Repeat([]byte{1}, 70000)), uint8(200))
	f.Fuzz(func(t *testing.T, stream []byte, cut uint8) {
		var whole frameScanner
		okWhole, vWhole := whole.scan(stream)
		var parts frameScanner
		k := int(cut)%(len(stream)+1) + 1
		var vParts *frameViolation
		okParts := len(stream)
		for i := 0; i < len(stream) && vParts == nil; i += k {
			end := min(i+k, len(stream))
			var ok int
			ok, vParts = parts.scan(stream[i:end])
			if vParts != nil {
				okParts = i + ok
			}
		}
		if (vWhole == nil) != (vParts == nil) {
			t.Fatalf("verdict depends on the cut: whole %v, in parts of %d %v", vWhole, k, vParts)
		}
		if vWhole != nil && (*vWhole != *vParts || okWhole > okParts || okParts-okWhole >= 14) {
			t.Fatalf("violation differs: whole %v at %d, parts %v at %d", vWhole, okWhole, vParts, okParts)
		}
	})
}

// accessLogFunc is an AccessLogger made of a function (a fake: the gateway is tested).
type accessLogFunc func(*accesslog.Record)

func (f accessLogFunc) Log(r *accesslog.Record) { f(r) }

// A message its route's model rejects is logged with the 400 its client was answered.
func TestAccessLogOfARejectedBody(t *testing.T) {
	cfg, err := config.Parse([]byte("Routes: {$default: {}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	sel, _ := integration.CompileSelection(cfg.API.RouteSelectionExpression)
	schema, err := config.Model{ContentType: "application/json", Schema: `{"type":"object","required":["text"]}`}.CompileSchema()
	if err != nil {
		t.Fatal(err)
	}
	constant, _ := integration.CompileSelection(`\$default`)
	records := make(chan *accesslog.Record, 4)
	g, err := New(Options{
		Config:    cfg,
		Selection: sel,
		AccessLog: accessLogFunc(func(r *accesslog.Record) { records <- r }),
		Routes: map[string]*Route{config.RouteDefault: {Key: config.RouteDefault, Models: &Models{Selection: constant,
			Schemas: map[string]Model{config.RouteDefault: {Name: "M", Schema: schema}}},
			Integration: integrationFunc(func(context.Context, *integration.Request) (*integration.Response, error) {
				return &integration.Response{StatusCode: 200}, nil
			})}},
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(g)
	defer srv.Close()
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = g.Shutdown(ctx)
	}()
	c := testutil.RawDial(t, strings.TrimPrefix(srv.URL, "http://"), "/", http.Header{})
	for (<-records).EventType != integration.EventConnect {
	}
	c.Send(testutil.Text(`{"no":"text"}`))
	if f, ok := c.Next(5 * time.Second); !ok || !bytes.Contains(f.Payload, []byte(`"Bad request body"`)) {
		t.Fatalf("frame %q %v", f.Payload, ok)
	}
	select {
	case r := <-records:
		if r.EventType != integration.EventMessage || r.Status != http.StatusBadRequest || r.Error != "Bad request body" {
			t.Errorf("record %+v, want a MESSAGE with 400 Bad request body", r)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no access log record for the message")
	}
}
