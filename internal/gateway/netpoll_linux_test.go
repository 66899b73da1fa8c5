package gateway

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/wsgate/wsgate/internal/testutil"
)

// tcpPair is a real loopback TCP connection: the accepted end and the dialling peer.
func tcpPair(t *testing.T) (accepted, peer net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	peer, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { peer.Close() })
	accepted, err = ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	return accepted, peer
}

// adopted is an fdConn over a real loopback TCP connection, and its peer.
func adopted(t *testing.T) (*poller, *fdConn, net.Conn) {
	t.Helper()
	c, peer := tcpPair(t)
	p := newPoller()
	fc := p.adopt(c, &socket{})
	if fc == nil {
		t.Fatal("adopt refused a TCP connection")
	}
	t.Cleanup(func() { fc.Close() })
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, net.ErrClosed) {
		t.Errorf("the adopted net.Conn reads with %v, want it closed", err)
	}
	return p, fc, peer
}

func TestFdConnReadsAndWrites(t *testing.T) {
	_, fc, peer := adopted(t)
	if got, want := fc.RemoteAddr().String(), peer.LocalAddr().String(); got != want {
		t.Errorf("RemoteAddr %s, want %s", got, want)
	}
	if got, want := fc.LocalAddr().String(), peer.RemoteAddr().String(); got != want {
		t.Errorf("LocalAddr %s, want %s", got, want)
	}
	// A read with nothing arrived waits for the peer.
	got := make(chan string, 1)
	go func() {
		b := make([]byte, 16)
		n, err := fc.Read(b)
		if err != nil {
			got <- "error: " + err.Error()
			return
		}
		got <- string(b[:n])
	}()
	if _, err := peer.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	if s := <-got; s != "hello" {
		t.Errorf("read %q, want hello", s)
	}
	// A write larger than the socket buffers completes while the peer reads.
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<18) // 4 MiB
	read := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(io.LimitReader(peer, int64(len(big))))
		read <- b
	}()
	if n, err := fc.Write(big); n != len(big) || err != nil {
		t.Fatalf("Write = %d, %v; want %d, nil", n, err, len(big))
	}
	if b := <-read; !bytes.Equal(b, big) {
		t.Errorf("the peer read %d bytes, not what was written", len(b))
	}
	// The peer's FIN is EOF; CloseWrite is the peer's.
	if err := fc.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	if n, err := peer.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Errorf("after CloseWrite the peer reads %d, %v; want EOF", n, err)
	}
	peer.Close()
	if n, err := fc.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Errorf("after the peer's close Read = %d, %v; want EOF", n, err)
	}
}

func TestFdConnDeadlines(t *testing.T) {
	_, fc, peer := adopted(t)
	// A read deadline ends a waiting read with a timeout, as Go's does.
	_ = fc.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	_, err := fc.Read(make([]byte, 1))
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("read past its deadline: %v, want a timeout", err)
	}
	// A deadline set while a write waits (the peer reads nothing) applies to it.
	_ = fc.SetReadDeadline(time.Time{})
	done := make(chan error, 1)
	go func() {
		_, err := fc.Write(make([]byte, 64<<20))
		done <- err
	}()
	_ = fc.SetWriteDeadline(time.Now().Add(100 * time.Millisecond)) // whenever the write waits
	err = <-done
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Errorf("write past its deadline: %v, want a timeout", err)
	}
	// A deadline in the past fails a write at once.
	if n, err := fc.Write([]byte("x")); n != 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("write after its deadline = %d, %v", n, err)
	}
	_ = peer
}

func TestFdConnCloseWakesWaiters(t *testing.T) {
	p, fc, peer := adopted(t)
	readErr, writeErr := make(chan error, 1), make(chan error, 1)
	go func() {
		_, err := fc.Read(make([]byte, 1))
		readErr <- err
	}()
	go func() {
		_, err := fc.Write(make([]byte, 64<<20)) // more than the buffers: it waits
		writeErr <- err
	}()
	testutil.Eventually(t, 5*time.Second, func() error { // both wait in the poller
		p.mu.Lock()
		defer p.mu.Unlock()
		if fc.rdWait == nil || fc.wrWait == nil {
			return errors.New("the read and the write are not both waiting")
		}
		return nil
	})
	if err := fc.Close(); err != nil {
		t.Fatal(err)
	}
	for _, ch := range []chan error{readErr, writeErr} {
		if err := <-ch; !errors.Is(err, net.ErrClosed) {
			t.Errorf("a waiter woke with %v, want net.ErrClosed", err)
		}
	}
	if _, err := fc.Read(make([]byte, 1)); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Read after Close: %v", err)
	}
	if err := fc.Close(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("a second Close: %v", err)
	}
	if fc.RemoteAddr() != nil {
		t.Error("RemoteAddr after Close is not nil")
	}
	// The peer sees the connection end, and the poller has stopped watching.
	_ = peer.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.Copy(io.Discard, peer); err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Logf("peer: %v", err) // a reset is as good as a FIN here
	}
	p.mu.Lock()
	n := len(p.conns)
	p.mu.Unlock()
	if n != 0 {
		t.Errorf("the poller still holds %d connections", n)
	}
}

