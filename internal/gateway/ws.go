package gateway

import (
	"bufio"
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/gobwas/ws"
	"golang.org/x/time/rate"
)

// This file is the seam between the gateway and its WebSocket library, gobwas/ws v1.5.0:
// no other file of the package imports it. gobwas/ws is a frame-level library (frame
// headers, masking, close frame bodies); the connection around it is the gateway's own,
// so that an idle connection costs as little as possible: it holds no goroutine, no read
// buffer and no write buffer. On Linux, a connection whose socket the poller can watch
// (plain TCP: netpoll_linux.go) waits in the poller; when the client sends, a goroutine
// borrows a read buffer, reads and handles every frame that has arrived, and hands the
// connection back to the poller. A TLS connection (whose plaintext crypto/tls may hold
// buffered where the poller cannot see it), or any connection elsewhere than Linux,
// keeps one reading goroutine instead, which runs the same code in a loop.
//
// What the gateway needs of this seam is what the functions here do: upgrade with a
// subprotocol chosen per handshake, read the client's frames through frameGuard, report
// each message and the close code that was on the wire, queue writes with a deadline,
// and close with a chosen code.

// socket is the WebSocket side of a Conn.
type socket struct {
	g     *Gateway
	c     *Conn      // set by the handshake once the upgrade is done
	guard frameGuard // in the socket, not beside it: one allocation per connection
	// fc is the connection the gateway drives itself, in the poller (netpoll_linux.go);
	// nil when it cannot (TLS, or no poller on this system): Go's net.Conn is kept, and
	// a goroutine reads.
	fc *fdConn

	// The reader's state. Only one reader runs at a time: the poller hands the
	// connection to a new one only once the last one has returned it.
	rb *readBuffer // borrowed from readers while frames are being read
	fr frameReader

	wmu      sync.Mutex // one write at a time
	closeOut bool       // a close frame has been written: nothing more is (wmu)
	writing  bool       // a goroutine is running the write queue (qmu)
	qmu      sync.Mutex
	queue    []writeJob // queued messages (writeAsync)

	// state says whether a reader is running and whether the connection has ended
	// (stateReading, stateEnded): the Conn is told it has ended (Conn.closed, whose
	// $disconnect waits for the message handlers) only once no reader runs, so that
	// no reader hands on a message after that.
	state     atomic.Int32
	finishing atomic.Bool // finish has been called (it sets end, then stateEnded)
	end       *closeFrame // the code and reason the connection ended with (set by finish)
}

// readBufferSize is the size of the read buffers a connection borrows while its frames
// are read; a frame larger than the buffer is read straight into the message.
const readBufferSize = 4096

// readBuffer is what a reader borrows: the read buffer and room for a frame header.
type readBuffer struct {
	br  *bufio.Reader
	hdr [ws.MaxHeaderSize]byte
}

// readers are the read buffers connections borrow.
var readers = sync.Pool{New: func() any { return &readBuffer{br: bufio.NewReaderSize(nil, readBufferSize)} }}

// writeBuffer holds a frame (header and payload) while it is written, so that a small
// message goes out in one write.
type writeBuffer struct {
	bytes.Buffer
	hdr [ws.MaxHeaderSize]byte
}

var writeBuffers = sync.Pool{New: func() any { return new(writeBuffer) }}

// frame appends one unfragmented frame of p to b.
func (b *writeBuffer) frame(op ws.OpCode, p []byte) {
	_ = ws.WriteHeaderBuffer(b, ws.Header{Fin: true, OpCode: op, Length: int64(len(p))}, b.hdr[:])
	b.Write(p)
}

// maxParallelMessages is how many messages of one connection are handled at once; the
// connection's reader waits while that many are in flight (backpressure on the client).
const maxParallelMessages = 4

// reasonInvalidUTF8 is the reason of the 1007 close frame for a text message (or a close
// reason) that is not UTF-8.
const reasonInvalidUTF8 = "Invalid UTF-8"

// wsServer upgrades handshakes for a gateway.
type wsServer struct {
	g    *Gateway
	poll *poller // nil where there is no poller (netpoll_other.go)
	// panicOn makes the reader panic on a frame with this payload (tests only: it shows
	// that a panic in a connection's reader is recovered).
	panicOn string
}

func newWSServer(g *Gateway) *wsServer {
	return &wsServer{g: g, poll: newPoller()}
}

