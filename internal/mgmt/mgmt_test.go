package mgmt

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi/types"
	"github.com/aws/smithy-go"
	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/wsgate/wsgate/internal/cluster"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const (
	testKey    = "AKIDEXAMPLE"
	testSecret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
	testStage  = "dev"
	testID     = "R1kmxc2VNjMCFIA="
)

// fakeConns is a cluster.Connections whose behaviour each test sets.
type fakeConns struct {
	post func(ctx context.Context, id string, data []byte) error
	get  func(ctx context.Context, id string) (cluster.Info, error)
	del  func(ctx context.Context, id string) error
}

var _ cluster.Connections = fakeConns{}

func (f fakeConns) Post(ctx context.Context, id string, data []byte) error {
	if f.post == nil {
		return cluster.ErrGone
	}
	return f.post(ctx, id, data)
}

// PostMany posts to each id in turn.
func (f fakeConns) PostMany(ctx context.Context, ids []string, data []byte) []error {
	var errs []error
	for i, id := range ids {
		if err := f.Post(ctx, id, data); err != nil {
			if errs == nil {
				errs = make([]error, len(ids))
			}
			errs[i] = err
		}
	}
	return errs
}

func (f fakeConns) Get(ctx context.Context, id string) (cluster.Info, error) {
	if f.get == nil {
		return cluster.Info{}, cluster.ErrGone
	}
	return f.get(ctx, id)
}

func (f fakeConns) Delete(ctx context.Context, id string) error {
	if f.del == nil {
		return cluster.ErrGone
	}
	return f.del(ctx, id)
}

// recorder is a fakeConns that remembers the calls it got and answers with err.
type recorder struct {
	mu    sync.Mutex
	calls []call
	err   error
	info  cluster.Info
}

type call struct {
	Op   string
	ID   string
	Data string
}

func (rec *recorder) add(c call) error {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	rec.calls = append(rec.calls, c)
	return rec.err
}

func (rec *recorder) Calls() []call {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]call(nil), rec.calls...)
}

func (rec *recorder) conns() fakeConns {
	return fakeConns{
		post: func(_ context.Context, id string, data []byte) error {
			return rec.add(call{"post", id, string(data)})
		},
		get: func(_ context.Context, id string) (cluster.Info, error) {
			if err := rec.add(call{Op: "get", ID: id}); err != nil {
				return cluster.Info{}, err
			}
			return rec.info, nil
		},
		del: func(_ context.Context, id string) error {
			return rec.add(call{Op: "delete", ID: id})
		},
	}
}

// testOptions are the options most tests start from.
func testOptions(tb testing.TB, c cluster.Connections) Options {
	tb.Helper()
	return Options{
		Connections: c,
		Stage:       testStage,
		Region:      "us-east-1",
		Credentials: []Credential{{AccessKeyID: testKey, SecretAccessKey: testSecret}},
		Logger:      slog.New(slog.NewTextHandler(tb.Output(), nil)),
	}
}

// startServer serves New(o) on a local port until the test ends.
func startServer(tb testing.TB, o Options) *httptest.Server {
	tb.Helper()
	h, err := New(o)
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	srv := httptest.NewServer(h)
	tb.Cleanup(srv.Close)
	return srv
}

// newClient is the real SDK client pointed at endpoint, without retries.
func newClient(tb testing.TB, endpoint string, creds aws.CredentialsProvider, optFns ...func(*apigatewaymanagementapi.Options)) *apigatewaymanagementapi.Client {
	tb.Helper()
	cfg := aws.Config{Region: "us-east-1", Credentials: creds}
	return apigatewaymanagementapi.NewFromConfig(cfg, append([]func(*apigatewaymanagementapi.Options){func(o *apigatewaymanagementapi.Options) {
		o.BaseEndpoint = aws.String(endpoint)
		o.Retryer = aws.NopRetryer{}
	}}, optFns...)...)
}

func staticCreds(key, secret, token string) aws.CredentialsProvider {
	return credentials.NewStaticCredentialsProvider(key, secret, token)
}

