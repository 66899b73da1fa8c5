package natscluster_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go"

	"github.com/wsgate/wsgate/internal/cluster"
	"github.com/wsgate/wsgate/internal/cluster/natscluster"
)

// threeNodes is nodes 1, 2 and 3 on one NATS server, each owning one recording
// connection.
type threeNodes struct {
	url   string
	nodes map[byte]*natscluster.NATS
	conns map[byte]*fakeConn
	recs  map[byte]*record
}

func startThreeNodes(tb testing.TB, o natscluster.NATSOptions) *threeNodes {
	tb.Helper()
	s := startServer(tb, natscluster.EmbeddedOptions{})
	c := &threeNodes{url: s.ClientURL(), nodes: map[byte]*natscluster.NATS{}, conns: map[byte]*fakeConn{}, recs: map[byte]*record{}}
	for id := byte(1); id <= 3; id++ {
		c.nodes[id] = newNode(tb, c.url, id, o)
		c.conns[id], c.recs[id] = recordingConn(id)
		c.nodes[id].Add(c.conns[id])
	}
	return c
}

func TestCrossNode(t *testing.T) {
	c := startThreeNodes(t, natscluster.NATSOptions{Subject: "wsgate.api1.dev"})
	ctx := t.Context()
	for from := byte(1); from <= 3; from++ {
		for to := byte(1); to <= 3; to++ {
			t.Run(fmt.Sprintf("node %d to node %d", from, to), func(t *testing.T) {
				n, conn, rec := c.nodes[from], c.conns[to], c.recs[to]
				before := len(rec.Sent())
				msg := fmt.Sprintf("hello from %d", from)
				if err := n.Post(ctx, conn.ID(), []byte(msg)); err != nil {
					t.Fatalf("Post: %v", err)
				}
				if diff := cmp.Diff(msg, rec.Sent()[before]); diff != "" {
					t.Errorf("sent (-want +got):\n%s", diff)
				}
				info, err := n.Get(ctx, conn.ID())
				if err != nil {
					t.Fatalf("Get: %v", err)
				}
				if diff := cmp.Diff(rec.info, info); diff != "" {
					t.Errorf("Get (-want +got):\n%s", diff)
				}
			})
		}
	}
	// Binary data and an empty message go through unchanged.
	for _, data := range [][]byte{{0xff, 0x00, 0xfe}, {}} {
		before := len(c.recs[2].Sent())
		if err := c.nodes[1].Post(ctx, c.conns[2].ID(), data); err != nil {
			t.Fatalf("Post %x: %v", data, err)
		}
		if got := c.recs[2].Sent()[before]; got != string(data) {
			t.Errorf("Post %x delivered %x", data, got)
		}
	}
	// Delete last: node 1 closes node 3's connection.
	if err := c.nodes[1].Delete(ctx, c.conns[3].ID()); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if got := c.recs[3].Closed(); got != 1 {
		t.Errorf("node 3's connection closed %d times, want 1", got)
	}
	if got := c.recs[2].Closed(); got != 0 {
		t.Errorf("node 2's connection closed %d times, want 0", got)
	}
}

