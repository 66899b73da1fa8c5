package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/wsgate/wsgate/internal/cluster"
)

// countingConn is a cluster.Conn that counts what it is sent, and fails when told to.
type countingConn struct {
	id   string
	sent atomic.Int32
	err  error
}

func (c *countingConn) ID() string { return c.id }
func (c *countingConn) Send([]byte) error {
	c.sent.Add(1)
	return c.err
}
func (c *countingConn) Info() cluster.Info { return cluster.Info{} }
func (c *countingConn) Close()             {}

// A batch large enough to be spread over several goroutines still sends to each
// connection once and reports each outcome at its own index.
func TestLocalPostManyOutcomes(t *testing.T) {
	for _, n := range []int{1, 255, 256, 257, 5000} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			l := cluster.NewLocal(0)
			conns := make([]*countingConn, n)
			ids := make([]string, n)
			for i := range n {
				conns[i] = &countingConn{id: fmt.Sprintf("c%05d", i)}
				ids[i] = conns[i].id
				switch {
				case i%7 == 3:
					ids[i] = "gone" + ids[i] // never registered
				case i%11 == 5:
					conns[i].err = cluster.ErrLimitExceeded
				}
				l.Add(conns[i])
			}
			errs := l.PostMany(context.Background(), ids, []byte("hi"))
			anyFailed := false
			for i := range n {
				var want error
				switch {
				case i%7 == 3:
					want = cluster.ErrGone
				case i%11 == 5:
					want = cluster.ErrLimitExceeded
				}
				anyFailed = anyFailed || want != nil
				var got error
				if errs != nil {
					got = errs[i]
				}
				if !errors.Is(got, want) || (want == nil) != (got == nil) {
					t.Fatalf("id %d: %v, want %v", i, got, want)
				}
				wantSent := int32(1)
				if i%7 == 3 {
					wantSent = 0
				}
				if s := conns[i].sent.Load(); s != wantSent {
					t.Fatalf("connection %d was sent %d times, want %d", i, s, wantSent)
				}
			}
			if !anyFailed && errs != nil {
				t.Errorf("nothing failed but PostMany returned %d errors", len(errs))
			}
			if anyFailed && len(errs) != n {
				t.Errorf("PostMany returned %d errors for %d ids", len(errs), n)
			}
		})
	}
}

func TestLocalPostManyAllDelivered(t *testing.T) {
	l := cluster.NewLocal(0)
	ids := make([]string, 3000)
	for i := range ids {
		c := &countingConn{id: fmt.Sprint(i)}
		l.Add(c)
		ids[i] = c.id
	}
	if errs := l.PostMany(context.Background(), ids, []byte("x")); errs != nil {
		t.Errorf("all delivered, yet PostMany returned %d errors", len(errs))
	}
}
