package natscluster_test

import (
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/wsgate/wsgate/internal/cluster"
	"github.com/wsgate/wsgate/internal/cluster/natscluster"
)

// discardConn is a connection whose Send accepts everything, so the benchmarks
// measure the registry and the transport only.
func discardConn(node byte) *fakeConn {
	return &fakeConn{
		id:    connID(node),
		send:  func([]byte) error { return nil },
		info:  func() cluster.Info { return cluster.Info{} },
		close: func() {},
	}
}

var benchPayload = []byte(`{"action":"message","data":"a typical push of about a hundred bytes, JSON as backends send it"}`)

// BenchmarkLocalPost is a Post to a connection on the same node: the baseline.
func BenchmarkLocalPost(b *testing.B) {
	l := cluster.NewLocal(0)
	c := discardConn(1)
	l.Add(c)
	runPosts(b, l, c.ID())
}

// BenchmarkCrossNodePost is a Post from node 1 to a connection on node 2 through an
// embedded NATS server over loopback TCP (tcp) or in process (inprocess): serial is one
// request at a time (latency), parallel is 16×GOMAXPROCS concurrent callers, as
// concurrent @connections requests are (throughput).
func BenchmarkCrossNodePost(b *testing.B) {
	b.Run("tcp", func(b *testing.B) {
		s := startServer(b, natscluster.EmbeddedOptions{})
		n1 := newNode(b, s.ClientURL(), 1, natscluster.NATSOptions{})
		n2 := newNode(b, s.ClientURL(), 2, natscluster.NATSOptions{})
		c := discardConn(2)
		n2.Add(c)
		runPosts(b, n1, c.ID())
	})
	b.Run("inprocess", func(b *testing.B) {
		s := startServer(b, natscluster.EmbeddedOptions{})
		node := func(id byte) *natscluster.NATS {
			nc, err := nats.Connect("", nats.InProcessServer(s))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(nc.Close)
			n, err := natscluster.NewNATS(natscluster.NATSOptions{Conn: nc, NodeID: id, NodeOf: nodeOf})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = n.Close() })
			return n
		}
		n1, n2 := node(1), node(2)
		c := discardConn(2)
		n2.Add(c)
		runPosts(b, n1, c.ID())
	})
}

func runPosts(b *testing.B, conns cluster.Connections, id string) {
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(benchPayload)))
		for b.Loop() {
			if err := conns.Post(b.Context(), id, benchPayload); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(benchPayload)))
		b.SetParallelism(16)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := conns.Post(b.Context(), id, benchPayload); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}
