package server

import (
	"bytes"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/wsgate/wsgate/internal/gateway"
)

// A browser's handshake, as Chrome writes it.
const chromeHead = "GET /prod?QueryString1=queryValue1 HTTP/1.1\r\n" +
	"Host: ws.example.test\r\n" +
	"Connection: Upgrade\r\n" +
	"Pragma: no-cache\r\n" +
	"Cache-Control: no-cache\r\n" +
	"User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/118.0.0.0 Safari/537.36\r\n" +
	"Upgrade: websocket\r\n" +
	"Origin: https://ui.example.test\r\n" +
	"Sec-WebSocket-Version: 13\r\n" +
	"Accept-Encoding: gzip, deflate, br\r\n" +
	"Cookie: JWT=x.y.z; CSRF-TOKEN=abc\r\n" +
	"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
	"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n" +
	"Sec-WebSocket-Protocol: chat, csrf.abc\r\n" +
	"\r\n"

// readThrough writes chunks into one end of a pipe and reads them all through a headConn
// on the other, one Read per chunk, then the bytes that follow the head; it returns the
// connection.
func readThrough(t *testing.T, limit int, chunks ...string) *headConn {
	t.Helper()
	client, srv := net.Pipe()
	t.Cleanup(func() { client.Close(); srv.Close() })
	hc := &headConn{Conn: srv, max: limit}
	go func() {
		for _, c := range chunks {
			if _, err := io.WriteString(client, c); err != nil {
				return
			}
		}
	}()
	var got strings.Builder
	buf := make([]byte, 1<<17)
	for range chunks {
		n, err := hc.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		got.WriteString(string(buf[:n]))
	}
	if want := strings.Join(chunks, ""); got.String() != want {
		t.Fatalf("read %q, want %q: the recorder changed what was read", got.String(), want)
	}
	return hc
}

func TestHeadConnCapturesTheFirstHead(t *testing.T) {
	wantFields := []gateway.WireHeader{
		{Name: "Host", Value: "ws.example.test"},
		{Name: "HeaderAuth1", Value: "headerValue1"},
		{Name: "sec-websocket-protocol", Value: "chat"},
		{Name: "X-Dup", Value: "a"},
		{Name: "x-dup", Value: "b"},
	}
	crlf := "GET /prod HTTP/1.1\r\nHost: ws.example.test\r\nHeaderAuth1:headerValue1\r\nsec-websocket-protocol:  chat \t\r\nX-Dup: a\r\nx-dup: b\r\n\r\n"
	lf := strings.ReplaceAll(crlf, "\r\n", "\n")
	frame := "\x81\x85\x01\x02\x03\x04hello" // a frame sent right behind the head
	for _, tc := range []struct {
		name   string
		chunks []string
	}{
		{"one read", []string{crlf}},
		{"one byte per read", strings.Split(crlf, "")},
		{"the final CRLF split", []string{crlf[:len(crlf)-3], crlf[len(crlf)-3 : len(crlf)-1], crlf[len(crlf)-1:]}},
		{"LF line ends", []string{lf[:10], lf[10:]}},
		{"a frame in the same read", []string{crlf + frame}},
		{"frames after the head", []string{crlf, frame, frame}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hc := readThrough(t, 1<<16, tc.chunks...)
			line, fields, ok := hc.take()
			if !ok || line != "GET /prod HTTP/1.1" {
				t.Fatalf("take() = %q, %v, %v", line, fields, ok)
			}
			if diff := cmp.Diff(wantFields, fields); diff != "" {
				t.Errorf("fields (-want +got):\n%s", diff)
			}
			if _, _, ok := hc.take(); ok {
				t.Error("a second take gave the head again")
			}
			if hc.buf != nil || !hc.stopped.Load() {
				t.Errorf("after take: buf %d bytes, stopped %v; want nothing kept", len(hc.buf), hc.stopped.Load())
			}
		})
	}
}

