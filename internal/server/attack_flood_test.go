package server

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wsgate/wsgate/internal/testutil"
)

// floodResult is what a client saw after sending n echo messages at once.
type floodResult struct{ echoed, throttled int }

// withStage adds settings to chatConfig's Stage.
func withStage(cfg, settings string) string {
	return strings.Replace(cfg, "Stage: {StageName: dev, ", "Stage: {"+settings+", StageName: dev, ", 1)
}

// flood sends n echo messages on c without waiting and reads the n answers.
func flood(t *testing.T, c *testutil.RawConn, n int) floodResult {
	t.Helper()
	var batch []byte
	for i := range n {
		batch = append(batch, testutil.Text(fmt.Sprintf(`{"action":"echo","i":%d}`, i))...)
	}
	c.Send(batch)
	var r floodResult
	for range n {
		f, ok := c.Next(5 * time.Second)
		if !ok {
			t.Fatalf("connection closed after %+v", r)
		}
		switch {
		case bytes.Contains(f.Payload, []byte(`"message":"Too Many Requests"`)) && bytes.Contains(f.Payload, []byte(`"requestId"`)):
			r.throttled++
		case bytes.Contains(f.Payload, []byte(`"action":"echo"`)):
			r.echoed++
		default:
			t.Fatalf("unexpected frame %q", f.Payload)
		}
	}
	return r
}

// A message flood is throttled with AWS's names: the stage's route throttling is one
// bucket for all clients of a route; a throttled message is answered "Too Many Requests",
// is not routed, and the connection stays open.
func TestRouteThrottling(t *testing.T) {
	be := echoBackend(t)
	cfg := withStage(chatConfig(be.URL, ""), "RouteSettings: {echo: {ThrottlingRateLimit: 0.001, ThrottlingBurstLimit: 3}}")
	r := startGateway(t, cfg, Deps{})
	alice := loginAs(t, "alice", time.Now().Add(time.Hour))
	c1 := rawDial(t, r.WebSocket, alice)
	if got := flood(t, c1, 10); got != (floodResult{echoed: 3, throttled: 7}) {
		t.Errorf("first client: %+v, want 3 echoed and 7 throttled", got)
	}
	// The bucket is the route's: a second client finds it empty too.
	c2 := rawDial(t, r.WebSocket, alice)
	if got := flood(t, c2, 2); got != (floodResult{throttled: 2}) {
		t.Errorf("second client: %+v, want 2 throttled", got)
	}
	if n := be.count("/echo"); n != 3 {
		t.Errorf("the backend got %d echo calls, want 3", n)
	}
	// Routes without settings are not throttled, and the connection is still open.
	c1.Send(testutil.Text(`{"action":"other"}`))
	be.next(t, "/default")
}

// Limits.MessageRate (a wsgate extension) throttles each connection on its own.
func TestConnectionMessageRate(t *testing.T) {
	be := echoBackend(t)
	r := startGateway(t, chatConfig(be.URL, "  Limits: {MessageRate: 0.001, MessageBurst: 4}"), Deps{})
	alice := loginAs(t, "alice", time.Now().Add(time.Hour))
	for i := range 2 {
		c := rawDial(t, r.WebSocket, alice)
		if got := flood(t, c, 10); got != (floodResult{echoed: 4, throttled: 6}) {
			t.Errorf("client %d: %+v, want 4 echoed and 6 throttled", i, got)
		}
	}
	if !bytes.Contains([]byte(r.logs.String()), []byte(`"connect"`)) {
		t.Error("no connect logged")
	}
}

// $connect's route throttling refuses handshakes with 429.
func TestConnectThrottling(t *testing.T) {
	be := echoBackend(t)
	cfg := withStage(chatConfig(be.URL, ""), "DefaultRouteSettings: {ThrottlingRateLimit: 0.001, ThrottlingBurstLimit: 1}")
	r := startGateway(t, cfg, Deps{})
	alice := loginAs(t, "alice", time.Now().Add(time.Hour))
	mustDial(t, r, alice)
	if _, status, _ := dial(t, r, alice); status != http.StatusTooManyRequests {
		t.Errorf("second handshake: %d, want 429", status)
	}
	if n := be.count("/connect"); n != 1 {
		t.Errorf("the backend got %d $connect calls, want 1", n)
	}
}
