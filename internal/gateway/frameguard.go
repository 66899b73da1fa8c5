package gateway

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync/atomic"
	"time"
)

// frameGuard sits between a connection's socket and its frame reader (ws.go:
// frameReader) and checks every client frame as its bytes stream past, before the
// reader parses it: all of RFC 6455 §5's rules for a server reading client frames, the
// close code's range (§7.4), and the gateway's frame and message limits. The checks
// live here, on the byte stream, rather than in the reader, because they were first
// written for a library that could not be trusted with them (gws v1.8.9 converted a
// 64-bit payload length to int without checking its most significant bit and panicked
// in its read goroutine, and reported a one-byte close payload as status code 3), and
// because one streaming check fails a bad frame as soon as its header is in, whatever
// reads the frames. A frame that breaks a rule fails the connection through fail
// (which sends the close frame with the code the close table in close.go gives) and the
// read returns errFrameRejected; the reader only ever parses valid frames.
//
// The guard holds no buffer of its own beyond one frame header (14 bytes): payload
// bytes are counted, not copied (but for a close frame's two-byte code).
type frameGuard struct {
	net.Conn // a *preConn when the HTTP server had read bytes past the handshake
	scan     frameScanner
	// owner is told of the first violation (fail, called once, from Read) and of a
	// write that misses its deadline (writeTimedOut, before the writer sees the error
	// and ends the connection). An interface holding the *Conn, not two method values:
	// those would be two allocations kept by every connection.
	owner   guardOwner
	pending *frameViolation // found, to be failed on the next Read
	// linger drains the client's bytes before closing (set once a frame is rejected).
	linger   atomic.Bool
	rejected bool // the connection has been failed: every Read returns errFrameRejected
}

// guardOwner is what a frameGuard reports to: the Conn.
type guardOwner interface {
	fail(code int, reason string)
	writeTimedOut()
}

// errFrameRejected is what Read returns once a frame header has been rejected.
var errFrameRejected = errors.New("gateway: frame rejected")

func (g *frameGuard) Read(p []byte) (int, error) {
	if g.rejected {
		return 0, errFrameRejected
	}
	if v := g.pending; v != nil {
		g.rejected = true
		g.linger.Store(true)
		if g.owner != nil {
			g.owner.fail(v.code, v.reason)
		}
		return 0, errFrameRejected
	}
	n, err := g.Conn.Read(p)
	ok, v := g.scan.scan(p[:n])
	if v != nil {
		// The frames before the rejected header are handed on, so that nothing the
		// client sent before its violation is lost; the next Read fails.
		g.pending = v
		if ok == 0 {
			return g.Read(p)
		}
		return ok, nil
	}
	return n, err
}

// drained reports that a Read would wait for the client: no bytes the HTTP server read
// ahead are left, and no violation is waiting to be reported.
func (g *frameGuard) drained() bool { return !g.readAhead() && g.pending == nil }

// readAhead reports that bytes the HTTP server read past the handshake are still to be
// read.
func (g *frameGuard) readAhead() bool {
	pc, ok := g.Conn.(*preConn)
	return ok && len(pc.pre) > 0
}

// preConn is a connection of which the HTTP server had read bytes past the handshake
// (frames a client sent right behind its request): Read gives them first. Only such a
// connection has one, so that the others keep no field for them.
type preConn struct {
	net.Conn
	pre []byte
}

func (c *preConn) Read(p []byte) (int, error) {
	if len(c.pre) == 0 {
		return c.Conn.Read(p)
	}
	n := copy(p, c.pre)
	if c.pre = c.pre[n:]; len(c.pre) == 0 {
		c.pre = nil
	}
	return n, nil
}

// CloseWrite ends the sending side of the connection beneath, for Close's linger.
func (c *preConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.ErrUnsupported
}

// Close closes the connection. After a rejected frame it first ends the gateway's side
// (the close frame is on its way) and reads and drops what the client still sends, for
// at most lingerFor and lingerBytes: closing a socket with unread bytes in it sends a
// reset, which can destroy the close frame before the client reads it, and the client
// would see 1006 instead of the code that says what it did wrong (RFC 6455 §7.1.1: the
// server closes the TCP connection first, once the close frame is sent).
func (g *frameGuard) Close() error {
	if g.linger.CompareAndSwap(true, false) {
		if cw, ok := g.Conn.(interface{ CloseWrite() error }); ok && cw.CloseWrite() == nil {
			_ = g.Conn.SetReadDeadline(time.Now().Add(lingerFor))
			_, _ = io.CopyN(io.Discard, g.Conn, lingerBytes)
		}
	}
	return g.Conn.Close()
}

// How long, and how many bytes, a connection failed for a bad frame is drained before it
// is closed.
const (
	lingerFor   = time.Second
	lingerBytes = 1 << 20
)

// Write writes to the client, reporting a missed deadline.
func (g *frameGuard) Write(p []byte) (int, error) {
	n, err := g.Conn.Write(p)
	if err != nil && g.owner != nil {
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			g.owner.writeTimedOut()
		}
	}
	return n, err
}

// frameViolation is a frame that breaks RFC 6455 or a gateway limit.
type frameViolation struct {
	code   int
	reason string
}

// frameScanner follows frame boundaries in a stream of client bytes and checks every
// frame against RFC 6455 §5 and the gateway's limits: it keeps the header in progress,
// counts down the current frame's payload (reading only the two bytes of a close
// frame's code), and remembers whether a fragmented message is open and how long it is.
type frameScanner struct {
	maxFrame   uint64 // largest frame payload; 0: no limit
	maxMessage uint64 // largest message (all its fragments); 0: no limit

	hdr [14]byte
	hn  uint8 // header bytes seen so far (beside hdr: one word less per connection)

	remaining uint64  // payload bytes of the current frame still to come
	seen      uint64  // payload bytes of the current frame seen
	mask      [4]byte // the current frame's masking key
	isClose   bool    // the current frame is a close frame
	code      [2]byte // a close frame's status code, unmasked

	fragmented bool   // a fragmented message is open (its first frame had FIN 0)
	messageLen uint64 // bytes of the open (or current) message so far
}

