package authorizer

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
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

// TestHTTPReasonHidesURL checks that a transport error does not put the URL, which may
// hold a credential, in the reason.
func TestHTTPReasonHidesURL(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL + "/authorize?key=s3cr3t"
	client := srv.Client()
	srv.Close()
	got := NewHTTP(client, url, time.Second).Authorize(context.Background(), testEvent())
	if got.Outcome != Failed || !strings.HasPrefix(got.Reason, "http authorizer request failed: ") {
		t.Errorf("got %+v, want Failed", got)
	}
	if strings.Contains(got.Reason, "s3cr3t") {
		t.Errorf("reason %q holds the URL's credential", got.Reason)
	}
}

func TestHTTPNilEvent(t *testing.T) {
	got := NewHTTP(nil, "http://127.0.0.1:1/", 0).Authorize(context.Background(), nil)
	if diff := cmp.Diff(Result{Outcome: Failed, Reason: "no authorizer event"}, got); diff != "" {
		t.Errorf("mismatch (-want +got):\n%s", diff)
	}
}
