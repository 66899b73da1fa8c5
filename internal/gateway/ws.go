package gateway

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"
	"unicode/utf8"

	"github.com/lxzan/gws"
	"golang.org/x/time/rate"
)

// This file is the seam between the gateway and its WebSocket library, gws v1.8.9: no
// other file of the package imports it. What the gateway needs of a library is what the
// functions here do: upgrade with a subprotocol chosen per handshake, read the client's
// frames through frameGuard, report each message and the close code that was on the
// wire, queue writes with a deadline, and close with a chosen code.

// socket is a connection of the library.
type socket = gws.Conn

// readBufferSize is the read buffer of a connection: 1 KiB instead of gws's 4, as an idle
// connection holds its read buffer; a frame larger than the buffer is read straight into
// the message.
const readBufferSize = 1024

// maxParallelMessages is how many messages of one connection are handled at once; the
// connection's reader waits while that many are in flight (backpressure on the client).
const maxParallelMessages = 4

// wsServer upgrades handshakes for a gateway.
type wsServer struct {
	g    *Gateway
	opts gws.ServerOption
	// plain upgrades the handshakes that select no subprotocol. gws fixes the selected
	// subprotocol per upgrader, so a handshake that selects one gets an upgrader of its
	// own (cheap: a few small structs), and no server state grows with what clients offer.
	plain *gws.Upgrader
	// unchecked hands the client's bytes to the library unchecked (tests only: it shows
	// that a panic in the library's reader is recovered).
	unchecked bool
}

func newWSServer(g *Gateway) *wsServer {
	s := &wsServer{g: g}
	s.opts = gws.ServerOption{
		ReadMaxPayloadSize: g.limits.MaxMessageBytes,
		ReadBufferSize:     readBufferSize,
		CheckUtf8Enabled:   true,
		// Messages are handed to goroutines by handler.OnMessage, which the gateway
		// counts (gws's own parallel dispatch cannot be waited for).
		ParallelEnabled:  false,
		HandshakeTimeout: g.limits.HandshakeTimeout.D(),
		NewSession:       func() gws.SessionStorage { return &session{} },
		Logger:           gwsLogger{g.log},
		// gws defers Recovery around every handler call it makes: it must call recover
		// itself, so that a bug in one handler never takes the process down.
		Recovery: func(gws.Logger) {
			if e := recover(); e != nil {
				g.recovered("a WebSocket event handler", "", e)
			}
		},
	}
	opts := s.opts
	s.plain = gws.NewUpgrader(handler{g}, &opts)
	return s
}

// upgrade hijacks the HTTP connection and completes the handshake selecting
// subprotocol ("" for none: the caller has checked that the client offered it). The
// client's frames are read through a frameGuard that calls fail on a bad frame, and
// writeTimedOut when a write to the client misses its deadline.
func (s *wsServer) upgrade(w http.ResponseWriter, r *http.Request, subprotocol string, fail func(code int, reason string), writeTimedOut func()) (*gws.Conn, error) {
	up := s.plain
	if subprotocol != "" {
		opts := s.opts
		opts.SubProtocols = []string{subprotocol}
		up = gws.NewUpgrader(handler{s.g}, &opts)
		// gws reads only the first Sec-WebSocket-Protocol line; the choice is made.
		r = r.Clone(r.Context())
		r.Header.Set("Sec-WebSocket-Protocol", subprotocol)
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		return nil, errors.New("the response writer cannot be hijacked")
	}
	netConn, brw, err := hj.Hijack()
	if err != nil {
		return nil, err
	}
	var src io.Reader = netConn
	if n := brw.Reader.Buffered(); n > 0 {
		// Bytes the client sent after its request, already read by net/http.
		pre, _ := brw.Reader.Peek(n)
		src = io.MultiReader(bytes.NewReader(bytes.Clone(pre)), netConn)
	}
	l := s.g.limits
	guard := &frameGuard{Conn: netConn, src: src, fail: fail, writeTimedOut: writeTimedOut, unchecked: s.unchecked,
		scan: frameScanner{maxFrame: uint64(l.MaxFrameBytes), maxMessage: uint64(l.MaxMessageBytes)}}
	return up.UpgradeFromConn(guard, bufio.NewReaderSize(guard, readBufferSize), r)
}