func TestErrors(t *testing.T) {
	// Node 1 accepts larger posts than the owners, so the owner's limit is what
	// answers.
	s := startServer(t, natscluster.EmbeddedOptions{})
	n1 := newNode(t, s.ClientURL(), 1, natscluster.NATSOptions{MaxPayload: 1000})
	n2 := newNode(t, s.ClientURL(), 2, natscluster.NATSOptions{MaxPayload: 100})
	conn, rec := recordingConn(2)
	n2.Add(conn)
	closedConn, _ := recordingConn(2)
	n2.Add(closedConn)
	n2.Remove(closedConn.ID())
	oops := errors.New("oops")

	tests := []struct {
		name     string
		id       string
		data     string
		sendErr  error
		want     error
		wantText string // in the error, when set
	}{
		{name: "delivered", id: conn.ID(), data: "hi"},
		{name: "never registered", id: connID(2), data: "hi", want: cluster.ErrGone},
		{name: "removed", id: closedConn.ID(), data: "hi", want: cluster.ErrGone},
		{name: "malformed id", id: "not-an-id", data: "hi", want: cluster.ErrGone},
		{name: "no such node", id: connID(9), data: "hi", want: cluster.ErrGone, wantText: "no subscriber"},
		{name: "send queue full on the owner", id: conn.ID(), data: "hi", sendErr: cluster.ErrLimitExceeded, want: cluster.ErrLimitExceeded},
		{name: "closing on the owner", id: conn.ID(), data: "hi", sendErr: cluster.ErrGone, want: cluster.ErrGone},
		{name: "other failure on the owner", id: conn.ID(), data: "hi", sendErr: oops, want: natscluster.ErrRemote, wantText: "oops"},
		{name: "too large for the owner", id: conn.ID(), data: strings.Repeat("x", 101), want: cluster.ErrPayloadTooLarge},
		{name: "too large for the caller", id: conn.ID(), data: strings.Repeat("x", 1001), want: cluster.ErrPayloadTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec.failSends(tt.sendErr)
			t.Cleanup(func() { rec.failSends(nil) })
			err := n1.Post(t.Context(), tt.id, []byte(tt.data))
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("Post: %v, want %v", err, tt.want)
			}
			if tt.wantText != "" && !strings.Contains(err.Error(), tt.wantText) {
				t.Errorf("Post: %q does not say %q", err, tt.wantText)
			}
		})
	}
	for _, id := range []string{connID(2), connID(9), "not-an-id"} {
		if _, err := n1.Get(t.Context(), id); !errors.Is(err, cluster.ErrGone) {
			t.Errorf("Get(%s): %v, want ErrGone", id, err)
		}
		if err := n1.Delete(t.Context(), id); !errors.Is(err, cluster.ErrGone) {
			t.Errorf("Delete(%s): %v, want ErrGone", id, err)
		}
	}
}

// A closed node's connections are gone for the others at once: NATS answers "no
// responders" instead of letting the request wait for the timeout.
func TestClosedNodeGoneFast(t *testing.T) {
	const timeout = 5 * time.Second
	c := startThreeNodes(t, natscluster.NATSOptions{Timeout: timeout})
	if err := c.nodes[3].Close(); err != nil {
		t.Fatal(err)
	}
	for _, from := range []byte{1, 2} {
		start := time.Now()
		err := c.nodes[from].Post(t.Context(), c.conns[3].ID(), []byte("hi"))
		took := time.Since(start)
		if !errors.Is(err, cluster.ErrGone) {
			t.Fatalf("Post from node %d: %v, want ErrGone", from, err)
		}
		if took > timeout/10 {
			t.Errorf("Post from node %d took %v, want well under the %v timeout", from, took, timeout)
		}
		t.Logf("node %d: gone after %v", from, took)
	}
	// Nothing else is affected.
	if err := c.nodes[1].Post(t.Context(), c.conns[2].ID(), []byte("still here")); err != nil {
		t.Errorf("Post to node 2: %v", err)
	}
	// The closed node still serves its own connections locally.
	if err := c.nodes[3].Post(t.Context(), c.conns[3].ID(), []byte("local")); err != nil {
		t.Errorf("local Post on the closed node: %v", err)
	}
	if err := c.nodes[3].Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// An owner that is subscribed but does not answer is gone after Timeout; the caller's
// own cancellation is reported as such, not as gone.
func TestOwnerDoesNotAnswer(t *testing.T) {
	s := startServer(t, natscluster.EmbeddedOptions{})
	const timeout = 200 * time.Millisecond
	n1 := newNode(t, s.ClientURL(), 1, natscluster.NATSOptions{Timeout: timeout})
	// Node 4 is stuck: subscribed, never replies.
	stuck := connect(t, s.ClientURL())
	sub, err := stuck.Subscribe("wsgate.node.4.*", func(*nats.Msg) {})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	if err := stuck.Flush(); err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	err = n1.Post(t.Context(), connID(4), []byte("hi"))
	took := time.Since(start)
	if !errors.Is(err, cluster.ErrGone) {
		t.Fatalf("Post: %v, want ErrGone", err)
	}
	if took < timeout || took > timeout+time.Second {
		t.Errorf("Post took %v, want about the %v timeout", took, timeout)
	}

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := n1.Post(ctx, connID(4), []byte("hi")); !errors.Is(err, context.Canceled) || errors.Is(err, cluster.ErrGone) {
		t.Errorf("Post with a cancelled context: %v, want context.Canceled", err)
	}
}

func TestNewNATS(t *testing.T) {
	s := startServer(t, natscluster.EmbeddedOptions{MaxPayload: 64 << 10})
	url := s.ClientURL()
	newNode(t, url, 1, natscluster.NATSOptions{Subject: "wsgate.a.dev", MaxPayload: 1000})

	tests := []struct {
		name    string
		o       natscluster.NATSOptions
		wantErr string
	}{
		{name: "duplicate node id", o: natscluster.NATSOptions{NodeID: 1, Subject: "wsgate.a.dev", MaxPayload: 1000}, wantErr: "node id 1 is already used"},
		{name: "same node id, another API", o: natscluster.NATSOptions{NodeID: 1, Subject: "wsgate.b.dev", MaxPayload: 1000}},
		{name: "wildcard subject", o: natscluster.NATSOptions{NodeID: 2, Subject: "wsgate.*", MaxPayload: 1000}, wantErr: "without wildcards"},
		{name: "empty token", o: natscluster.NATSOptions{NodeID: 2, Subject: "wsgate..dev", MaxPayload: 1000}, wantErr: "without wildcards"},
		{name: "MaxPayload above NATS max_payload", o: natscluster.NATSOptions{NodeID: 2}, wantErr: "raise max_payload"},
		{name: "no NodeOf", o: natscluster.NATSOptions{NodeID: 2, MaxPayload: 1000}, wantErr: "NodeOf is required"},
		{name: "no Conn", o: natscluster.NATSOptions{NodeID: 2, MaxPayload: 1000}, wantErr: "Conn is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := tt.o
			if tt.name != "no Conn" {
				o.Conn = connect(t, url)
			}
			if tt.name != "no NodeOf" {
				o.NodeOf = nodeOf
			}
			n, err := natscluster.NewNATS(o)
			if err == nil {
				t.Cleanup(func() { _ = n.Close() })
			}
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("NewNATS: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("NewNATS: %v, want an error saying %q", err, tt.wantErr)
			}
		})
	}
}

