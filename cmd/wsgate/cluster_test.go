package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/wsgate/wsgate/internal/cluster/natscluster"
	"github.com/wsgate/wsgate/internal/testutil"
)

// node is one wsgate process of a test cluster.
type node struct {
	id      int
	cmd     *exec.Cmd
	ws      string        // host:port
	mgmt    string        // http://host:port/dev/@connections
	exited  chan struct{} // closed when the process has exited
	err     error         // its exit status, once exited is closed
	clients []*client
}

type client struct {
	c  *websocket.Conn
	id string
}

// buildWsgate builds the wsgate binary once per test binary run.
func buildWsgate(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "wsgate")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

const clusterNodeConfig = `
Api: {ApiId: chat}
Integrations:
  echo: {IntegrationType: MOCK, ResponseTemplate: '{"from":"$context.connectionId"}'}
Routes:
  $default: {Target: integrations/echo, RouteResponseSelectionExpression: $default}
Server:
  NodeId: %d
  Management: {AllowUnsigned: true}
  Limits: {ShutdownTimeout: 5s}
  Cluster: {NatsUrl: %q, RequestTimeout: 1s}
`

func startNode(t *testing.T, bin, natsURL string, id int) *node {
	t.Helper()
	cfg := filepath.Join(t.TempDir(), fmt.Sprintf("node%d.yaml", id))
	if err := os.WriteFile(cfg, fmt.Appendf(nil, clusterNodeConfig, id, natsURL), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "serve", "--config", cfg, "--listen", "127.0.0.1:0", "--management-listen", "127.0.0.1:0")
	stdout, _ := cmd.StdoutPipe()
	logs, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	n := &node{id: id, cmd: cmd, exited: make(chan struct{})}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	go func() { _, _ = io.Copy(io.Discard, stdout); n.err = cmd.Wait(); close(n.exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-n.exited
		if t.Failed() {
			b, _ := os.ReadFile(logs.Name())
			t.Logf("node %d stderr:\n%s", id, b)
		}
	})
	m := regexp.MustCompile(`on ws://(\S+)/ ; @connections on (http://\S+)\n`).FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("node %d ready line %q (%v)", id, line, err)
	}
	n.ws, n.mgmt = m[1], m[2]
	return n
}

func (n *node) connect(t *testing.T) *client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws://"+n.ws+"/", nil)
	if err != nil {
		t.Fatalf("dial node %d: %v", n.id, err)
	}
	t.Cleanup(func() { c.CloseNow() })
	// The MOCK route answers with the connection id.
	if err := c.Write(ctx, websocket.MessageText, []byte("who am i")); err != nil {
		t.Fatal(err)
	}
	_, b, err := c.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	id := regexp.MustCompile(`"from":"([^"]+)"`).FindStringSubmatch(string(b))[1]
	cl := &client{c: c, id: id}
	n.clients = append(n.clients, cl)
	return cl
}

