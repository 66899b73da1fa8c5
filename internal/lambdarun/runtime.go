// Package lambdarun runs Lambda functions locally: each function's code runs in
// processes wsgate starts (the function's bootstrap, or node/python3 with a bootstrap
// shipped here), which fetch their invocations from a Lambda Runtime API (2018-06-01)
// that this package serves on 127.0.0.1. A Runtime invokes them with the AWS SDK's
// Lambda Invoke signature, so authorizers and AWS_PROXY integrations call it as they
// call the Lambda service. docs/lambda.md says what is and is not emulated.
//
// Lock order: Runtime.mu, then function.mu; proc.mu is taken alone.
package lambdarun

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/wsgate/wsgate/internal/config"
)

// Invoker is the AWS SDK Lambda client's Invoke; *lambda.Client and *Runtime are ones.
type Invoker interface {
	Invoke(ctx context.Context, in *lambda.InvokeInput, opts ...func(*lambda.Options)) (*lambda.InvokeOutput, error)
}

var (
	_ Invoker = (*Runtime)(nil)
	_ Invoker = (*lambda.Client)(nil)
)

// MaxPayloadBytes is Lambda's limit on a synchronous invocation's request and response
// (6 MB).
const MaxPayloadBytes = 6 * 1024 * 1024

// maxResponseBytes is the largest response the Runtime API accepts: Lambda's error
// message gives 6291556 bytes (6 MB and 100 bytes).
const maxResponseBytes = MaxPayloadBytes + 100

// maxLogResult is how much of an invocation's log LogType Tail returns: its last 4 KB.
const maxLogResult = 4 << 10

// Options configure a Runtime.
type Options struct {
	// Functions are the functions run locally, by name; each CodeDir absolute or
	// relative to the working directory, defaults set (config.Config.SetDefaults).
	Functions map[string]config.Function
	// Region and AccountID make the functions' ARNs and AWS_REGION. Default
	// us-east-1 and 000000000000.
	Region, AccountID string
	// Remote invokes functions not in Functions; nil: they fail with
	// ResourceNotFoundException, as Lambda does.
	Remote Invoker
	// Logger receives the functions' output lines and START/END/REPORT lines; nil
	// discards.
	Logger *slog.Logger
	// Getenv reads the AWS credentials passed to the functions (AWS_ACCESS_KEY_ID,
	// AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN); nil: os.Getenv.
	Getenv func(string) string
	// CAFile, when set, is a PEM CA bundle the functions trust for TLS (wsgate dev's
	// CA): passed as NODE_EXTRA_CA_CERTS, AWS_CA_BUNDLE and SSL_CERT_FILE.
	CAFile string
	// NodeModules is a node_modules directory that node functions resolve packages
	// from when their own code has none (the AWS SDK v3 the Lambda runtime provides).
	// Default: none.
	NodeModules string
	// Node and Python are the executables for the nodejs and python runtimes.
	// Default "node" and "python3" from PATH.
	Node, Python string
	// QueueLimit is how many invocations of one function may wait for a process when
	// MaxConcurrency are busy; beyond it, TooManyRequestsException. Default 100;
	// negative: none wait, as Lambda throttles at once.
	QueueLimit int
	// InitTimeout bounds a process's start-up until it asks for its first invocation,
	// as Lambda's 10 s init phase. Default 10s.
	InitTimeout time.Duration
	// Watch reloads a function when a file under its CodeDir changes.
	Watch bool
	// Now is the clock; nil: time.Now.
	Now func() time.Time
}

// Runtime runs the functions of Options.Functions and invokes them.
type Runtime struct {
	opts    Options
	log     *slog.Logger
	dir     string // the shipped bootstraps (LAMBDA_RUNTIME_DIR)
	funcs   map[string]*function
	watcher *watcher

	mu     sync.Mutex
	closed bool
	wg     sync.WaitGroup // asynchronous (Event) invocations
	stop   chan struct{}  // closed by Close
}

