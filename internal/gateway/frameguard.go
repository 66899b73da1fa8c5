package gateway

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
)

// frameGuard sits between a connection's socket and the WebSocket library's reader and
// checks every client frame header as its bytes stream past, before the library parses
// it (RFC 6455 §5.2). gws v1.8.9 converts a 64-bit payload length to int without
// checking its most significant bit, so a 14-byte header can make it slice with a
// negative length and panic in its read goroutine; no later gws is served, and the
// library has no hook to check a header first, so the check is written here. A header
// that breaks a rule fails the connection through fail (which sends the close frame
// with the library's own writer) and the read returns errFrameRejected.
//
// The guard holds no buffer of its own beyond one frame header (14 bytes): payload
// bytes are counted, not copied.
type frameGuard struct {
	net.Conn
	src     io.Reader // the bytes the HTTP server had already buffered, then Conn
	scan    frameScanner
	fail    func(code int, reason string) // called once, from Read, on the first violation
	pending *frameViolation               // found, to be failed on the next Read
	err     error                         // set once the connection has been failed
	// unchecked skips the checks (a test hook: see Gateway.uncheckedFrames).
	unchecked bool
}

// errFrameRejected is what Read returns once a frame header has been rejected.
var errFrameRejected = errors.New("gateway: frame rejected")

func (g *frameGuard) Read(p []byte) (int, error) {
	if g.err != nil {
		return 0, g.err
	}
	if v := g.pending; v != nil {
		g.err = errFrameRejected
		g.fail(v.code, v.reason)
		return 0, g.err
	}
	n, err := g.src.Read(p)
	if g.unchecked {
		return n, err
	}
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

// frameViolation is a frame header that breaks RFC 6455 or a gateway limit.
type frameViolation struct {
	code   int
	reason string
}

// frameScanner follows frame boundaries in a stream of client bytes: it keeps the
// header in progress and counts down the current frame's payload.
type frameScanner struct {
	hdr       [14]byte
	hn        int    // header bytes seen so far
	remaining uint64 // payload bytes of the current frame still to come
}

// scan consumes b. It returns how many bytes of b precede the rejected header's first
// byte in b (len(b) when there is no violation) and the first violation, if any. After
// a violation the scanner must not be used again.
func (s *frameScanner) scan(b []byte) (int, *frameViolation) {
	i := 0
	for i < len(b) {
		if s.remaining > 0 {
			k := uint64(len(b) - i)
			if k > s.remaining {
				k = s.remaining
			}
			i += int(k)
			s.remaining -= k
			continue
		}
		start := i - s.hn // negative when the header began in an earlier read
		s.hdr[s.hn] = b[i]
		s.hn++
		i++
		if s.hn < 2 || s.hn < headerLen(s.hdr[1]) {
			continue
		}
		length, v := checkHeader(s.hdr[:s.hn])
		if v != nil {
			return max(start, 0), v
		}
		s.hn, s.remaining = 0, length
	}
	return len(b), nil
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

// checkHeader checks a complete frame header and returns its payload length.
func checkHeader(h []byte) (uint64, *frameViolation) {
	switch code := h[1] & 0x7f; code {
	case 126:
		return uint64(binary.BigEndian.Uint16(h[2:4])), nil
	case 127:
		n := binary.BigEndian.Uint64(h[2:10])
		if n>>63 != 0 {
			// RFC 6455 §5.2: "the most significant bit MUST be 0".
			return 0, &frameViolation{CloseProtocolError, reasonBadLength}
		}
		return n, nil
	default:
		return uint64(code), nil
	}
}