// Two APIs share a NATS: each API's nodes only reach their own API's connections.
func TestSubjectsIsolateAPIs(t *testing.T) {
	s := startServer(t, natscluster.EmbeddedOptions{})
	a1 := newNode(t, s.ClientURL(), 1, natscluster.NATSOptions{Subject: "wsgate.a.dev"})
	a2 := newNode(t, s.ClientURL(), 2, natscluster.NATSOptions{Subject: "wsgate.a.dev"})
	b1 := newNode(t, s.ClientURL(), 1, natscluster.NATSOptions{Subject: "wsgate.b.dev"})
	conn, rec := recordingConn(2)
	a2.Add(conn)
	if err := a1.Post(t.Context(), conn.ID(), []byte("a")); err != nil {
		t.Fatalf("API a: %v", err)
	}
	if err := b1.Post(t.Context(), conn.ID(), []byte("b")); !errors.Is(err, cluster.ErrGone) {
		t.Fatalf("API b: %v, want ErrGone", err)
	}
	if diff := cmp.Diff([]string{"a"}, rec.Sent()); diff != "" {
		t.Errorf("sent (-want +got):\n%s", diff)
	}
}

// Restarting NATS: while it is down, operations on other nodes' connections fail
// (ErrUnavailable, not gone) and local ones keep working; once it is back the nodes
// reconnect on their own and cross-node delivery recovers.
func TestNATSRestart(t *testing.T) {
	s := startServer(t, natscluster.EmbeddedOptions{})
	port := serverPort(t, s)
	url := s.ClientURL()
	nodes := map[byte]*natscluster.NATS{}
	conns := map[byte]*fakeConn{}
	recs := map[byte]*record{}
	ncs := map[byte]*nats.Conn{}
	for id := byte(1); id <= 3; id++ {
		ncs[id] = connect(t, url)
		n, err := natscluster.NewNATS(natscluster.NATSOptions{Conn: ncs[id], NodeID: id, NodeOf: nodeOf, Timeout: 500 * time.Millisecond, Logger: testLogger(t)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = n.Close() })
		nodes[id] = n
		conns[id], recs[id] = recordingConn(id)
		n.Add(conns[id])
	}
	ctx := t.Context()

	stopServer(s)
	eventually(t, 5*time.Second, func() error {
		for id, nc := range ncs {
			if nc.IsConnected() {
				return fmt.Errorf("node %d still connected", id)
			}
		}
		return nil
	})
	start := time.Now()
	err := nodes[1].Post(ctx, conns[2].ID(), []byte("during outage"))
	if !errors.Is(err, natscluster.ErrUnavailable) {
		t.Errorf("cross-node Post during the outage: %v, want ErrUnavailable", err)
	}
	if took := time.Since(start); took > 100*time.Millisecond {
		t.Errorf("cross-node Post during the outage took %v, want an immediate failure", took)
	}
	if err := nodes[2].Post(ctx, conns[2].ID(), []byte("local")); err != nil {
		t.Errorf("local Post during the outage: %v", err)
	}

	startServer(t, natscluster.EmbeddedOptions{Listen: fmt.Sprintf("127.0.0.1:%d", port)})
	took := eventually(t, 10*time.Second, func() error {
		for from := byte(1); from <= 3; from++ {
			for to := byte(1); to <= 3; to++ {
				if err := nodes[from].Post(ctx, conns[to].ID(), []byte("after")); err != nil {
					return fmt.Errorf("node %d to node %d: %w", from, to, err)
				}
			}
		}
		return nil
	})
	t.Logf("cross-node delivery recovered %v after the restart", took)
	for id, rec := range recs {
		for _, m := range rec.Sent() {
			if m == "during outage" {
				t.Errorf("node %d got the message posted during the outage", id)
			}
		}
	}
}

