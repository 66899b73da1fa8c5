package natscluster_test

import (
	"encoding/base64"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"go.uber.org/goleak"

	"github.com/wsgate/wsgate/internal/cluster"
	"github.com/wsgate/wsgate/internal/cluster/natscluster"
	"github.com/wsgate/wsgate/internal/testutil"
)

func TestMain(m *testing.M) {
	// No ignores: nats-server's and nats.go's goroutines end with Shutdown and Close,
	// which every test defers.
	goleak.VerifyTestMain(m)
}

// nodeOf is the NodeOf the tests' registries route with: the production one.
var nodeOf = cluster.NodeOf

var idSeq atomic.Uint32

// connID returns a fresh connection id owned by node, in cluster.NewConnectionID's
// format but with a sequence instead of random bytes, so that tests can tell ids apart.
func connID(node byte) string {
	var b [11]byte
	b[0] = node
	seq := idSeq.Add(1)
	b[1], b[2], b[3], b[4] = byte(seq>>24), byte(seq>>16), byte(seq>>8), byte(seq)
	return base64.URLEncoding.EncodeToString(b[:])
}

// fakeConn is a cluster.Conn whose behaviour is set by function fields.
type fakeConn struct {
	id    string
	send  func(data []byte) error
	info  func() cluster.Info
	close func()
}

var _ cluster.Conn = (*fakeConn)(nil)

func (c *fakeConn) ID() string             { return c.id }
func (c *fakeConn) Send(data []byte) error { return c.send(data) }
func (c *fakeConn) Info() cluster.Info     { return c.info() }
func (c *fakeConn) Close()                 { c.close() }

// record is what a recording fakeConn saw.
type record struct {
	info cluster.Info

	mu      sync.Mutex
	sent    []string
	closed  int
	sendErr error
}

// send records data, or fails with the error set by failSends.
func (r *record) send(data []byte) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.sendErr != nil {
		return r.sendErr
	}
	r.sent = append(r.sent, string(data))
	return nil
}

func (r *record) close() {
	r.mu.Lock()
	r.closed++
	r.mu.Unlock()
}

// failSends makes every later Send return err.
func (r *record) failSends(err error) {
	r.mu.Lock()
	r.sendErr = err
	r.mu.Unlock()
}

// Sent is what the connection was sent, in order.
func (r *record) Sent() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.sent...)
}

// Closed is how many times the connection was closed.
func (r *record) Closed() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.closed
}

// recordingConn returns a connection owned by node that records what it is sent and
// how often it is closed.
func recordingConn(node byte) (*fakeConn, *record) {
	id := connID(node)
	r := &record{info: cluster.Info{
		ConnectedAt:  time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC),
		LastActiveAt: time.Date(2026, 3, 1, 12, 0, 5, 250_000_000, time.UTC),
		SourceIP:     fmt.Sprintf("192.0.2.%d", node),
		UserAgent:    "node " + fmt.Sprint(node),
	}}
	return &fakeConn{id: id, send: r.send, info: func() cluster.Info { return r.info }, close: r.close}, r
}

// startServer starts an embedded NATS server on a free port (or the given listen
// address) and stops it when the test ends.
func startServer(tb testing.TB, o natscluster.EmbeddedOptions) *server.Server {
	tb.Helper()
	if o.Listen == "" {
		o.Listen = "127.0.0.1:0"
	}
	if o.Logger == nil {
		o.Logger = testLogger(tb)
	}
	s, err := natscluster.StartEmbedded(o)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { stopServer(s) })
	return s
}

// stopServer shuts s down and waits for it (idempotent).
func stopServer(s *server.Server) {
	s.Shutdown()
	s.WaitForShutdown()
}

// testLogger logs to the test's output at Warn and above (Info is the server's chatter).
func testLogger(tb testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(tb.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	return slog.New(slog.DiscardHandler)
}

// connect opens a NATS connection that reconnects forever and quickly, closed when the
// test ends.
func connect(tb testing.TB, url string) *nats.Conn {
	tb.Helper()
	nc, err := nats.Connect(url,
		nats.MaxReconnects(-1),
		nats.ReconnectWait(20*time.Millisecond),
		nats.ReconnectJitter(0, 0),
		nats.RetryOnFailedConnect(false),
	)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(nc.Close)
	return nc
}

// newNode returns the registry of node id on its own connection to url.
func newNode(tb testing.TB, url string, id byte, o natscluster.NATSOptions) *natscluster.NATS {
	tb.Helper()
	o.Conn = connect(tb, url)
	o.NodeID = id
	o.NodeOf = nodeOf
	if o.Logger == nil {
		o.Logger = testLogger(tb)
	}
	n, err := natscluster.NewNATS(o)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = n.Close() })
	return n
}

// serverPort is the client port s listens on.
func serverPort(tb testing.TB, s *server.Server) int {
	tb.Helper()
	a, ok := s.Addr().(*net.TCPAddr)
	if !ok {
		tb.Fatalf("server address %v is not TCP", s.Addr())
	}
	return a.Port
}

// eventually is testutil.Eventually.
var eventually = testutil.Eventually
