package lambdarun

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/wsgate/wsgate/internal/config"
	"github.com/wsgate/wsgate/internal/testutil"
)

func TestMain(m *testing.M) { testutil.VerifyNoLeaks(m) }

// writeFiles writes name → content under a new temporary directory and returns it.
func writeFiles(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		mode := os.FileMode(0o644)
		if filepath.Base(name) == "bootstrap" {
			mode = 0o755
		}
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// newRuntime is a Runtime over fns, closed (and checked to close) when the test ends.
func newRuntime(t testing.TB, fns map[string]config.Function, mod ...func(*Options)) *Runtime {
	t.Helper()
	for name, f := range fns {
		if f.Timeout == 0 {
			f.Timeout = config.Duration(10 * time.Second)
		}
		if f.MemorySize == 0 {
			f.MemorySize = 128
		}
		if f.MaxConcurrency == 0 {
			f.MaxConcurrency = 2
		}
		fns[name] = f
	}
	o := Options{Functions: fns, Logger: slog.New(slog.NewTextHandler(t.Output(), nil)), Getenv: func(string) string { return "" }}
	for _, m := range mod {
		m(&o)
	}
	r, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := r.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return r
}

func invoke(t testing.TB, r *Runtime, fn, payload string) *lambda.InvokeOutput {
	t.Helper()
	out, err := r.Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String(fn), Payload: []byte(payload)})
	if err != nil {
		t.Fatalf("Invoke %s: %v", fn, err)
	}
	return out
}

// errorPayload decodes an error result, failing unless it is one.
func errorPayload(t testing.TB, out *lambda.InvokeOutput) (errorType, errorMessage string) {
	t.Helper()
	if aws.ToString(out.FunctionError) != "Unhandled" {
		t.Fatalf("FunctionError = %q, want Unhandled (payload %s)", aws.ToString(out.FunctionError), out.Payload)
	}
	var e struct{ ErrorType, ErrorMessage string }
	if err := json.Unmarshal(out.Payload, &e); err != nil {
		t.Fatalf("error payload %s: %v", out.Payload, err)
	}
	return e.ErrorType, e.ErrorMessage
}

const nodeEcho = `exports.handler = async (event, context) => ({
  event,
  requestId: context.awsRequestId,
  functionName: context.functionName,
  arn: context.invokedFunctionArn,
  remaining: context.getRemainingTimeInMillis(),
  pid: process.pid,
});
`

func TestNodeCommonJS(t *testing.T) {
	dir := writeFiles(t, map[string]string{"index.js": nodeEcho})
	r := newRuntime(t, map[string]config.Function{"echo": {Runtime: "nodejs20.x", Handler: "index.handler", CodeDir: dir}})
	for _, fn := range []string{"echo", "arn:aws:lambda:us-east-1:000000000000:function:echo", "arn:aws:lambda:us-east-1:000000000000:function:echo:live"} {
		out := invoke(t, r, fn, `{"hello":"world"}`)
		if out.FunctionError != nil || out.StatusCode != 200 {
			t.Fatalf("%s: %d %q %s", fn, out.StatusCode, aws.ToString(out.FunctionError), out.Payload)
		}
		var got struct {
			Event        map[string]string
			RequestID    string
			FunctionName string
			Arn          string
			Remaining    int
		}
		if err := json.Unmarshal(out.Payload, &got); err != nil {
			t.Fatal(err)
		}
		if got.Event["hello"] != "world" || got.FunctionName != "echo" || len(got.RequestID) != 36 {
			t.Errorf("%s: got %+v", fn, got)
		}
		if got.Remaining <= 0 || got.Remaining > 10000 {
			t.Errorf("%s: remaining %d ms, want (0, 10000]", fn, got.Remaining)
		}
		wantARN := "arn:aws:lambda:us-east-1:000000000000:function:echo"
		if strings.HasSuffix(fn, ":live") {
			wantARN += ":live"
		}
		if got.Arn != wantARN {
			t.Errorf("%s: invokedFunctionArn %q, want %q", fn, got.Arn, wantARN)
		}
	}
}

func TestUnknownFunction(t *testing.T) {
	r := newRuntime(t, map[string]config.Function{})
	_, err := r.Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String("nope")})
	var nf *types.ResourceNotFoundException
	if !errors.As(err, &nf) {
		t.Fatalf("err = %v, want ResourceNotFoundException", err)
	}
	remote := invokerFunc(func(ctx context.Context, in *lambda.InvokeInput, _ ...func(*lambda.Options)) (*lambda.InvokeOutput, error) {
		return &lambda.InvokeOutput{StatusCode: 200, Payload: []byte(`"remote ` + aws.ToString(in.FunctionName) + `"`)}, nil
	})
	r2 := newRuntime(t, map[string]config.Function{}, func(o *Options) { o.Remote = remote })
	out := invoke(t, r2, "nope", "{}")
	if string(out.Payload) != `"remote nope"` {
		t.Errorf("payload %s, want the remote's", out.Payload)
	}
}

// invokerFunc is a remote Lambda service: the fallback is not the system under test.
type invokerFunc func(context.Context, *lambda.InvokeInput, ...func(*lambda.Options)) (*lambda.InvokeOutput, error)

func (f invokerFunc) Invoke(ctx context.Context, in *lambda.InvokeInput, o ...func(*lambda.Options)) (*lambda.InvokeOutput, error) {
	return f(ctx, in, o...)
}

func TestParseFunctionName(t *testing.T) {
	for _, tc := range []struct{ in, name, qualifier string }{
		{"f", "f", ""},
		{"f:live", "f", "live"},
		{"123456789012:function:f", "f", ""},
		{"123456789012:function:f:$LATEST", "f", "$LATEST"},
		{"arn:aws:lambda:eu-west-1:123456789012:function:f", "f", ""},
		{"arn:aws:lambda:eu-west-1:123456789012:function:f:7", "f", "7"},
	} {
		n, q := parseFunctionName(tc.in)
		if n != tc.name || q != tc.qualifier {
			t.Errorf("parseFunctionName(%q) = %q, %q; want %q, %q", tc.in, n, q, tc.name, tc.qualifier)
		}
	}
}

func slogTo(w io.Writer) *slog.Logger { return slog.New(slog.NewTextHandler(w, nil)) }
