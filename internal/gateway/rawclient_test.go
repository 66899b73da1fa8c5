package gateway

import (
	"bufio"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

// rawConn is a WebSocket client written on a bare TCP socket, so that a test can send
// any bytes at all after the handshake, frame rules broken included.
type rawConn struct {
	t    testing.TB
	conn net.Conn
	br   *bufio.Reader
}

// rawDial performs the handshake a browser logged in as l would, on a bare socket, and
// fails the test unless the gateway answers 101.
func rawDial(t testing.TB, addr string, l login) *rawConn {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	var key [16]byte
	_, _ = rand.Read(key[:])
	req := "GET /?csrf=" + l.csrf + " HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: " + base64.StdEncoding.EncodeToString(key[:]) + "\r\n" +
		"Origin: " + l.origin + "\r\nCookie: " + l.cookie + "\r\n\r\n"
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(conn, req); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("handshake: %v", err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("handshake: status %d, want 101", resp.StatusCode)
	}
	return &rawConn{t: t, conn: conn, br: br}
}

// send writes b as it is.
func (c *rawConn) send(b []byte) {
	c.t.Helper()
	if _, err := c.conn.Write(b); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// frame returns a masked client frame: first byte b0 (FIN, RSV, opcode), payload
// length in the shortest form, and the payload.
func frame(b0 byte, payload []byte) []byte {
	return frameWithLength(b0, uint64(len(payload)), payload)
}

// frameWithLength is frame with a stated payload length that need not be the payload's.
func frameWithLength(b0 byte, length uint64, payload []byte) []byte {
	h := []byte{b0}
	switch {
	case length < 126:
		h = append(h, 0x80|byte(length))
	case length <= 0xffff:
		h = append(h, 0x80|126)
		h = binary.BigEndian.AppendUint16(h, uint16(length))
	default:
		h = append(h, 0x80|127)
		h = binary.BigEndian.AppendUint64(h, length)
	}
	mask := [4]byte{0x12, 0x34, 0x56, 0x78}
	h = append(h, mask[:]...)
	for i, b := range payload {
		h = append(h, b^mask[i%4])
	}
	return h
}

// serverFrame is a frame read from the gateway.
type serverFrame struct {
	opcode  byte
	payload []byte
}

// next reads one frame from the gateway; ok is false when the connection ended.
func (c *rawConn) next(within time.Duration) (f serverFrame, ok bool) {
	c.t.Helper()
	_ = c.conn.SetReadDeadline(time.Now().Add(within))
	var h [2]byte
	if _, err := io.ReadFull(c.br, h[:]); err != nil {
		if ne, isNet := err.(net.Error); isNet && ne.Timeout() {
			c.t.Fatalf("no frame from the gateway within %v", within)
		}
		return serverFrame{}, false
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var b [2]byte
		_, _ = io.ReadFull(c.br, b[:])
		n = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		_, _ = io.ReadFull(c.br, b[:])
		n = binary.BigEndian.Uint64(b[:])
	}
	if h[1]&0x80 != 0 || n > 1<<20 {
		c.t.Fatalf("server frame: mask bit or length %d", n)
	}
	p := make([]byte, n)
	if _, err := io.ReadFull(c.br, p); err != nil {
		return serverFrame{}, false
	}
	return serverFrame{opcode: h[0] & 0x0f, payload: p}, true
}

// closeCode reads frames until a close frame and returns its code and reason; it fails
// the test if the connection ends without one or stays open longer than within.
func (c *rawConn) closeCode(within time.Duration) (int, string) {
	c.t.Helper()
	deadline := time.Now().Add(within)
	for {
		f, ok := c.next(time.Until(deadline))
		if !ok {
			c.t.Fatal("the connection ended without a close frame")
		}
		if f.opcode == 0x8 {
			if len(f.payload) < 2 {
				return 1005, ""
			}
			return int(binary.BigEndian.Uint16(f.payload)), string(f.payload[2:])
		}
	}
}

// text is a masked, final text frame carrying s.
func text(s string) []byte { return frame(0x81, []byte(s)) }
