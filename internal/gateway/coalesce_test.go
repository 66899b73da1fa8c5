package gateway

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

// gatedConn is a net.Conn whose first Write reports that it started and then waits for
// release, and which records each Write: what is measured is how many writes the send
// queue makes.
type gatedConn struct {
	net.Conn
	started, release chan struct{}
	mu               sync.Mutex
	writes           [][]byte
}

func (c *gatedConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	first := len(c.writes) == 0
	c.writes = append(c.writes, bytes.Clone(p))
	c.mu.Unlock()
	if first {
		close(c.started)
		<-c.release
	}
	return len(p), nil
}

func (c *gatedConn) SetWriteDeadline(time.Time) error { return nil }

// TestQueuedMessagesShareAWrite: while one write is under way, the messages queued
// behind it go out together in the next write, in order, as well-formed frames.
func TestQueuedMessagesShareAWrite(t *testing.T) {
	c := &gatedConn{started: make(chan struct{}), release: make(chan struct{})}
	s := &socket{guard: frameGuard{Conn: c}}
	never := func() bool { return false }
	const n = 20
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		s.enqueue(writeJob{op: ws.OpText, data: fmt.Appendf(nil, "message %d", i), timeout: time.Second, skip: never,
			done: func(err error) { errs[i] = err; wg.Done() }})
		if i == 0 {
			<-c.started // the queue's goroutine is in the first write: the rest queue behind it
		}
	}
	close(c.release)
	wg.Wait()
	if len(c.writes) != 2 {
		t.Fatalf("%d writes for %d messages, want 2 (the first, then the rest together)", len(c.writes), n)
	}
	frames := bytes.NewReader(bytes.Join(c.writes, nil))
	for i := range n {
		if errs[i] != nil {
			t.Errorf("message %d: %v", i, errs[i])
		}
		data, op, err := wsutil.ReadServerData(struct {
			io.Reader
			io.Writer
		}{frames, io.Discard})
		if err != nil || op != ws.OpText || string(data) != fmt.Sprintf("message %d", i) {
			t.Fatalf("frame %d: %q op %v err %v", i, data, op, err)
		}
	}
	if frames.Len() != 0 {
		t.Errorf("%d bytes after the frames", frames.Len())
	}
}

// TestCoalescingIsBounded: queued messages are written together only up to maxCoalesce
// bytes, and a message the connection's closing drops is not written.
func TestCoalescingIsBounded(t *testing.T) {
	c := &gatedConn{started: make(chan struct{}), release: make(chan struct{})}
	s := &socket{guard: frameGuard{Conn: c}}
	never := func() bool { return false }
	always := func() bool { return true }
	big := bytes.Repeat([]byte("x"), maxCoalesce/2+1)
	var wg sync.WaitGroup
	for i, j := range []writeJob{
		{data: []byte("first")}, {data: big}, {data: []byte("dropped"), skip: always}, {data: big}, {data: []byte("last")},
	} {
		wg.Add(1)
		j.op, j.timeout, j.done = ws.OpText, time.Second, func(error) { wg.Done() }
		if j.skip == nil {
			j.skip = never
		}
		s.enqueue(j)
		if i == 0 {
			<-c.started
		}
	}
	close(c.release)
	wg.Wait()
	// first | big (the dropped one ends the batch) | big + last.
	if len(c.writes) != 3 {
		t.Fatalf("%d writes, want 3", len(c.writes))
	}
	if all := bytes.Join(c.writes, nil); bytes.Contains(all, []byte("dropped")) {
		t.Error("a dropped message was written")
	}
}