// Concurrent cross-node posts from every node arrive, each exactly once (run with
// -race).
func TestConcurrentPosts(t *testing.T) {
	c := startThreeNodes(t, natscluster.NATSOptions{})
	const perPair = 200
	var wg sync.WaitGroup
	errs := make(chan error, 9*perPair)
	for from := byte(1); from <= 3; from++ {
		for to := byte(1); to <= 3; to++ {
			wg.Go(func() {
				for i := range perPair {
					if err := c.nodes[from].Post(t.Context(), c.conns[to].ID(), fmt.Appendf(nil, "%d-%d", from, i)); err != nil {
						errs <- err
					}
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for id, rec := range c.recs {
		if got := len(rec.Sent()); got != 3*perPair {
			t.Errorf("node %d's connection got %d messages, want %d", id, got, 3*perPair)
		}
	}
}

// A request that takes long on the owner (a Post to a connection still mid-upgrade
// waits for it) does not hold up the owner's other requests: they are answered while it
// is still waiting.
func TestSlowRequestDoesNotStallOthers(t *testing.T) {
	c := startThreeNodes(t, natscluster.NATSOptions{Timeout: 5 * time.Second})
	release := make(chan struct{})
	entered := make(chan struct{})
	slow := &fakeConn{id: connID(2), send: func([]byte) error {
		close(entered)
		<-release
		return nil
	}, info: func() cluster.Info { return cluster.Info{} }, close: func() {}}
	c.nodes[2].Add(slow)
	slowDone := make(chan error, 1)
	go func() { slowDone <- c.nodes[1].Post(context.Background(), slow.ID(), []byte("stuck")) }()
	<-entered // node 2 is answering the slow request
	if err := c.nodes[1].Post(t.Context(), c.conns[2].ID(), []byte("meanwhile")); err != nil {
		t.Fatalf("a post while another request of node 2 waits: %v", err)
	}
	if got := c.recs[2].Sent(); len(got) != 1 || got[0] != "meanwhile" {
		t.Errorf("node 2's other connection got %q", got)
	}
	select {
	case err := <-slowDone:
		t.Fatalf("the slow post returned before its connection did: %v", err)
	default:
	}
	close(release)
	if err := <-slowDone; err != nil {
		t.Errorf("the slow post: %v", err)
	}
}
