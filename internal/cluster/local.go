package cluster

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
)

// Local is the in-memory, single-node [Registry].
type Local struct {
	// MaxPayload is the largest Post accepted, in bytes; 0 means DefaultMaxPayload.
	MaxPayload int

	mu    sync.RWMutex
	conns map[string]Conn
}

var _ Registry = (*Local)(nil)

// NewLocal returns an empty in-memory registry.
func NewLocal(maxPayload int) *Local {
	if maxPayload <= 0 {
		maxPayload = DefaultMaxPayload
	}
	return &Local{MaxPayload: maxPayload, conns: make(map[string]Conn)}
}

// Add registers c.
func (l *Local) Add(c Conn) {
	l.mu.Lock()
	l.conns[c.ID()] = c
	l.mu.Unlock()
}

// Remove unregisters the connection with this id.
func (l *Local) Remove(id string) {
	l.mu.Lock()
	delete(l.conns, id)
	l.mu.Unlock()
}

// Len is the number of registered connections.
func (l *Local) Len() int {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return len(l.conns)
}

// Lookup returns the local connection with this id.
func (l *Local) Lookup(id string) (Conn, bool) {
	l.mu.RLock()
	c, ok := l.conns[id]
	l.mu.RUnlock()
	return c, ok
}

// Post sends data to a local connection.
func (l *Local) Post(_ context.Context, id string, data []byte) error {
	if len(data) > l.MaxPayload {
		return ErrPayloadTooLarge
	}
	c, ok := l.Lookup(id)
	if !ok {
		return ErrGone
	}
	return c.Send(data)
}

// PostMany sends data to local connections, looking them up under one read lock.
func (l *Local) PostMany(_ context.Context, ids []string, data []byte) []error {
	var errs []error
	fail := func(i int, err error) {
		if errs == nil {
			errs = make([]error, len(ids))
		}
		errs[i] = err
	}
	if len(data) > l.MaxPayload {
		for i := range ids {
			fail(i, ErrPayloadTooLarge)
		}
		return errs
	}
	conns := make([]Conn, len(ids))
	l.mu.RLock()
	for i, id := range ids {
		conns[i] = l.conns[id]
	}
	l.mu.RUnlock()
	workers := min(runtime.GOMAXPROCS(0), (len(conns)+postManyChunk-1)/postManyChunk)
	if workers <= 1 {
		for i, c := range conns {
			if c == nil {
				fail(i, ErrGone)
			} else if err := c.Send(data); err != nil {
				fail(i, err)
			}
		}
		return errs
	}
	// A send may be a system call its caller makes (the gateway writes to a client whose
	// queue is empty at once): a large batch is spread over the processors, a chunk at a
	// time.
	errs = make([]error, len(ids))
	var failed atomic.Bool
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				from := int(next.Add(postManyChunk)) - postManyChunk
				if from >= len(conns) {
					return
				}
				for i := from; i < min(from+postManyChunk, len(conns)); i++ {
					if conns[i] == nil {
						errs[i] = ErrGone
					} else {
						errs[i] = conns[i].Send(data)
					}
					if errs[i] != nil {
						failed.Store(true)
					}
				}
			}
		})
	}
	wg.Wait()
	if !failed.Load() {
		return nil
	}
	return errs
}

// postManyChunk is how many of a batch's connections one of PostMany's goroutines takes
// at a time.
const postManyChunk = 256

// Get describes a local connection.
func (l *Local) Get(_ context.Context, id string) (Info, error) {
	c, ok := l.Lookup(id)
	if !ok {
		return Info{}, ErrGone
	}
	return c.Info(), nil
}

// Delete closes a local connection.
func (l *Local) Delete(_ context.Context, id string) error {
	c, ok := l.Lookup(id)
	if !ok {
		return ErrGone
	}
	c.Close()
	return nil
}

// Each calls fn for every local connection (a snapshot; fn may close connections).
func (l *Local) Each(fn func(Conn)) {
	l.mu.RLock()
	all := make([]Conn, 0, len(l.conns))
	for _, c := range l.conns {
		all = append(all, c)
	}
	l.mu.RUnlock()
	for _, c := range all {
		fn(c)
	}
}
