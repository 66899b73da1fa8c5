package mgmt

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// startBounded serves Bounded(New(o), l) with an http.Server that has no read or write
// timeout, as the WebSocket listener is, until the test ends.
func startBounded(tb testing.TB, o Options, l Limits) *httptest.Server {
	tb.Helper()
	api, err := New(o)
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	h, err := Bounded(api, l)
	if err != nil {
		tb.Fatalf("Bounded: %v", err)
	}
	return startUnbounded(tb, h)
}

// startUnbounded serves h with an http.Server that has no read or write timeout.
func startUnbounded(tb testing.TB, h http.Handler) *httptest.Server {
	tb.Helper()
	srv := httptest.NewServer(h)
	tb.Cleanup(srv.Close)
	return srv
}

// TestBoundedLiftsTheWriteDeadline: a later request on the same keep-alive connection,
// served by a handler that is not bounded (an upgrade, on the WebSocket listener), does
// not inherit the write deadline of an @connections request.
func TestBoundedLiftsTheWriteDeadline(t *testing.T) {
	const writeTimeout = 200 * time.Millisecond
	rec := &recorder{}
	o := testOptions(t, rec.conns())
	o.AllowUnsigned = true
	api, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	h, err := Bounded(api, Limits{ReadHeaderTimeout: 100 * time.Millisecond, ReadTimeout: 100 * time.Millisecond, WriteTimeout: writeTimeout})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/", h)
	mux.HandleFunc("GET /later", func(w http.ResponseWriter, _ *http.Request) {
		// Answer only once the bounded request's write deadline would have passed.
		<-time.After(2 * writeTimeout)
		_, _ = io.WriteString(w, "still writable")
	})
	srv := startUnbounded(t, mux)
	c := rawConnect(t, srv)
	c.send(t, "POST "+testPath+" HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi")
	if got := await(t, c.readResponse(nil), answerBound, "the @connections answer"); got.err != nil || got.status != 200 || got.close {
		t.Fatalf("POST: %d close %v (%v), want 200 and keep-alive", got.status, got.close, got.err)
	}
	c.send(t, "GET /later HTTP/1.1\r\nHost: x\r\n\r\n")
	if got := await(t, c.readResponse(nil), 2*writeTimeout+answerBound, "the later answer"); got.err != nil || got.body != "still writable" {
		t.Errorf("the later request on the connection: %q (%v), want its answer", got.body, got.err)
	}
}

func TestBoundedValidates(t *testing.T) {
	api, err := New(testOptions(t, fakeConns{}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Bounded(api, Limits{ReadHeaderTimeout: time.Second, ReadTimeout: time.Second, WriteTimeout: time.Second}); err == nil || !strings.Contains(err.Error(), "WriteTimeout") {
		t.Errorf("WriteTimeout equal to ReadTimeout: %v, want an error naming WriteTimeout", err)
	}
	if _, err := Bounded(nil, Limits{}); err == nil {
		t.Error("a nil handler was accepted")
	}
}
