package authorizer

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/google/go-cmp/cmp"

	"github.com/wsgate/wsgate/authevent"
)

const testFunction = "wsgate-authorizer"

// fakeLambda fakes the Lambda Invoke API: POST /2015-03-31/functions/{name}/invocations.
// respond answers one invocation of testFunction with the decoded event.
type fakeLambda struct {
	tb      testing.TB
	respond func(w http.ResponseWriter, r *http.Request, ev authevent.Event)
	calls   atomic.Int64
}

func (f *fakeLambda) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.calls.Add(1)
	if r.Method != http.MethodPost || r.URL.Path != "/2015-03-31/functions/"+testFunction+"/invocations" {
		w.Header().Set("X-Amzn-ErrorType", "ResourceNotFoundException")
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, `{"Type":"User","message":"Function not found: `+r.URL.Path+`"}`)
		return
	}
	if got := r.Header.Get("X-Amz-Invocation-Type"); got != "RequestResponse" {
		f.tb.Errorf("X-Amz-Invocation-Type = %q, want RequestResponse", got)
	}
	if !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 Credential=AKIDTEST/") {
		f.tb.Errorf("request not signed with the static credentials: %q", r.Header.Get("Authorization"))
	}
	var ev authevent.Event
	b, _ := io.ReadAll(r.Body) // all of it, so the server notices the client going away
	if err := json.Unmarshal(b, &ev); err != nil {
		f.tb.Errorf("payload is not an authorizer event: %v", err)
	}
	f.respond(w, r, ev)
}

// newLambdaClient is the real SDK client pointed at srv.
func newLambdaClient(srv *httptest.Server) *lambda.Client {
	return lambda.NewFromConfig(aws.Config{
		Region:      "eu-west-1",
		Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "SECRETTEST", ""),
	}, func(o *lambda.Options) { o.BaseEndpoint = aws.String(srv.URL) })
}

// answer writes v as the function's result.
func answer(v any) func(http.ResponseWriter, *http.Request, authevent.Event) {
	return func(w http.ResponseWriter, _ *http.Request, _ authevent.Event) {
		w.Header().Set("X-Amz-Executed-Version", "$LATEST")
		json.NewEncoder(w).Encode(v)
	}
}

// raw writes body as the function's result.
func raw(body string) func(http.ResponseWriter, *http.Request, authevent.Event) {
	return func(w http.ResponseWriter, _ *http.Request, _ authevent.Event) { io.WriteString(w, body) }
}

// functionErr answers as Lambda does for a function error of kind (Unhandled, Handled).
func functionErr(kind, message, errorType string) func(http.ResponseWriter, *http.Request, authevent.Event) {
	return func(w http.ResponseWriter, _ *http.Request, _ authevent.Event) {
		w.Header().Set("X-Amz-Function-Error", kind)
		json.NewEncoder(w).Encode(map[string]string{"errorMessage": message, "errorType": errorType})
	}
}

const secretInError = "JWT=eyJhbGciOiJIUzI1NiJ9.secret"

