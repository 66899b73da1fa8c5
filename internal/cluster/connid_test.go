package cluster_test

import (
	"strings"
	"testing"

	"github.com/wsgate/wsgate/internal/cluster"
)

// Ids from NewConnectionID carry their node; anything else is no id.
func TestConnectionIDCarriesItsNode(t *testing.T) {
	for _, node := range []byte{0, 1, 7, 255} {
		id := cluster.NewConnectionID(node)
		if len(id) != 16 || strings.ContainsAny(id, "/+") {
			t.Errorf("id %q: want 16 characters, URL-safe", id)
		}
		if got, ok := cluster.NodeOf(id); !ok || got != node {
			t.Errorf("NodeOf(%q) = %d %v, want %d", id, got, ok, node)
		}
	}
	for _, bad := range []string{"", "short", "AAAAAAAAAAAAAAAAAAAA", "!!!!!!!!!!!!!!!="} {
		if _, ok := cluster.NodeOf(bad); ok {
			t.Errorf("NodeOf(%q) accepted", bad)
		}
	}
}