// readLoop reads the connection's frames until it ends. A panic in the WebSocket
// library's reader (a bug: frameGuard rejects every header known to cause one) closes
// this connection with 1011 and runs $disconnect; the process and every other
// connection go on.
func (c *Conn) readLoop() {
	defer func() {
		if e := recover(); e != nil {
			c.g.recovered("a connection's reader", c.id, e)
			c.fail(CloseInternalError, reasonInternalError)
			_ = c.ws.NetConn().Close()
			c.closed(CloseInternalError, reasonInternalError)
		}
	}()
	c.ws.ReadLoop()
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
// connection's earlier writes; done runs after the write, with its error.
func (c *Conn) writeAsync(data []byte, timeout time.Duration, done func(error)) {
	op := gws.OpcodeText
	if !utf8.Valid(data) {
		op = gws.OpcodeBinary
	}
	c.ws.Async(func() {
		if c.closing.Load() {
			done(nil)
			return
		}
		_ = c.ws.SetWriteDeadline(time.Now().Add(timeout))
		done(c.ws.WriteMessage(op, data))
	})
}

// writeClose sends a close frame with code and reason and closes the socket; a write
// to a slow reader is cut short after a second.
func (c *Conn) writeClose(code int, reason string) {
	_ = c.ws.SetDeadline(time.Now().Add(time.Second))
	_ = c.ws.WriteClose(uint16(code), []byte(reason))
}

// handler receives gws events.
type handler struct{ g *Gateway }

// session links a gws connection to its Conn without a map (gws requires a
// SessionStorage; only the pointer is used).
type session struct{ c *Conn }

func (s *session) Len() int                               { return 0 }
func (s *session) Load(string) (any, bool)                { return nil, false }
func (s *session) Delete(string)                          {}
func (s *session) Store(string, any)                      {}
func (s *session) Range(func(key string, value any) bool) {}

func connOf(ws *gws.Conn) *Conn { return ws.Session().(*session).c }

func (h handler) OnOpen(*gws.Conn) {}

func (h handler) OnPing(ws *gws.Conn, payload []byte) {
	connOf(ws).touch()
	_ = ws.WritePong(payload)
}

func (h handler) OnPong(ws *gws.Conn, _ []byte) { connOf(ws).touch() }

// OnClose reports the end of the connection with the code that was on the wire.
func (h handler) OnClose(ws *gws.Conn, err error) {
	if c := connOf(ws); c != nil {
		code, reason := closeCodeOf(err)
		c.closed(code, reason)
	}
}

// closeCodeOf tells the close code and reason from the error gws ends a connection
// with: the client's close frame (*gws.CloseError, code 0 meaning none: 1005), or the
// code gws itself failed the connection with (1007 for bad UTF-8; 1009: gws's unexported
// status type, known by its Uint16 method); anything else is a connection lost without
// a close frame, 1006. Every other protocol error is frameGuard's, whose code the Conn
// has recorded before the library sees the connection end.
func closeCodeOf(err error) (int, string) {
	var ce *gws.CloseError
	if errors.As(err, &ce) {
		if ce.Code == 0 {
			return 1005, ""
		}
		return int(ce.Code), string(ce.Reason)
	}
	if errors.Is(err, gws.ErrTextEncoding) {
		// gws sends 1007 for a text message that is not UTF-8 but ends the connection
		// with the bare error.
		return CloseInvalidPayload, ""
	}
	var sc interface{ Uint16() uint16 }
	if errors.As(err, &sc) {
		return int(sc.Uint16()), ""
	}
	return CloseAbnormal, ""
}

// OnMessage runs in the connection's reader: it copies the message (gws recycles its
// buffer when OnMessage returns) and hands it to a goroutine the connection counts, so
// that $disconnect and Shutdown wait for it. At most maxParallelMessages run at once;
// the reader waits for a free slot.
func (h handler) OnMessage(ws *gws.Conn, msg *gws.Message) {
	defer msg.Close()
	c := connOf(ws)
	binary := msg.Opcode == gws.OpcodeBinary
	body := bytes.Clone(msg.Bytes())
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

// gwsLogger sends gws's own log lines to slog.
type gwsLogger struct{ l *slog.Logger }

func (g gwsLogger) Error(v ...any) { g.l.Error("gws", "detail", v) }
