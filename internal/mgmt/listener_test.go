package mgmt

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/google/go-cmp/cmp"
)

// These tests attack the @connections API over real TCP, as a raw-socket client would:
// a request refused on its headers must be answered before any of its body is read, and
// the listener built by NewHTTPServer must hang up on slow and idle clients.

// answerBound is how long a refusal that needs no body may take to arrive. It bounds a
// wait on a channel; nothing sleeps.
const answerBound = 2 * time.Second

// startListener serves New(o) through NewHTTPServer(l) on a local port until the test ends.
func startListener(tb testing.TB, o Options, l Limits) *httptest.Server {
	tb.Helper()
	h, err := New(o)
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	hs, err := NewHTTPServer(h, l, nil)
	if err != nil {
		tb.Fatalf("NewHTTPServer: %v", err)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.Config = hs
	srv.Start()
	tb.Cleanup(srv.Close)
	return srv
}

// rawConn is one client TCP connection that writes bytes as the test says.
type rawConn struct {
	net.Conn
	br *bufio.Reader
}

func rawConnect(tb testing.TB, srv *httptest.Server) *rawConn {
	tb.Helper()
	c, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	return &rawConn{Conn: c, br: bufio.NewReader(c)}
}

func (c *rawConn) send(tb testing.TB, s string) {
	tb.Helper()
	if _, err := io.WriteString(c, s); err != nil {
		tb.Fatalf("write: %v", err)
	}
}

// response is what readResponse saw.
type response struct {
	status    int
	errorType string
	body      string
	close     bool // the server said Connection: close
	err       error
	after     time.Duration
}

// readResponse reads one response in the background and delivers it on the channel.
func (c *rawConn) readResponse(req *http.Request) <-chan response {
	ch := make(chan response, 1)
	start := time.Now()
	go func() {
		resp, err := http.ReadResponse(c.br, req)
		if err != nil {
			ch <- response{err: err, after: time.Since(start)}
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		ch <- response{status: resp.StatusCode, errorType: resp.Header.Get("X-Amzn-ErrorType"), body: string(b),
			close: resp.Close, after: time.Since(start)}
	}()
	return ch
}

// await waits for the response at most within.
func await(tb testing.TB, ch <-chan response, within time.Duration, what string) response {
	tb.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(within):
		tb.Fatalf("%s: no answer within %v", what, within)
		return response{}
	}
}

// awaitHangUp reports how long until the server closed c, failing after within.
func (c *rawConn) awaitHangUp(tb testing.TB, within time.Duration) time.Duration {
	tb.Helper()
	start := time.Now()
	if err := c.SetReadDeadline(start.Add(within)); err != nil {
		tb.Fatal(err)
	}
	n, err := io.Copy(io.Discard, c.br)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		tb.Fatalf("the server kept the connection open for %v (%d bytes read)", within, n)
	}
	return time.Since(start)
}

