package integration

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wsgate/wsgate/internal/config"
)

// seen is what a test backend received.
type seen struct {
	requestURI  string // as on the wire
	escapedPath string
	path        string
	query       string
	segments    int
}

// recordingBackend is a real HTTP backend that sends what it receives on the channel.
func recordingBackend(t testing.TB) (*httptest.Server, <-chan seen) {
	t.Helper()
	got := make(chan seen, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- seen{
			requestURI:  r.RequestURI,
			escapedPath: r.URL.EscapedPath(),
			path:        r.URL.Path,
			query:       r.URL.RawQuery,
			segments:    len(strings.Split(strings.TrimPrefix(r.URL.EscapedPath(), "/"), "/")),
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	return srv, got
}

// TestHTTPPathParameters checks that a value substituted into the integration URI's path
// reaches the backend as exactly one path segment, whatever it holds.
func TestHTTPPathParameters(t *testing.T) {
	for _, tc := range []struct {
		name    string
		path    string // of the integration URI
		params  map[string]string
		body    string
		want    string // escaped path the backend sees
		decoded string // r.URL.Path
	}{
		{
			name:    "traversal stays in one segment",
			path:    "/rooms/{room}/messages",
			body:    `{"room":"../../admin/delete"}`,
			want:    "/rooms/..%2F..%2Fadmin%2Fdelete/messages",
			decoded: "/rooms/../../admin/delete/messages",
		},
		{
			name:    "a slash is escaped",
			path:    "/rooms/{room}/messages",
			body:    `{"room":"a/b"}`,
			want:    "/rooms/a%2Fb/messages",
			decoded: "/rooms/a/b/messages",
		},
		{
			name:    "dot-dot as a whole segment",
			path:    "/rooms/{room}/messages",
			body:    `{"room":".."}`,
			want:    "/rooms/%2E%2E/messages",
			decoded: "/rooms/../messages",
		},
		{
			name:    "dot as a whole segment",
			path:    "/rooms/{room}/messages",
			body:    `{"room":"."}`,
			want:    "/rooms/%2E/messages",
			decoded: "/rooms/./messages",
		},
		{
			name:    "two values making dot-dot",
			path:    "/rooms/{a}{b}/messages",
			params:  map[string]string{"integration.request.path.a": "route.request.body.a", "integration.request.path.b": "route.request.body.b"},
			body:    `{"a":".","b":"."}`,
			want:    "/rooms/%2E%2E/messages",
			decoded: "/rooms/../messages",
		},
		{
			name:    "dots inside a segment are plain",
			path:    "/files/{room}",
			body:    `{"room":"..a.."}`,
			want:    "/files/..a..",
			decoded: "/files/..a..",
		},
		{
			name:    "query, fragment and percent",
			path:    "/rooms/{room}/messages",
			body:    `{"room":"a b?c=1#d%2F"}`,
			want:    "/rooms/a%20b%3Fc=1%23d%252F/messages",
			decoded: "/rooms/a b?c=1#d%2F/messages",
		},
		{
			name:    "a value naming another placeholder is not substituted again",
			path:    "/{a}/{b}",
			params:  map[string]string{"integration.request.path.a": "route.request.body.a", "integration.request.path.b": "route.request.body.b"},
			body:    `{"a":"{b}","b":"x"}`,
			want:    "/%7Bb%7D/x",
			decoded: "/{b}/x",
		},
		{
			name:    "the URI's own escapes are kept",
			path:    "/a%2Fb;v=1/{room}",
			body:    `{"room":"r"}`,
			want:    "/a%2Fb;v=1/r",
			decoded: "/a/b;v=1/r",
		},
		{
			name:    "a placeholder without a value is left",
			path:    "/rooms/{room}",
			body:    `{"other":"r"}`,
			want:    "/rooms/%7Broom%7D",
			decoded: "/rooms/{room}",
		},
		{
			name:    "the URI's own escapes are kept when no value is found",
			path:    "/a%2Fb/{room}",
			body:    `not JSON`,
			want:    "/a%2Fb/%7Broom%7D",
			decoded: "/a/b/{room}",
		},
		{
			name:    "a number",
			path:    "/rooms/{room}",
			body:    `{"room":1.50}`,
			want:    "/rooms/1.50",
			decoded: "/rooms/1.50",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, got := recordingBackend(t)
			params := tc.params
			if params == nil {
				params = map[string]string{"integration.request.path.room": "route.request.body.room"}
			}
			in, err := New(config.Integration{
				IntegrationType:   config.IntegrationHTTPProxy,
				IntegrationURI:    srv.URL + tc.path + "?static=1",
				RequestParameters: params,
			}, Deps{HTTPClient: srv.Client()})
			if err != nil {
				t.Fatal(err)
			}
			resp, err := in.Invoke(context.Background(), &Request{EventType: EventMessage, Body: []byte(tc.body)})
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != http.StatusNoContent {
				t.Fatalf("status %d", resp.StatusCode)
			}
			s := <-got
			wantSegs := len(strings.Split(strings.TrimPrefix(tc.path, "/"), "/"))
			want := seen{requestURI: tc.want + "?static=1", escapedPath: tc.want, path: tc.decoded, query: "static=1", segments: wantSegs}
			if diff := cmp.Diff(want, s, cmp.AllowUnexported(seen{})); diff != "" {
				t.Errorf("backend saw (-want +got):\n%s", diff)
			}
		})
	}
}

// TestHTTPErrorsHideQuery checks that a failed call's error, which the gateway logs,
// holds neither the URI's query nor what request parameters put in it or in the path.
func TestHTTPErrorsHideQuery(t *testing.T) {
	const secret, csrf, pathSecret = "s3cr3t-key", "c5rf-t0ken", "p4th-secret"
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close()
	hang := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body) // so the server notices the client going away
		<-r.Context().Done()
	}))
	t.Cleanup(hang.Close)
	slowBody := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, `{"partial":`)
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	}))
	t.Cleanup(slowBody.Close)
	cut := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100")
		io.WriteString(w, `{"partial":`)
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler) // the connection is cut mid-body
	}))
	t.Cleanup(cut.Close)

	for _, tc := range []struct {
		name     string
		base     string
		client   *http.Client
		deadline bool // errors.Is(err, context.DeadlineExceeded)
	}{
		{name: "closed port", base: closedURL, client: NewHTTPClient()},
		{name: "no answer before the timeout", base: hang.URL, client: hang.Client(), deadline: true},
		{name: "body not finished before the timeout", base: slowBody.URL, client: slowBody.Client(), deadline: true},
		{name: "connection cut mid-body", base: cut.URL, client: cut.Client()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in, err := New(config.Integration{
				IntegrationType: config.IntegrationHTTP,
				IntegrationURI:  tc.base + "/rooms/{room}?key=" + secret,
				RequestParameters: map[string]string{
					"integration.request.querystring.csrf": "route.request.header.X-Csrf",
					"integration.request.path.room":        "route.request.header.X-Room",
				},
				TimeoutInMillis: 100,
			}, Deps{HTTPClient: tc.client})
			if err != nil {
				t.Fatal(err)
			}
			_, err = in.Invoke(context.Background(), &Request{
				EventType: EventConnect,
				Headers:   map[string][]string{"X-Csrf": {csrf}, "X-Room": {pathSecret}},
			})
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			for _, bad := range []string{secret, csrf, pathSecret, "?", "key="} {
				if strings.Contains(msg, bad) {
					t.Errorf("error %q holds %q", msg, bad)
				}
			}
			if want := tc.base + "/rooms/%7Broom%7D"; !strings.Contains(msg, want) {
				t.Errorf("error %q does not name the integration %s", msg, want)
			}
			if got := errors.Is(err, context.DeadlineExceeded); got != tc.deadline {
				t.Errorf("errors.Is(%q, context.DeadlineExceeded) = %v, want %v", msg, got, tc.deadline)
			}
		})
	}
}

// TestHTTPBadURIHidesQuery checks that an integration URI that does not parse is an error
// without the URI's query.
func TestHTTPBadURIHidesQuery(t *testing.T) {
	_, err := New(config.Integration{IntegrationType: config.IntegrationHTTP, IntegrationURI: "http://[::1/x?key=s3cr3t"}, Deps{})
	if err == nil || !strings.HasPrefix(err.Error(), "IntegrationUri: not a URL: ") || strings.Contains(err.Error(), "s3cr3t") {
		t.Errorf("error %v, want IntegrationUri: not a URL without the query", err)
	}
}
