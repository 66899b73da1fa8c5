package lambdarun

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/wsgate/wsgate/internal/config"
	"github.com/wsgate/wsgate/internal/testutil"
)

// gate is an HTTP server a handler calls and that holds it until release: the test
// knows when an invocation is running, in which process, and decides when it ends.
type gate struct {
	*httptest.Server
	arrived chan int // the pid of each handler that reached the gate
	release chan struct{}
	once    sync.Once
}

func newGate(t testing.TB) *gate {
	g := &gate{arrived: make(chan int, 100), release: make(chan struct{})}
	g.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		pid, _ := strconv.Atoi(r.URL.Query().Get("pid"))
		g.arrived <- pid
		select {
		case <-g.release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { g.open(); g.Close() })
	return g
}

func (g *gate) open() { g.once.Do(func() { close(g.release) }) }

// waitArrivals returns the pids of the next n handlers to reach the gate.
func (g *gate) waitArrivals(t testing.TB, n int) []int {
	t.Helper()
	var pids []int
	timeout := time.After(20 * time.Second)
	for len(pids) < n {
		select {
		case pid := <-g.arrived:
			pids = append(pids, pid)
		case <-timeout:
			t.Fatalf("%d of %d handlers reached the gate", len(pids), n)
		}
	}
	return pids
}

// gated is a node handler that waits at the gate named by the event, then returns
// its pid and the code version.
const gated = `exports.handler = async (event) => {
  if (event.gate) await fetch(event.gate + "?pid=" + process.pid);
  return { pid: process.pid, version: VERSION };
};
`

func gatedCode(version string) string {
	return "const VERSION = " + strconv.Quote(version) + ";\n" + gated
}

type gatedResult struct {
	Pid     int
	Version string
}

func decodeGated(t testing.TB, out *lambda.InvokeOutput) gatedResult {
	t.Helper()
	var g gatedResult
	if err := json.Unmarshal(out.Payload, &g); err != nil || out.FunctionError != nil {
		t.Fatalf("payload %s (%q): %v", out.Payload, aws.ToString(out.FunctionError), err)
	}
	return g
}

func TestConcurrencyAndQueue(t *testing.T) {
	g := newGate(t)
	dir := writeFiles(t, map[string]string{"index.js": gatedCode("v1")})
	r := newRuntime(t, map[string]config.Function{"fn": {Runtime: "nodejs20.x", Handler: "index.handler", CodeDir: dir, MaxConcurrency: 3}},
		func(o *Options) { o.QueueLimit = 2 })
	payload := `{"gate":"` + g.URL + `"}`
	type res struct {
		out *lambda.InvokeOutput
		err error
	}
	results := make(chan res, 10)
	call := func() {
		out, err := r.Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String("fn"), Payload: []byte(payload)})
		results <- res{out, err}
	}
	for range 3 {
		go call()
	}
	pids := g.waitArrivals(t, 3)
	if distinct(pids) != 3 {
		t.Fatalf("3 parallel invocations ran in pids %v, want 3 processes", pids)
	}
	// Two more queue (QueueLimit 2): none reaches the gate while the 3 processes are busy.
	go call()
	go call()
	f := r.funcs["fn"]
	testutil.Eventually(t, 10*time.Second, func() error {
		if n := f.pending.Load(); n != 5 {
			return fmt.Errorf("pending %d, want 5", n)
		}
		return nil
	})
	select {
	case pid := <-g.arrived:
		t.Fatalf("a queued invocation ran (pid %d) beyond MaxConcurrency", pid)
	default:
	}
	// The sixth is over the bound: throttled as Lambda throttles.
	_, err := r.Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String("fn"), Payload: []byte(payload)})
	var tm *types.TooManyRequestsException
	if !errors.As(err, &tm) {
		t.Fatalf("sixth invocation: %v, want TooManyRequestsException", err)
	}
	g.open()
	all := map[int]bool{}
	for range 5 {
		rs := <-results
		if rs.err != nil {
			t.Fatal(rs.err)
		}
		all[decodeGated(t, rs.out).Pid] = true
	}
	if len(all) != 3 {
		t.Errorf("5 invocations ran in %d processes, want the 3 warm ones reused", len(all))
	}
}

func distinct(xs []int) int {
	m := map[int]bool{}
	for _, x := range xs {
		m[x] = true
	}
	return len(m)
}

