package gateway

import (
	"io"
	"math"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// poller watches the gateway's plain TCP connections with one epoll instance, so that an
// idle connection holds no goroutine and none of Go's per-socket state: once the 101 is
// written, the gateway takes the socket's file descriptor over (adopt: a duplicate of
// it, and the net.Conn Go accepted closed) and drives it as an fdConn, with system calls
// and this poller. Each descriptor is registered EPOLLONESHOT, for what is waited on at
// the moment: readable, when no reader runs, to start one (Conn.readFrames, which reads
// what has arrived and arms the socket again when it has nothing more buffered);
// readable or writable, when a read in the middle of a frame or a write to a full
// socket buffer waits. One shot means one reader per connection at a time, and a
// level-triggered re-arm reports bytes that arrived while the reader was finishing.
//
// It is written here because no served library does this for a connection that
// net/http has already accepted and hijacked (lesismal/nbio owns its listener and has
// its own WebSocket implementation; gobwas/ws is frame-level only and leaves polling to
// the caller, mailru/easygo is not served). What Go's net.Conn would have kept for each
// connection for its whole life (its netFD, two addresses, the runtime's poll
// descriptor: about 0.6 KiB) is what adopting saves.
//
// The poller's goroutine runs only while it watches a connection: it starts with the
// first and ends with the last (woken by an eventfd), so a gateway with no connection
// has no goroutine in it, and the count of live goroutines stays the gateway's own.
//
// Lock order: poller.mu, then an fdConn's mu (shared); fdConn.Close takes its mu alone.
type poller struct {
	mu      sync.Mutex
	conns   map[uint32]*fdConn // by pollID
	next    uint32
	epfd    int // the epoll instance while running
	wake    int // its eventfd (id 0)
	running bool
	// events counts the connections' events handed on (tests: a registration must not
	// report one condition over and over).
	events atomic.Uint64
}

func newPoller() *poller { return &poller{conns: map[uint32]*fdConn{}} }

// fdConn is an adopted connection: the file descriptor of a TCP socket (non-blocking, as
// Go accepted it), read and written with system calls; a read or write that would block
// waits in the poller, within the deadline set. It is a net.Conn, so that frameGuard and
// the writers use it as they use Go's.
type fdConn struct {
	p *poller
	s *socket // whose reader the poller starts

	// mu is held shared by every system call on fd and exclusively by Close, so that a
	// descriptor number is never used once closed (and maybe given to another socket).
	mu sync.RWMutex

	rdl, wdl atomic.Int64  // read and write deadlines, Unix nanoseconds (0: none)
	rdWait   chan struct{} // closed when a waiting read should try again (poller.mu)
	wrWait   chan struct{} // closed when a waiting write should try again (poller.mu)

	fd int32 // -1 once closed (mu); 32 bits, with the small fields: 96 bytes in all
	// waiting has waitRead and waitWrite set while a read or write waits (set and
	// cleared under poller.mu, read without it): a deadline set with nothing waiting, as
	// before every write, takes no lock.
	waiting atomic.Uint32
	pollID  uint32 // the poller's id of the connection, its epoll data (poller.mu)
	armed   bool   // start a reader when readable (poller.mu)
	closed  bool   // Close has run: nothing is registered again (poller.mu)
}

var _ net.Conn = (*fdConn)(nil)

// adopt takes c's socket over, when c is plain TCP: s reads and writes the returned
// fdConn, and c is closed. nil (c untouched) for any other connection, or when the
// descriptor cannot be duplicated or watched (too many open files, epoll's limit): the
// connection then keeps Go's net.Conn and a reading goroutine.
func (p *poller) adopt(c net.Conn, s *socket) *fdConn {
	tc, ok := c.(*net.TCPConn)
	if p == nil || !ok {
		return nil
	}
	raw, err := tc.SyscallConn()
	if err != nil {
		return nil
	}
	fd := -1
	var derr error
	if err := raw.Control(func(f uintptr) { fd, derr = unix.FcntlInt(f, unix.F_DUPFD_CLOEXEC, 0) }); err != nil || derr != nil {
		return nil
	}
	fc := &fdConn{p: p, s: s, fd: int32(fd)}
	if !p.register(fc) {
		_ = unix.Close(fd)
		return nil
	}
	_ = tc.Close() // the duplicate holds the socket open
	return fc
}

// register adds fc to the epoll instance with no event wanted yet. One-shot even so:
// epoll reports a hang-up or an error whatever the mask, and a level-triggered
// registration would report it on every wait until the connection is armed.
func (p *poller) register(fc *fdConn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.running && !p.start() {
		return false
	}
	p.next++
	for p.next == 0 || p.conns[p.next] != nil { // wrapped around
		p.next++
	}
	ev := unix.EpollEvent{Events: unix.EPOLLONESHOT}
	setPollID(&ev, p.next)
	if unix.EpollCtl(p.epfd, unix.EPOLL_CTL_ADD, int(fc.fd), &ev) != nil {
		p.stopIfIdle()
		return false
	}
	fc.pollID = p.next
	p.conns[fc.pollID] = fc
	return true
}

// update asks epoll for what fc waits on now (p.mu held); false if fc is closed.
func (p *poller) update(fc *fdConn) bool {
	var events uint32
	if fc.armed || fc.rdWait != nil {
		events |= unix.EPOLLIN | unix.EPOLLRDHUP
	}
	if fc.wrWait != nil {
		events |= unix.EPOLLOUT
	}
	if events == 0 {
		return !fc.closed
	}
	fc.mu.RLock()
	defer fc.mu.RUnlock()
	if fc.closed || fc.fd < 0 {
		return false
	}
	ev := unix.EpollEvent{Events: events | unix.EPOLLONESHOT}
	setPollID(&ev, fc.pollID)
	return unix.EpollCtl(p.epfd, unix.EPOLL_CTL_MOD, int(fc.fd), &ev) == nil
}

// arm hands s to the poller, or re-arms it after a read: a reader is started when the
// client sends. It reports false when s cannot be watched (not adopted, or closed): the
// caller reads it itself or ends it.
func (p *poller) arm(s *socket) bool {
	fc := s.fc
	if p == nil || fc == nil {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if s.state.Load()&stateEnded != 0 {
		return true // finish has run, or is running: nothing to watch
	}
	fc.armed = true
	if !p.update(fc) {
		fc.armed = false
		return false
	}
	return true
}

// remove stops starting readers for s (finish): a read or write still waiting (the
// linger after a rejected frame) is woken as before, until the socket is closed.
func (p *poller) remove(s *socket) {
	if p == nil || s.fc == nil {
		return
	}
	p.mu.Lock()
	s.fc.armed = false
	p.mu.Unlock()
}

// The bits of fdConn.waiting.
const (
	waitRead = 1 << iota
	waitWrite
)

// waiter is fdConn's channel and bit for a read or a write.
func (fc *fdConn) waiter(write bool) (*chan struct{}, uint32) {
	if write {
		return &fc.wrWait, waitWrite
	}
	return &fc.rdWait, waitRead
}

// wake closes the channel of fc's waiting read or write, if any (p.mu held).
func (fc *fdConn) wake(write bool) {
	w, bit := fc.waiter(write)
	if *w != nil {
		close(*w)
		*w = nil
		fc.waiting.And(^bit)
	}
}

// await registers that a read (or write) of fc waits, and returns the channel closed
// when it should try again; nil once fc is closed.
func (p *poller) await(fc *fdConn, write bool) <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	w, bit := fc.waiter(write)
	if *w == nil {
		*w = make(chan struct{})
		fc.waiting.Or(bit)
	}
	ch := *w
	if !p.update(fc) {
		fc.wake(write)
		return nil
	}
	return ch
}

// wakeWaiting wakes fc's waiting read (or write): its deadline has changed.
func (p *poller) wakeWaiting(fc *fdConn, write bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fc.wake(write)
}

// forget drops fc (closed) and wakes whatever of it waits.
func (p *poller) forget(fc *fdConn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fc.closed, fc.armed = true, false
	fc.wake(false)
	fc.wake(true)
	if fc.pollID != 0 && p.conns[fc.pollID] == fc {
		delete(p.conns, fc.pollID)
		fc.pollID = 0
		p.stopIfIdle()
	}
}

// stopIfIdle tells the poller's goroutine to end when it watches nothing (p.mu held).
func (p *poller) stopIfIdle() {
	if len(p.conns) == 0 && p.running {
		one := [8]byte{1}
		_, _ = unix.Write(p.wake, one[:])
	}
}

// start creates the epoll instance and starts the poller's goroutine (p.mu held).
func (p *poller) start() bool {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return false
	}
	wake, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		_ = unix.Close(epfd)
		return false
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, wake, &ev); err != nil {
		_ = unix.Close(epfd)
		_ = unix.Close(wake)
		return false
	}
	p.epfd, p.wake, p.running = epfd, wake, true
	go p.loop(epfd, wake)
	return true
}

