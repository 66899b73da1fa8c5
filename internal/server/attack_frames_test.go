package server

import (
	"net/http"
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
			c.Close()
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

// Frames a client sends right behind its handshake, in the same write, are read by the
// HTTP server with the request head; the gateway reads them first, in order, and then
// the connection goes on as any other (in the poller, on Linux).
func TestFramesRightBehindTheHandshake(t *testing.T) {
	be := echoBackend(t)
	r := startGateway(t, chatConfig(be.URL, ""), Deps{})
	alice := loginAs(t, "alice", time.Now().Add(time.Hour))
	h := http.Header{}
	h.Set("Origin", alice.origin)
	h.Set("Cookie", alice.cookie)
	early := append(testutil.Text(`{"action":"echo","n":1}`), testutil.Text(`{"action":"echo","n":2}`)...)
	c := testutil.RawDialWith(t, r.WebSocket, "/?csrf="+alice.csrf, h, early)
	var replies []string // handled in parallel: in either order
	for range 2 {
		f, ok := c.Next(5 * time.Second)
		if !ok {
			t.Fatal("the connection ended before both replies")
		}
		replies = append(replies, string(f.Payload))
	}
	for _, want := range []string{`"n":1`, `"n":2`} {
		if !strings.Contains(replies[0], want) && !strings.Contains(replies[1], want) {
			t.Errorf("replies %q: none with %s", replies, want)
		}
	}
	c.Send(testutil.Text(`{"action":"echo","n":3}`)) // read once the early bytes are done
	if f, ok := c.Next(5 * time.Second); !ok || !strings.Contains(string(f.Payload), `"n":3`) {
		t.Fatalf("reply %q (ok %v), want one with \"n\":3", f.Payload, ok)
	}
	c.Send(testutil.Frame(0xC1, []byte("x"))) // and its frames are still checked
	if code, _ := c.CloseCode(5 * time.Second); code != gateway.CloseProtocolError {
		t.Errorf("close code %d after a bad frame, want 1002", code)
	}
}

func splitBytes(b []byte) [][]byte {
	out := make([][]byte, len(b))
	for i := range b {
		out[i] = b[i : i+1]
	}
	return out
}

// Every frame rule of RFC 6455 §5 a client can break, and the gateway's frame and
// message limits: each closes the connection with the code on the wire that
// $disconnect then reports, and no part of the offending message reaches a backend.
func TestFrameRules(t *testing.T) {
	echo := []byte(`{"action":"echo"}`)
	big := func(n int) []byte { return []byte(`{"action":"echo","x":"` + strings.Repeat("a", n) + `"}`) }
	tests := []struct {
		name       string
		send       [][]byte
		wantCode   int
		wantReason string // "" to skip
	}{
		{name: "RSV1 set", send: [][]byte{testutil.Frame(0xC1, echo)}, wantCode: 1002, wantReason: "Reserved bits set"},
		{name: "a bad frame followed by a megabyte more", send: [][]byte{append(testutil.Frame(0xC1, echo), make([]byte, 1<<20)...)}, wantCode: 1002, wantReason: "Reserved bits set"},
		{name: "RSV3 set", send: [][]byte{testutil.Frame(0x91, echo)}, wantCode: 1002},
		{name: "reserved data opcode 0x3", send: [][]byte{testutil.Frame(0x83, echo)}, wantCode: 1002, wantReason: "Reserved opcode"},
		{name: "reserved control opcode 0xB", send: [][]byte{testutil.Frame(0x8B, nil)}, wantCode: 1002},
		{name: "unmasked frame", send: [][]byte{append([]byte{0x81, byte(len(echo))}, echo...)}, wantCode: 1002, wantReason: "Client frame not masked"},
		{name: "ping over 125 bytes", send: [][]byte{testutil.Frame(0x89, make([]byte, 126))}, wantCode: 1002},
		{name: "fragmented ping", send: [][]byte{testutil.Frame(0x09, []byte("p"))}, wantCode: 1002},
		{name: "close with a one-byte payload", send: [][]byte{testutil.Frame(0x88, []byte{3})}, wantCode: 1002},
		{name: "close code 1005 on the wire", send: [][]byte{testutil.Frame(0x88, []byte{0x03, 0xED})}, wantCode: 1002, wantReason: "Invalid close code"},
		{name: "close code 999", send: [][]byte{testutil.Frame(0x88, []byte{0x03, 0xE7})}, wantCode: 1002},
		{name: "close code 2999", send: [][]byte{testutil.Frame(0x88, []byte{0x0B, 0xB7})}, wantCode: 1002},
		{name: "continuation without a message", send: [][]byte{testutil.Frame(0x80, echo)}, wantCode: 1002},
		{name: "new message inside a fragmented one", send: [][]byte{testutil.Frame(0x01, echo[:5]), testutil.Frame(0x81, echo)}, wantCode: 1002},
		{name: "text that is not UTF-8", send: [][]byte{testutil.Frame(0x81, []byte{'"', 0xff, 0xfe, '"'})}, wantCode: 1007},
		{name: "one frame over MaxFrameBytes", send: [][]byte{testutil.Frame(0x81, big(33000))}, wantCode: 1009, wantReason: "Frame too big"},
		{name: "fragments over MaxMessageBytes", send: func() [][]byte {
			b := big(140000)
			var fs [][]byte
			for i := 0; i < len(b); i += 20000 {
				op := byte(0x00)
				if i == 0 {
					op = 0x01
				}
				end := min(i+20000, len(b))
				if end == len(b) {
					op |= 0x80
				}
				fs = append(fs, testutil.Frame(op, b[i:end]))
			}
			return fs
		}(), wantCode: 1009, wantReason: "Message too big"},
	}
	be := echoBackend(t)
	r := startGateway(t, chatConfig(be.URL, ""), Deps{})
	alice := loginAs(t, "alice", time.Now().Add(time.Hour))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := rawDial(t, r.WebSocket, alice)
			id := be.next(t, "/connect").Header.Get("X-Connection-Id")
			for _, f := range tt.send {
				c.Send(f)
			}
			code, reason := c.CloseCode(5 * time.Second)
			if code != tt.wantCode || (tt.wantReason != "" && reason != tt.wantReason) {
				t.Errorf("close %d %q, want %d %q", code, reason, tt.wantCode, tt.wantReason)
			}
			c.Close() // as a client does once it has the close frame: the gateway stops draining

			d := mustJSON(t, be.next(t, "/disconnect").Body)
			if d["code"] != float64(tt.wantCode) || d["connectionId"] != id {
				t.Errorf("$disconnect = %v, want code %d for %s", d, tt.wantCode, id)
			}
			if n := be.count("/echo") + be.count("/default"); n != 0 {
				t.Errorf("%d messages reached the backend", n)
			}
		})
	}
}