// upgrade hijacks the HTTP connection and completes the handshake selecting
// subprotocol ("" for none: the caller has checked that the client offered it). The
// client's frames are read through a frameGuard that tells owner of a bad frame and of
// a write to the client that misses its deadline.
func (s *wsServer) upgrade(w http.ResponseWriter, r *http.Request, subprotocol string, owner guardOwner) (*socket, error) {
	netConn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return nil, err
	}
	// A wrapper the server put around the connection for the request head (the
	// handshake's header names as sent) is done with once the head is read: the socket
	// keeps the connection beneath, one object less for as long as it lives.
	if u, ok := netConn.(interface{ UnwrapHead() net.Conn }); ok {
		netConn = u.UnwrapHead()
	}
	l := s.g.limits
	sock := &socket{g: s.g, fr: frameReader{maxMessage: int32(min(l.MaxMessageBytes, math.MaxInt32))}}
	var pre []byte
	if n := brw.Reader.Buffered(); n > 0 {
		// Bytes the client sent after its request, already read by net/http.
		b, _ := brw.Reader.Peek(n)
		pre = bytes.Clone(b)
	}
	_ = netConn.SetDeadline(time.Now().Add(l.HandshakeTimeout.D()))
	if _, err := netConn.Write(switchingProtocols(r.Header.Get("Sec-WebSocket-Key"), subprotocol)); err != nil {
		_ = netConn.Close()
		return nil, err
	}
	_ = netConn.SetDeadline(time.Time{})
	if fc := s.poll.adopt(netConn, sock); fc != nil {
		sock.fc = fc
		netConn = fc
	}
	sock.guard = frameGuard{Conn: netConn, owner: owner,
		scan: frameScanner{maxFrame: uint64(l.MaxFrameBytes), maxMessage: uint64(l.MaxMessageBytes)}}
	if pre != nil {
		sock.guard.Conn = &preConn{Conn: netConn, pre: pre}
	}
	return sock, nil
}

