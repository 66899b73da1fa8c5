package natscluster_test

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/wsgate/wsgate/internal/cluster"
	"github.com/wsgate/wsgate/internal/cluster/natscluster"
)

// Two embedded servers clustered with routes: registries connected to different
// servers reach each other's connections, both ways.
func TestEmbeddedRoutes(t *testing.T) {
	s1 := startServer(t, natscluster.EmbeddedOptions{ClusterName: "test", ClusterListen: "127.0.0.1:0"})
	route := fmt.Sprintf("nats-route://%s", s1.ClusterAddr())
	s2 := startServer(t, natscluster.EmbeddedOptions{ClusterName: "test", ClusterListen: "127.0.0.1:0", Routes: []string{route}})
	took := eventually(t, 10*time.Second, func() error {
		if s1.NumRoutes() == 0 || s2.NumRoutes() == 0 {
			return fmt.Errorf("routes: %d and %d", s1.NumRoutes(), s2.NumRoutes())
		}
		return nil
	})
	t.Logf("routed after %v", took)

	n1 := newNode(t, s1.ClientURL(), 1, natscluster.NATSOptions{})
	nc2 := connect(t, s2.ClientURL())
	n2, err := natscluster.NewNATS(natscluster.NATSOptions{Conn: nc2, NodeID: 2, NodeOf: nodeOf, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n2.Close() })
	c1, r1 := recordingConn(1)
	n1.Add(c1)
	c2, r2 := recordingConn(2)
	n2.Add(c2)
	// A subscription reaches the other server asynchronously: until it does, the
	// other side sees no responders (gone).
	took = eventually(t, 10*time.Second, func() error {
		if err := n1.Post(t.Context(), c2.ID(), []byte("to 2")); err != nil {
			return err
		}
		return n2.Post(t.Context(), c1.ID(), []byte("to 1"))
	})
	t.Logf("delivered across servers after %v", took)
	if got := r2.Sent(); len(got) == 0 || got[len(got)-1] != "to 2" {
		t.Errorf("node 2 got %q", got)
	}
	if got := r1.Sent(); len(got) == 0 || got[len(got)-1] != "to 1" {
		t.Errorf("node 1 got %q", got)
	}
	info, err := n1.Get(t.Context(), c2.ID())
	if err != nil || info.UserAgent != "node 2" {
		t.Errorf("Get across servers: %+v, %v", info, err)
	}
	// A duplicate node id is seen across servers too.
	nc := connect(t, s1.ClientURL())
	if n, err := natscluster.NewNATS(natscluster.NATSOptions{Conn: nc, NodeID: 2, NodeOf: nodeOf}); err == nil {
		_ = n.Close()
		t.Error("NewNATS with node 2's id on the other server: no error")
	}

	// Node 2's embedded server dies but node 2 lives: its NATS connection moves to s1
	// (nats.go learned s1's address from the cluster) and node 2 stays reachable.
	stopServer(s2)
	took = eventually(t, 10*time.Second, func() error {
		if !nc2.IsConnected() || nc2.ConnectedUrl() == s2.ClientURL() {
			return fmt.Errorf("node 2 on %q, connected %v", nc2.ConnectedUrl(), nc2.IsConnected())
		}
		return n1.Post(t.Context(), c2.ID(), []byte("to 2 via s1"))
	})
	t.Logf("node 2 reachable through s1 %v after s2 stopped", took)

	// Node 2 dies: its connections are gone for node 1, within the timeout (a request
	// that reaches the server before it notices the dead client waits for it), then at
	// once (no responders). Node 1's own connections still work.
	nc2.Close()
	start := time.Now()
	if err := n1.Post(t.Context(), c2.ID(), []byte("to 2")); !errors.Is(err, cluster.ErrGone) {
		t.Errorf("Post to dead node 2: %v, want ErrGone", err)
	}
	if d := time.Since(start); d > 2*time.Second+500*time.Millisecond {
		t.Errorf("Post to dead node 2 took %v, want at most the 2s timeout", d)
	}
	start = time.Now()
	if err := n1.Post(t.Context(), c2.ID(), []byte("to 2")); !errors.Is(err, cluster.ErrGone) {
		t.Errorf("second Post to dead node 2: %v, want ErrGone", err)
	}
	if d := time.Since(start); d > 200*time.Millisecond {
		t.Errorf("second Post to dead node 2 took %v, want no responders at once", d)
	}
	if err := n1.Post(t.Context(), c1.ID(), []byte("local")); err != nil {
		t.Errorf("local Post on node 1: %v", err)
	}
	if err := n2.Close(); err != nil {
		t.Errorf("Close after its NATS connection closed: %v", err)
	}
}

func TestStartEmbeddedErrors(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()

	tests := []struct {
		name    string
		o       natscluster.EmbeddedOptions
		wantErr string
	}{
		{name: "client port in use", o: natscluster.EmbeddedOptions{Listen: busy.Addr().String()}, wantErr: "did not start"},
		{name: "route port in use", o: natscluster.EmbeddedOptions{Listen: "127.0.0.1:0", ClusterListen: busy.Addr().String()}, wantErr: "did not start"},
		{name: "bad listen", o: natscluster.EmbeddedOptions{Listen: "localhost"}, wantErr: "Listen"},
		{name: "bad port", o: natscluster.EmbeddedOptions{Listen: "127.0.0.1:http"}, wantErr: "bad port"},
		{name: "routes without cluster listen", o: natscluster.EmbeddedOptions{Listen: "127.0.0.1:0", Routes: []string{"nats-route://127.0.0.1:6222"}}, wantErr: "need ClusterListen"},
		{name: "bad route", o: natscluster.EmbeddedOptions{Listen: "127.0.0.1:0", ClusterListen: "127.0.0.1:0", Routes: []string{"127.0.0.1:6222"}}, wantErr: "not nats-route://"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.o.Logger = testLogger(t)
			s, err := natscluster.StartEmbedded(tt.o)
			if err == nil {
				stopServer(s)
				t.Fatalf("StartEmbedded: no error, want one saying %q", tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("StartEmbedded: %v, want an error saying %q", err, tt.wantErr)
			}
		})
	}
}
