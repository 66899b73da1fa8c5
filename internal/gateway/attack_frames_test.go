package gateway

import (
	"bytes"
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/wsgate/wsgate/internal/config"
)

// Frames that break RFC 6455 §5, sent on a bare socket after a valid handshake. Each
// case asserts the close code on the wire, the code $disconnect sees, that the process
// still serves other connections, and that nothing of the bad frame reached a backend.

// A 64-bit payload length whose most significant bit is set (§5.2: it MUST be 0) once
// made gws slice with a negative length and panic, killing the process.
func TestFrameLengthWithTopBitSet(t *testing.T) {
	bad := frameWithLength(0x81, 1<<63, nil)
	tests := []struct {
		name   string
		writes [][]byte // written one after the other
		routed int      // echo messages that reach the backend first
	}{
		{name: "one write", writes: [][]byte{bad}},
		{name: "byte by byte", writes: splitBytes(bad)},
		{name: "after a valid message in the same write", writes: [][]byte{append(text(`{"action":"echo","n":1}`), bad...)}, routed: 1},
		{name: "header split after its length", writes: [][]byte{append(text(`{"action":"echo","n":1}`), bad[:10]...), bad[10:]}, routed: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			be := echoBackend(t)
			r := startGateway(t, chatConfig(be.URL, ""), BuildDeps{})
			alice := loginAs(t, "alice", time.Now().Add(time.Hour))
			c := rawDial(t, r.WebSocket, alice)
			id := be.next(t, "/connect").Header.Get("X-Connection-Id")
			for _, w := range tt.writes {
				c.send(w)
			}
			if code, reason := c.closeCode(5 * time.Second); code != CloseProtocolError {
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
			if d["code"] != float64(CloseProtocolError) || d["connectionId"] != id {
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

// A panic in the WebSocket library's reader closes that connection with 1011, runs its
// $disconnect and is counted; the process and the other connections go on. The case is
// the library's own panic on a bad length, with the guard switched off.
func TestPanicInReaderIsRecovered(t *testing.T) {
	be := echoBackend(t)
	cfg, err := config.Parse([]byte(chatConfig(be.URL, "")))
	if err != nil {
		t.Fatal(err)
	}
	g, err := Build(context.Background(), cfg, BuildDeps{Getenv: env})
	if err != nil {
		t.Fatal(err)
	}
	g.uncheckedFrames = true
	srv := httptest.NewServer(g)
	defer srv.Close()
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := g.Shutdown(ctx); err != nil {
			t.Error(err)
		}
	}()
	addr := strings.TrimPrefix(srv.URL, "http://")
	alice := loginAs(t, "alice", time.Now().Add(time.Hour))
	other := rawDial(t, addr, alice)
	be.next(t, "/connect")
	c := rawDial(t, addr, alice)
	id := be.next(t, "/connect").Header.Get("X-Connection-Id")
	c.send(frameWithLength(0x81, 1<<63, nil))
	if code, _ := c.closeCode(5 * time.Second); code != CloseInternalError {
		t.Errorf("close code %d, want 1011", code)
	}
	d := mustJSON(t, be.next(t, "/disconnect").Body)
	if d["code"] != float64(CloseInternalError) || d["connectionId"] != id {
		t.Errorf("$disconnect = %v, want code 1011 for %s", d, id)
	}
	var m dto.Metric
	_ = g.metrics.panics.Write(&m)
	if got := m.GetCounter().GetValue(); got != 1 {
		t.Errorf("wsgate_panics_total = %v, want 1", got)
	}
	other.send(text(`{"action":"echo","still":"here"}`))
	f, ok := other.next(5 * time.Second)
	if !ok || !bytes.Contains(f.payload, []byte(`"still":"here"`)) {
		t.Errorf("the other connection after the panic: %q %v", f.payload, ok)
	}
}

func splitBytes(b []byte) [][]byte {
	out := make([][]byte, len(b))
	for i := range b {
		out[i] = b[i : i+1]
	}
	return out
}

// FuzzFrameScanner: any byte stream, cut anywhere, is scanned without a panic, and the
// scanner's verdict does not depend on how the stream was cut.
func FuzzFrameScanner(f *testing.F) {
	f.Add(text(`{"action":"echo"}`), uint8(3))
	f.Add(frameWithLength(0x81, 1<<63, nil), uint8(5))
	f.Add(append(frame(0x01, []byte("ab")), frame(0x80, []byte("cd"))...), uint8(1))
	f.Add(frameWithLength(0x82, 70000, bytes.Repeat([]byte{1}, 70000)), uint8(200))
	f.Fuzz(func(t *testing.T, stream []byte, cut uint8) {
		var whole frameScanner
		okWhole, vWhole := whole.scan(stream)
		var parts frameScanner
		k := int(cut)%(len(stream)+1) + 1
		var vParts *frameViolation
		okParts := len(stream)
		for i := 0; i < len(stream) && vParts == nil; i += k {
			end := min(i+k, len(stream))
			var ok int
			ok, vParts = parts.scan(stream[i:end])
			if vParts != nil {
				okParts = i + ok
			}
		}
		if (vWhole == nil) != (vParts == nil) {
			t.Fatalf("verdict depends on the cut: whole %v, in parts of %d %v", vWhole, k, vParts)
		}
		if vWhole != nil && (*vWhole != *vParts || okWhole > okParts || okParts-okWhole >= 14) {
			t.Fatalf("violation differs: whole %v at %d, parts %v at %d", vWhole, okWhole, vParts, okParts)
		}
	})
}