func TestTimeoutReplacesTheProcess(t *testing.T) {
	dir := writeFiles(t, map[string]string{"index.js": `
exports.handler = async (event) => {
  if (event.sleep) await new Promise((r) => setTimeout(r, 60000));
  return process.pid;
};`})
	r := newRuntime(t, map[string]config.Function{"slow": {Runtime: "nodejs20.x", Handler: "index.handler", CodeDir: dir,
		Timeout: config.Duration(500 * time.Millisecond), MaxConcurrency: 1}})
	first := string(invoke(t, r, "slow", `{}`).Payload)
	start := time.Now()
	typ, msg := errorPayload(t, invoke(t, r, "slow", `{"sleep":true}`))
	if typ != "Sandbox.Timedout" || !strings.HasSuffix(msg, "Error: Task timed out after 0.50 seconds") || !strings.HasPrefix(msg, "RequestId: ") {
		t.Errorf("timeout: %s %q", typ, msg)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("timed out after %v, want about 0.5 s", d)
	}
	pid, _ := strconv.Atoi(first)
	waitGone(t, pid)
	if again := string(invoke(t, r, "slow", `{}`).Payload); again == first {
		t.Errorf("after a timeout the same process (pid %s) ran again, want a new one", again)
	}
}

// waitGone waits until pid is no process (or a zombie nobody reaped yet).
func waitGone(t testing.TB, pid int) {
	t.Helper()
	testutil.Eventually(t, 10*time.Second, func() error {
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			return nil
		}
		if b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat"); err == nil {
			if f := strings.Fields(string(b)); len(f) > 2 && f[2] == "Z" {
				return nil
			}
		}
		return fmt.Errorf("process %d still runs", pid)
	})
}

func TestCrashMidInvoke(t *testing.T) {
	dir := writeFiles(t, map[string]string{"index.js": `
exports.handler = async (event) => {
  if (event.crash) process.exit(1);
  if (event.uncaught) setTimeout(() => { throw new Error("uncaught later"); }, 1);
  if (event.uncaught) await new Promise((r) => setTimeout(r, 1000));
  return "ok";
};`})
	r := newRuntime(t, map[string]config.Function{"crash": {Runtime: "nodejs20.x", Handler: "index.handler", CodeDir: dir, MaxConcurrency: 1}})
	typ, msg := errorPayload(t, invoke(t, r, "crash", `{"crash":true}`))
	if typ != "Runtime.ExitError" || !strings.HasSuffix(msg, "Error: Runtime exited with error: exit status 1") || !strings.HasPrefix(msg, "RequestId: ") {
		t.Errorf("crash: %s %q", typ, msg)
	}
	if out := invoke(t, r, "crash", `{}`); string(out.Payload) != `"ok"` {
		t.Errorf("after a crash: %s, want a new process to answer", out.Payload)
	}
	typ, msg = errorPayload(t, invoke(t, r, "crash", `{"uncaught":true}`))
	if typ != "Error" || msg != "uncaught later" {
		t.Errorf("uncaught exception: %s %q", typ, msg)
	}
	if out := invoke(t, r, "crash", `{}`); string(out.Payload) != `"ok"` {
		t.Errorf("after an uncaught exception: %s", out.Payload)
	}
}

func TestReload(t *testing.T) {
	g := newGate(t)
	dir := writeFiles(t, map[string]string{"index.js": gatedCode("v1")})
	r := newRuntime(t, map[string]config.Function{"fn": {Runtime: "nodejs20.x", Handler: "index.handler", CodeDir: dir}})
	before := decodeGated(t, invoke(t, r, "fn", `{}`))
	// An invocation in flight when the reload happens finishes on its old process.
	inflight := make(chan *lambda.InvokeOutput, 1)
	go func() {
		out, _ := r.Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String("fn"), Payload: []byte(`{"gate":"` + g.URL + `"}`)})
		inflight <- out
	}()
	g.waitArrivals(t, 1)
	if err := os.WriteFile(filepath.Join(dir, "index.js"), []byte(gatedCode("v2")), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := r.Reload("fn"); err != nil {
		t.Fatal(err)
	}
	after := decodeGated(t, invoke(t, r, "fn", `{}`))
	if after.Version != "v2" || after.Pid == before.Pid {
		t.Errorf("after reload: %+v, want v2 in a new process (before: %+v)", after, before)
	}
	g.open()
	old := decodeGated(t, <-inflight)
	if old.Version != "v1" {
		t.Errorf("in-flight invocation: %+v, want it finished on v1", old)
	}
	waitGone(t, old.Pid)
	if err := r.Reload("nope"); err == nil {
		t.Error("Reload of an unknown function: no error")
	}
}

func TestWatchReloads(t *testing.T) {
	dir := writeFiles(t, map[string]string{"index.js": gatedCode("v1")})
	r := newRuntime(t, map[string]config.Function{"fn": {Runtime: "nodejs20.x", Handler: "index.handler", CodeDir: dir}},
		func(o *Options) { o.Watch = true })
	if v := decodeGated(t, invoke(t, r, "fn", `{}`)).Version; v != "v1" {
		t.Fatalf("version %s", v)
	}
	if err := os.WriteFile(filepath.Join(dir, "index.js"), []byte(gatedCode("v2")), 0o644); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, func() error {
		if v := decodeGated(t, invoke(t, r, "fn", `{}`)).Version; v != "v2" {
			return fmt.Errorf("version %s after the file changed, want v2", v)
		}
		return nil
	})
}

