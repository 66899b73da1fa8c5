package server

import (
	"bufio"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/wsgate/wsgate/internal/testutil"
)

// Slow clients on the WebSocket listener: they cost the gateway a bounded time, then are
// dropped. (The management listener's are in attack_mgmt_test.go.)
func TestSlowloris(t *testing.T) {
	be := echoBackend(t)
	t.Run("slowloris handshake times out", func(t *testing.T) {
		r := startGateway(t, chatConfig(be.URL, "  Limits: {HandshakeTimeout: 300ms}"), Deps{})
		conn, err := net.Dial("tcp", r.WebSocket)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		// Half a request line, then nothing: the server must hang up by itself.
		if _, err := io.WriteString(conn, "GET / HTTP/1.1\r\nHost: x\r\n"); err != nil {
			t.Fatal(err)
		}
		_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err = io.ReadAll(bufio.NewReader(conn))
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatal("the server kept a half-sent handshake open for 5s")
		}
	})
	t.Run("a frame trickled a byte at a time is cut by the idle timeout", func(t *testing.T) {
		r := startGateway(t, chatConfig(be.URL, "  Limits: {IdleTimeout: 500ms}"), Deps{})
		c := rawDial(t, r.WebSocket, loginAs(t, "alice", time.Now().Add(time.Hour)))
		frame := testutil.Text(`{"action":"echo","x":"` + string(make([]byte, 100)) + `"}`)
		// One byte every 50 ms: the frame never completes, and bytes of a frame do not
		// count as activity, so the idle timeout closes the connection (1001).
		stop := make(chan struct{})
		trickled := make(chan struct{})
		go func() {
			defer close(trickled)
			tick := time.NewTicker(50 * time.Millisecond)
			defer tick.Stop()
			for i := 0; ; i = (i + 1) % len(frame) {
				select {
				case <-stop:
					return
				case <-tick.C:
					if c.TrySend(frame[i:i+1]) != nil {
						return
					}
				}
			}
		}()
		started := time.Now()
		code, _ := c.CloseCode(10 * time.Second)
		close(stop)
		<-trickled
		if code != 1001 {
			t.Errorf("close %d, want 1001", code)
		}
		if d := time.Since(started); d > 3*time.Second {
			t.Errorf("closed after %v, want about the 500ms idle timeout", d)
		}
		if n := be.count("/echo"); n != 0 {
			t.Errorf("%d trickled messages reached the backend", n)
		}
	})
}
