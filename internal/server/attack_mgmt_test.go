package server

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"

	"github.com/wsgate/wsgate/internal/config"
)

// The management listener under attack from a raw socket: slow headers, trickled bodies
// behind a bad signature, idle keep-alives, an oversized Content-Length. Each is answered
// or hung up on within its limit, and the real SDK still gets through.

// attackMgmt is signedMgmt with short listener limits, so that the tests see them act.
const (
	attackHeaderTimeout = 300 * time.Millisecond
	attackReadTimeout   = 3 * time.Second
	attackIdleTimeout   = 400 * time.Millisecond
	attackMgmt          = signedMgmt + `
    ReadHeaderTimeout: 300ms
    ReadTimeout: 3s
    WriteTimeout: 4s
    IdleTimeout: 400ms`
	// attackBound is how long an answer that needs no body may take; well under
	// attackReadTimeout, so that an answer within it was not the read deadline's doing.
	attackBound = time.Second
)

// mgmtConn is a raw TCP connection to the management listener.
type mgmtConn struct {
	net.Conn
	br *bufio.Reader
}

func dialMgmt(t testing.TB, r *running) *mgmtConn {
	t.Helper()
	c, err := net.Dial("tcp", r.Management)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &mgmtConn{Conn: c, br: bufio.NewReader(c)}
}

func (c *mgmtConn) send(t testing.TB, s string) {
	t.Helper()
	if _, err := io.WriteString(c, s); err != nil {
		t.Fatalf("write: %v", err)
	}
}

// answer is one response as read off the wire.
type answer struct {
	status    int
	errorType string
	close     bool
	err       error
}

// answerOn reads one response in the background and delivers it on the channel.
func (c *mgmtConn) answerOn() <-chan answer {
	ch := make(chan answer, 1)
	go func() {
		resp, err := http.ReadResponse(c.br, nil)
		if err != nil {
			ch <- answer{err: err}
			return
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		ch <- answer{status: resp.StatusCode, errorType: resp.Header.Get("X-Amzn-ErrorType"), close: resp.Close}
	}()
	return ch
}

// hangUp reports how long until the server closed c; it fails if that takes over within.
func (c *mgmtConn) hangUp(t testing.TB, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	_ = c.SetReadDeadline(start.Add(within))
	_, err := io.Copy(io.Discard, c.br)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("the management listener kept the connection open for %v", within)
	}
	return time.Since(start)
}