// The reasons of the close frames the scanner fails a connection with.
const (
	reasonReservedBits    = "Reserved bits set"
	reasonReservedOpcode  = "Reserved opcode"
	reasonUnmasked        = "Client frame not masked"
	reasonControlFragment = "Fragmented control frame"
	reasonControlLength   = "Control frame over 125 bytes"
	reasonCloseLength     = "Close frame with a one-byte payload"
	reasonCloseCode       = "Invalid close code"
	reasonContinuation    = "Continuation frame without a message"
	reasonInterleaved     = "New message before the last one ended"
	reasonFrameTooBig     = "Frame too big"
	reasonMessageTooBig   = "Message too big"
)

// scan consumes b. It returns how many bytes of b precede the offending frame's first
// byte in b (len(b) when there is no violation; for a bad close code, the bytes before
// the code's second byte) and the first violation, if any. After a violation the scanner
// must not be used again.
func (s *frameScanner) scan(b []byte) (int, *frameViolation) {
	i := 0
	for i < len(b) {
		if s.remaining > 0 {
			if s.isClose && s.seen < 2 {
				s.code[s.seen] = b[i] ^ s.mask[s.seen%4]
				s.seen++
				s.remaining--
				i++
				if s.seen == 2 && !validCloseCode(binary.BigEndian.Uint16(s.code[:])) {
					return i - 1, &frameViolation{CloseProtocolError, reasonCloseCode}
				}
				continue
			}
			k := min(uint64(len(b)-i), s.remaining)
			i += int(k)
			s.remaining -= k
			s.seen += k
			continue
		}
		start := i - int(s.hn) // negative when the header began in an earlier read
		s.hdr[s.hn] = b[i]
		s.hn++
		i++
		if s.hn < 2 || int(s.hn) < headerLen(s.hdr[1]) {
			continue
		}
		if v := s.header(s.hdr[:s.hn]); v != nil {
			return max(start, 0), v
		}
		s.hn = 0
	}
	return len(b), nil
}

// header checks a complete frame header and starts its frame.
func (s *frameScanner) header(h []byte) *frameViolation {
	fin, opcode := h[0]&0x80 != 0, h[0]&0x0f
	if h[0]&0x70 != 0 {
		// §5.2: no extension is negotiated, so RSV1-3 must be 0.
		return &frameViolation{CloseProtocolError, reasonReservedBits}
	}
	if h[1]&0x80 == 0 {
		// §5.1: a server MUST close the connection on an unmasked client frame.
		return &frameViolation{CloseProtocolError, reasonUnmasked}
	}
	var length uint64
	switch n := h[1] & 0x7f; n {
	case 126:
		length = uint64(binary.BigEndian.Uint16(h[2:4]))
	case 127:
		length = binary.BigEndian.Uint64(h[2:10])
		if length>>63 != 0 {
			// §5.2: "the most significant bit MUST be 0".
			return &frameViolation{CloseProtocolError, reasonBadLength}
		}
	default:
		length = uint64(n)
	}
	copy(s.mask[:], h[len(h)-4:])
	s.remaining, s.seen, s.isClose = length, 0, false
	switch opcode {
	case 0x8, 0x9, 0xA: // close, ping, pong (§5.5)
		switch {
		case !fin:
			return &frameViolation{CloseProtocolError, reasonControlFragment}
		case length > 125:
			return &frameViolation{CloseProtocolError, reasonControlLength}
		case opcode == 0x8 && length == 1:
			// §5.5.1: a close body, if any, starts with a two-byte status code.
			return &frameViolation{CloseProtocolError, reasonCloseLength}
		}
		s.isClose = opcode == 0x8
		return nil
	case 0x0: // continuation (§5.4)
		if !s.fragmented {
			return &frameViolation{CloseProtocolError, reasonContinuation}
		}
		s.messageLen += length
	case 0x1, 0x2: // text, binary
		if s.fragmented {
			return &frameViolation{CloseProtocolError, reasonInterleaved}
		}
		s.messageLen = length
	default:
		return &frameViolation{CloseProtocolError, reasonReservedOpcode}
	}
	if s.maxFrame > 0 && length > s.maxFrame {
		return &frameViolation{CloseMessageTooBig, reasonFrameTooBig}
	}
	if s.maxMessage > 0 && s.messageLen > s.maxMessage {
		return &frameViolation{CloseMessageTooBig, reasonMessageTooBig}
	}
	s.fragmented = !fin
	return nil
}

// validCloseCode reports whether a client may send code in a close frame (RFC 6455
// §7.4): 1000-1003 and 1007-1014 are defined, 3000-4999 are for libraries and
// applications; 1004-1006 and 1015 must never be sent, and the rest is reserved.
func validCloseCode(code uint16) bool {
	switch {
	case code >= 1000 && code <= 1003, code >= 1007 && code <= 1014:
		return true
	default:
		return code >= 3000 && code <= 4999
	}
}

// headerLen is a frame header's length given its second byte: 2, plus 2 or 8 bytes of
// extended payload length, plus 4 bytes of masking key when the mask bit is set.
func headerLen(b1 byte) int {
	n := 2
	switch b1 & 0x7f {
	case 126:
		n += 2
	case 127:
		n += 8
	}
	if b1&0x80 != 0 {
		n += 4
	}
	return n
}
