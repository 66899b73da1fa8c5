package server

import (
	"strings"
	"testing"
	"time"

	"github.com/wsgate/wsgate/internal/gateway"
	"github.com/wsgate/wsgate/internal/testutil"
)

// Frames that break RFC 6455 §5, sent on a bare socket after a valid handshake. Each
// case asserts the close code on the wire, the code $disconnect sees, that the process
// still serves other connections, and that nothing of the bad frame reached a backend.

// A 64-bit payload length whose most significant bit is set (§5.2: it MUST be 0) once
// made gws slice with a negative length and panic, killing the process.
func TestFrameLengthWithTopBitSet(t *testing.T) {
	bad := testutil.FrameWithLength(0x81, 1<<63, nil)
	tests := []struct {
		name   string
		writes [][]byte // written one after the other
		routed int      // echo messages that reach the backend first
	}{
		{name: "one write", writes: [][]byte{bad}},
		{name: "byte by byte", writes: splitBytes(bad)},
		{name: "after a valid message in the same write", writes: [][]byte{append(testutil.Text(`{"action":"echo","n":1}`), bad...)}, routed: 1},
		{name: "header split after its length", writes: [][]byte{append(testutil.Text(`{"action":"echo","n":1}`), bad[:10]...), bad[10:]}, routed: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			be := echoBackend(t)
			r := startGateway(t, chatConfig(be.URL, ""), Deps{})
			alice := loginAs(t, "alice", time.Now().Add(time.Hour))
			c := rawDial(t, r.WebSocket, alice)
			id := be.next(t, "/connect").Header.Get("X-Connection-Id")
			for _, w := range tt.writes {
				c.Send(w)
			}
			if code, reason := c.CloseCode(5 * time.Second); code != gateway.CloseProtocolError {
				t.Errorf("close code %d %q, want 1002", code, reason)
			}
			// The message before the bad frame and $disconnect run concurrently.
			paths := []string{"/disconnect"}
			if tt.routed > 0 {
				paths = append(paths, "/echo")
			}
			calls := be.each(t, paths...)
			if got := calls["/echo"].Body; tt.routed > 0 && !strings.Contains(got, `"n":1`) {
				t.Errorf("routed %q", got)
			}
			d := mustJSON(t, calls["/disconnect"].Body)
			if d["code"] != float64(gateway.CloseProtocolError) || d["connectionId"] != id {
				t.Errorf("$disconnect = %v, want code 1002 for %s", d, id)
			}
			// The gateway still serves: a new connection echoes.
			c2 := mustDial(t, r, alice)
			write(t, c2, `{"action":"echo","n":2}`)
			if got := read(t, c2); !strings.Contains(got, `"n":2`) {
				t.Errorf("echo after the attack: %q", got)
			}
			if n := be.count("/echo"); n != tt.routed+1 {
				t.Errorf("backend saw %d echo calls, want %d", n, tt.routed+1)
			}
		})
	}
}

func splitBytes(b []byte) [][]byte {
	out := make([][]byte, len(b))
	for i := range b {
		out[i] = b[i : i+1]
	}
	return out
}