// signedPostHead is the request line and headers of a POST to id signed by the SDK's
// signer with creds, announcing n body bytes; the body itself is the caller's to send.
func signedPostHead(t testing.TB, r *running, id string, n int, creds aws.Credentials) string {
	t.Helper()
	path := "/" + r.cfg.Stage.StageName + "/@connections/" + strings.NewReplacer("=", "%3D", "+", "%2B", "/", "%2F").Replace(id)
	req, err := http.NewRequest("POST", "http://"+r.Management, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.URL.Opaque = "//" + r.Management + path
	req.ContentLength = int64(n)
	const anyHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" // the body is never read
	if err := v4.NewSigner().SignHTTP(t.Context(), creds, req, anyHash, "execute-api", "us-east-1", time.Now()); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n", path, r.Management, n)
	_ = req.Header.Write(&b)
	b.WriteString("\r\n")
	return b.String()
}

func TestManagementListenerUnderAttack(t *testing.T) {
	be := echoBackend(t)
	r := startGateway(t, strings.Replace(chatConfig(be.URL, ""), "  Management: {AllowUnsigned: true}", attackMgmt, 1), Deps{})
	ws := mustDial(t, r, loginAs(t, "alice", time.Now().Add(time.Hour)))
	id := be.next(t, "/connect").Header.Get("X-Connection-Id")

	t.Run("slowloris: half a request line, then nothing", func(t *testing.T) {
		c := dialMgmt(t, r)
		c.send(t, "POST /dev/@conn")
		took := c.hangUp(t, attackHeaderTimeout+attackBound)
		if took < attackHeaderTimeout/2 {
			t.Errorf("hung up after %v, long before ReadHeaderTimeout %v", took, attackHeaderTimeout)
		}
		t.Logf("hung up after %v (ReadHeaderTimeout %v)", took, attackHeaderTimeout)
	})

	t.Run("trickled body behind a bogus Authorization: 403 while the body is open", func(t *testing.T) {
		const n = 1000
		c := dialMgmt(t, r)
		c.send(t, "POST /dev/@connections/"+id+" HTTP/1.1\r\nHost: "+r.Management+
			"\r\nAuthorization: AWS4-HMAC-SHA256 Credential=AKIDTEST/20240101/us-east-1/execute-api/aws4_request, SignedHeaders=host, Signature=bogus"+
			"\r\nContent-Length: 1000\r\n\r\n")
		got := c.answerOn()
		// Trickle the body a byte at a time until the answer comes (or the server hangs up).
		var sent atomic.Int64
		stop := make(chan struct{})
		trickled := make(chan struct{})
		go func() {
			defer close(trickled)
			tick := time.NewTicker(100 * time.Millisecond)
			defer tick.Stop()
			for sent.Load() < n {
				if _, err := c.Write([]byte("x")); err != nil {
					return
				}
				sent.Add(1)
				select {
				case <-stop:
					return
				case <-tick.C:
				}
			}
		}()
		start := time.Now()
		var a answer
		select {
		case a = <-got:
		case <-time.After(attackBound):
			t.Fatalf("no answer within %v of a trickled body (%d of %d bytes sent)", attackBound, sent.Load(), n)
		}
		took := time.Since(start)
		close(stop)
		<-trickled
		if a.err != nil || a.status != 403 || a.errorType != "IncompleteSignatureException" || !a.close {
			t.Errorf("answer %d %s close %v (%v), want 403 IncompleteSignatureException, Connection: close", a.status, a.errorType, a.close, a.err)
		}
		if s := sent.Load(); s >= n {
			t.Errorf("the whole body (%d bytes) was sent before the answer", s)
		}
		c.hangUp(t, attackBound)
		t.Logf("403 after %v with %d of %d body bytes sent", took, sent.Load(), n)
	})

	t.Run("unknown access key: 403 before the body", func(t *testing.T) {
		c := dialMgmt(t, r)
		c.send(t, signedPostHead(t, r, id, 1000, aws.Credentials{AccessKeyID: "AKIDNOBODY", SecretAccessKey: "mgmt-secret"})+"x")
		select {
		case a := <-c.answerOn():
			if a.err != nil || a.status != 403 || a.errorType != "UnrecognizedClientException" || !a.close {
				t.Errorf("answer %d %s close %v (%v), want 403 UnrecognizedClientException, Connection: close", a.status, a.errorType, a.close, a.err)
			}
		case <-time.After(attackBound):
			t.Fatalf("no answer within %v with 1 of 1000 body bytes sent", attackBound)
		}
		c.hangUp(t, attackBound)
	})

	t.Run("oversized Content-Length: 413 without reading", func(t *testing.T) {
		c := dialMgmt(t, r)
		c.send(t, signedPostHead(t, r, id, 64<<20, aws.Credentials{AccessKeyID: "AKIDTEST", SecretAccessKey: "mgmt-secret"}))
		select {
		case a := <-c.answerOn():
			if a.err != nil || a.status != 413 || a.errorType != "PayloadTooLargeException" || !a.close {
				t.Errorf("answer %d %s close %v (%v), want 413 PayloadTooLargeException, Connection: close", a.status, a.errorType, a.close, a.err)
			}
		case <-time.After(attackBound):
			t.Fatalf("no answer within %v to a 64 MiB Content-Length with no body sent", attackBound)
		}
		c.hangUp(t, attackBound)
	})

	t.Run("idle keep-alive closed after IdleTimeout", func(t *testing.T) {
		c := dialMgmt(t, r)
		c.send(t, "GET /healthz HTTP/1.1\r\nHost: "+r.Management+"\r\n\r\n")
		_ = c.SetReadDeadline(time.Now().Add(attackBound))
		a := <-c.answerOn() // the read deadline bounds this
		if a.err != nil || a.status != 200 || a.close {
			t.Fatalf("healthz %d close %v (%v), want 200 on a kept-alive connection", a.status, a.close, a.err)
		}
		took := c.hangUp(t, attackIdleTimeout+attackBound)
		if took < attackIdleTimeout/2 {
			t.Errorf("closed after %v, long before IdleTimeout %v", took, attackIdleTimeout)
		}
		t.Logf("idle keep-alive closed after %v (IdleTimeout %v)", took, attackIdleTimeout)
	})

	t.Run("the Go SDK's signed POST still works", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		if _, err := mgmtClient(r, "mgmt-secret").PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{
			ConnectionId: &id, Data: []byte(`{"after":"the attacks"}`),
		}); err != nil {
			t.Fatalf("PostToConnection: %v", err)
		}
		if got := read(t, ws); got != `{"after":"the attacks"}` {
			t.Errorf("client got %q", got)
		}
	})

	if logs := r.logs.String(); strings.Contains(logs, "Signature=") || strings.Contains(logs, "mgmt-secret") {
		t.Errorf("the log holds a signature or the secret:\n%s", logs)
	}
}

// The listener limits are checked with the field named (wsgate serve --check-config).
func TestManagementLimitsValidated(t *testing.T) {
	tests := []struct {
		name, yaml, extra, field string
	}{
		{"all set", "    WriteTimeout: 11s\n    ReadTimeout: 6s\n    MaxHeaderBytes: 8192", "", ""},
		{"negative", "    IdleTimeout: -1s", "", "Server.Management: IdleTimeout"},
		{"write not over read (default 15s)", "    ReadTimeout: 30s", "", "Server.Management: WriteTimeout"},
		{"header over read", "    ReadHeaderTimeout: 20s\n    ReadTimeout: 10s\n    WriteTimeout: 30s", "", "Server.Management: ReadHeaderTimeout"},
		{"write not over the cluster's request timeout", "    ReadTimeout: 6s", "  Cluster: {NatsUrl: nats://127.0.0.1:4222, RequestTimeout: 20s}",
			"Server.Management.WriteTimeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := strings.Replace(chatConfig("http://127.0.0.1:1", tt.extra), "  Management: {AllowUnsigned: true}", signedMgmt+"\n"+tt.yaml, 1)
			_, err := config.Parse([]byte(cfg))
			switch {
			case tt.field == "" && err != nil:
				t.Fatalf("config: %v", err)
			case tt.field != "" && (err == nil || !strings.Contains(err.Error(), tt.field)):
				t.Fatalf("config error %v, want one naming %s", err, tt.field)
			}
		})
	}
}
