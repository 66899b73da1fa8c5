package mgmt

import (
	"bufio"
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"

	"github.com/wsgate/wsgate/internal/cluster"
)

// recordingTransport sends requests on through next and keeps each one as it went on
// the wire.
type recordingTransport struct {
	next http.RoundTripper
	mu   sync.Mutex
	wire [][]byte
}

func (rt *recordingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	b, err := httputil.DumpRequestOut(r, true) // restores r.Body
	if err != nil {
		return nil, err
	}
	rt.mu.Lock()
	rt.wire = append(rt.wire, b)
	rt.mu.Unlock()
	return rt.next.RoundTrip(r)
}

// fuzzConns is a cluster.Connections that knows every connection.
var fuzzConns = fakeConns{
	post: func(context.Context, string, []byte) error { return nil },
	get: func(context.Context, string) (cluster.Info, error) {
		return cluster.Info{ConnectedAt: time.Unix(1700000000, 0), LastActiveAt: time.Unix(1700000060, 0), SourceIP: "192.0.2.1"}, nil
	},
	del: func(context.Context, string) error { return nil },
}

const fuzzToken = "FwoGZXIvYXdzEJr//////////wEaDH+fuzz-session-token="

// sdkRequests signs the three operations with the real Go SDK, sends them to the API and
// returns them as they went on the wire, with the time they were signed at. It fails
// unless every one succeeded.
func sdkRequests(tb testing.TB, o Options) [][]byte {
	tb.Helper()
	srv := startServer(tb, o)
	rt := &recordingTransport{next: http.DefaultTransport}
	for _, endpoint := range []string{srv.URL + "/dev", srv.URL} {
		for _, creds := range []aws.CredentialsProvider{staticCreds(testKey, testSecret, ""), staticCreds("ASIATEMP", "temp-secret", fuzzToken)} {
			c := newClient(tb, endpoint, creds, func(o *apigatewaymanagementapi.Options) {
				o.HTTPClient = &http.Client{Transport: rt}
			})
			if _, err := c.PostToConnection(ctx(tb), &apigatewaymanagementapi.PostToConnectionInput{
				ConnectionId: aws.String(testID), Data: []byte(`{"hello":"wörld"}`),
			}); err != nil {
				tb.Fatalf("PostToConnection: %v", err)
			}
			if _, err := c.GetConnection(ctx(tb), &apigatewaymanagementapi.GetConnectionInput{ConnectionId: aws.String("ab+cd/ef01234==")}); err != nil {
				tb.Fatalf("GetConnection: %v", err)
			}
			if _, err := c.DeleteConnection(ctx(tb), &apigatewaymanagementapi.DeleteConnectionInput{ConnectionId: aws.String(testID)}); err != nil {
				tb.Fatalf("DeleteConnection: %v", err)
			}
		}
	}
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return rt.wire
}

// splitWire cuts a request as sent into its method, request target, header lines and body.
func splitWire(tb testing.TB, wire []byte) (method, target, headers string, body []byte) {
	tb.Helper()
	head, body, ok := bytes.Cut(wire, []byte("\r\n\r\n"))
	if !ok {
		tb.Fatalf("no end of headers in %q", wire)
	}
	line, headers, _ := strings.Cut(string(head), "\r\n")
	f := strings.Fields(line)
	if len(f) != 3 {
		tb.Fatalf("request line %q", line)
	}
	return f[0], f[1], headers, body
}

// fuzzStatuses are the answers the API may give to anything: success, AWS's errors, a
// body that could not be read, and net/http's ServeMux redirect of an unclean path.
var fuzzStatuses = map[int]bool{200: true, 204: true, 400: true, 403: true, 413: true,
	http.StatusMovedPermanently: true, http.StatusTemporaryRedirect: true, http.StatusPermanentRedirect: true}

// FuzzRequest sends arbitrary methods, targets, headers and bodies through the
// @connections handler, starting from requests the Go SDK signed. No input may panic it,
// every answer has a status from fuzzStatuses, only a request signed with a known key
// succeeds, and no secret, signature or session token reaches the answer or the log.
func FuzzRequest(f *testing.F) {
	signedAt := time.Now()
	o := testOptions(f, fuzzConns)
	o.Credentials = append(o.Credentials, Credential{AccessKeyID: "ASIATEMP", SecretAccessKey: "temp-secret"})
	o.MaxPayload = 1024
	o.Now = func() time.Time { return signedAt }
	add := func(wire []byte) {
		method, target, headers, body := splitWire(f, wire)
		f.Add(method, target, headers, body)
	}
	for _, wire := range sdkRequests(f, o) {
		add(wire)
	}
	// The JS SDK's form: the payload hash stated in a signed X-Amz-Content-Sha256.
	stated := signedHead(f, "example.test", "POST", testPath, 2, sha256Hex("hi"), true,
		aws.Credentials{AccessKeyID: testKey, SecretAccessKey: testSecret}, "us-east-1", signedAt, nil)
	add([]byte(stated + "hi"))
	f.Add("POST", testPath, "Host: x\r\nAuthorization: AWS4-HMAC-SHA256 Credential=a/b, SignedHeaders=host, Signature=00\r\nContent-Length: 3", []byte("abc"))
	f.Add("PUT", "/dev/@connections/x?a=1&b", "Host: x\r\nTransfer-Encoding: chunked", []byte("3\r\nabc\r\n0\r\n\r\n"))

	// One handler for the whole run; its log is emptied before each input (a fuzz
	// worker runs one input at a time).
	var logs bytes.Buffer
	o.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h, err := New(o)
	if err != nil {
		f.Fatal(err)
	}

	f.Fuzz(func(t *testing.T, method, target, headers string, body []byte) {
		raw := method + " " + target + " HTTP/1.1\r\n" + headers + "\r\n\r\n" + string(body)
		req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw)))
		if err != nil {
			return // net/http's parser refuses it before any handler runs
		}
		req.RemoteAddr = "192.0.2.1:4242"
		logs.Reset()
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)

		if !fuzzStatuses[w.Code] {
			t.Fatalf("status %d for %q: %s", w.Code, raw, w.Body.String())
		}
		if w.Code < 300 && !strings.Contains(req.Header.Get("Authorization"), "Signature=") {
			t.Fatalf("status %d for an unsigned request %q", w.Code, raw)
		}
		var answer strings.Builder
		_ = w.Result().Header.Write(&answer)
		answer.Write(w.Body.Bytes())
		secrets := []string{testSecret, "temp-secret"}
		if a, err := parseAuthorization(req.Header.Get("Authorization")); err == nil {
			secrets = append(secrets, a.Signature)
		}
		if tok := req.Header.Get("X-Amz-Security-Token"); len(tok) >= 16 {
			secrets = append(secrets, tok)
		}
		for _, s := range secrets {
			if strings.Contains(req.URL.Path, s) || strings.Contains(req.URL.RawPath, s) {
				continue // the client put it in the path: echoing the connection id is fine
			}
			if strings.Contains(answer.String(), s) {
				t.Fatalf("the answer holds %q:\n%s", s, answer.String())
			}
			if strings.Contains(logs.String(), s) {
				t.Fatalf("the log holds %q:\n%s", s, logs.String())
			}
		}
	})
}