// What a client's own close frame says is what $disconnect reports, and fragmented
// messages within the limits are routed whole.
func TestClientCloseAndFragments(t *testing.T) {
	be := echoBackend(t)
	r := startGateway(t, chatConfig(be.URL, ""), Deps{})
	alice := loginAs(t, "alice", time.Now().Add(time.Hour))
	for _, tc := range []struct {
		code   int
		reason string
	}{{1000, "bye"}, {1001, ""}, {4000, "app says"}} {
		c := rawDial(t, r.WebSocket, alice)
		be.next(t, "/connect")
		// A message in three fragments with a ping between them, then the close.
		msg := `{"action":"echo","n":3}`
		c.Send(testutil.Frame(0x01, []byte(msg[:5])))
		c.Send(testutil.Frame(0x89, []byte("ping")))
		c.Send(testutil.Frame(0x00, []byte(msg[5:10])))
		c.Send(testutil.Frame(0x80, []byte(msg[10:])))
		if got := be.next(t, "/echo").Body; !strings.Contains(got, `"n":3`) {
			t.Errorf("fragmented message routed as %q", got)
		}
		payload := append([]byte{byte(tc.code >> 8), byte(tc.code)}, tc.reason...)
		c.Send(testutil.Frame(0x88, payload))
		// The reply may echo the code or say 1000 (RFC 6455 §5.5.1 leaves it open).
		if code, _ := c.CloseCode(5 * time.Second); code != tc.code && code != 1000 {
			t.Errorf("close answered with %d, want %d or 1000", code, tc.code)
		}
		d := mustJSON(t, be.next(t, "/disconnect").Body)
		if d["code"] != float64(tc.code) || d["reason"] != tc.reason {
			t.Errorf("$disconnect = %v, want %d %q", d, tc.code, tc.reason)
		}
	}
}
