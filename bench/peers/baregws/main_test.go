package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/lxzan/gws"
	"github.com/wsgate/wsgate/internal/testutil"
)

func TestMain(m *testing.M) { testutil.VerifyNoLeaks(m) }

// pushClient records what the server sends it.
type pushClient struct {
	gws.BuiltinEventHandler
	got chan string
}

func (c *pushClient) OnMessage(_ *gws.Conn, m *gws.Message) {
	defer m.Close()
	c.got <- m.Data.String()
}

// TestRun starts the peer as bench/run does (its one line, then the three surfaces),
// learns a connection's id, pushes to it and to an id nobody has, echoes, and stops on
// cancel with every connection's goroutine gone.
func TestRun(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"-addr", "127.0.0.1:0"}, pw); pw.Close() }()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	m := regexp.MustCompile(`^baregws: pid \d+ serving (ws://\S+/) ; push (http://\S+) ; metrics (http://\S+/metrics)\n$`).FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("first line %q", line)
	}
	wsURL, pushURL, metricsURL := m[1], m[2], m[3]

	h := &pushClient{got: make(chan string, 8)}
	ws, _, err := gws.NewClient(h, &gws.ClientOption{Addr: wsURL})
	if err != nil {
		t.Fatal(err)
	}
	go ws.ReadLoop()
	next := func() string {
		t.Helper()
		select {
		case s := <-h.got:
			return s
		case <-time.After(5 * time.Second):
			t.Fatal("no message")
			return ""
		}
	}
	if err := ws.WriteString(`{"action":"whoami"}`); err != nil {
		t.Fatal(err)
	}
	id := strings.TrimSuffix(strings.TrimPrefix(next(), `{"id":"`), `"}`)
	if id == "" || strings.ContainsAny(id, `{}"`) {
		t.Fatalf("whoami answer gave id %q", id)
	}
	if err := ws.WriteString("echo me"); err != nil {
		t.Fatal(err)
	}
	if got := next(); got != "echo me" {
		t.Errorf("echo: %q", got)
	}
	post := func(id string) int {
		t.Helper()
		resp, err := http.Post(pushURL+"/@connections/"+id, "application/json", strings.NewReader(`{"t":1}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if st := post(id); st != http.StatusOK {
		t.Errorf("push to %s: %d, want 200", id, st)
	}
	if got := next(); got != `{"t":1}` {
		t.Errorf("pushed: %q", got)
	}
	if st := post("no-such-id"); st != http.StatusGone {
		t.Errorf("push to an unknown id: %d, want 410", st)
	}
	resp, err := http.Get(metricsURL)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"\nwsgate_connections 1\n", "\ngo_goroutines ", "\ngo_memstats_heap_inuse_bytes "} {
		if !strings.Contains(string(b), want) {
			t.Errorf("/metrics has no %q", want)
		}
	}

	cancel()
	if err := <-done; err != nil {
		t.Errorf("run: %v", err)
	}
	// The server closed the connection: the client's read loop ends.
	testutil.Eventually(t, 5*time.Second, func() error {
		if err := ws.WriteString("x"); err == nil {
			return fmt.Errorf("the connection still takes writes")
		}
		return nil
	})
	http.DefaultClient.CloseIdleConnections()
}