// authorizerCases are the answers an external authorizer (Lambda or HTTP) may give with
// status 200, shared by the Lambda and HTTP tests.
var policyCases = []struct {
	name string
	body any
	want Result
}{
	{
		name: "allow",
		body: authevent.AllowResponse("alice", testArn, map[string]any{"role": "admin", "tenant": 42, "admin": true}),
		want: Result{Outcome: Allow, PrincipalID: "alice", Reason: "allowed",
			Context: map[string]any{"role": "admin", "tenant": json.Number("42"), "admin": true}},
	},
	{
		name: "allow with a wildcard resource and string action",
		body: json.RawMessage(`{"principalId":"bob","policyDocument":{"Version":"2012-10-17","Statement":[{"Action":"execute-api:Invoke","Effect":"Allow","Resource":"arn:aws:execute-api:eu-west-1:123456789012:abcdef1234/*"}]}}`),
		want: Result{Outcome: Allow, PrincipalID: "bob", Reason: "allowed"},
	},
	{
		name: "allow with a usageIdentifierKey",
		body: json.RawMessage(`{"principalId":"carol","usageIdentifierKey":"key-from-authorizer","policyDocument":{"Version":"2012-10-17","Statement":[{"Action":"execute-api:Invoke","Effect":"Allow","Resource":"*"}]}}`),
		want: Result{Outcome: Allow, PrincipalID: "carol", UsageIdentifierKey: "key-from-authorizer", Reason: "allowed"},
	},
	{
		name: "allow on another resource is 403",
		body: authevent.AllowResponse("alice", "arn:aws:execute-api:eu-west-1:123456789012:abcdef1234/prod/$connect", nil),
		want: Result{Outcome: Forbidden, PrincipalID: "alice", Reason: "policy does not allow the method ARN"},
	},
	{
		name: "explicit deny is 403",
		body: authevent.DenyResponse("alice", testArn),
		want: Result{Outcome: Forbidden, PrincipalID: "alice", Reason: "policy denies the method ARN"},
	},
	{
		name: "deny wins over allow",
		body: json.RawMessage(`{"principalId":"alice","policyDocument":{"Version":"2012-10-17","Statement":[
			{"Action":"execute-api:Invoke","Effect":"Allow","Resource":"*"},
			{"Action":"execute-api:*","Effect":"Deny","Resource":"arn:aws:execute-api:*:*:abcdef1234/dev/*"}]}}`),
		want: Result{Outcome: Forbidden, PrincipalID: "alice", Reason: "policy denies the method ARN"},
	},
	{
		name: "no policy is 500",
		body: json.RawMessage(`{"principalId":"alice"}`),
		want: Result{Outcome: Failed, Reason: "authorizer result invalid: policyDocument: missing"},
	},
	{
		name: "object in context is 500",
		body: json.RawMessage(`{"principalId":"alice","policyDocument":{"Version":"2012-10-17","Statement":[{"Action":"execute-api:Invoke","Effect":"Allow","Resource":"*"}]},"context":{"o":{}}}`),
		want: Result{Outcome: Failed, Reason: "authorizer result invalid: context.o: an object is not a string, number or boolean"},
	},
	{
		name: "null is 500",
		body: nil,
		want: Result{Outcome: Failed, Reason: "authorizer result invalid: principalId: missing"},
	},
}

