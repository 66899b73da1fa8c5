package gateway

import (
	"sync"

	"golang.org/x/sys/unix"
)

// poller watches idle connections with one epoll instance, so that an idle connection
// holds no goroutine: each socket is registered EPOLLONESHOT, and when one becomes
// readable (data, or the client's FIN or reset) the poller starts a goroutine that reads
// what has arrived (Conn.readFrames), which arms the socket again when it has nothing
// more buffered. One shot means one reader per connection at a time, and a level-
// triggered re-arm reports bytes that arrived while the reader was finishing.
//
// It is written here because no served library does this for a connection that
// net/http has already accepted and hijacked (lesismal/nbio owns its listener and has
// its own WebSocket implementation; gobwas/ws is frame-level only and leaves polling to
// the caller, mailru/easygo is not served). The file descriptor is the one Go's own
// netpoller also watches (edge-triggered, and with no goroutine parked on it, to no
// effect): every operation on it goes through syscall.RawConn.Control, which holds it
// open, so a closed and reused descriptor number is never touched.
//
// The poller's goroutine runs only while it watches a connection: it starts with the
// first and ends with the last (woken by an eventfd), so a gateway with no connection
// has no goroutine in it, and the count of live goroutines stays the gateway's own.
type poller struct {
	mu      sync.Mutex
	conns   map[uint32]*socket // by pollID
	next    uint32
	epfd    int // the epoll instance while running
	wake    int // its eventfd (id 0)
	running bool
}

func newPoller() *poller { return &poller{conns: map[uint32]*socket{}} }

// The events a connection is watched for.
const pollEvents = unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLONESHOT

// arm hands s to the poller, or re-arms it after a read. It reports false when s cannot
// be watched (its socket closed, or epoll failed): the caller reads it itself or ends it.
func (p *poller) arm(s *socket) bool {
	if p == nil || s.raw == nil {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if s.state.Load()&stateEnded != 0 {
		return true // finish has run, or is running: nothing to watch
	}
	op := unix.EPOLL_CTL_MOD
	if s.pollID == 0 {
		if !p.running && !p.start() {
			return false
		}
		p.next++
		for p.next == 0 || p.conns[p.next] != nil { // wrapped around
			p.next++
		}
		s.pollID = p.next
		p.conns[s.pollID] = s
		op = unix.EPOLL_CTL_ADD
	}
	ev := unix.EpollEvent{Events: pollEvents}
	setPollID(&ev, s.pollID)
	var cerr error
	err := s.raw.Control(func(fd uintptr) { cerr = unix.EpollCtl(p.epfd, op, int(fd), &ev) })
	if err == nil && cerr == nil {
		return true
	}
	p.drop(s)
	return false
}

// remove stops watching s (finish calls it before closing the socket).
func (p *poller) remove(s *socket) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if s.pollID == 0 || p.conns[s.pollID] != s {
		return
	}
	_ = s.raw.Control(func(fd uintptr) { _ = unix.EpollCtl(p.epfd, unix.EPOLL_CTL_DEL, int(fd), nil) })
	p.drop(s)
}

// drop forgets s; the last connection wakes the loop so that it ends (p.mu held).
func (p *poller) drop(s *socket) {
	delete(p.conns, s.pollID)
	s.pollID = 0
	if len(p.conns) == 0 && p.running {
		one := [8]byte{1}
		_, _ = unix.Write(p.wake, one[:])
	}
}

// start creates the epoll instance and starts the loop (p.mu held).
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

// loop waits for readable connections and starts a reader for each, until the poller
// watches none.
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
			if s := p.conns[id]; s != nil {
				ready = append(ready, s)
			}
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
