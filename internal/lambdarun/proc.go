package lambdarun

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"
)

// proc is one process of a function (one Lambda execution environment) with the
// Runtime API it alone talks to: a listener per process, so every request on it is
// known to come from this process, and a process can never take or answer another's
// invocation.
type proc struct {
	f      *function
	gen    int
	stream string // AWS_LAMBDA_LOG_STREAM_NAME
	cmd    *exec.Cmd
	srv    *http.Server

	work     chan *invocation // handed to the process's blocked GET /next
	ready    chan struct{}    // closed on the first GET /next: init is over
	initErr  chan []byte      // the body of POST /init/error
	stopping chan struct{}    // closed by kill
	dead     chan struct{}    // closed once the process has exited
	exitErr  error            // how it exited; read after dead is closed

	readyOnce, killOnce sync.Once

	mu      sync.Mutex
	cur     *invocation // handed out by /next, not yet answered
	lastID  string      // the last answered invocation, for the 403 on a second answer
	started time.Time
	tailing *invocation // the invocation whose output lines are kept (LogType Tail)
}

// logLine logs one of the lines Lambda adds (START, END, REPORT), kept for LogType Tail.
func (p *proc) logLine(inv *invocation, line string) {
	p.f.rt.log.Info(line, "function", p.f.name)
	p.record([]byte(line))
}

// record keeps a log line for the invocation that asked for its tail.
func (p *proc) record(line []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if inv := p.tailing; inv != nil && inv.tail.Len() < 1<<20 {
		inv.tail.Write(line)
		inv.tail.WriteByte('\n')
	}
}

// invocation is one Invoke as the process sees it.
type invocation struct {
	id, arn, clientContext, trace string
	payload                       []byte
	deadline                      time.Time
	done                          chan result   // cap 1: the process's answer
	tail                          *bytes.Buffer // the log lines, for LogType Tail; guarded by proc.mu
}

func newInvocation(c call) *invocation {
	inv := &invocation{id: newRequestID(), arn: c.arn, clientContext: c.clientContext, trace: newTraceID(),
		payload: c.payload, done: make(chan result, 1)}
	if c.tail {
		inv.tail = &bytes.Buffer{}
	}
	return inv
}

// startError is a process that could not be started (no bootstrap, no node).
type startError struct{ err error }

func (e *startError) Error() string { return e.err.Error() }
func (e *startError) Unwrap() error { return e.err }

// startProc starts a process of f and its Runtime API.
func startProc(f *function, gen int) (*proc, error) {
	rt := f.rt
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("lambdarun: runtime API listener: %w", err)
	}
	now := rt.opts.Now()
	p := &proc{f: f, gen: gen, stream: now.UTC().Format("2006/01/02") + "/[$LATEST]" + randomHex(16),
		work: make(chan *invocation), ready: make(chan struct{}), initErr: make(chan []byte, 1),
		stopping: make(chan struct{}), dead: make(chan struct{}), started: now}
	p.srv = &http.Server{Handler: p, ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(rt.log.Handler(), slog.LevelDebug)}
	argv, err := command(rt, f)
	if err != nil {
		ln.Close()
		return nil, &startError{err}
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = f.cfg.CodeDir
	cmd.Env = environment(rt, f, ln.Addr().String(), p.stream)
	cmd.Stdout = newLineWriter(rt.log, f.name, p.record)
	cmd.Stderr = newLineWriter(rt.log, f.name, p.record)
	cmd.WaitDelay = time.Second // output pipes held by a grandchild that outlived the kill
	setProcessGroup(cmd)
	if err := cmd.Start(); err != nil {
		ln.Close()
		return nil, &startError{err}
	}
	p.cmd = cmd
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = p.srv.Serve(ln)
	}()
	go func() {
		err := cmd.Wait()
		killProcessGroup(cmd) // whatever it left behind
		p.exitErr = err
		close(p.dead)
		_ = p.srv.Close()
		<-served
		f.exited.Done()
	}()
	return p, nil
}

func (p *proc) alive() bool {
	select {
	case <-p.dead:
		return false
	case <-p.stopping:
		return false
	default:
		return true
	}
}

// kill stops the process and its process group.
func (p *proc) kill() {
	p.killOnce.Do(func() {
		close(p.stopping)
		killProcessGroup(p.cmd)
	})
}

// errNotStarted is run's answer when the process exited before taking the invocation.
var errNotStarted = errors.New("lambdarun: the process exited before taking the invocation")

// runResult is run's outcome: a result for the client, or an error of Invoke.
type runResult struct {
	result
	err error
}

