package authorizer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/wsgate/wsgate/authevent"
)

func TestHTTP(t *testing.T) {
	type tcase struct {
		name    string
		respond http.HandlerFunc
		want    Result
	}
	var cases []tcase
	for _, pc := range policyCases {
		want := pc.want
		want.Reason = strings.Replace(want.Reason, "authorizer result invalid", "http authorizer result invalid", 1)
		body := pc.body
		cases = append(cases, tcase{name: pc.name, want: want, respond: func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(body)
		}})
	}
	status := func(code int) http.HandlerFunc {
		return func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(code) }
	}
	cases = append(cases,
		tcase{name: "401 is Unauthorized", respond: status(401), want: Result{Outcome: Unauthorized, Reason: "http authorizer answered 401"}},
		tcase{name: "403 is Forbidden", respond: status(403), want: Result{Outcome: Forbidden, Reason: "http authorizer answered 403"}},
		tcase{name: "500 is Failed", respond: status(500), want: Result{Outcome: Failed, Reason: "http authorizer answered 500"}},
		tcase{name: "204 is Failed", respond: status(204), want: Result{Outcome: Failed, Reason: "http authorizer answered 204"}},
		tcase{name: "404 is Failed", respond: status(404), want: Result{Outcome: Failed, Reason: "http authorizer answered 404"}},
		tcase{
			name: "result over 8 KB is Failed",
			respond: func(w http.ResponseWriter, _ *http.Request) {
				json.NewEncoder(w).Encode(authevent.AllowResponse("alice", testArn, map[string]any{"big": strings.Repeat("x", 8192)}))
			},
			want: Result{Outcome: Failed, Reason: "http authorizer result exceeds 8192 bytes"},
		},
		tcase{
			name:    "empty 200 is Failed",
			respond: func(http.ResponseWriter, *http.Request) {},
			want:    Result{Outcome: Failed, Reason: "http authorizer result invalid: authorizer result is not a JSON object: unexpected end of JSON input"},
		},
	)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
					t.Errorf("got %s with Content-Type %q, want a JSON POST", r.Method, r.Header.Get("Content-Type"))
				}
				var ev authevent.Event
				if err := json.NewDecoder(r.Body).Decode(&ev); err != nil {
					t.Errorf("body is not an authorizer event: %v", err)
				}
				if diff := cmp.Diff(*testEvent(), ev); diff != "" {
					t.Errorf("body mismatch (-want +got):\n%s", diff)
				}
				tc.respond(w, r)
			}))
			defer srv.Close()
			got := NewHTTP(srv.Client(), srv.URL+"/authorize", 5*time.Second).Authorize(context.Background(), testEvent())
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Authorize mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestHTTPTimeout(t *testing.T) {
	for _, tc := range []struct {
		name    string
		respond http.HandlerFunc
	}{
		{"no headers", func(_ http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body) // so the server notices the client going away
			<-r.Context().Done()
		}},
		{"body never ends", func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			io.WriteString(w, `{"principalId":`)
			w.(http.Flusher).Flush()
			<-r.Context().Done()
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(tc.respond)
			defer srv.Close()
			got := NewHTTP(srv.Client(), srv.URL, 100*time.Millisecond).Authorize(context.Background(), testEvent())
			want := Result{Outcome: Failed, Reason: "http authorizer timed out after 100ms"}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Authorize mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestHTTPReasonHidesURL checks that a failure's reason, which the gateway logs, holds
// nothing of the URL's query (it may carry a credential): a closed port, a timeout before
// the answer and during it, a connection cut mid-answer, a URL that does not parse.
func TestHTTPReasonHidesURL(t *testing.T) {
	const secret = "s3cr3t-k3y"
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close()
	hang := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body) // so the server notices the client going away
		<-r.Context().Done()
	}))
	defer hang.Close()
	slowBody := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, `{"principalId":`)
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	}))
	defer slowBody.Close()
	cut := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100")
		io.WriteString(w, `{"principalId":`)
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler) // the connection is cut mid-answer
	}))
	defer cut.Close()
	for _, tc := range []struct {
		name, url, prefix string
	}{
		{"closed port", closedURL + "/authorize?key=" + secret, "http authorizer request failed: "},
		{"no answer before the timeout", hang.URL + "/authorize?key=" + secret, "http authorizer timed out after 100ms"},
		{"answer not finished before the timeout", slowBody.URL + "/authorize?key=" + secret, "http authorizer timed out after 100ms"},
		{"connection cut mid-answer", cut.URL + "/authorize?key=" + secret, "http authorizer answer unreadable: "},
		{"a URL that does not parse", "http://[::1/authorize?key=" + secret, "http authorizer request: "},
		{"a bad escape", "http://127.0.0.1:1/%zz?key=" + secret, "http authorizer request: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := &http.Transport{}
			defer tr.CloseIdleConnections()
			got := NewHTTP(&http.Client{Transport: tr}, tc.url, 100*time.Millisecond).Authorize(context.Background(), testEvent())
			if got.Outcome != Failed || !strings.HasPrefix(got.Reason, tc.prefix) {
				t.Errorf("got %+v, want Failed with a reason starting %q", got, tc.prefix)
			}
			for _, bad := range []string{secret, "?", "key="} {
				if strings.Contains(got.Reason, bad) {
					t.Errorf("reason %q holds %q", got.Reason, bad)
				}
			}
		})
	}
}

func TestHTTPNilEvent(t *testing.T) {
	got := NewHTTP(nil, "http://127.0.0.1:1/", 0).Authorize(context.Background(), nil)
	if diff := cmp.Diff(Result{Outcome: Failed, Reason: "no authorizer event"}, got); diff != "" {
		t.Errorf("mismatch (-want +got):\n%s", diff)
	}
}

// TestRequestErrorReasonNested checks that a *url.Error inside another loses its URL too.
func TestRequestErrorReasonNested(t *testing.T) {
	inner := &url.Error{Op: "Get", URL: "http://proxy/?token=s3cr3t", Err: errors.New("refused")}
	err := fmt.Errorf("wrapped: %w", &url.Error{Op: "Post", URL: "http://auth/?key=s3cr3t", Err: inner})
	if got := requestErrorReason(err); got != "refused" {
		t.Errorf("requestErrorReason = %q, want %q", got, "refused")
	}
}