// signedHead signs a request for path with the SDK's own signer and returns its request
// line and headers, ready for the wire. contentLength is what the head announces;
// payloadHash is what was signed; claim sends it as X-Amz-Content-Sha256.
func signedHead(tb testing.TB, host, method, path string, contentLength int, payloadHash string, claim bool, creds aws.Credentials, region string, at time.Time, edit func(http.Header)) string {
	tb.Helper()
	req, err := http.NewRequest(method, "http://"+host, nil)
	if err != nil {
		tb.Fatal(err)
	}
	req.URL.Opaque = "//" + host + path
	req.ContentLength = int64(contentLength)
	req.Header.Set("Content-Type", "application/octet-stream")
	if claim {
		req.Header.Set("X-Amz-Content-Sha256", payloadHash)
	}
	if err := v4.NewSigner().SignHTTP(tb.Context(), creds, req, payloadHash, "execute-api", region, at); err != nil {
		tb.Fatal(err)
	}
	if edit != nil {
		edit(req.Header)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n", method, path, host, contentLength)
	if err := req.Header.Write(&b); err != nil {
		tb.Fatal(err)
	}
	b.WriteString("\r\n")
	return b.String()
}

func sha256Hex(b string) string {
	sum := sha256.Sum256([]byte(b))
	return hex.EncodeToString(sum[:])
}

const testPath = "/dev/@connections/R1kmxc2VNjMCFIA%3D"

// TestRefusedBeforeTheBody announces a 1000-byte body, sends one byte of it and holds
// the rest: every request the headers already condemn must be answered at once, with
// AWS's error type, and its connection closed, no operation run.
func TestRefusedBeforeTheBody(t *testing.T) {
	good := aws.Credentials{AccessKeyID: testKey, SecretAccessKey: testSecret}
	const n = 1000
	body := strings.Repeat("b", n)
	tests := []struct {
		name      string
		head      func(host string) string
		status    int
		errorType string
	}{
		{"bogus Authorization", func(host string) string {
			return "POST " + testPath + " HTTP/1.1\r\nHost: " + host + "\r\nContent-Length: 1000\r\nAuthorization: AWS4-HMAC-SHA256 x\r\n\r\n"
		}, 403, CodeIncompleteSignature},
		{"other algorithm", func(host string) string {
			return "POST " + testPath + " HTTP/1.1\r\nHost: " + host + "\r\nContent-Length: 1000\r\nAuthorization: Basic YTpi\r\n\r\n"
		}, 403, CodeIncompleteSignature},
		{"no Authorization", func(host string) string {
			return "POST " + testPath + " HTTP/1.1\r\nHost: " + host + "\r\nContent-Length: 1000\r\n\r\n"
		}, 403, CodeMissingAuthenticationToken},
		{"unknown access key", func(host string) string {
			return signedHead(t, host, "POST", testPath, n, sha256Hex(body), false,
				aws.Credentials{AccessKeyID: "AKIDUNKNOWN", SecretAccessKey: testSecret}, "us-east-1", time.Now(), nil)
		}, 403, CodeUnrecognizedClient},
		{"wrong region", func(host string) string {
			return signedHead(t, host, "POST", testPath, n, sha256Hex(body), false, good, "eu-west-1", time.Now(), nil)
		}, 403, CodeInvalidSignature},
		{"expired", func(host string) string {
			return signedHead(t, host, "POST", testPath, n, sha256Hex(body), false, good, "us-east-1", time.Now().Add(-6*time.Minute), nil)
		}, 403, CodeInvalidSignature},
		{"scope date not the X-Amz-Date", func(host string) string {
			return signedHead(t, host, "POST", testPath, n, sha256Hex(body), false, good, "us-east-1", time.Now(), func(h http.Header) {
				h.Set("X-Amz-Date", time.Now().UTC().Add(-48*time.Hour).Format(amzDateFmt))
			})
		}, 403, CodeInvalidSignature},
		{"signed header not sent", func(host string) string {
			return signedHead(t, host, "POST", testPath, n, sha256Hex(body), false, good, "us-east-1", time.Now(), func(h http.Header) {
				h.Del("Content-Type")
			})
		}, 403, CodeInvalidSignature},
		{"wrong secret, payload hash stated", func(host string) string {
			return signedHead(t, host, "POST", testPath, n, sha256Hex(body), true,
				aws.Credentials{AccessKeyID: testKey, SecretAccessKey: "not-the-secret"}, "us-east-1", time.Now(), nil)
		}, 403, CodeInvalidSignature},
		{"payload hash not a hash", func(host string) string {
			return signedHead(t, host, "POST", testPath, n, "UNSIGNED-PAYLOAD", true, good, "us-east-1", time.Now(), nil)
		}, 403, CodeInvalidSignature},
		{"path outside the API", func(host string) string {
			return "POST /dev/other HTTP/1.1\r\nHost: " + host + "\r\nContent-Length: 1000\r\n\r\n"
		}, 403, CodeForbidden},
		{"unknown stage", func(host string) string {
			return signedHead(t, host, "POST", "/prod/@connections/R1kmxc2VNjMCFIA%3D", n, sha256Hex(body), false, good, "us-east-1", time.Now(), nil)
		}, 403, CodeForbidden},
		{"Content-Length over MaxPayload, valid signature", func(host string) string {
			big := strings.Repeat("b", 2048)
			return signedHead(t, host, "POST", testPath, len(big), sha256Hex(big), true, good, "us-east-1", time.Now(), nil)
		}, 413, CodePayloadTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{}
			o := testOptions(t, rec.conns())
			o.MaxPayload = 1024
			srv := startListener(t, o, Limits{})
			c := rawConnect(t, srv)
			host := srv.Listener.Addr().String()
			c.send(t, tt.head(host)+"b") // one byte of the body; the rest never comes
			got := await(t, c.readResponse(nil), answerBound, "refusal while the body is open")
			if got.err != nil {
				t.Fatalf("reading the answer: %v", got.err)
			}
			if got.status != tt.status || got.errorType != tt.errorType || !got.close {
				t.Errorf("answer %d %s (Connection: close %v) %s, want %d %s and Connection: close",
					got.status, got.errorType, got.close, got.body, tt.status, tt.errorType)
			}
			c.awaitHangUp(t, answerBound)
			if calls := rec.Calls(); len(calls) != 0 {
				t.Errorf("operations ran: %v", calls)
			}
			t.Logf("answered in %v with 1 of %s body bytes sent", got.after, strconv.Itoa(n))
		})
	}
}

