package lambdarun

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/wsgate/wsgate/internal/config"
)

// function is one local function: its processes (at most MaxConcurrency, each running
// one invocation at a time) and the invocations waiting for one.
type function struct {
	rt    *Runtime
	name  string
	cfg   config.Function
	slots chan struct{} // a token per busy process: cap MaxConcurrency
	// pending counts invocations running or waiting, bounded by MaxConcurrency +
	// QueueLimit.
	pending atomic.Int64

	mu     sync.Mutex
	gen    int            // bumped by reload: idle processes of older generations stop
	idle   []*proc        // warm processes waiting for an invocation
	all    map[*proc]bool // every live process, for close
	closed bool
	exited sync.WaitGroup // every process started, until it has exited and is cleaned up
}

func newFunction(rt *Runtime, name string, cfg config.Function) *function {
	return &function{rt: rt, name: name, cfg: cfg, slots: make(chan struct{}, cfg.MaxConcurrency), all: map[*proc]bool{}}
}

// result is an invocation's outcome: the payload the client gets, and whether it is a
// function error.
type result struct {
	payload []byte
	failed  bool
	logs    []byte // the invocation's log lines, for LogType Tail
}

func errorResult(errorType, format string, args ...any) result {
	return result{payload: errorJSON(errorType, fmt.Sprintf(format, args...)), failed: true}
}

// invoke runs one invocation on a warm or new process.
// call is what Invoke asked for.
type call struct {
	payload            []byte
	arn, clientContext string
	tail               bool // LogType Tail: keep the invocation's log lines
}

func (f *function) invoke(ctx context.Context, c call) (result, error) {
	limit := int64(f.cfg.MaxConcurrency + f.rt.opts.QueueLimit)
	if f.pending.Add(1) > limit {
		f.pending.Add(-1)
		return result{}, &types.TooManyRequestsException{Type: aws.String("User"), Reason: types.ThrottleReasonReservedFunctionConcurrentInvocationLimitExceeded,
			Message: aws.String("Rate Exceeded.")}
	}
	defer f.pending.Add(-1)
	select {
	case f.slots <- struct{}{}:
	case <-ctx.Done():
		return result{}, ctx.Err()
	case <-f.rt.stop:
		return result{}, errClosed
	}
	defer func() { <-f.slots }()
	for attempt := 0; ; attempt++ {
		res, err := f.invokeOnce(ctx, c)
		if errors.Is(err, errNotStarted) && attempt < 3 {
			continue
		}
		return res, err
	}
}

// invokeOnce runs inv on one process; errNotStarted when that process died before
// taking it.
func (f *function) invokeOnce(ctx context.Context, c call) (result, error) {
	p, err := f.take()
	if se := (*startError)(nil); errors.As(err, &se) {
		// Lambda: Runtime.InvalidEntrypoint, e.g. "fork/exec /var/task/bootstrap: no such file or directory".
		f.rt.log.Error("lambda: cannot start function", "function", f.name, "err", se.err)
		return errorResult("Runtime.InvalidEntrypoint", "RequestId: %s Error: %v", newRequestID(), se.err), nil
	}
	if err != nil {
		return result{}, err
	}
	inv := newInvocation(c)
	res, reusable := p.run(ctx, inv)
	f.give(p, reusable)
	if res.err != nil {
		return result{}, res.err
	}
	return res.result, nil
}

// take returns an idle process of the current generation, or starts one.
func (f *function) take() (*proc, error) {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return nil, errClosed
	}
	for len(f.idle) > 0 {
		p := f.idle[len(f.idle)-1]
		f.idle = f.idle[:len(f.idle)-1]
		if p.gen == f.gen && p.alive() {
			f.mu.Unlock()
			return p, nil
		}
		delete(f.all, p)
		p.kill()
	}
	gen := f.gen
	f.exited.Add(1)
	f.mu.Unlock()
	p, err := startProc(f, gen)
	if err != nil {
		f.exited.Done()
		return nil, err
	}
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		p.kill()
		return nil, errClosed
	}
	f.all[p] = true
	f.mu.Unlock()
	return p, nil
}

// give takes p back after an invocation: idle again, or stopped when it cannot be
// reused (killed, crashed, replaced by a reload, or the runtime closing).
func (f *function) give(p *proc, reusable bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if reusable && !f.closed && p.gen == f.gen && p.alive() {
		f.idle = append(f.idle, p)
		return
	}
	delete(f.all, p)
	p.kill()
}

// reload makes new invocations start new processes; idle ones stop now, busy ones
// when their invocation ends.
func (f *function) reload() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.gen++
	for _, p := range f.idle {
		delete(f.all, p)
		p.kill()
	}
	f.idle = nil
	f.rt.log.Info("lambda: reloading function", "function", f.name)
}

func (f *function) close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	for p := range f.all {
		p.kill()
	}
	f.all = map[*proc]bool{}
	f.idle = nil
}

func (f *function) wait() { f.exited.Wait() }

func (f *function) timeout() time.Duration { return f.cfg.Timeout.D() }
