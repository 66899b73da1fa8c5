package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi/types"

	"github.com/wsgate/wsgate/internal/cluster"
	"github.com/wsgate/wsgate/internal/testutil"
)

// Two nodes in one process: node 1 embeds NATS, node 2 joins it by URL. A client on
// node 1 is reached through node 2's @connections API, and the reverse.
func TestTwoNodesShareConnections(t *testing.T) {
	be := echoBackend(t)
	base := chatConfig(be.URL, "")
	n1 := startGateway(t, base+"  NodeId: 1\n  Cluster: {Embedded: {Listen: 127.0.0.1:0}}\n", Deps{})
	if n1.NATS == "" {
		t.Fatal("node 1 reports no embedded NATS URL")
	}
	n2 := startGateway(t, base+fmt.Sprintf("  NodeId: 2\n  Cluster: {NatsUrl: %q}\n", n1.NATS), Deps{})

	c1 := mustDial(t, n1, loginAs(t, "alice", time.Now().Add(time.Hour)))
	id1 := be.next(t, "/connect").Header.Get("X-Connection-Id")
	c2 := mustDial(t, n2, loginAs(t, "bob", time.Now().Add(time.Hour)))
	id2 := be.next(t, "/connect").Header.Get("X-Connection-Id")
	if node, _ := cluster.NodeOf(id1); node != 1 {
		t.Errorf("id %q on node 1 encodes node %d", id1, node)
	}
	if node, _ := cluster.NodeOf(id2); node != 2 {
		t.Errorf("id %q on node 2 encodes node %d", id2, node)
	}

	ctx := context.Background()
	api1, api2 := mgmtClient(n1, ""), mgmtClient(n2, "")
	unsigned := func(o *apigatewaymanagementapi.Options) { o.Credentials = nil }
	if _, err := api2.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: &id1, Data: []byte("via node 2")}, unsigned); err != nil {
		t.Fatal(err)
	}
	if got := read(t, c1); got != "via node 2" {
		t.Errorf("node 1's client got %q", got)
	}
	if _, err := api1.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: &id2, Data: []byte("via node 1")}, unsigned); err != nil {
		t.Fatal(err)
	}
	if got := read(t, c2); got != "via node 1" {
		t.Errorf("node 2's client got %q", got)
	}
	out, err := api2.GetConnection(ctx, &apigatewaymanagementapi.GetConnectionInput{ConnectionId: &id1}, unsigned)
	if err != nil || out.Identity == nil || *out.Identity.SourceIp != "127.0.0.1" {
		t.Errorf("cross-node GET: %+v %v", out, err)
	}
	if _, err := api2.DeleteConnection(ctx, &apigatewaymanagementapi.DeleteConnectionInput{ConnectionId: &id1}, unsigned); err != nil {
		t.Fatal(err)
	}
	if code := readClose(t, c1, 5*time.Second); code != 1000 {
		t.Errorf("cross-node DELETE: close code %d", code)
	}
	var gone *types.GoneException
	_, err = api2.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: &id1, Data: []byte("x")}, unsigned)
	if !errors.As(err, &gone) {
		t.Errorf("after delete: %v, want GoneException", err)
	}
	// An id of a node that does not exist is gone at once (no responders).
	stale := strings.Replace(id2, id2[:2], "Bw", 1) // node 7
	start := time.Now()
	_, err = api1.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: &stale, Data: []byte("x")}, unsigned)
	if !errors.As(err, &gone) || time.Since(start) > time.Second {
		t.Errorf("unknown node: %v after %v, want GoneException at once", err, time.Since(start))
	}
}

// Two nodes that each embed NATS and cluster through routes (the single-binary setup).
func TestEmbeddedNATSWithRoutes(t *testing.T) {
	be := echoBackend(t)
	base := chatConfig(be.URL, "")
	r1, r2 := freeAddr(t), freeAddr(t)
	routes := fmt.Sprintf("[nats-route://%s, nats-route://%s]", r1, r2)
	n1 := startGateway(t, base+fmt.Sprintf("  NodeId: 1\n  Cluster: {Embedded: {Listen: 127.0.0.1:0, ClusterListen: %s, Routes: %s}}\n", r1, routes), Deps{})
	n2 := startGateway(t, base+fmt.Sprintf("  NodeId: 2\n  Cluster: {Embedded: {Listen: 127.0.0.1:0, ClusterListen: %s, Routes: %s}}\n", r2, routes), Deps{})
	c1 := mustDial(t, n1, loginAs(t, "alice", time.Now().Add(time.Hour)))
	id1 := be.next(t, "/connect").Header.Get("X-Connection-Id")
	api2 := mgmtClient(n2, "")
	unsigned := func(o *apigatewaymanagementapi.Options) { o.Credentials = nil }
	// The route between the two servers comes up asynchronously: until it does, node
	// 1 has no subscriber as seen from node 2 (410). Poll, bounded.
	testutil.Eventually(t, 10*time.Second, func() error {
		_, err := api2.PostToConnection(context.Background(), &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: &id1, Data: []byte("over the route")}, unsigned)
		if err != nil {
			return fmt.Errorf("no delivery across the NATS route: %w", err)
		}
		return nil
	})
	if got := read(t, c1); got != "over the route" {
		t.Errorf("got %q", got)
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