// loop waits for events and hands each on: a reader started, or a waiting read or
// write woken. It ends, closing the epoll instance, once no connection is watched.
func (p *poller) loop(epfd, wake int) {
	events := make([]unix.EpollEvent, 256)
	ready := make([]*socket, 0, len(events))
	for {
		n, err := unix.EpollWait(epfd, events, -1)
		if err != nil && err != unix.EINTR {
			n = 0 // not expected (EBADF, EFAULT, EINVAL are bugs); the checks below still run
		}
		p.mu.Lock()
		for _, ev := range events[:max(n, 0)] {
			id := pollIDOf(&ev)
			if id == 0 {
				var b [8]byte
				_, _ = unix.Read(wake, b[:])
				continue
			}
			fc := p.conns[id]
			if fc == nil {
				continue // closed since
			}
			p.events.Add(1)
			if ev.Events&(unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
				if fc.rdWait != nil {
					fc.wake(false)
				} else if fc.armed {
					fc.armed = false
					ready = append(ready, fc.s)
				}
			}
			if ev.Events&(unix.EPOLLOUT|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
				fc.wake(true)
			}
			p.update(fc) // one shot: ask again for what is still waited on
		}
		if len(p.conns) == 0 {
			p.running = false
			_ = unix.Close(epfd)
			_ = unix.Close(wake)
			p.mu.Unlock()
			return
		}
		p.mu.Unlock()
		for i, s := range ready {
			go s.c.readFrames()
			ready[i] = nil
		}
		ready = ready[:0]
	}
}