// ctx is a context for one SDK call.
func ctx(tb testing.TB) context.Context {
	tb.Helper()
	c, cancel := context.WithTimeout(tb.Context(), 10*time.Second)
	tb.Cleanup(cancel)
	return c
}

func TestOperations(t *testing.T) {
	connected := time.Date(2024, 5, 6, 7, 8, 9, 123_000_000, time.UTC)
	active := connected.Add(90 * time.Second)
	tests := []struct {
		name     string
		id       string
		endpoint func(srv string) string
	}{
		{"stage", testID, func(s string) string { return s + "/dev" }},
		{"stage with trailing slash", testID, func(s string) string { return s + "/dev/" }},
		{"custom domain, empty mapping key", testID, func(s string) string { return s }},
		{"id with + and /", "ab+cd/ef01234==", func(s string) string { return s + "/dev" }},
		{"id with //", "ab//cd+/ef0123=", func(s string) string { return s + "/dev" }},
		{"id with no padding", "L0SM9cOFvHcCIhw", func(s string) string { return s + "/dev" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{info: cluster.Info{ConnectedAt: connected, LastActiveAt: active, SourceIP: "192.0.2.7", UserAgent: "Mozilla/5.0 (X11)"}}
			srv := startServer(t, testOptions(t, rec.conns()))
			c := newClient(t, tt.endpoint(srv.URL), staticCreds(testKey, testSecret, ""))

			if _, err := c.PostToConnection(ctx(t), &apigatewaymanagementapi.PostToConnectionInput{
				ConnectionId: aws.String(tt.id), Data: []byte(`{"hello":"wörld"}`),
			}); err != nil {
				t.Fatalf("PostToConnection: %v", err)
			}
			got, err := c.GetConnection(ctx(t), &apigatewaymanagementapi.GetConnectionInput{ConnectionId: aws.String(tt.id)})
			if err != nil {
				t.Fatalf("GetConnection: %v", err)
			}
			if _, err := c.DeleteConnection(ctx(t), &apigatewaymanagementapi.DeleteConnectionInput{ConnectionId: aws.String(tt.id)}); err != nil {
				t.Fatalf("DeleteConnection: %v", err)
			}

			wantGet := &apigatewaymanagementapi.GetConnectionOutput{
				ConnectedAt:  aws.Time(connected),
				LastActiveAt: aws.Time(active),
				Identity:     &types.Identity{SourceIp: aws.String("192.0.2.7"), UserAgent: aws.String("Mozilla/5.0 (X11)")},
			}
			if diff := cmp.Diff(wantGet, got, cmp.FilterPath(func(p cmp.Path) bool {
				return p.Last().String() == ".ResultMetadata"
			}, cmp.Ignore()), cmp.AllowUnexported(apigatewaymanagementapi.GetConnectionOutput{}, types.Identity{})); diff != "" {
				t.Errorf("GetConnection (-want +got):\n%s", diff)
			}
			wantCalls := []call{
				{Op: "post", ID: tt.id, Data: `{"hello":"wörld"}`},
				{Op: "get", ID: tt.id},
				{Op: "delete", ID: tt.id},
			}
			if diff := cmp.Diff(wantCalls, rec.Calls()); diff != "" {
				t.Errorf("calls (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPostBinaryAndEmpty(t *testing.T) {
	tests := []struct {
		name string
		data []byte
	}{
		{"binary", []byte{0, 0xff, 0xfe, 'a', '\n', 0x80}},
		{"one byte", []byte("x")},
		{"exactly the limit", bytes.Repeat([]byte("a"), 1024)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{}
			o := testOptions(t, rec.conns())
			o.MaxPayload = 1024
			srv := startServer(t, o)
			c := newClient(t, srv.URL+"/dev", staticCreds(testKey, testSecret, ""))
			if _, err := c.PostToConnection(ctx(t), &apigatewaymanagementapi.PostToConnectionInput{
				ConnectionId: aws.String(testID), Data: tt.data,
			}); err != nil {
				t.Fatalf("PostToConnection: %v", err)
			}
			if diff := cmp.Diff([]call{{Op: "post", ID: testID, Data: string(tt.data)}}, rec.Calls()); diff != "" {
				t.Errorf("calls (-want +got):\n%s", diff)
			}
		})
	}
}

// apiError is what a test expects of a failed SDK call.
type apiError struct {
	Status  int
	Code    string
	Message string
}

// describe reduces an SDK error to its status, code and message.
func describe(tb testing.TB, err error) apiError {
	tb.Helper()
	if err == nil {
		return apiError{}
	}
	var got apiError
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		got.Status = re.HTTPStatusCode()
	}
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		tb.Fatalf("error is not a smithy.APIError: %v", err)
	}
	got.Code, got.Message = ae.ErrorCode(), ae.ErrorMessage()
	return got
}

func TestModelledErrors(t *testing.T) {
	big := bytes.Repeat([]byte("b"), 1025)
	tests := []struct {
		name     string
		err      error  // what the cluster answers
		data     []byte // for PostToConnection
		stage    string // endpoint stage, default testStage
		wantType any    // pointer to the typed error the SDK must return
		want     apiError
	}{
		{"gone", cluster.ErrGone, nil, "", new(*types.GoneException), apiError{410, CodeGone, ""}},
		{"gone, wrapped", errors.Join(errors.New("node 3"), cluster.ErrGone), nil, "", new(*types.GoneException), apiError{410, CodeGone, ""}},
		{"payload too large from the cluster", cluster.ErrPayloadTooLarge, nil, "", new(*types.PayloadTooLargeException), apiError{413, CodePayloadTooLarge, msgPayloadTooLarge}},
		{"payload over MaxPayload", nil, big, "", new(*types.PayloadTooLargeException), apiError{413, CodePayloadTooLarge, msgPayloadTooLarge}},
		{"send queue full", cluster.ErrLimitExceeded, nil, "", new(*types.LimitExceededException), apiError{429, CodeLimitExceeded, ""}},
		{"unknown stage", nil, nil, "prod", new(*types.ForbiddenException), apiError{403, CodeForbidden, ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{err: tt.err}
			o := testOptions(t, rec.conns())
			o.MaxPayload = 1024
			srv := startServer(t, o)
			stage := tt.stage
			if stage == "" {
				stage = testStage
			}
			c := newClient(t, srv.URL+"/"+stage, staticCreds(testKey, testSecret, ""))
			data := tt.data
			if data == nil {
				data = []byte("hi")
			}
			_, err := c.PostToConnection(ctx(t), &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: aws.String(testID), Data: data})
			if !errors.As(err, tt.wantType) {
				t.Fatalf("PostToConnection error %T %v, want %T", err, err, tt.wantType)
			}
			got := describe(t, err)
			// Only PayloadTooLargeException has a message in the API model; for the
			// others the SDK drops the body's message, so only its presence on the wire
			// is checked (TestErrorResponses).
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
		})
	}
}

func TestGetAndDeleteErrors(t *testing.T) {
	tests := []struct {
		name     string
		err      error
		wantType any
		want     apiError
	}{
		{"gone", cluster.ErrGone, new(*types.GoneException), apiError{410, CodeGone, ""}},
		{"limit", cluster.ErrLimitExceeded, new(*types.LimitExceededException), apiError{429, CodeLimitExceeded, ""}},
		{"internal", errors.New("nats: timeout"), nil, apiError{500, CodeInternal, msgInternal}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{err: tt.err}
			srv := startServer(t, testOptions(t, rec.conns()))
			c := newClient(t, srv.URL+"/dev", staticCreds(testKey, testSecret, ""))
			_, getErr := c.GetConnection(ctx(t), &apigatewaymanagementapi.GetConnectionInput{ConnectionId: aws.String(testID)})
			_, delErr := c.DeleteConnection(ctx(t), &apigatewaymanagementapi.DeleteConnectionInput{ConnectionId: aws.String(testID)})
			for op, err := range map[string]error{"GetConnection": getErr, "DeleteConnection": delErr} {
				if tt.wantType != nil && !errors.As(err, tt.wantType) {
					t.Errorf("%s error %T %v, want %T", op, err, err, tt.wantType)
				}
				if diff := cmp.Diff(tt.want, describe(t, err)); diff != "" {
					t.Errorf("%s error (-want +got):\n%s", op, diff)
				}
			}
		})
	}
}

