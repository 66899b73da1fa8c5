package mgmt

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wsgate/wsgate/internal/cluster"
)

// TestBatchPost sends signed batch posts and checks the per-id results and what each
// connection was sent.
func TestBatchPost(t *testing.T) {
	rec := &recorder{}
	conns := rec.conns()
	conns.post = func(_ context.Context, id string, data []byte) error {
		switch {
		case strings.HasPrefix(id, "gone"):
			return cluster.ErrGone
		case strings.HasPrefix(id, "full"):
			return cluster.ErrLimitExceeded
		}
		return rec.add(call{"post", id, string(data)})
	}
	srv := startServer(t, testOptions(t, conns))
	for _, path := range []string{"/" + testStage + "/@wsgate/post-to-connections", "/@wsgate/post-to-connections"} {
		t.Run(path, func(t *testing.T) {
			rec.mu.Lock()
			rec.calls = nil
			rec.mu.Unlock()
			body := `{"connectionIds":["a","gone-1","b","full-1"],"data":"hello"}`
			got := batch(t, srv.URL, path, body)
			if got.Status != http.StatusOK || got.ContentType != "application/json" {
				t.Fatalf("got %+v", got)
			}
			var resp batchResponse
			if err := json.Unmarshal([]byte(got.Body), &resp); err != nil {
				t.Fatal(err)
			}
			want := batchResponse{Delivered: 2, Failed: []batchFailed{
				{ConnectionID: "gone-1", ErrorType: CodeGone, StatusCode: 410, Message: msgGone},
				{ConnectionID: "full-1", ErrorType: CodeLimitExceeded, StatusCode: 429, Message: msgLimitExceeded},
			}}
			if diff := cmp.Diff(want, resp); diff != "" {
				t.Errorf("response (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff([]call{{"post", "a", "hello"}, {"post", "b", "hello"}}, rec.Calls()); diff != "" {
				t.Errorf("posts (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("binary", func(t *testing.T) {
		rec.mu.Lock()
		rec.calls = nil
		rec.mu.Unlock()
		data := []byte{0xff, 0, 0xfe}
		got := batch(t, srv.URL, "/@wsgate/post-to-connections", fmt.Sprintf(`{"connectionIds":["x"],"dataBase64":%q}`, base64.StdEncoding.EncodeToString(data)))
		if got.Status != http.StatusOK || got.Body != `{"delivered":1,"failed":[]}` {
			t.Fatalf("got %+v", got)
		}
		if diff := cmp.Diff([]call{{"post", "x", string(data)}}, rec.Calls()); diff != "" {
			t.Errorf("posts (-want +got):\n%s", diff)
		}
	})
}

// TestBatchPostRefusals checks that a bad batch is refused whole, before any post.
func TestBatchPostRefusals(t *testing.T) {
	rec := &recorder{}
	o := testOptions(t, rec.conns())
	o.MaxPayload = 16
	srv := startServer(t, o)
	ids := make([]string, cluster.MaxPostMany+1)
	for i := range ids {
		ids[i] = "c"
	}
	tooMany, _ := json.Marshal(map[string]any{"connectionIds": ids, "data": "x"})
	for _, tc := range []struct {
		name, body string
		status     int
		errorType  string
	}{
		{"not JSON", `connectionIds=a`, 400, CodeBadRequest},
		{"unknown field", `{"connectionIds":["a"],"data":"x","Data":"y","ttl":3}`, 400, CodeBadRequest},
		{"no ids", `{"connectionIds":[],"data":"x"}`, 400, CodeBadRequest},
		{"no data", `{"connectionIds":["a"]}`, 400, CodeBadRequest},
		{"both data", `{"connectionIds":["a"],"data":"x","dataBase64":"eA=="}`, 400, CodeBadRequest},
		{"bad base64", `{"connectionIds":["a"],"dataBase64":"%%%"}`, 400, CodeBadRequest},
		{"empty id", `{"connectionIds":[""],"data":"x"}`, 400, CodeBadRequest},
		{"two values", `{"connectionIds":["a"],"data":"x"}{}`, 400, CodeBadRequest},
		{"data too large", `{"connectionIds":["a"],"data":"0123456789abcdefg"}`, 413, CodePayloadTooLarge},
		{"too many ids", string(tooMany), 400, CodeBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := batch(t, srv.URL, "/"+testStage+"/@wsgate/post-to-connections", tc.body)
			if got.Status != tc.status || got.ErrorType != tc.errorType {
				t.Errorf("got %d %s %s, want %d %s", got.Status, got.ErrorType, got.Body, tc.status, tc.errorType)
			}
		})
	}
	if calls := rec.Calls(); len(calls) != 0 {
		t.Errorf("refused batches posted: %v", calls)
	}
	// Unsigned, and signed with a wrong secret: refused as every operation is.
	req := rawRequest(t, srv.URL, http.MethodPost, "/@wsgate/post-to-connections", `{"connectionIds":["a"],"data":"x"}`)
	if got := do(t, req); got.Status != http.StatusForbidden || got.ErrorType != CodeMissingAuthenticationToken {
		t.Errorf("unsigned: %+v", got)
	}
	body := `{"connectionIds":["a"],"data":"x"}`
	req = rawRequest(t, srv.URL, http.MethodPost, "/@wsgate/post-to-connections", body)
	signRequest(t, req, body, testKey, "wrong-secret")
	if got := do(t, req); got.Status != http.StatusForbidden || got.ErrorType != CodeInvalidSignature {
		t.Errorf("wrong secret: %+v", got)
	}
}

func batch(tb testing.TB, base, path, body string) rawResponse {
	tb.Helper()
	req := rawRequest(tb, base, http.MethodPost, path, body)
	req.Header.Set("Content-Type", "application/json")
	signRequest(tb, req, body, testKey, testSecret)
	return do(tb, req)
}

// FuzzParseBatch: no body panics the parser, and what it accepts is within its limits.
func FuzzParseBatch(f *testing.F) {
	f.Add([]byte(`{"connectionIds":["a","b"],"data":"hello"}`))
	f.Add([]byte(`{"connectionIds":["a"],"dataBase64":"/wD+"}`))
	f.Add([]byte(`{"connectionIds":null,"data":null}`))
	f.Add([]byte(`{"connectionIds":["\ud800"],"data":"x"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		ids, _, err := parseBatch(b)
		if err != nil {
			return
		}
		if len(ids) == 0 || len(ids) > cluster.MaxPostMany {
			t.Fatalf("%d ids accepted", len(ids))
		}
		for _, id := range ids {
			if id == "" || len(id) > 128 {
				t.Fatalf("id %q accepted", id)
			}
		}
	})
}
