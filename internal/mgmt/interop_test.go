package mgmt

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/wsgate/wsgate/internal/cluster"
)

// jsOutcome is what interop/client.mjs prints for one call.
type jsOutcome struct {
	OK           bool              `json:"ok"`
	Status       int               `json:"status"`
	RequestID    string            `json:"requestId"`
	Name         string            `json:"name,omitempty"`
	Message      string            `json:"message,omitempty"`
	ConnectedAt  string            `json:"connectedAt,omitempty"`
	LastActiveAt string            `json:"lastActiveAt,omitempty"`
	Identity     map[string]string `json:"identity,omitempty"`
}

type jsResults struct {
	Post         jsOutcome `json:"post"`
	Get          jsOutcome `json:"get"`
	Delete       jsOutcome `json:"delete"`
	Gone         jsOutcome `json:"gone"`
	BadSignature jsOutcome `json:"badSignature"`
}

// TestJSSDKInterop drives the API with @aws-sdk/client-apigatewaymanagementapi (the
// version pinned in interop/package-lock.json) through interop/client.mjs. It fails, not
// skips, when node or the npm packages are missing: scripts/test installs them.
func TestJSSDKInterop(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node is not installed (%v): install Node.js, then run npm ci in internal/mgmt/interop (scripts/test does it)", err)
	}
	if _, err := os.Stat(filepath.Join("interop", "node_modules", "@aws-sdk", "client-apigatewaymanagementapi", "package.json")); err != nil {
		t.Fatalf("the JS SDK is not installed (%v): run npm ci in internal/mgmt/interop (scripts/test does it)", err)
	}

	connected := time.Date(2024, 5, 6, 7, 8, 9, 123_000_000, time.UTC)
	const goneID = "Gone0000000000A="
	tests := []struct {
		name  string
		path  string // appended to the server URL
		id    string
		creds Credential
		token string
	}{
		{"stage", "/dev", testID, Credential{testKey, testSecret}, ""},
		{"custom domain, empty mapping key", "", testID, Credential{testKey, testSecret}, ""},
		{"id with + and /", "/dev", "ab+cd/ef01234==", Credential{testKey, testSecret}, ""},
		{"session token", "/dev", testID, Credential{"ASIATEMP", "temp-secret"}, "FwoGZXIvYXdzEJr//////////wEaDH+token="},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{info: cluster.Info{ConnectedAt: connected, LastActiveAt: connected.Add(time.Second), SourceIP: "198.51.100.1", UserAgent: "wscat"}}
			live := rec.conns()
			conns := fakeConns{
				post: func(ctx context.Context, id string, data []byte) error {
					if id == goneID {
						return cluster.ErrGone
					}
					return live.post(ctx, id, data)
				},
				get: live.get,
				del: live.del,
			}
			o := testOptions(t, conns)
			o.Credentials = []Credential{tt.creds}
			h, err := New(o)
			if err != nil {
				t.Fatal(err)
			}
			// The JS SDK states the payload hash (X-Amz-Content-Sha256, signed), so its
			// requests take the path that verifies the signature before the body is read.
			var mu sync.Mutex
			var hashless []string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if !isHexSHA256(r.Header.Get("X-Amz-Content-Sha256")) || !strings.Contains(r.Header.Get("Authorization"), ";x-amz-content-sha256;") {
					mu.Lock()
					hashless = append(hashless, r.Method+" "+r.URL.Path)
					mu.Unlock()
				}
				h.ServeHTTP(w, r)
			}))
			t.Cleanup(srv.Close)

			runCtx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
			defer cancel()
			cmd := exec.CommandContext(runCtx, node, "client.mjs")
			cmd.Dir = "interop"
			cmd.Env = append(environWithoutAWS(),
				"WSGATE_ENDPOINT="+srv.URL+tt.path,
				"AWS_ACCESS_KEY_ID="+tt.creds.AccessKeyID,
				"AWS_SECRET_ACCESS_KEY="+tt.creds.SecretAccessKey,
				"AWS_SESSION_TOKEN="+tt.token,
				"CONNECTION_ID="+tt.id,
				"GONE_ID="+goneID,
				"POST_DATA=héllo from node",
			)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Run(); err != nil {
				t.Fatalf("node client.mjs: %v\nstderr:\n%s", err, stderr.String())
			}
			t.Logf("client.mjs: %s", stdout.String())
			var got jsResults
			if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
				t.Fatalf("client.mjs output %q: %v", stdout.String(), err)
			}
			// Every answer, success or error, carries its own request id, and the SDK
			// surfaces it; the ids are random, so they are checked here and then cleared.
			seen := map[string]bool{}
			for name, o := range map[string]*jsOutcome{"post": &got.Post, "get": &got.Get, "delete": &got.Delete,
				"gone": &got.Gone, "badSignature": &got.BadSignature} {
				checkRequestID(t, name, o.RequestID, seen)
				o.RequestID = ""
			}
			want := jsResults{
				Post: jsOutcome{OK: true, Status: 200},
				Get: jsOutcome{OK: true, Status: 200,
					ConnectedAt: "2024-05-06T07:08:09.123Z", LastActiveAt: "2024-05-06T07:08:10.123Z",
					Identity: map[string]string{"SourceIp": "198.51.100.1", "UserAgent": "wscat"}},
				Delete:       jsOutcome{OK: true, Status: 204},
				Gone:         jsOutcome{Status: 410, Name: CodeGone, Message: msgGone},
				BadSignature: jsOutcome{Status: 403, Name: CodeInvalidSignature, Message: msgBadSignature},
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("JS SDK results (-want +got):\n%s", diff)
			}
			wantCalls := []call{
				{Op: "post", ID: tt.id, Data: "héllo from node"},
				{Op: "get", ID: tt.id},
				{Op: "delete", ID: tt.id},
			}
			if diff := cmp.Diff(wantCalls, rec.Calls()); diff != "" {
				t.Errorf("calls (-want +got):\n%s", diff)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(hashless) > 0 {
				t.Errorf("JS SDK requests without a signed X-Amz-Content-Sha256: %v", hashless)
			}
		})
	}
}

// environWithoutAWS is the test's environment minus AWS_* variables, so that a
// developer's profile or endpoint settings cannot change what the script does.
func environWithoutAWS() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") {
			env = append(env, kv)
		}
	}
	return env
}