// websocketGUID is RFC 6455's key suffix (§1.3).
const websocketGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// switchingProtocols is the 101 answer to a handshake with key. It is written here, not
// by the library's upgrader, because handshake.go has already checked the request
// (checkUpgrade, with RFC 6455's rules over every header line, where gobwas/ws's
// HTTPUpgrader reads only the first) and chosen the subprotocol; what is left is the
// response, whose only computed part is §4.2.2's Sec-WebSocket-Accept.
func switchingProtocols(key, subprotocol string) []byte {
	sum := sha1.Sum([]byte(key + websocketGUID))
	b := make([]byte, 0, 160)
	b = append(b, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "...)
	b = base64.StdEncoding.AppendEncode(b, sum[:])
	if subprotocol != "" {
		b = append(b, "\r\nSec-WebSocket-Protocol: "...)
		b = append(b, subprotocol...)
	}
	return append(b, "\r\n\r\n"...)
}

// readLoop starts reading the connection's frames: it hands the connection to the
// poller and returns, or, where the poller cannot watch it, reads until it ends.
func (c *Conn) readLoop() {
	s := c.ws
	if s.fc != nil && !s.guard.readAhead() {
		if !s.g.ws.poll.arm(s) {
			s.finish(CloseAbnormal, "") // closed already
		}
		return
	}
	c.readFrames()
}

// readFrames reads and handles the client's frames. A connection in the poller reads
// every frame that has arrived, until neither its read buffer nor frameGuard holds a
// byte more, and goes back to the poller; one without reads until it ends. A panic in
// the reader (a bug: frameGuard rejects every header that breaks a rule) closes this
// connection with 1011 and runs $disconnect; the process and every other connection go
// on.
func (c *Conn) readFrames() {
	s := c.ws
	if !s.startReading() {
		return
	}
	defer func() {
		if e := recover(); e != nil {
			s.rb = nil // not given back: its state is unknown
			c.g.recovered("a connection's reader", c.id, e)
			c.fail(CloseInternalError, reasonInternalError)
			s.finish(CloseInternalError, reasonInternalError)
			s.stopReading()
		}
	}()
	s.rb = readers.Get().(*readBuffer)
	s.rb.br.Reset(&s.guard)
	for {
		if code, reason, done := s.readFrame(c); done {
			s.release()
			s.finish(code, reason)
			s.stopReading()
			return
		}
		if s.fc != nil && s.rb.br.Buffered() == 0 && s.guard.drained() {
			break
		}
	}
	s.release()
	if s.stopReading() && !s.g.ws.poll.arm(s) {
		s.finish(CloseAbnormal, "")
	}
}

// The bits of socket.state.
const (
	stateReading = 1 << iota
	stateEnded
)

// startReading marks a reader running; false if the connection has ended (or, never
// expected, another reader runs).
func (s *socket) startReading() bool {
	for {
		old := s.state.Load()
		if old != 0 {
			return false
		}
		if s.state.CompareAndSwap(old, stateReading) {
			return true
		}
	}
}

// stopReading marks the reader done. If the connection ended while it ran, the reader
// tells the Conn (finish left that to it) and stopReading reports false.
func (s *socket) stopReading() bool {
	old := s.state.And(^int32(stateReading))
	if old&stateEnded != 0 {
		s.tellConn()
		return false
	}
	return true
}

// tellConn tells the Conn that the connection has ended, with finish's code (finish
// has set s.end before the state that tells a caller to call this).
func (s *socket) tellConn() {
	if c := s.c; c != nil {
		c.closed(s.end.code, s.end.reason)
	}
}

// release gives the read buffer back.
func (s *socket) release() {
	s.rb.br.Reset(nil)
	readers.Put(s.rb)
	s.rb = nil
}

// payloadChunk is how much of a payload is allocated before its bytes arrive: a
// declared length is trusted only up to this much at a time.
const payloadChunk = 64 << 10

// readPayload appends n bytes read from r to dst. A read that ends early returns
// io.ErrUnexpectedEOF.
func readPayload(dst []byte, r io.Reader, n int64) ([]byte, error) {
	for n > 0 {
		k := int(min(n, payloadChunk))
		at := len(dst)
		dst = append(dst, make([]byte, k)...)
		if _, err := io.ReadFull(r, dst[at:]); err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
		n -= int64(k)
	}
	if dst == nil {
		dst = []byte{}
	}
	return dst, nil
}

// readFrame reads one frame and handles it. done reports that the connection has ended,
// with the code and reason $disconnect sees (unless the gateway closed it first: then
// the gateway's code stands, conn.go: closed).
func (s *socket) readFrame(c *Conn) (code int, reason string, done bool) {
	op, p, err := s.fr.next(s.rb.br, s.rb.hdr[:])
	switch {
	case errors.Is(err, errMessageTooBig):
		// frameGuard has already failed such a frame; this is the reader's own bound.
		c.fail(CloseMessageTooBig, reasonMessageTooBig)
		return CloseMessageTooBig, reasonMessageTooBig, true
	case errors.Is(err, errProtocol):
		c.fail(CloseProtocolError, reasonProtocol)
		return CloseProtocolError, reasonProtocol, true
	case err != nil:
		return CloseAbnormal, "", true
	}
	if s.g.ws.panicOn != "" && string(p) == s.g.ws.panicOn {
		panic("gateway: test panic in a connection's reader")
	}
	switch op {
	case ws.OpPing:
		c.touch()
		// Under WriteTimeout like every other write: a client that pings and never reads
		// cannot hold its reader. A pong that cannot be written ends the connection.
		_ = s.guard.SetWriteDeadline(time.Now().Add(s.g.limits.WriteTimeout.D()))
		if err := s.writeFrame(ws.OpPong, p); err != nil {
			return CloseAbnormal, "", true
		}
	case ws.OpPong:
		c.touch()
	case ws.OpClose:
		return s.clientClose(p)
	case ws.OpText, ws.OpBinary:
		if op == ws.OpText && !utf8.Valid(p) {
			c.fail(CloseInvalidPayload, reasonInvalidUTF8)
			return CloseInvalidPayload, reasonInvalidUTF8, true
		}
		c.dispatch(p, op == ws.OpBinary)
	}
	return 0, "", false
}

// frameReader reads a connection's frames and puts fragmented messages together. Its
// input has passed frameGuard, so a frame that breaks RFC 6455 never reaches it; it
// checks anyway what would make it misbehave (a length over maxMessage before anything
// is allocated, a continuation without a message, an unknown opcode), so that it is
// safe on any input (FuzzFrameReader).
type frameReader struct {
	msg        []byte    // the fragments so far of an open fragmented message
	maxMessage int32     // largest message; 0: no limit (a limit over 2 GiB is 2 GiB)
	msgOp      ws.OpCode // the open message's opcode
	msgOpen    bool
}

// Errors of frameReader.next besides the reader's own.
var (
	errMessageTooBig = errors.New("gateway: message too big")
	errProtocol      = errors.New("gateway: frame breaks RFC 6455")
)

// reasonProtocol is the reason of a 1002 that frameReader, not frameGuard, found (never
// expected: frameGuard finds them first).
const reasonProtocol = "Protocol error"

// next reads one frame from r, with hdr (at least ws.MaxHeaderSize bytes) as room for
// its header. It returns a control frame's opcode and its (unmasked)
// payload, a complete message's opcode (text or binary) and body, or
// ws.OpContinuation with no payload for a fragment that does not end its message.
func (f *frameReader) next(r io.Reader, hdr []byte) (ws.OpCode, []byte, error) {
	h, err := ws.ReadHeaderBuffer(r, hdr)
	if err != nil {
		if errors.Is(err, ws.ErrHeaderLengthMSB) || errors.Is(err, ws.ErrHeaderLengthUnexpected) {
			return 0, nil, errProtocol
		}
		return 0, nil, err
	}
	control := h.OpCode.IsControl()
	switch {
	case h.Length < 0, control && (h.Length > 125 || !h.Fin), h.Rsv != 0, !h.Masked:
		return 0, nil, errProtocol
	case h.OpCode == ws.OpContinuation && !f.msgOpen, (h.OpCode == ws.OpText || h.OpCode == ws.OpBinary) && f.msgOpen:
		return 0, nil, errProtocol
	case !control && h.OpCode != ws.OpContinuation && h.OpCode != ws.OpText && h.OpCode != ws.OpBinary:
		return 0, nil, errProtocol
	case control && h.OpCode != ws.OpClose && h.OpCode != ws.OpPing && h.OpCode != ws.OpPong:
		return 0, nil, errProtocol
	}
	if f.maxMessage > 0 && !control && int64(len(f.msg))+h.Length > int64(f.maxMessage) {
		return 0, nil, errMessageTooBig
	}
	var start int
	var dst []byte
	if h.OpCode == ws.OpContinuation {
		// Read straight onto the fragments so far.
		start, dst = len(f.msg), f.msg
	}
	all, err := readPayload(dst, r, h.Length)
	if err != nil {
		return 0, nil, err
	}
	p := all[start:]
	if h.OpCode == ws.OpContinuation {
		f.msg = all
	}
	ws.Cipher(p, h.Mask, 0)
	switch {
	case control:
		return h.OpCode, p, nil
	case h.OpCode != ws.OpContinuation && h.Fin:
		return h.OpCode, p, nil
	case h.OpCode != ws.OpContinuation:
		f.msg, f.msgOp, f.msgOpen = p, h.OpCode, true
		return ws.OpContinuation, nil, nil
	case !h.Fin:
		return ws.OpContinuation, nil, nil
	}
	op, msg := f.msgOp, f.msg
	f.msg, f.msgOp, f.msgOpen = nil, 0, false
	return op, msg, nil
}

// clientClose answers the client's close frame, whose payload is p: the close frame
// back echoes its code (RFC 6455 §5.5.1), and the connection ends with the client's code
// and reason (1005 for a close frame without a code). A reason that is not UTF-8 fails
// the connection with 1007 (§8.1).
func (s *socket) clientClose(p []byte) (int, string, bool) {
	if len(p) == 0 {
		_ = s.writeFrame(ws.OpClose, nil)
		return 1005, "", true
	}
	code, reason := ws.ParseCloseFrameData(p)
	if !utf8.ValidString(reason) {
		s.c.fail(CloseInvalidPayload, reasonInvalidUTF8)
		return CloseInvalidPayload, reasonInvalidUTF8, true
	}
	_ = s.writeFrame(ws.OpClose, ws.NewCloseFrameBody(code, ""))
	return int(code), reason, true
}

// dispatch hands a message to a goroutine the connection counts, so that $disconnect
// and Shutdown wait for it. At most maxParallelMessages run at once; the reader waits
// for a free slot.
func (c *Conn) dispatch(body []byte, binary bool) {
	if c.slots == nil {
		c.slots = make(chan struct{}, maxParallelMessages)
		if l := c.g.limits; l.MessageRate > 0 {
			c.rate = rate.NewLimiter(rate.Limit(l.MessageRate), max(l.MessageBurst, int(l.MessageRate+0.999999)))
		}
	}
	c.slots <- struct{}{}
	c.inflight.Add(1)
	go func() {
		defer func() { <-c.slots }()
		defer c.inflight.Done()
		defer func() {
			if e := recover(); e != nil {
				c.g.recovered("a message handler", c.id, e)
			}
		}()
		c.message(body, binary)
	}()
}

// finish ends the connection, once: out of the poller, the socket closed (after a
// rejected frame, lingering: frameGuard.Close), and the Conn told the code that was on
// the wire, by finish or, if a reader is running, by the reader when it stops.
func (s *socket) finish(code int, reason string) {
	if !s.finishing.CompareAndSwap(false, true) {
		return
	}
	s.end = &closeFrame{code, reason}
	old := s.state.Or(stateEnded)
	if s.g.ws.poll != nil {
		s.g.ws.poll.remove(s)
	}
	_ = s.guard.Close()
	if old&stateReading == 0 {
		s.tellConn() // else the reader does, when it stops
	}
}

// errClosed is what a write returns once the close frame has been sent.
var errClosed = errors.New("gateway: connection closed")

// writeFrame writes one unfragmented frame (header and payload in one write when small).
func (s *socket) writeFrame(op ws.OpCode, p []byte) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.closeOut {
		return errClosed
	}
	if op == ws.OpClose {
		s.closeOut = true
	}
	buf := writeBuffers.Get().(*writeBuffer)
	buf.Reset()
	buf.frame(op, p)
	_, err := s.guard.Write(buf.Bytes())
	putWriteBuffer(buf)
	return err
}