func TestEnvironment(t *testing.T) {
	dir := writeFiles(t, map[string]string{"index.js": `exports.handler = async () => process.env;`})
	ca := filepath.Join(t.TempDir(), "ca.pem")
	r := newRuntime(t, map[string]config.Function{"envfn": {Runtime: "nodejs22.x", Handler: "index.handler", CodeDir: dir, MemorySize: 512,
		Environment: map[string]string{"TABLE": "chat", "AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:8000"}}},
		func(o *Options) { o.Region = "eu-west-1"; o.CAFile = ca })
	var env map[string]string
	if err := json.Unmarshal(invoke(t, r, "envfn", `{}`).Payload, &env); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{
		"AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "eu-west-1", "AWS_LAMBDA_FUNCTION_NAME": "envfn",
		"AWS_LAMBDA_FUNCTION_VERSION": "$LATEST", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512", "_HANDLER": "index.handler",
		"LAMBDA_TASK_ROOT": dir, "TZ": ":UTC", "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/envfn", "AWS_EXECUTION_ENV": "AWS_Lambda_nodejs22.x",
		"AWS_ACCESS_KEY_ID": localAccessKeyID, "AWS_SECRET_ACCESS_KEY": localSecretAccessKey,
		"TABLE": "chat", "AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:8000",
		"NODE_EXTRA_CA_CERTS": ca, "AWS_CA_BUNDLE": ca, "SSL_CERT_FILE": ca,
	} {
		if env[k] != want {
			t.Errorf("%s = %q, want %q", k, env[k], want)
		}
	}
	if !strings.HasPrefix(env["AWS_LAMBDA_RUNTIME_API"], "127.0.0.1:") || env["LAMBDA_RUNTIME_DIR"] == "" {
		t.Errorf("AWS_LAMBDA_RUNTIME_API %q, LAMBDA_RUNTIME_DIR %q", env["AWS_LAMBDA_RUNTIME_API"], env["LAMBDA_RUNTIME_DIR"])
	}
	if !strings.Contains(env["AWS_LAMBDA_LOG_STREAM_NAME"], "/[$LATEST]") || !strings.HasPrefix(env["_X_AMZN_TRACE_ID"], "Root=1-") {
		t.Errorf("log stream %q, trace %q", env["AWS_LAMBDA_LOG_STREAM_NAME"], env["_X_AMZN_TRACE_ID"])
	}
	// wsgate's own credentials, when it has them, pass through.
	creds := map[string]string{"AWS_ACCESS_KEY_ID": "AKIAUSER", "AWS_SECRET_ACCESS_KEY": "user-secret", "AWS_SESSION_TOKEN": "tok"}
	r2 := newRuntime(t, map[string]config.Function{"envfn": {Runtime: "nodejs20.x", Handler: "index.handler", CodeDir: dir}},
		func(o *Options) { o.Getenv = func(k string) string { return creds[k] } })
	env = nil
	if err := json.Unmarshal(invoke(t, r2, "envfn", `{}`).Payload, &env); err != nil {
		t.Fatal(err)
	}
	for k, v := range creds {
		if env[k] != v {
			t.Errorf("%s = %q, want wsgate's %q", k, env[k], v)
		}
	}
}