// rewriter is an HTTP client that changes each request after the SDK signed it.
type rewriter func(r *http.Request)

func (f rewriter) Do(r *http.Request) (*http.Response, error) {
	f(r)
	return http.DefaultClient.Do(r)
}

func TestAuthentication(t *testing.T) {
	const wrongSecret = "not-the-secret"
	tests := []struct {
		name    string
		opts    func(*Options)
		creds   aws.CredentialsProvider
		rewrite rewriter
		want    apiError // zero: success
		// wantPrefix compares only the start of the message (it holds times).
		wantPrefix bool
	}{
		{name: "valid", creds: staticCreds(testKey, testSecret, "")},
		{name: "second key", opts: func(o *Options) {
			o.Credentials = append(o.Credentials, Credential{AccessKeyID: "AKIDOTHER", SecretAccessKey: "other"})
		}, creds: staticCreds("AKIDOTHER", "other", "")},
		{name: "session token", opts: func(o *Options) {
			o.Credentials = []Credential{{AccessKeyID: "ASIATEMP", SecretAccessKey: "temp-secret"}}
		}, creds: staticCreds("ASIATEMP", "temp-secret", "FwoGZXIvYXdzEJr//////////wEaDH+token=")},
		{name: "session token changed after signing", opts: func(o *Options) {
			o.Credentials = []Credential{{AccessKeyID: "ASIATEMP", SecretAccessKey: "temp-secret"}}
		}, creds: staticCreds("ASIATEMP", "temp-secret", "token-one"),
			rewrite: func(r *http.Request) { r.Header.Set("X-Amz-Security-Token", "token-two") },
			want:    apiError{403, CodeInvalidSignature, msgBadSignature}},
		{name: "wrong secret", creds: staticCreds(testKey, wrongSecret, ""),
			want: apiError{403, CodeInvalidSignature, msgBadSignature}},
		{name: "unknown key", creds: staticCreds("AKIDUNKNOWN", testSecret, ""),
			want: apiError{403, CodeUnrecognizedClient, msgUnknownKey}},
		{name: "wrong region", opts: func(o *Options) { o.Region = "eu-west-1" }, creds: staticCreds(testKey, testSecret, ""),
			want: apiError{403, CodeInvalidSignature, "Credential should be scoped to a valid region."}},
		{name: "any region", opts: func(o *Options) { o.Region = "" }, creds: staticCreds(testKey, testSecret, "")},
		{name: "expired", opts: func(o *Options) { o.Now = func() time.Time { return time.Now().Add(6 * time.Minute) } },
			creds: staticCreds(testKey, testSecret, ""),
			want:  apiError{403, CodeInvalidSignature, "Signature expired: "}, wantPrefix: true},
		{name: "not yet current", opts: func(o *Options) { o.Now = func() time.Time { return time.Now().Add(-6 * time.Minute) } },
			creds: staticCreds(testKey, testSecret, ""),
			want:  apiError{403, CodeInvalidSignature, "Signature not yet current: "}, wantPrefix: true},
		{name: "within skew", opts: func(o *Options) { o.Now = func() time.Time { return time.Now().Add(4 * time.Minute) } },
			creds: staticCreds(testKey, testSecret, "")},
		{name: "tampered body", creds: staticCreds(testKey, testSecret, ""),
			rewrite: func(r *http.Request) {
				r.Body = io.NopCloser(strings.NewReader("HI"))
			},
			want: apiError{403, CodeInvalidSignature, msgBadSignature}},
		{name: "tampered body with x-amz-content-sha256 kept", creds: staticCreds(testKey, testSecret, ""),
			rewrite: func(r *http.Request) {
				// A client that signed the header: the header alone must not vouch for the body.
				r.Header.Set("X-Amz-Content-Sha256", "8f434346648f6b96df89dda901c5176b10a6d83961dd3c1ac88b59b2dc327aa4")
				r.Body = io.NopCloser(strings.NewReader("HI"))
			},
			want: apiError{403, CodeInvalidSignature, msgBadSignature}},
		{name: "tampered connection id", creds: staticCreds(testKey, testSecret, ""),
			rewrite: func(r *http.Request) {
				r.URL.Path = strings.Replace(r.URL.Path, testID, "other0000000000=", 1)
				r.URL.RawPath = ""
			},
			want: apiError{403, CodeInvalidSignature, msgBadSignature}},
		{name: "unsigned", creds: aws.AnonymousCredentials{},
			want: apiError{403, CodeMissingAuthenticationToken, msgMissingAuth}},
		{name: "unsigned allowed", opts: func(o *Options) { o.AllowUnsigned = true }, creds: aws.AnonymousCredentials{}},
		{name: "unsigned allowed, no keys", opts: func(o *Options) { o.AllowUnsigned = true; o.Credentials = nil }, creds: aws.AnonymousCredentials{}},
		{name: "unsigned allowed, bad signature still refused", opts: func(o *Options) { o.AllowUnsigned = true },
			creds: staticCreds(testKey, wrongSecret, ""),
			want:  apiError{403, CodeInvalidSignature, msgBadSignature}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{}
			o := testOptions(t, rec.conns())
			if tt.opts != nil {
				tt.opts(&o)
			}
			srv := startServer(t, o)
			var fns []func(*apigatewaymanagementapi.Options)
			if tt.rewrite != nil {
				fns = append(fns, func(o *apigatewaymanagementapi.Options) { o.HTTPClient = tt.rewrite })
			}
			c := newClient(t, srv.URL+"/dev", tt.creds, fns...)
			_, err := c.PostToConnection(ctx(t), &apigatewaymanagementapi.PostToConnectionInput{
				ConnectionId: aws.String(testID), Data: []byte("hi"),
			})
			got := describe(t, err)
			if tt.wantPrefix && strings.HasPrefix(got.Message, tt.want.Message) {
				got.Message = tt.want.Message
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Fatalf("PostToConnection error (-want +got):\n%s\nerr: %v", diff, err)
			}
			var wantCalls []call
			if tt.want.Code == "" {
				wantCalls = []call{{Op: "post", ID: testID, Data: "hi"}}
			}
			if diff := cmp.Diff(wantCalls, rec.Calls()); diff != "" {
				t.Errorf("calls (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNewValidates(t *testing.T) {
	conns := fakeConns{}
	tests := []struct {
		name  string
		opts  Options
		field string // the field the error must name; "" = valid
	}{
		{"valid", Options{Connections: conns, Stage: "dev", Credentials: []Credential{{"a", "b"}}}, ""},
		{"unsigned only", Options{Connections: conns, Stage: "dev", AllowUnsigned: true}, ""},
		{"no connections", Options{Stage: "dev", AllowUnsigned: true}, "Connections"},
		{"no stage", Options{Connections: conns, AllowUnsigned: true}, "Stage"},
		{"bad stage", Options{Connections: conns, Stage: "a/b", AllowUnsigned: true}, "Stage"},
		{"negative payload", Options{Connections: conns, Stage: "dev", AllowUnsigned: true, MaxPayload: -1}, "MaxPayload"},
		{"no credentials", Options{Connections: conns, Stage: "dev"}, "Credentials"},
		{"empty secret", Options{Connections: conns, Stage: "dev", Credentials: []Credential{{"a", ""}}}, "Credentials[0]"},
		{"duplicate key", Options{Connections: conns, Stage: "dev", Credentials: []Credential{{"a", "b"}, {"a", "c"}}}, "Credentials[1]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.opts)
			switch {
			case tt.field == "" && err != nil:
				t.Fatalf("New: %v", err)
			case tt.field != "" && (err == nil || !strings.Contains(err.Error(), tt.field)):
				t.Fatalf("New error %v, want one naming %s", err, tt.field)
			}
		})
	}
}