// writeClose writes a close frame with body (nil: no code) and ends the connection.
func (s *socket) writeClose(body []byte) error {
	err := s.writeFrame(ws.OpClose, body)
	s.finish(CloseAbnormal, "")
	return err
}

// writeJob is one queued message.
type writeJob struct {
	op      ws.OpCode
	data    []byte
	timeout time.Duration
	skip    func() bool // true: the connection is closing, the message is dropped
	done    func(error)
}

// maxCoalesce bounds the bytes of queued messages written in one write.
const maxCoalesce = 64 << 10

// enqueue queues j behind the messages queued before it. A goroutine, which exists only
// while the queue is not empty, writes them: every message queued by the time it looks
// goes out in one write (up to maxCoalesce bytes), so that a burst of pushes to one
// connection costs one syscall, not one per frame. An adopted connection (fdConn) with
// nothing queued is written at once by the caller instead, without waiting: a push costs
// no goroutine and no timer unless the client's socket buffer is full, and then only
// what it did not take is left to a goroutine, with the write deadline.
func (s *socket) enqueue(j writeJob) {
	s.qmu.Lock()
	if s.fc != nil && !s.writing && len(s.queue) == 0 {
		s.writing = true
		s.qmu.Unlock()
		s.writeNow(j)
		return
	}
	s.queue = append(s.queue, j)
	if s.writing {
		s.qmu.Unlock()
		return
	}
	s.writing = true
	s.qmu.Unlock()
	go s.writeQueue()
}