// setPollID and pollIDOf keep a connection's 32-bit id in epoll's user data (in its
// first half: the Fd field of x/sys's EpollEvent).
func setPollID(ev *unix.EpollEvent, id uint32) { ev.Fd = int32(id) }

func pollIDOf(ev *unix.EpollEvent) uint32 { return uint32(ev.Fd) }

// Read reads what has arrived, waiting in the poller (until the read deadline) when
// nothing has.
func (c *fdConn) Read(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	for {
		c.mu.RLock()
		if c.fd < 0 {
			c.mu.RUnlock()
			return 0, c.opError("read", net.ErrClosed)
		}
		n, err := ignoringEINTR(func() (int, error) { return unix.Read(int(c.fd), b) })
		c.mu.RUnlock()
		switch {
		case err == nil && n > 0:
			return n, nil
		case err == nil:
			return 0, io.EOF
		case err != unix.EAGAIN:
			return 0, c.opError("read", os.NewSyscallError("read", err))
		}
		if err := c.wait(&c.rdl, false); err != nil {
			return 0, c.opError("read", err)
		}
	}
}

// Write writes all of b, waiting in the poller (until the write deadline) while the
// socket's send buffer is full.
func (c *fdConn) Write(b []byte) (int, error) {
	done := 0
	if d := c.wdl.Load(); d != 0 && time.Now().UnixNano() >= d {
		return 0, c.opError("write", os.ErrDeadlineExceeded)
	}
	for done < len(b) {
		c.mu.RLock()
		if c.fd < 0 {
			c.mu.RUnlock()
			return done, c.opError("write", net.ErrClosed)
		}
		n, err := ignoringEINTR(func() (int, error) { return unix.Write(int(c.fd), b[done:]) })
		c.mu.RUnlock()
		if err == nil && n > 0 {
			done += n
			continue
		}
		if err != nil && err != unix.EAGAIN {
			return done, c.opError("write", os.NewSyscallError("write", err))
		}
		if err := c.wait(&c.wdl, true); err != nil {
			return done, c.opError("write", err)
		}
	}
	return done, nil
}

// tryWrite writes what of b the socket takes now, without waiting: fewer than len(b)
// bytes, and no error, when its send buffer is full.
func (c *fdConn) tryWrite(b []byte) (int, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.fd < 0 {
		return 0, c.opError("write", net.ErrClosed)
	}
	n, err := ignoringEINTR(func() (int, error) { return unix.Write(int(c.fd), b) })
	switch {
	case err == unix.EAGAIN:
		return 0, nil
	case err != nil:
		return 0, c.opError("write", os.NewSyscallError("write", err))
	}
	return n, nil
}