// run hands inv to the process and waits for its answer, the deadline, the process's
// exit or ctx. reusable says whether the process may take another invocation.
func (p *proc) run(ctx context.Context, inv *invocation) (rr runResult, reusable bool) {
	rt, f := p.f.rt, p.f
	select {
	case <-p.ready:
	default:
		t := time.NewTimer(rt.opts.InitTimeout)
		defer t.Stop()
		select {
		case <-p.ready:
		case body := <-p.initErr:
			return runResult{result: result{payload: body, failed: true}}, false
		case <-p.dead:
			return runResult{result: p.exitResult(inv.id)}, false
		case <-t.C:
			rt.log.Warn("lambda: init timed out", "function", f.name, "after", rt.opts.InitTimeout)
			return runResult{result: timeoutResult(inv.id, rt.opts.InitTimeout)}, false
		case <-ctx.Done():
			return runResult{err: ctx.Err()}, false
		case <-rt.stop:
			return runResult{err: errClosed}, false
		}
	}
	start := rt.opts.Now()
	inv.deadline = start.Add(f.timeout())
	if inv.tail != nil {
		p.mu.Lock()
		p.tailing = inv
		p.mu.Unlock()
	}
	select {
	case p.work <- inv:
	case <-p.dead:
		// A warm process that exited between invocations (after an uncaught
		// exception, say) never saw this one: it runs on another process.
		return runResult{err: errNotStarted}, false
	case <-ctx.Done():
		return runResult{err: ctx.Err()}, false
	case <-rt.stop:
		return runResult{err: errClosed}, false
	}
	p.logLine(inv, "START RequestId: "+inv.id+" Version: $LATEST")
	t := time.NewTimer(f.timeout())
	defer t.Stop()
	timedOut := false
	select {
	case res := <-inv.done:
		rr, reusable = runResult{result: res}, true
	case <-t.C:
		timedOut = true
		rr = runResult{result: timeoutResult(inv.id, f.timeout())}
	case <-p.dead:
		select {
		case res := <-inv.done:
			rr = runResult{result: res}
		default:
			rr = runResult{result: p.exitResult(inv.id)}
		}
	case <-ctx.Done():
		rr = runResult{err: ctx.Err()}
	case <-rt.stop:
		rr = runResult{err: errClosed}
	}
	p.clear(inv)
	d := rt.opts.Now().Sub(start)
	ms := float64(d.Microseconds()) / 1000
	p.logLine(inv, "END RequestId: "+inv.id)
	p.logLine(inv, fmt.Sprintf("REPORT RequestId: %s\tDuration: %.2f ms\tBilled Duration: %d ms\tMemory Size: %d MB\tMax Memory Used: %s MB\t",
		inv.id, ms, int64(ms+0.999999), f.cfg.MemorySize, maxMemoryMB(p.cmd)))
	if timedOut {
		p.logLine(inv, fmt.Sprintf("%s %s Task timed out after %.2f seconds", rt.opts.Now().UTC().Format("2006-01-02T15:04:05.000Z"), inv.id, f.timeout().Seconds()))
	}
	if inv.tail != nil {
		p.mu.Lock()
		rr.logs = bytes.Clone(inv.tail.Bytes())
		p.tailing = nil
		p.mu.Unlock()
	}
	return rr, reusable
}

// clear forgets inv once it is over, so a late answer gets 403.
func (p *proc) clear(inv *invocation) {
	p.mu.Lock()
	if p.cur == inv {
		p.cur, p.lastID = nil, inv.id
	}
	p.mu.Unlock()
}

// exitResult is the result of an invocation whose process exited under it, as Lambda
// reports it.
func (p *proc) exitResult(id string) result {
	<-p.dead
	var ee *exec.ExitError
	if p.exitErr == nil {
		return errorResult("Runtime.ExitError", "RequestId: %s Error: Runtime exited without providing a reason", id)
	}
	msg := p.exitErr.Error()
	if errors.As(p.exitErr, &ee) {
		msg = ee.String() // "exit status 1", "signal: killed"
	}
	return errorResult("Runtime.ExitError", "RequestId: %s Error: Runtime exited with error: %s", id, msg)
}

// timeoutResult is a timed-out invocation's result. Lambda's payload for it is
// {"errorType":"Sandbox.Timedout","errorMessage":"RequestId: … Error: Task timed out
// after 3.00 seconds"} (older runtimes sent only an errorMessage "<time> <id> Task timed
// out after 3.00 seconds"; the log line below the REPORT keeps that form).
func timeoutResult(id string, d time.Duration) result {
	return errorResult("Sandbox.Timedout", "RequestId: %s Error: Task timed out after %.2f seconds", id, d.Seconds())
}

func randomHex(n int) string {
	b := make([]byte, n/2)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// newRequestID is a random UUID (version 4), the form of Lambda's request ids.
func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// newTraceID is an X-Ray trace header, unsampled.
func newTraceID() string {
	return "Root=1-" + strconv.FormatInt(time.Now().Unix(), 16) + "-" + randomHex(24) + ";Parent=" + randomHex(16) + ";Sampled=0"
}

// maxMemoryMB is the process's peak resident memory (VmHWM), or "-" where unknown.
func maxMemoryMB(cmd *exec.Cmd) string {
	if cmd == nil || cmd.Process == nil {
		return "-"
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(cmd.Process.Pid) + "/status")
	if err != nil {
		return "-"
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			if err == nil {
				return strconv.Itoa((kb + 1023) / 1024)
			}
		}
	}
	return "-"
}