// New prepares a Runtime; no process starts before a function's first invocation.
func New(opts Options) (*Runtime, error) {
	if opts.Region == "" {
		opts.Region = "us-east-1"
	}
	if opts.AccountID == "" {
		opts.AccountID = "000000000000"
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Getenv == nil {
		opts.Getenv = os.Getenv
	}
	if opts.Node == "" {
		opts.Node = "node"
	}
	if opts.Python == "" {
		opts.Python = "python3"
	}
	switch {
	case opts.QueueLimit == 0:
		opts.QueueLimit = 100
	case opts.QueueLimit < 0:
		opts.QueueLimit = 0
	}
	if opts.InitTimeout == 0 {
		opts.InitTimeout = 10 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	r := &Runtime{opts: opts, log: opts.Logger, funcs: map[string]*function{}, stop: make(chan struct{})}
	for name, fc := range opts.Functions {
		if fc.MaxConcurrency < 1 {
			fc.MaxConcurrency = 1
		}
		if fc.Timeout <= 0 {
			fc.Timeout = config.Duration(3 * time.Second)
		}
		if fc.MemorySize == 0 {
			fc.MemorySize = 128
		}
		r.funcs[name] = newFunction(r, name, fc)
	}
	if len(r.funcs) > 0 {
		dir, err := writeBootstraps()
		if err != nil {
			return nil, fmt.Errorf("lambdarun: %w", err)
		}
		r.dir = dir
	}
	if opts.Watch && len(r.funcs) > 0 {
		w, err := newWatcher(r)
		if err != nil {
			_ = os.RemoveAll(r.dir)
			return nil, fmt.Errorf("lambdarun: watching code: %w", err)
		}
		r.watcher = w
	}
	return r, nil
}

// ARN is the ARN of the local function name.
func (r *Runtime) ARN(name string) string {
	return "arn:aws:lambda:" + r.opts.Region + ":" + r.opts.AccountID + ":function:" + name
}

// Has says whether name (a name or an ARN) is a local function.
func (r *Runtime) Has(functionName string) bool {
	name, _ := parseFunctionName(functionName)
	_, ok := r.funcs[name]
	return ok
}

// Invoke invokes a local function, or passes the call to Options.Remote. Results are
// as the Lambda client returns them: a handler's error is FunctionError "Unhandled"
// with the error's JSON as Payload; a full queue is TooManyRequestsException; an
// unknown function ResourceNotFoundException.
func (r *Runtime) Invoke(ctx context.Context, in *lambda.InvokeInput, opts ...func(*lambda.Options)) (*lambda.InvokeOutput, error) {
	if in == nil {
		in = &lambda.InvokeInput{}
	}
	fn := aws.ToString(in.FunctionName)
	name, qualifier := parseFunctionName(fn)
	if in.Qualifier != nil {
		qualifier = *in.Qualifier
	}
	f, ok := r.funcs[name]
	if !ok {
		if r.opts.Remote != nil {
			return r.opts.Remote.Invoke(ctx, in, opts...)
		}
		return nil, &types.ResourceNotFoundException{Type: aws.String("User"),
			Message: aws.String("Function not found: " + r.ARN(name))}
	}
	if len(in.Payload) > MaxPayloadBytes {
		return nil, &types.RequestTooLargeException{Type: aws.String("User"),
			Message: aws.String(fmt.Sprintf("%d byte payload is too large for the RequestResponse invocation type (limit %d bytes)", len(in.Payload), MaxPayloadBytes))}
	}
	payload := in.Payload
	if len(payload) == 0 {
		payload = []byte("{}")
	}
	arn := r.ARN(name)
	if qualifier != "" {
		arn += ":" + qualifier
	}
	switch in.InvocationType {
	case types.InvocationTypeDryRun:
		return &lambda.InvokeOutput{StatusCode: 204}, nil
	case types.InvocationTypeEvent:
		r.mu.Lock()
		if r.closed {
			r.mu.Unlock()
			return nil, errClosed
		}
		r.wg.Add(1)
		r.mu.Unlock()
		go func() {
			defer r.wg.Done()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			go func() {
				select {
				case <-r.stop:
					cancel()
				case <-ctx.Done():
				}
			}()
			// Lambda retries a failed asynchronous invocation twice; wsgate logs it.
			if res, err := f.invoke(ctx, call{payload: payload, arn: arn, clientContext: clientContext(in)}); err != nil || res.failed {
				r.log.Warn("lambda: asynchronous invocation failed", "function", name, "err", err, "functionError", res.failed)
			}
		}()
		return &lambda.InvokeOutput{StatusCode: 202}, nil
	}
	res, err := f.invoke(ctx, call{payload: payload, arn: arn, clientContext: clientContext(in), tail: in.LogType == types.LogTypeTail})
	if err != nil {
		return nil, err
	}
	out := &lambda.InvokeOutput{StatusCode: 200, ExecutedVersion: aws.String("$LATEST"), Payload: res.payload}
	if in.LogType == types.LogTypeTail {
		logs := res.logs
		if len(logs) > maxLogResult {
			logs = logs[len(logs)-maxLogResult:]
		}
		out.LogResult = aws.String(base64.StdEncoding.EncodeToString(logs))
	}
	if res.failed {
		out.FunctionError = aws.String("Unhandled")
	}
	return out, nil
}

func clientContext(in *lambda.InvokeInput) string { return aws.ToString(in.ClientContext) }

// Reload replaces the processes of the function name: invocations in flight finish on
// the old processes, later ones start new ones.
func (r *Runtime) Reload(name string) error {
	f, ok := r.funcs[name]
	if !ok {
		return fmt.Errorf("lambdarun: no function %q", name)
	}
	f.reload()
	return nil
}

// Close stops every process (killing its process group) and waits for them, and for
// asynchronous invocations, until ctx ends.
func (r *Runtime) Close(ctx context.Context) error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	close(r.stop)
	r.mu.Unlock()
	if r.watcher != nil {
		r.watcher.close()
	}
	for _, f := range r.funcs {
		f.close()
	}
	done := make(chan struct{})
	go func() {
		r.wg.Wait()
		for _, f := range r.funcs {
			f.wait()
		}
		close(done)
	}()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = ctx.Err()
	}
	if r.dir != "" {
		_ = os.RemoveAll(r.dir)
	}
	return err
}

var errClosed = errors.New("lambdarun: runtime closed")

// parseFunctionName takes a FunctionName as Invoke accepts it — "name",
// "name:qualifier", "account:function:name[:qualifier]" or
// "arn:aws:lambda:region:account:function:name[:qualifier]" — apart.
func parseFunctionName(s string) (name, qualifier string) {
	parts := strings.Split(s, ":")
	switch {
	case len(parts) >= 7 && parts[0] == "arn" && parts[5] == "function":
		name = parts[6]
		if len(parts) > 7 {
			qualifier = parts[7]
		}
	case len(parts) >= 3 && parts[1] == "function":
		name = parts[2]
		if len(parts) > 3 {
			qualifier = parts[3]
		}
	default:
		name = parts[0]
		if len(parts) > 1 {
			qualifier = parts[1]
		}
	}
	return name, qualifier
}