func TestLogs(t *testing.T) {
	logs := &testutil.SyncBuffer{}
	dir := writeFiles(t, map[string]string{"index.js": `exports.handler = async (event) => { console.log("handling", event.kind); return 1; };`})
	r := newRuntime(t, map[string]config.Function{"logfn": {Runtime: "nodejs20.x", Handler: "index.handler", CodeDir: dir}},
		func(o *Options) { o.Logger = slogTo(logs) })
	invoke(t, r, "logfn", `{"kind":"greeting","secret":"payload-secret-value"}`)
	// The function's output is read from its pipe by another goroutine than the one
	// that answers the invocation: its lines may be logged just after END.
	testutil.Eventually(t, 5*time.Second, func() error {
		if !strings.Contains(logs.String(), "handling greeting") {
			return errors.New("the function's console line is not logged")
		}
		return nil
	})
	got := logs.String()
	for _, want := range []string{"START RequestId: ", " Version: $LATEST", "END RequestId: ", "REPORT RequestId: ", "Duration: ", "Billed Duration: ",
		"Memory Size: 128 MB", "Max Memory Used: ", "\\tINFO\\thandling greeting", "function=logfn"} {
		if !strings.Contains(got, want) {
			t.Errorf("logs lack %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "payload-secret-value") {
		t.Errorf("logs hold the event payload:\n%s", got)
	}
}

func TestCloseKillsEveryProcess(t *testing.T) {
	dir := writeFiles(t, map[string]string{"index.js": `
const { spawn } = require("node:child_process");
exports.handler = async () => {
  const child = spawn("sleep", ["60"], { stdio: "ignore" });
  return [process.pid, child.pid];
};`})
	r, err := New(Options{Functions: map[string]config.Function{"fn": {Runtime: "nodejs20.x", Handler: "index.handler", CodeDir: dir,
		Timeout: config.Duration(5 * time.Second), MaxConcurrency: 2, MemorySize: 128}}})
	if err != nil {
		t.Fatal(err)
	}
	out, err := r.Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String("fn")})
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	if err := json.Unmarshal(out.Payload, &pids); err != nil || len(pids) != 2 {
		t.Fatalf("%s: %v", out.Payload, err)
	}
	runtimeDir := r.dir
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.Close(ctx); err != nil {
		t.Fatal(err)
	}
	for _, pid := range pids {
		waitGone(t, pid)
	}
	if _, err := os.Stat(runtimeDir); !os.IsNotExist(err) {
		t.Errorf("the bootstraps' directory %s outlived Close: %v", runtimeDir, err)
	}
	if _, err := r.Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String("fn")}); err == nil {
		t.Error("Invoke after Close: no error")
	}
}

func TestInvocationTypesAndLimits(t *testing.T) {
	dir := writeFiles(t, map[string]string{"index.js": `exports.handler = async (e) => { if (e.big) return "x".repeat(7 * 1024 * 1024); return "ok"; };`})
	r := newRuntime(t, map[string]config.Function{"fn": {Runtime: "nodejs20.x", Handler: "index.handler", CodeDir: dir}})
	out, err := r.Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String("fn"), InvocationType: types.InvocationTypeEvent})
	if err != nil || out.StatusCode != 202 {
		t.Errorf("Event: %v, %v; want 202", out, err)
	}
	out, err = r.Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String("fn"), InvocationType: types.InvocationTypeDryRun})
	if err != nil || out.StatusCode != 204 {
		t.Errorf("DryRun: %v, %v; want 204", out, err)
	}
	_, err = r.Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String("fn"), Payload: make([]byte, MaxPayloadBytes+1)})
	var tl *types.RequestTooLargeException
	if !errors.As(err, &tl) {
		t.Errorf("7 MB request: %v, want RequestTooLargeException", err)
	}
	typ, msg := errorPayload(t, invoke(t, r, "fn", `{"big":true}`))
	if typ != "Function.ResponseSizeTooLarge" || !strings.Contains(msg, "6291556 bytes") {
		t.Errorf("7 MB response: %s %q", typ, msg)
	}
	if out := invoke(t, r, "fn", `{}`); string(out.Payload) != `"ok"` {
		t.Errorf("after a too large response: %s", out.Payload)
	}
}

func TestNoQueueThrottlesAtOnce(t *testing.T) {
	g := newGate(t)
	dir := writeFiles(t, map[string]string{"index.js": gatedCode("v1")})
	r := newRuntime(t, map[string]config.Function{"fn": {Runtime: "nodejs20.x", Handler: "index.handler", CodeDir: dir, MaxConcurrency: 1}},
		func(o *Options) { o.QueueLimit = -1 })
	done := make(chan error, 1)
	go func() {
		_, err := r.Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String("fn"), Payload: []byte(`{"gate":"` + g.URL + `"}`)})
		done <- err
	}()
	g.waitArrivals(t, 1)
	_, err := r.Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String("fn")})
	var tm *types.TooManyRequestsException
	if !errors.As(err, &tm) {
		t.Errorf("second invocation with no queue: %v, want TooManyRequestsException", err)
	}
	g.open()
	if err := <-done; err != nil {
		t.Error(err)
	}
}

func TestLogTypeTail(t *testing.T) {
	dir := writeFiles(t, map[string]string{"index.js": `exports.handler = async () => { console.log("from the handler"); return 1; };`})
	r := newRuntime(t, map[string]config.Function{"fn": {Runtime: "nodejs20.x", Handler: "index.handler", CodeDir: dir}})
	out, err := r.Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String("fn"), LogType: types.LogTypeTail})
	if err != nil {
		t.Fatal(err)
	}
	b, err := base64.StdEncoding.DecodeString(aws.ToString(out.LogResult))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"START RequestId: ", "END RequestId: ", "REPORT RequestId: "} {
		if !strings.Contains(string(b), want) {
			t.Errorf("LogResult lacks %q:\n%s", want, b)
		}
	}
	if out2 := invoke(t, r, "fn", `{}`); out2.LogResult != nil {
		t.Errorf("LogResult without LogType Tail: %q", aws.ToString(out2.LogResult))
	}
}