// post sends data to connection id through node via's @connections API.
func post(t *testing.T, via *node, id, data string) int {
	t.Helper()
	resp, err := http.Post(via.mgmt+"/"+strings.ReplaceAll(id, "=", "%3D"), "application/octet-stream", strings.NewReader(data))
	if err != nil {
		t.Fatalf("POST via node %d: %v", via.id, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func (cl *client) expect(t *testing.T, want string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, b, err := cl.c.Read(ctx)
	if err != nil || string(b) != want {
		t.Fatalf("client %s: got %q %v, want %q", cl.id, b, err, want)
	}
}

// TestClusterOfProcesses runs three wsgate processes on one NATS server (in this
// process): cross-node delivery, a killed node, a NATS restart, a drained node.
func TestClusterOfProcesses(t *testing.T) {
	bin := buildWsgate(t)
	port := freePort(t)
	natsAddr := fmt.Sprintf("127.0.0.1:%d", port)
	srv, err := natscluster.StartEmbedded(natscluster.EmbeddedOptions{Listen: natsAddr})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { srv.Shutdown(); srv.WaitForShutdown() }()
	url := srv.ClientURL()

	nodes := []*node{startNode(t, bin, url, 1), startNode(t, bin, url, 2), startNode(t, bin, url, 3)}
	for _, n := range nodes {
		for range 3 {
			n.connect(t)
		}
	}

	t.Run("every node reaches every connection", func(t *testing.T) {
		for _, via := range nodes {
			for _, owner := range nodes {
				for _, cl := range owner.clients {
					msg := fmt.Sprintf("to %s via %d", cl.id, via.id)
					if st := post(t, via, cl.id, msg); st != 200 {
						t.Fatalf("POST to node %d's client via node %d: %d", owner.id, via.id, st)
					}
					cl.expect(t, msg)
				}
			}
		}
	})

	t.Run("a killed node's connections are gone; the others are untouched", func(t *testing.T) {
		dead := nodes[2]
		// Traffic to a survivor's client through the other survivor, across the kill.
		target := nodes[0].clients[1]
		stop := make(chan struct{})
		sent := make(chan int, 1)
		go func() {
			i := 0
			for {
				select {
				case <-stop:
					sent <- i
					return
				default:
				}
				if st := post(t, nodes[1], target.id, fmt.Sprintf("seq %d", i)); st != 200 {
					t.Errorf("POST to a survivor during the kill: %d", st)
					sent <- i
					return
				}
				i++
			}
		}()
		for i := range 5 { // some traffic before the kill
			target.expect(t, fmt.Sprintf("seq %d", i))
		}
		_ = dead.cmd.Process.Kill()
		<-dead.exited
		for _, cl := range dead.clients {
			testutil.Eventually(t, 5*time.Second, func() error {
				if st := post(t, nodes[0], cl.id, "anyone there?"); st != http.StatusGone {
					return fmt.Errorf("POST to a dead node's connection: %d, want 410", st)
				}
				return nil
			})
		}
		close(stop)
		n := <-sent
		for i := 5; i < n; i++ {
			target.expect(t, fmt.Sprintf("seq %d", i))
		}
		t.Logf("%d messages to a survivor across the kill, all delivered in order", n)
		for i := range 20 {
			for _, n := range nodes[:2] {
				for _, cl := range n.clients {
					msg := fmt.Sprintf("survivor %d", i)
					if st := post(t, nodes[1-(n.id-1)], cl.id, msg); st != 200 {
						t.Fatalf("cross-node POST to a survivor: %d", st)
					}
					cl.expect(t, msg)
				}
			}
		}
	})

	t.Run("NATS restart: nodes reconnect and deliver again", func(t *testing.T) {
		srv.Shutdown()
		srv.WaitForShutdown()
		// While NATS is down, local delivery keeps working.
		cl := nodes[0].clients[0]
		if st := post(t, nodes[0], cl.id, "local during outage"); st != 200 {
			t.Fatalf("local POST during the outage: %d", st)
		}
		cl.expect(t, "local during outage")
		srv, err = natscluster.StartEmbedded(natscluster.EmbeddedOptions{Listen: natsAddr})
		if err != nil {
			t.Fatal(err)
		}
		target := nodes[1].clients[0]
		testutil.Eventually(t, 15*time.Second, func() error {
			if st := post(t, nodes[0], target.id, "after restart"); st != 200 {
				return fmt.Errorf("cross-node POST %d after NATS came back", st)
			}
			return nil
		})
		target.expect(t, "after restart")
	})

	t.Run("drain: SIGTERM closes clients with 1001", func(t *testing.T) {
		n := nodes[1]
		if err := n.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		for _, cl := range n.clients {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_, _, err := cl.c.Read(ctx)
			cancel()
			if websocket.CloseStatus(err) != websocket.StatusGoingAway {
				t.Errorf("client of the drained node: %v, want 1001", err)
			}
		}
		select {
		case <-n.exited:
			if n.err != nil {
				t.Errorf("drained node exited with %v", n.err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("drained node did not exit")
		}
		if st := post(t, nodes[0], n.clients[0].id, "x"); st != http.StatusGone {
			t.Errorf("POST to a drained node's connection: %d, want 410", st)
		}
	})
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
