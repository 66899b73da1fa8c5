package natscluster_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/wsgate/wsgate/internal/cluster"
	"github.com/wsgate/wsgate/internal/cluster/natscluster"
)

// TestPostMany posts one payload to connections on three nodes, some gone, one full,
// and checks each id's result and that every live connection got the payload once.
func TestPostMany(t *testing.T) {
	// A small max_payload on the NATS server forces node 1 to split node 2's share.
	s := startServer(t, natscluster.EmbeddedOptions{MaxPayload: 8 << 10})
	url := s.ClientURL()
	nodes := map[byte]*natscluster.NATS{}
	for id := byte(1); id <= 3; id++ {
		nodes[id] = newNode(t, url, id, natscluster.NATSOptions{MaxPayload: 1024})
	}
	var ids []string
	want := map[int]error{}
	recs := map[int]*record{}
	for i := range 900 {
		owner := byte(1 + i%3)
		switch {
		case i%50 == 7: // never registered
			ids = append(ids, connID(owner))
			want[i] = cluster.ErrGone
		case i == 10: // on a node that does not exist
			ids = append(ids, connID(9))
			want[i] = cluster.ErrGone
		case i == 11: // not a connection id at all
			ids = append(ids, "not-an-id")
			want[i] = cluster.ErrGone
		default:
			c, rec := recordingConn(owner)
			if i%100 == 4 {
				rec.failSends(cluster.ErrLimitExceeded)
				want[i] = cluster.ErrLimitExceeded
			}
			nodes[owner].Add(c)
			ids = append(ids, c.ID())
			recs[i] = rec
		}
	}
	errs := nodes[1].PostMany(t.Context(), ids, []byte("broadcast"))
	if len(errs) != len(ids) {
		t.Fatalf("%d results for %d ids", len(errs), len(ids))
	}
	for i, err := range errs {
		if w := want[i]; !errors.Is(err, w) || (w == nil) != (err == nil) {
			t.Errorf("id %d (%s): got %v, want %v", i, ids[i], err, w)
		}
		if rec := recs[i]; rec != nil && want[i] == nil {
			if got := rec.Sent(); len(got) != 1 || got[0] != "broadcast" {
				t.Errorf("id %d was sent %q", i, got)
			}
		}
	}
	// All delivered: nil. Too large: every id fails, nothing is sent.
	c, rec := recordingConn(2)
	nodes[2].Add(c)
	if errs := nodes[3].PostMany(t.Context(), []string{c.ID()}, []byte("x")); errs != nil {
		t.Errorf("one live id: %v", errs)
	}
	errs = nodes[3].PostMany(t.Context(), []string{c.ID(), c.ID()}, make([]byte, 2000))
	for i, err := range errs {
		if !errors.Is(err, cluster.ErrPayloadTooLarge) {
			t.Errorf("too large %d: %v", i, err)
		}
	}
	if len(errs) != 2 || len(rec.Sent()) != 1 {
		t.Errorf("too large: %d results, %d sends", len(errs), len(rec.Sent()))
	}
}

// TestPostManyOwnerGone fails every id of a node that stopped answering with ErrGone,
// and delivers the others.
func TestPostManyOwnerGone(t *testing.T) {
	c := startThreeNodes(t, natscluster.NATSOptions{})
	if err := c.nodes[3].Close(); err != nil {
		t.Fatal(err)
	}
	ids := []string{c.conns[1].ID(), c.conns[2].ID(), c.conns[3].ID()}
	errs := c.nodes[1].PostMany(t.Context(), ids, []byte("hi"))
	for i, want := range []error{nil, nil, cluster.ErrGone} {
		if got := errs[i]; (want == nil) != (got == nil) || !errors.Is(got, want) {
			t.Errorf("node %d: got %v, want %v", i+1, got, want)
		}
	}
	for n := byte(1); n <= 2; n++ {
		if got := c.recs[n].Sent(); fmt.Sprint(got) != "[hi]" {
			t.Errorf("node %d's connection got %q", n, got)
		}
	}
}