func TestLambda(t *testing.T) {
	type tcase struct {
		name    string
		respond func(http.ResponseWriter, *http.Request, authevent.Event)
		want    Result
	}
	var cases []tcase
	for _, pc := range policyCases {
		want := pc.want
		want.Reason = strings.Replace(want.Reason, "authorizer result invalid", "lambda authorizer result invalid", 1)
		cases = append(cases, tcase{name: pc.name, respond: answer(pc.body), want: want})
	}
	cases = append(cases,
		tcase{
			name:    "Unauthorized error (Unhandled) is 401",
			respond: functionErr("Unhandled", "Unauthorized", "errorString"),
			want:    Result{Outcome: Unauthorized, Reason: "lambda authorizer answered Unauthorized"},
		},
		tcase{
			name:    "Unauthorized error (Handled) is 401",
			respond: functionErr("Handled", "Unauthorized", "Error"),
			want:    Result{Outcome: Unauthorized, Reason: "lambda authorizer answered Unauthorized"},
		},
		tcase{
			name:    "unauthorized in lower case is 500",
			respond: functionErr("Unhandled", "unauthorized", "errorString"),
			want:    Result{Outcome: Failed, Reason: `lambda authorizer function error (Unhandled, errorType "errorString")`},
		},
		tcase{
			name:    "other function error is 500 without its message",
			respond: functionErr("Unhandled", "bad cookie "+secretInError, "*errors.errorString"),
			want:    Result{Outcome: Failed, Reason: `lambda authorizer function error (Unhandled, errorType "*errors.errorString")`},
		},
		tcase{
			name: "function timeout is 500",
			respond: func(w http.ResponseWriter, _ *http.Request, _ authevent.Event) {
				w.Header().Set("X-Amz-Function-Error", "Unhandled")
				io.WriteString(w, `{"errorType":"Sandbox.Timedout","errorMessage":"RequestId: 1 Error: Task timed out after 3.00 seconds"}`)
			},
			want: Result{Outcome: Failed, Reason: `lambda authorizer function error (Unhandled, errorType "Sandbox.Timedout")`},
		},
		tcase{
			name: "unreadable error payload is 500",
			respond: func(w http.ResponseWriter, _ *http.Request, _ authevent.Event) {
				w.Header().Set("X-Amz-Function-Error", "Unhandled")
				io.WriteString(w, `Unauthorized`)
			},
			want: Result{Outcome: Failed, Reason: `lambda authorizer function error (Unhandled, errorType "")`},
		},
		tcase{
			name:    "result over 8 KB is 500",
			respond: answer(authevent.AllowResponse("alice", testArn, map[string]any{"big": strings.Repeat("x", 8192)})),
			want:    Result{Outcome: Failed, Reason: "lambda authorizer result of 8426 bytes exceeds 8192"},
		},
		tcase{
			name:    "not JSON is 500",
			respond: raw(`<html>`),
			want:    Result{Outcome: Failed, Reason: "lambda authorizer result invalid: authorizer result is not a JSON object: invalid character '<' looking for beginning of value"},
		},
		tcase{
			name: "invoke error is 500",
			respond: func(w http.ResponseWriter, _ *http.Request, _ authevent.Event) {
				w.Header().Set("X-Amzn-ErrorType", "TooManyRequestsException")
				w.WriteHeader(http.StatusTooManyRequests)
				io.WriteString(w, `{"Type":"User","message":"Rate Exceeded.","Reason":"ReservedFunctionConcurrentInvocationLimitExceeded"}`)
			},
			want: Result{Outcome: Failed, Reason: "lambda authorizer invoke failed: TooManyRequestsException"},
		},
	)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fake := &fakeLambda{tb: t, respond: func(w http.ResponseWriter, r *http.Request, ev authevent.Event) {
				if diff := cmp.Diff(*testEvent(), ev); diff != "" {
					t.Errorf("payload mismatch (-want +got):\n%s", diff)
				}
				tc.respond(w, r, ev)
			}}
			srv := httptest.NewServer(fake)
			defer srv.Close()
			l := NewLambda(newLambdaClient(srv), testFunction, 5*time.Second)
			got := l.Authorize(context.Background(), testEvent())
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Authorize mismatch (-want +got):\n%s", diff)
			}
			if strings.Contains(got.Reason, "secret") {
				t.Errorf("reason %q leaks the function's error message", got.Reason)
			}
		})
	}
}

func TestLambdaFunctionNotFound(t *testing.T) {
	srv := httptest.NewServer(&fakeLambda{tb: t})
	defer srv.Close()
	got := NewLambda(newLambdaClient(srv), "other-function", time.Second).Authorize(context.Background(), testEvent())
	want := Result{Outcome: Failed, Reason: "lambda authorizer invoke failed: ResourceNotFoundException"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Authorize mismatch (-want +got):\n%s", diff)
	}
}

func TestLambdaTimeout(t *testing.T) {
	fake := &fakeLambda{tb: t, respond: func(w http.ResponseWriter, r *http.Request, _ authevent.Event) {
		<-r.Context().Done() // the function never answers
	}}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	start := time.Now()
	got := NewLambda(newLambdaClient(srv), testFunction, 100*time.Millisecond).Authorize(context.Background(), testEvent())
	want := Result{Outcome: Failed, Reason: "lambda authorizer timed out after 100ms"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Authorize mismatch (-want +got):\n%s", diff)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v, want about 100ms", d)
	}
	if n := fake.calls.Load(); n != 1 {
		t.Errorf("%d invocations, want 1", n)
	}
}

func TestLambdaUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	client := newLambdaClient(srv)
	srv.Close()
	got := NewLambda(client, testFunction, 2*time.Second).Authorize(context.Background(), testEvent())
	if got.Outcome != Failed || !strings.HasPrefix(got.Reason, "lambda authorizer ") {
		t.Errorf("got %+v, want Failed", got)
	}
}

func TestLambdaNilEvent(t *testing.T) {
	got := NewLambda(nil, testFunction, 0).Authorize(context.Background(), nil)
	if diff := cmp.Diff(Result{Outcome: Failed, Reason: "no authorizer event"}, got); diff != "" {
		t.Errorf("mismatch (-want +got):\n%s", diff)
	}
}
