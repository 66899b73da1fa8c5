package server

import (
	"bytes"
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/wsgate/wsgate/internal/gateway"
)

// headListener wraps the WebSocket listener (after TLS, so it sees plaintext) so that
// each connection keeps the bytes of its first request head, up to max bytes. net/http
// gives header names in canonical form (Sec-Websocket-Protocol); API Gateway passes them
// as the client sent them (Sec-WebSocket-Protocol), and authorizers read them so, so the
// gateway takes the names from these bytes (gateway.ContextWithWireHead, set by
// headConnContext).
//
// Only the first head of a connection is kept: browsers open every WebSocket on a new
// connection. A handshake that comes later on a kept-alive connection, or whose head is
// longer than max (net/http refuses it anyway), gets the canonical names, because the
// gateway checks the captured head against the parsed request before using it.
type headListener struct {
	net.Listener
	max int
}

func (l headListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &headConn{Conn: c, max: l.max}, nil
}

// headConn records what is read from it until the end of the first request head. Once
// recording stops, a read costs one atomic load more than the connection's own.
type headConn struct {
	net.Conn
	max     int
	stopped atomic.Bool // the head is complete or too long: nothing more is recorded

	mu    sync.Mutex
	buf   []byte // the head, once complete; nil if too long or taken
	taken bool
}

func (c *headConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 && !c.stopped.Load() {
		c.record(p[:n])
	}
	return n, err
}

// UnwrapHead is the connection beneath, for the gateway to keep once a handshake has
// been upgraded: by then the head has been read and recording has stopped.
func (c *headConn) UnwrapHead() net.Conn { return c.Conn }

// CloseWrite ends the sending side of the connection beneath (TCP, TLS), which the
// gateway's lingering close after a rejected frame needs (frameguard.go).
func (c *headConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.ErrUnsupported
}

// SyscallConn is the socket beneath, for the gateway's poller (internal/gateway/
// netpoll_linux.go), which watches an idle connection's file descriptor instead of
// keeping a goroutine blocked in its Read; none beneath TLS, whose connections keep
// their reading goroutine.
func (c *headConn) SyscallConn() (syscall.RawConn, error) {
	if sc, ok := c.Conn.(syscall.Conn); ok {
		return sc.SyscallConn()
	}
	return nil, errors.ErrUnsupported
}

func (c *headConn) record(b []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	from := max(0, len(c.buf)-3) // the end of the head may straddle two reads
	c.buf = append(c.buf, b...)
	if end := headEnd(c.buf, from); end >= 0 {
		c.buf = c.buf[:end:end]
		c.stopped.Store(true)
		return
	}
	if len(c.buf) > c.max {
		c.buf = nil
		c.stopped.Store(true)
	}
}

// headEnd returns the length of the request head at the start of b (through the empty
// line that ends it, CRLF or LF line ends), or -1 if b does not hold all of it yet; the
// search starts at from.
func headEnd(b []byte, from int) int {
	for i := bytes.IndexByte(b[from:], '\n'); i >= 0; {
		at := from + i + 1 // just after a line end
		rest := b[at:]
		if bytes.HasPrefix(rest, []byte("\n")) {
			return at + 1
		}
		if bytes.HasPrefix(rest, []byte("\r\n")) {
			return at + 2
		}
		from = at
		i = bytes.IndexByte(b[from:], '\n')
	}
	return -1
}

// take returns the first request head's request line and header lines, once: later
// calls, and a head that was too long or is not complete, give ok false.
func (c *headConn) take() (string, []gateway.WireHeader, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.taken || !c.stopped.Load() || c.buf == nil {
		return "", nil, false
	}
	c.taken = true
	head := string(c.buf)
	c.buf = nil
	return parseHead(head)
}

// parseHead splits a request head into its request line and header lines, names as
// written and values trimmed of blanks. A head net/http would not parse the same way or
// would refuse (a folded line, a line without a colon, a name that is not a token, a CR
// or NUL in a value) gives ok false.
func parseHead(head string) (string, []gateway.WireHeader, bool) {
	lines := strings.Split(head, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimSuffix(l, "\r")
	}
	if len(lines) < 2 || lines[0] == "" {
		return "", nil, false
	}
	var fields []gateway.WireHeader
	for _, l := range lines[1:] {
		if l == "" {
			break
		}
		if l[0] == ' ' || l[0] == '\t' {
			return "", nil, false
		}
		name, value, ok := strings.Cut(l, ":")
		if !ok || !isToken(name) || strings.ContainsAny(value, "\r\x00") {
			return "", nil, false
		}
		fields = append(fields, gateway.WireHeader{Name: name, Value: strings.Trim(value, " \t")})
	}
	return lines[0], fields, true
}

// isToken reports whether s is an HTTP token (RFC 9110 §5.6.2), as a header name must be.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0 {
			continue
		}
		return false
	}
	return true
}

// headConnContext gives each request of a headConn the way to its captured head.
func headConnContext(ctx context.Context, c net.Conn) context.Context {
	if hc, ok := c.(*headConn); ok {
		return gateway.ContextWithWireHead(ctx, hc.take)
	}
	return ctx
}