// writeQueue writes the queue until it is empty (s.writing is set: this is the writer).
func (s *socket) writeQueue() {
	for {
		s.qmu.Lock()
		jobs := s.queue
		s.queue = nil
		if len(jobs) == 0 {
			s.writing = false
			s.qmu.Unlock()
			return
		}
		s.qmu.Unlock()
		s.writeJobs(jobs)
	}
}

// writeNow writes j's frame with what the socket takes without waiting (s.writing is
// set: this is the writer); a goroutine writes the rest, if any, and whatever was
// queued meanwhile.
func (s *socket) writeNow(j writeJob) {
	if j.skip() {
		j.done(nil)
		s.handOn()
		return
	}
	if !s.wmu.TryLock() {
		// A control frame (a pong, the close) is being written, maybe to a full socket:
		// j goes first in the queue, for a goroutine, and the caller does not wait.
		s.qmu.Lock()
		s.queue = append([]writeJob{j}, s.queue...)
		s.qmu.Unlock()
		go s.writeQueue()
		return
	}
	if s.closeOut {
		s.wmu.Unlock()
		j.done(errClosed)
		s.handOn()
		return
	}
	buf := writeBuffers.Get().(*writeBuffer)
	buf.Reset()
	buf.frame(j.op, j.data)
	n, err := s.fc.tryWrite(buf.Bytes())
	if err == nil && n < buf.Len() {
		// The socket's buffer is full: the rest goes out in a goroutine, which holds wmu
		// until it has (no control frame may come between a frame's bytes).
		go func() {
			_ = s.guard.SetWriteDeadline(time.Now().Add(j.timeout))
			_, err := s.guard.Write(buf.Bytes()[n:])
			s.wrote(buf, j, err)
			s.writeQueue()
		}()
		return
	}
	s.wrote(buf, j, err)
	s.handOn()
}