func TestHeadConnGivesUpOnALongHead(t *testing.T) {
	long := "GET / HTTP/1.1\r\nHost: h\r\nX-Long: " + strings.Repeat("a", 2000) + "\r\n\r\n"
	hc := readThrough(t, 1000, long[:600], long[600:1200], long[1200:])
	if _, _, ok := hc.take(); ok {
		t.Error("a head longer than the limit was captured")
	}
	if hc.buf != nil || !hc.stopped.Load() {
		t.Errorf("buf %d bytes, stopped %v: recording must stop and keep nothing", len(hc.buf), hc.stopped.Load())
	}
}

func TestHeadConnIncompleteHead(t *testing.T) {
	hc := readThrough(t, 1<<16, "GET / HTTP/1.1\r\nHost: h\r\n")
	if _, _, ok := hc.take(); ok {
		t.Error("an incomplete head was captured")
	}
}

func TestParseHeadRefusesWhatNetHTTPWouldReadDifferently(t *testing.T) {
	for _, head := range []string{
		"GET / HTTP/1.1\r\nHost: h\r\nX-Folded: a\r\n b\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: h\r\nno colon\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: h\r\n: empty name\r\n\r\n",
		"\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: h\r\nBad Name: x\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: h\r\nX: a\rb\r\n\r\n",
	} {
		if line, fields, ok := parseHead(head); ok {
			t.Errorf("parseHead(%q) = %q, %v, ok", head, line, fields)
		}
	}
}

// FuzzHeadConn feeds a head in two reads: recording must never panic, keep at most
// what was read, stop exactly at the end of the first head (and not before it is
// complete), and parse names without a colon or line break.
func FuzzHeadConn(f *testing.F) {
	f.Add([]byte(chromeHead), 17)
	f.Add([]byte("GET / HTTP/1.1\r\nHost: h\r\nX-Dup: a\r\nx-dup: b\r\n\r\n\x81\x80abcd"), 40)
	f.Add([]byte("GET / HTTP/1.1\nHost: h\n\n"), 3)
	f.Add([]byte("GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\n"), 0)
	f.Fuzz(func(t *testing.T, data []byte, split int) {
		if split < 0 || split > len(data) {
			split = len(data) / 2
		}
		c := &headConn{max: 1 << 12}
		c.record(data[:split])
		if !c.stopped.Load() {
			c.record(data[split:])
		}
		if c.buf != nil {
			if !bytes.HasPrefix(data, c.buf) {
				t.Fatalf("kept %q, not a prefix of what was read", c.buf)
			}
			if end := headEnd(c.buf, 0); c.stopped.Load() && end != len(c.buf) || !c.stopped.Load() && end >= 0 {
				t.Fatalf("kept %q: the head ends at %d", c.buf, end)
			}
		}
		_, fields, ok := c.take()
		if !ok {
			return
		}
		for _, f := range fields {
			if f.Name == "" || strings.ContainsAny(f.Name, ":\r\n") || strings.ContainsAny(f.Value, "\n") {
				t.Fatalf("field %q", f)
			}
		}
	})
}

// The wrapper keeps the connection's half close: after a rejected frame the gateway ends
// its side first and drains the client's, so the client reads the close frame.
func TestHeadConnCloseWrite(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	hl := headListener{Listener: ln, max: 1 << 16}
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := hl.Accept()
		if err != nil {
			close(accepted)
			return
		}
		accepted <- c
	}()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	srv, ok := <-accepted
	if !ok {
		t.Fatal("accept failed")
	}
	defer srv.Close()
	cw, ok := srv.(interface{ CloseWrite() error })
	if !ok {
		t.Fatal("the accepted connection has no CloseWrite")
	}
	if err := cw.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	_ = client.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := client.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Errorf("client read %d, %v after CloseWrite; want EOF", n, err)
	}
	if _, err := io.WriteString(client, "still open"); err != nil {
		t.Errorf("the client's side was closed too: %v", err)
	}
}