// TestStatedPayloadHash: a request signed over X-Amz-Content-Sha256 is verified before
// its body, and its body is then checked against the hash as it arrives, in pieces.
func TestStatedPayloadHash(t *testing.T) {
	good := aws.Credentials{AccessKeyID: testKey, SecretAccessKey: testSecret}
	const body = "hello in two parts"
	tests := []struct {
		name      string
		sent      string // the body sent after the head (same length as body)
		status    int
		errorType string
		wantCalls []call
	}{
		{"body as signed", body, 200, "", []call{{Op: "post", ID: testID, Data: body}}},
		{"body not the one hashed", strings.ToUpper(body), 403, CodeInvalidSignature, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{}
			srv := startListener(t, testOptions(t, rec.conns()), Limits{})
			c := rawConnect(t, srv)
			c.send(t, signedHead(t, srv.Listener.Addr().String(), "POST", testPath, len(body), sha256Hex(body), true, good, "us-east-1", time.Now(), nil))
			c.send(t, tt.sent[:5])
			answer := c.readResponse(nil)
			c.send(t, tt.sent[5:])
			got := await(t, answer, answerBound, "answer to a complete request")
			if got.err != nil || got.status != tt.status || got.errorType != tt.errorType {
				t.Errorf("answer %d %s %q (%v), want %d %s", got.status, got.errorType, got.body, got.err, tt.status, tt.errorType)
			}
			if diff := cmp.Diff(tt.wantCalls, rec.Calls()); diff != "" {
				t.Errorf("calls (-want +got):\n%s", diff)
			}
		})
	}
}

// TestSlowBodyHitsReadTimeout: a correctly signed request whose body stops arriving is
// refused with 400 once ReadTimeout has passed, whichever way it was signed, and the
// connection dropped: on the management listener, and through Bounded on a listener
// without timeouts of its own (the WebSocket listener).
func TestSlowBodyHitsReadTimeout(t *testing.T) {
	good := aws.Credentials{AccessKeyID: testKey, SecretAccessKey: testSecret}
	const readTimeout = 300 * time.Millisecond
	limits := Limits{ReadHeaderTimeout: readTimeout, ReadTimeout: readTimeout, WriteTimeout: time.Second}
	listeners := map[string]func(*recorder) *httptest.Server{
		"management listener": func(rec *recorder) *httptest.Server { return startListener(t, testOptions(t, rec.conns()), limits) },
		"Bounded":             func(rec *recorder) *httptest.Server { return startBounded(t, testOptions(t, rec.conns()), limits) },
	}
	body := strings.Repeat("s", 100)
	for name, start := range listeners {
		for _, claim := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s, payload hash stated %v", name, claim), func(t *testing.T) {
				rec := &recorder{}
				srv := start(rec)
				// The listener's deadline starts when it accepts the connection: the
				// clock starts before the dial, so that it is never started late.
				begin := time.Now()
				c := rawConnect(t, srv)
				c.send(t, signedHead(t, srv.Listener.Addr().String(), "POST", testPath, len(body), sha256Hex(body), claim, good, "us-east-1", time.Now(), nil)+"s")
				got := await(t, c.readResponse(nil), readTimeout+answerBound, "answer to a stalled body")
				elapsed := time.Since(begin)
				if got.err != nil || got.status != 400 || got.errorType != CodeBadRequest || !got.close {
					t.Errorf("answer %d %s %q close %v (%v), want 400 %s, Connection: close", got.status, got.errorType, got.body, got.close, got.err, CodeBadRequest)
				}
				if elapsed < readTimeout {
					t.Errorf("answered after %v, before ReadTimeout %v", elapsed, readTimeout)
				}
				c.awaitHangUp(t, answerBound)
				if calls := rec.Calls(); len(calls) != 0 {
					t.Errorf("operations ran: %v", calls)
				}
				t.Logf("stalled body refused after %v (ReadTimeout %v)", elapsed, readTimeout)
			})
		}
	}
}