// wrote ends a write of writeNow's: the write lock released, the buffer given back, the
// connection ended if the write failed, and j told.
func (s *socket) wrote(buf *writeBuffer, j writeJob, err error) {
	s.wmu.Unlock()
	putWriteBuffer(buf)
	if err != nil {
		s.finish(CloseAbnormal, "")
	}
	j.done(err)
}

// handOn ends writeNow's turn as the writer: what was queued meanwhile is written by a
// goroutine, not by the caller, who does not wait for a slow client.
func (s *socket) handOn() {
	s.qmu.Lock()
	if len(s.queue) == 0 {
		s.writing = false
		s.qmu.Unlock()
		return
	}
	s.qmu.Unlock()
	go s.writeQueue()
}

// putWriteBuffer gives a write buffer back, unless a large message has grown it.
func putWriteBuffer(buf *writeBuffer) {
	if buf.Cap() <= 64<<10 {
		writeBuffers.Put(buf)
	}
}

// writeJobs writes jobs in order, in as few writes as maxCoalesce allows, and tells
// each its outcome. After a failed write the connection is ended and the rest fail too.
func (s *socket) writeJobs(jobs []writeJob) {
	var failed error
	for len(jobs) > 0 {
		if failed != nil {
			jobs[0].done(failed)
			jobs = jobs[1:]
			continue
		}
		if jobs[0].skip() {
			jobs[0].done(nil)
			jobs = jobs[1:]
			continue
		}
		n, size := 1, len(jobs[0].data)
		for n < len(jobs) && size+len(jobs[n].data) <= maxCoalesce && !jobs[n].skip() {
			size += len(jobs[n].data)
			n++
		}
		_ = s.guard.SetWriteDeadline(time.Now().Add(jobs[0].timeout))
		err := s.writeFrames(jobs[:n])
		if err != nil {
			s.finish(CloseAbnormal, "")
			failed = err
		}
		for _, j := range jobs[:n] {
			j.done(err)
		}
		jobs = jobs[n:]
	}
}

// writeFrames writes jobs' messages as unfragmented frames, in one write.
func (s *socket) writeFrames(jobs []writeJob) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.closeOut {
		return errClosed
	}
	buf := writeBuffers.Get().(*writeBuffer)
	buf.Reset()
	for _, j := range jobs {
		buf.frame(j.op, j.data)
	}
	_, err := s.guard.Write(buf.Bytes())
	putWriteBuffer(buf)
	return err
}

// recoverHTTP, deferred by an HTTP handler, turns a panic into a counted 500 (answered
// only if nothing was written yet: a hijacked or half-answered request is just closed).
func (g *Gateway) recoverHTTP(w http.ResponseWriter, what string) {
	if e := recover(); e != nil {
		if e == http.ErrAbortHandler {
			panic(e)
		}
		g.recovered(what, "", e)
		defer func() { _ = recover() }() // the writer may be hijacked
		w.Header().Set("Connection", "close")
		w.WriteHeader(http.StatusInternalServerError)
	}
}

// RecoverHTTP wraps h so that a panic in it answers 500 and is counted and logged as
// the gateway's own are (wsgate_panics_total), instead of net/http's bare log line.
func (g *Gateway) RecoverHTTP(what string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer g.recoverHTTP(w, what)
		h.ServeHTTP(w, r)
	})
}

// recovered counts and logs a panic recovered in what.
func (g *Gateway) recovered(what, connID string, e any) {
	g.metrics.panics.Inc()
	g.log.Error("panic in "+what+" (recovered)", "connectionId", connID, "panic", fmt.Sprint(e), "stack", string(debug.Stack()))
}

// writeAsync queues data as one message (text if UTF-8, else binary) behind the
// connection's earlier writes; done runs after the write, with its error. A write that
// fails ends the connection.
func (c *Conn) writeAsync(data []byte, timeout time.Duration, done func(error)) {
	op := ws.OpText
	if !utf8.Valid(data) {
		op = ws.OpBinary
	}
	c.ws.enqueue(writeJob{op: op, data: data, timeout: timeout, skip: c.closing.Load, done: done})
}

// writeClose sends a close frame with code and reason and closes the socket; a write
// to a slow reader is cut short after a second.
func (c *Conn) writeClose(code int, reason string) {
	_ = c.ws.guard.SetDeadline(time.Now().Add(time.Second))
	_ = c.ws.writeClose(ws.NewCloseFrameBody(ws.StatusCode(code), reason))
}
