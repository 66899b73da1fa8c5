package server

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/coder/websocket"

	"github.com/wsgate/wsgate/internal/cluster"
)

// batchPost signs a batch post with the gateway's management key (as any SigV4 client
// would) and sends it to base (http://host[/stage]).
func batchPost(t testing.TB, base string, ids []string, data string) (int, map[string]any) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"connectionIds": ids, "data": data})
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, base+"/@wsgate/post-to-connections", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	sum := sha256.Sum256(body)
	creds := aws.Credentials{AccessKeyID: "AKIDTEST", SecretAccessKey: "mgmt-secret"}
	if err := v4.NewSigner().SignHTTP(t.Context(), creds, req, hex.EncodeToString(sum[:]), "execute-api", "us-east-1", time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(b, &out); err != nil {
			t.Fatalf("batch answer %q: %v", b, err)
		}
	}
	return resp.StatusCode, out
}

// TestBatchPostAcrossTwoNodes broadcasts one payload to real WebSocket clients on two
// nodes with one signed request, through the WebSocket host of one node and the
// management listener of the other, and checks per-id results for a closed and a
// never-seen connection.
func TestBatchPostAcrossTwoNodes(t *testing.T) {
	be := echoBackend(t)
	base := strings.Replace(chatConfig(be.URL, ""), "  Management: {AllowUnsigned: true}", signedMgmt, 1)
	n1 := startGateway(t, base+"  NodeId: 1\n  Cluster: {Embedded: {Listen: 127.0.0.1:0}}\n", Deps{})
	n2 := startGateway(t, base+fmt.Sprintf("  NodeId: 2\n  Cluster: {NatsUrl: %q}\n", n1.NATS), Deps{})

	var clients []*websocket.Conn
	var ids []string
	for i := range 20 {
		n := n1
		if i%2 == 1 {
			n = n2
		}
		clients = append(clients, mustDial(t, n, loginAs(t, fmt.Sprintf("user%d", i), time.Now().Add(time.Hour))))
		ids = append(ids, be.next(t, "/connect").Header.Get("X-Connection-Id"))
	}
	// One client leaves; one id was never issued (node 2's format).
	_ = clients[3].Close(websocket.StatusNormalClosure, "bye")
	be.next(t, "/disconnect")
	never := cluster.NewConnectionID(2)
	all := append(append([]string{}, ids...), never)

	for _, tc := range []struct{ name, base string }{
		{"WebSocket host of node 2", "http://" + n2.WebSocket + "/dev"},
		{"management listener of node 1", "http://" + n1.Management + "/dev"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			msg := "to all via " + tc.name
			status, out := batchPost(t, tc.base, all, msg)
			if status != http.StatusOK {
				t.Fatalf("status %d", status)
			}
			if out["delivered"] != float64(19) {
				t.Errorf("delivered %v, want 19", out["delivered"])
			}
			failed := map[string]string{}
			for _, f := range out["failed"].([]any) {
				f := f.(map[string]any)
				failed[f["connectionId"].(string)] = f["errorType"].(string)
			}
			if len(failed) != 2 || failed[ids[3]] != "GoneException" || failed[never] != "GoneException" {
				t.Errorf("failed %v, want %s and %s gone", failed, ids[3], never)
			}
			for i, c := range clients {
				if i == 3 {
					continue
				}
				if got := read(t, c); got != msg {
					t.Errorf("client %d got %q", i, got)
				}
			}
		})
	}
	// Unsigned on the WebSocket host: refused like every @connections call there.
	req, _ := http.NewRequest(http.MethodPost, "http://"+n2.WebSocket+"/dev/@wsgate/post-to-connections", strings.NewReader(`{"connectionIds":["x"],"data":"y"}`))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("unsigned batch: %d, want 403", resp.StatusCode)
	}
}