// wait waits until the poller says a read (or write) may go on, the deadline passes
// (os.ErrDeadlineExceeded, a net.Error whose Timeout is true, as Go's), the deadline
// changes, or the connection is closed (net.ErrClosed).
func (c *fdConn) wait(deadline *atomic.Int64, write bool) error {
	var left time.Duration
	d := deadline.Load()
	if d != 0 {
		if left = time.Until(time.Unix(0, d)); left <= 0 {
			return os.ErrDeadlineExceeded
		}
	}
	ch := c.p.await(c, write)
	if ch == nil {
		return net.ErrClosed
	}
	if deadline.Load() != d {
		return nil // changed while registering, maybe unseen by its setter: try again
	}
	if d == 0 {
		<-ch
		return nil
	}
	t := time.NewTimer(left)
	defer t.Stop()
	select {
	case <-ch:
		return nil
	case <-t.C:
		return os.ErrDeadlineExceeded
	}
}

// Close closes the socket and wakes what of it waits.
func (c *fdConn) Close() error {
	c.mu.Lock()
	if c.fd < 0 {
		c.mu.Unlock()
		return c.opError("close", net.ErrClosed)
	}
	err := unix.Close(int(c.fd)) // also takes it out of the epoll instance: no other descriptor refers to it
	c.fd = -1
	c.mu.Unlock()
	c.p.forget(c)
	if err != nil {
		return c.opError("close", os.NewSyscallError("close", err))
	}
	return nil
}

// CloseWrite ends the sending side (frameGuard's linger after a rejected frame).
func (c *fdConn) CloseWrite() error {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.fd < 0 {
		return c.opError("close", net.ErrClosed)
	}
	if err := unix.Shutdown(int(c.fd), unix.SHUT_WR); err != nil {
		return c.opError("close", os.NewSyscallError("shutdown", err))
	}
	return nil
}

func (c *fdConn) SetDeadline(t time.Time) error {
	_ = c.SetReadDeadline(t)
	return c.SetWriteDeadline(t)
}

// SetReadDeadline and SetWriteDeadline apply to a read or write waiting now, as Go's
// do: it is woken to look at the new deadline. Stored before waiting is read, and read
// again by a waiter after it has set waiting: one of the two sees the other.
func (c *fdConn) SetReadDeadline(t time.Time) error {
	c.rdl.Store(deadlineNanos(t))
	if c.waiting.Load()&waitRead != 0 {
		c.p.wakeWaiting(c, false)
	}
	return nil
}

func (c *fdConn) SetWriteDeadline(t time.Time) error {
	c.wdl.Store(deadlineNanos(t))
	if c.waiting.Load()&waitWrite != 0 {
		c.p.wakeWaiting(c, true)
	}
	return nil
}

// deadlineNanos is a deadline as fdConn keeps it: 0 for none, else Unix nanoseconds (at
// least 1: a deadline before 1970 has passed).
func deadlineNanos(t time.Time) int64 {
	switch {
	case t.IsZero():
		return 0
	case t.After(time.Unix(0, math.MaxInt64)): // past 2262, where UnixNano overflows
		return math.MaxInt64
	}
	return max(t.UnixNano(), 1)
}

// LocalAddr and RemoteAddr ask the socket (nothing keeps them: nothing reads them but
// a log line).
func (c *fdConn) LocalAddr() net.Addr { return c.addr(unix.Getsockname) }

func (c *fdConn) RemoteAddr() net.Addr { return c.addr(unix.Getpeername) }

func (c *fdConn) addr(get func(int) (unix.Sockaddr, error)) net.Addr {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.fd < 0 {
		return nil
	}
	sa, err := get(int(c.fd))
	if err != nil {
		return nil
	}
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		return &net.TCPAddr{IP: net.IP(sa.Addr[:]).To16(), Port: sa.Port}
	case *unix.SockaddrInet6:
		return &net.TCPAddr{IP: net.IP(sa.Addr[:]), Port: sa.Port}
	}
	return nil
}

func (c *fdConn) opError(op string, err error) error {
	return &net.OpError{Op: op, Net: "tcp", Err: err}
}

func ignoringEINTR(f func() (int, error)) (int, error) {
	for {
		n, err := f()
		if err != unix.EINTR {
			return n, err
		}
	}
}