// A client that resets its connection before the gateway arms it: epoll reports the
// hang-up whatever the mask, once (the registration is one-shot), not on every wait.
func TestAHangUpBeforeArmingIsReportedOnce(t *testing.T) {
	p, fc, peer := adopted(t)
	_ = peer.(*net.TCPConn).SetLinger(0)
	peer.Close() // a reset
	// A second connection's read, woken by its peer, shows the poller has waited again.
	c2, other := tcpPair(t)
	fc2 := p.adopt(c2, &socket{})
	if fc2 == nil {
		t.Fatal("adopt refused")
	}
	defer fc2.Close()
	for i := range 20 {
		if _, err := other.Write([]byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
		if _, err := fc2.Read(make([]byte, 1)); err != nil {
			t.Fatal(err)
		}
	}
	if n := p.events.Load(); n > 25 {
		t.Errorf("the poller handled %d events for 20 reads and one reset: a condition is reported again and again", n)
	}
	_ = fc
}

func TestDeadlineNanos(t *testing.T) {
	for _, c := range []struct {
		in   time.Time
		want int64
	}{
		{time.Time{}, 0},
		{time.Unix(5, 0), 5_000_000_000},
		{time.Unix(-5, 0), 1},
		{time.Date(2400, 1, 1, 0, 0, 0, 0, time.UTC), math.MaxInt64},
	} {
		if got := deadlineNanos(c.in); got != c.want {
			t.Errorf("deadlineNanos(%v) = %d, want %d", c.in, got, c.want)
		}
	}
}

func TestAdoptRefusesWhatItCannotDrive(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if fc := newPoller().adopt(a, &socket{}); fc != nil {
		t.Error("adopted a net.Pipe")
	}
	var p *poller
	if fc := p.adopt(a, &socket{}); fc != nil {
		t.Error("a nil poller adopted")
	}
}

// recordingOwner is a frameGuard's owner that counts what it is told.
type recordingOwner struct {
	mu        sync.Mutex
	fails     int
	timedOuts int
}

func (o *recordingOwner) fail(int, string) { o.mu.Lock(); o.fails++; o.mu.Unlock() }
func (o *recordingOwner) writeTimedOut()   { o.mu.Lock(); o.timedOuts++; o.mu.Unlock() }

// adoptedSocket is a socket over an adopted connection, as upgrade makes it.
func adoptedSocket(t *testing.T) (*socket, net.Conn, *recordingOwner) {
	t.Helper()
	p, fc, peer := adopted(t)
	o := &recordingOwner{}
	s := fc.s
	s.g = &Gateway{ws: &wsServer{poll: p}}
	s.fc = fc
	s.guard = frameGuard{Conn: fc, owner: o}
	return s, peer, o
}

// Pushes to an adopted connection are written by the caller at once, and when the
// client's socket buffer fills, what it did not take goes out later, in order, without
// the caller waiting.
func TestWritesToAFullSocketKeepTheirOrder(t *testing.T) {
	s, peer, _ := adoptedSocket(t)
	const n, size = 2000, 16 << 10 // 31 MiB: more than the socket buffers hold
	var wg sync.WaitGroup
	errs := make([]error, n)
	never := func() bool { return false }
	for i := range n {
		wg.Add(1)
		data := bytes.Repeat([]byte{byte('a' + i%26)}, size)
		copy(data, fmt.Sprintf("%06d", i))
		s.enqueue(writeJob{op: ws.OpText, data: data, timeout: 10 * time.Second, skip: never,
			done: func(err error) { errs[i] = err; wg.Done() }})
	}
	// Every enqueue has returned with the client reading nothing yet.
	_ = peer.SetReadDeadline(time.Now().Add(10 * time.Second))
	payload := make([]byte, size)
	for i := range n {
		h, err := ws.ReadHeader(peer)
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if h.Length != size || !h.Fin || h.OpCode != ws.OpText {
			t.Fatalf("frame %d: %+v, want a final text frame of %d bytes", i, h, size)
		}
		if _, err := io.ReadFull(peer, payload); err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if got, want := string(payload[:6]), fmt.Sprintf("%06d", i); got != want {
			t.Fatalf("frame %d is message %s, want %s", i, got, want)
		}
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
	}
}

// A client that never reads: the write that waits past its deadline is reported as
// timed out and fails, and so does what was queued behind it.
func TestAWriteToAClientThatNeverReadsTimesOut(t *testing.T) {
	s, _, o := adoptedSocket(t)
	var failed atomic.Int32
	var wg sync.WaitGroup
	never := func() bool { return false }
	for range 200 {
		wg.Add(1)
		s.enqueue(writeJob{op: ws.OpBinary, data: make([]byte, 64<<10), timeout: 200 * time.Millisecond, skip: never,
			done: func(err error) {
				if err != nil {
					failed.Add(1)
				}
				wg.Done()
			}})
	}
	wg.Wait()
	if failed.Load() == 0 {
		t.Error("no write failed, though the client read nothing of 12.5 MiB")
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.timedOuts == 0 {
		t.Error("the timed-out write was not reported")
	}
	if s.fc.fd >= 0 {
		t.Error("the connection is still open after its write timed out")
	}
}