// TestSlowlorisHeaders: half a request line, then nothing. The listener hangs up once
// ReadHeaderTimeout has passed, without waiting for more.
func TestSlowlorisHeaders(t *testing.T) {
	const headerTimeout = 200 * time.Millisecond
	srv := startListener(t, testOptions(t, fakeConns{}), Limits{ReadHeaderTimeout: headerTimeout})
	c := rawConnect(t, srv)
	c.send(t, "POST /dev/@connec")
	took := c.awaitHangUp(t, headerTimeout+answerBound)
	if took < headerTimeout/2 {
		t.Errorf("hung up after %v, long before ReadHeaderTimeout %v", took, headerTimeout)
	}
	t.Logf("half a request line: hung up after %v (ReadHeaderTimeout %v)", took, headerTimeout)
}

// TestIdleKeepAliveClosed: after one complete exchange, a keep-alive connection that
// sends nothing more is closed once IdleTimeout has passed.
func TestIdleKeepAliveClosed(t *testing.T) {
	const idle = 300 * time.Millisecond
	srv := startListener(t, testOptions(t, fakeConns{}), Limits{IdleTimeout: idle})
	c := rawConnect(t, srv)
	c.send(t, "GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n")
	got := await(t, c.readResponse(nil), answerBound, "answer")
	if got.err != nil || got.status != 403 || got.close {
		t.Fatalf("answer %d close %v (%v), want 403 on a kept-alive connection", got.status, got.close, got.err)
	}
	took := c.awaitHangUp(t, idle+answerBound)
	if took < idle/2 {
		t.Errorf("closed after %v, long before IdleTimeout %v", took, idle)
	}
	t.Logf("idle keep-alive closed after %v (IdleTimeout %v)", took, idle)
}

// TestHeaderLimit: headers beyond MaxHeaderBytes (and net/http's 4 KiB of slack) get 431.
func TestHeaderLimit(t *testing.T) {
	srv := startListener(t, testOptions(t, fakeConns{}), Limits{MaxHeaderBytes: 1024})
	c := rawConnect(t, srv)
	c.send(t, "GET "+testPath+" HTTP/1.1\r\nHost: x\r\nX-Pad: "+strings.Repeat("p", 8<<10)+"\r\n\r\n")
	got := await(t, c.readResponse(nil), answerBound, "answer to oversized headers")
	if got.status != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("answer %d (%v), want 431", got.status, got.err)
	}
}

func TestLimitsValidate(t *testing.T) {
	tests := []struct {
		name  string
		l     Limits
		field string // "" valid
	}{
		{"defaults", Limits{}, ""},
		{"all set", Limits{time.Second, 2 * time.Second, 3 * time.Second, time.Minute, 8192}, ""},
		{"negative header timeout", Limits{ReadHeaderTimeout: -1}, "ReadHeaderTimeout"},
		{"negative idle", Limits{IdleTimeout: -time.Second}, "IdleTimeout"},
		{"negative header bytes", Limits{MaxHeaderBytes: -1}, "MaxHeaderBytes"},
		{"header timeout over read timeout", Limits{ReadHeaderTimeout: 20 * time.Second}, "ReadHeaderTimeout"},
		{"write timeout not over read timeout", Limits{ReadTimeout: 30 * time.Second}, "WriteTimeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.l.Validate()
			_, nerr := NewHTTPServer(http.NotFoundHandler(), tt.l, nil)
			switch {
			case tt.field == "" && (err != nil || nerr != nil):
				t.Fatalf("Validate: %v; NewHTTPServer: %v", err, nerr)
			case tt.field != "" && (err == nil || !strings.HasPrefix(err.Error(), tt.field) || nerr == nil):
				t.Fatalf("Validate: %v; NewHTTPServer: %v; want an error naming %s", err, nerr, tt.field)
			}
		})
	}
	hs, err := NewHTTPServer(http.NotFoundHandler(), Limits{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := Limits{hs.ReadHeaderTimeout, hs.ReadTimeout, hs.WriteTimeout, hs.IdleTimeout, hs.MaxHeaderBytes}
	want := Limits{DefaultReadHeaderTimeout, DefaultReadTimeout, DefaultWriteTimeout, DefaultIdleTimeout, DefaultMaxHeaderBytes}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("default http.Server limits (-want +got):\n%s", diff)
	}
}
