package testutil

import (
	"bufio"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// RawConn is a WebSocket client written on a bare TCP socket, so that a test can send
// any bytes at all after the handshake, frame rules broken included.
type RawConn struct {
	t    testing.TB
	conn net.Conn
	br   *bufio.Reader
}

// RawDial performs a WebSocket handshake on a bare socket to addr for pathAndQuery with
// the extra headers h, and fails the test unless the server answers 101.
func RawDial(t testing.TB, addr, pathAndQuery string, h http.Header) *RawConn {
	t.Helper()
	return RawDialWith(t, addr, pathAndQuery, h, nil)
}

// RawDialWith is RawDial sending after, frames for instance, in the same write as the
// request, before the server has answered (so that the server reads them with the
// request head).
func RawDialWith(t testing.TB, addr, pathAndQuery string, h http.Header, after []byte) *RawConn {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	var key [16]byte
	_, _ = rand.Read(key[:])
	var req strings.Builder
	req.WriteString("GET " + pathAndQuery + " HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: " + base64.StdEncoding.EncodeToString(key[:]) + "\r\n")
	_ = h.Write(&req)
	req.WriteString("\r\n")
	req.Write(after)
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(conn, req.String()); err != nil {
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
	return &RawConn{t: t, conn: conn, br: br}
}

// Send writes b as it is.
func (c *RawConn) Send(b []byte) {
	c.t.Helper()
	if _, err := c.conn.Write(b); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// TrySend writes b and returns the error instead of failing the test (for writes that
// may race the server's close).
func (c *RawConn) TrySend(b []byte) error {
	_, err := c.conn.Write(b)
	return err
}

// Frame returns a masked client frame: first byte b0 (FIN, RSV, opcode), the payload
// length in its shortest form, and the payload.
func Frame(b0 byte, payload []byte) []byte {
	return FrameWithLength(b0, uint64(len(payload)), payload)
}

// FrameWithLength is Frame with a stated payload length that need not be the payload's.
func FrameWithLength(b0 byte, length uint64, payload []byte) []byte {
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

// Text is a masked, final text frame carrying s.
func Text(s string) []byte { return Frame(0x81, []byte(s)) }

// ServerFrame is a frame read from the server.
type ServerFrame struct {
	Opcode  byte
	Payload []byte
}

// Next reads one frame from the server; ok is false when the connection ended. It
// fails the test if no frame comes within the given time.
func (c *RawConn) Next(within time.Duration) (f ServerFrame, ok bool) {
	c.t.Helper()
	_ = c.conn.SetReadDeadline(time.Now().Add(within))
	var h [2]byte
	if _, err := io.ReadFull(c.br, h[:]); err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			c.t.Fatalf("no frame from the server within %v", within)
		}
		return ServerFrame{}, false
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
		return ServerFrame{}, false
	}
	return ServerFrame{Opcode: h[0] & 0x0f, Payload: p}, true
}

// CloseCode reads frames until a close frame and returns its code (1005 for none) and
// reason; it fails the test if the connection ends without one or stays open longer
// than within.
func (c *RawConn) CloseCode(within time.Duration) (int, string) {
	c.t.Helper()
	deadline := time.Now().Add(within)
	for {
		f, ok := c.Next(time.Until(deadline))
		if !ok {
			c.t.Fatal("the connection ended without a close frame")
		}
		if f.Opcode == 0x8 {
			if len(f.Payload) < 2 {
				return 1005, ""
			}
			return int(binary.BigEndian.Uint16(f.Payload)), string(f.Payload[2:])
		}
	}
}

// Close closes the socket.
func (c *RawConn) Close() { _ = c.conn.Close() }

// CloseWrite ends the client's side of the connection (a TCP half-close).
func (c *RawConn) CloseWrite() {
	if tc, ok := c.conn.(*net.TCPConn); ok {
		_ = tc.CloseWrite()
	}
}

// Drain reads and discards what the server sends until it ends the connection (EOF,
// or a reset when it closed with bytes of ours unread), and returns an error only if
// it has not within the given time.
func (c *RawConn) Drain(within time.Duration) error {
	_ = c.conn.SetReadDeadline(time.Now().Add(within))
	_, err := io.Copy(io.Discard, c.br)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return err
	}
	return nil
}
