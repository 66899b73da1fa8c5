package mgmt

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/google/go-cmp/cmp"

	"github.com/wsgate/wsgate/internal/cluster"
)

// rawResponse is what a raw HTTP test compares.
type rawResponse struct {
	Status      int
	ErrorType   string
	ContentType string
	Body        string
}

// TestResponses checks statuses, headers and bodies on the wire, with plain net/http.
func TestResponses(t *testing.T) {
	connected := time.Date(2024, 5, 6, 7, 8, 9, 123_000_000, time.FixedZone("CEST", 2*3600))
	info := cluster.Info{ConnectedAt: connected, LastActiveAt: connected.Add(time.Minute), SourceIP: "203.0.113.9", UserAgent: `agent "quoted"`}
	tests := []struct {
		name      string
		method    string
		path      string // raw
		body      string
		header    map[string]string
		sign      bool  // sign with the SDK signer
		unsigned  bool  // AllowUnsigned
		clusterEr error // what the cluster answers
		want      rawResponse
	}{
		{name: "post", method: "POST", path: "/dev/@connections/R1kmxc2VNjMCFIA%3D", body: "hi", sign: true,
			want: rawResponse{Status: 200}},
		{name: "get", method: "GET", path: "/dev/@connections/R1kmxc2VNjMCFIA%3D", sign: true,
			want: rawResponse{Status: 200, ContentType: "application/json",
				Body: `{"connectedAt":"2024-05-06T05:08:09.123Z","identity":{"sourceIp":"203.0.113.9","userAgent":"agent \"quoted\""},"lastActiveAt":"2024-05-06T05:09:09.123Z"}`}},
		{name: "delete", method: "DELETE", path: "/dev/@connections/R1kmxc2VNjMCFIA%3D", sign: true,
			want: rawResponse{Status: 204}},
		{name: "gone", method: "POST", path: "/dev/@connections/R1kmxc2VNjMCFIA%3D", body: "hi", sign: true, clusterEr: cluster.ErrGone,
			want: rawResponse{410, CodeGone, "application/json", `{"message":"Connection is gone"}`}},
		{name: "limit exceeded", method: "POST", path: "/dev/@connections/R1kmxc2VNjMCFIA%3D", body: "hi", sign: true, clusterEr: cluster.ErrLimitExceeded,
			want: rawResponse{429, CodeLimitExceeded, "application/json", `{"message":"Too Many Requests"}`}},
		{name: "payload too large from the cluster", method: "POST", path: "/dev/@connections/R1kmxc2VNjMCFIA%3D", body: "hi", sign: true, clusterEr: cluster.ErrPayloadTooLarge,
			want: rawResponse{413, CodePayloadTooLarge, "application/json", `{"message":"Request Too Long"}`}},
		{name: "internal", method: "GET", path: "/dev/@connections/R1kmxc2VNjMCFIA%3D", sign: true, clusterEr: errors.New("nats: no responders"),
			want: rawResponse{500, CodeInternal, "application/json", `{"message":"Internal server error"}`}},
		{name: "body over MaxPayload", method: "POST", path: "/dev/@connections/R1kmxc2VNjMCFIA%3D", body: strings.Repeat("x", 1025), sign: true,
			want: rawResponse{413, CodePayloadTooLarge, "application/json", `{"message":"Request Too Long"}`}},
		{name: "body over MaxPayload, unsigned allowed", method: "POST", path: "/dev/@connections/R1kmxc2VNjMCFIA%3D", body: strings.Repeat("x", 1025), unsigned: true,
			want: rawResponse{413, CodePayloadTooLarge, "application/json", `{"message":"Request Too Long"}`}},
		{name: "unsigned", method: "POST", path: "/dev/@connections/R1kmxc2VNjMCFIA%3D", body: "hi",
			want: rawResponse{403, CodeMissingAuthenticationToken, "application/json", `{"message":"Missing Authentication Token"}`}},
		{name: "unsigned allowed", method: "POST", path: "/dev/@connections/R1kmxc2VNjMCFIA%3D", body: "hi", unsigned: true,
			want: rawResponse{Status: 200}},
		{name: "not SigV4", method: "POST", path: "/dev/@connections/R1kmxc2VNjMCFIA%3D", body: "hi", header: map[string]string{"Authorization": "Bearer abc"},
			want: rawResponse{403, CodeIncompleteSignature, "application/json", `{"message":"Authorization header must use the AWS4-HMAC-SHA256 algorithm."}`}},
		{name: "no date", method: "POST", path: "/dev/@connections/R1kmxc2VNjMCFIA%3D", body: "hi", header: map[string]string{
			"Authorization": "AWS4-HMAC-SHA256 Credential=" + testKey + "/20240506/us-east-1/execute-api/aws4_request, SignedHeaders=host, Signature=" + strings.Repeat("0", 64)},
			want: rawResponse{403, CodeIncompleteSignature, "application/json", `{"message":"Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."}`}},
		{name: "host not signed", method: "POST", path: "/dev/@connections/R1kmxc2VNjMCFIA%3D", body: "hi", header: map[string]string{
			"X-Amz-Date":    "20240506T070809Z",
			"Authorization": "AWS4-HMAC-SHA256 Credential=" + testKey + "/20240506/us-east-1/execute-api/aws4_request, SignedHeaders=x-amz-date, Signature=" + strings.Repeat("0", 64)},
			want: rawResponse{403, CodeInvalidSignature, "application/json", `{"message":"'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."}`}},
		{name: "unknown stage", method: "POST", path: "/prod/@connections/R1kmxc2VNjMCFIA%3D", body: "hi", sign: true,
			want: rawResponse{403, CodeForbidden, "application/json", `{"message":"Forbidden"}`}},
		{name: "unknown path", method: "GET", path: "/", sign: true,
			want: rawResponse{403, CodeForbidden, "application/json", `{"message":"Forbidden"}`}},
		{name: "no id", method: "GET", path: "/dev/@connections/", sign: true,
			want: rawResponse{403, CodeForbidden, "application/json", `{"message":"Forbidden"}`}},
		{name: "wrong method", method: "PUT", path: "/dev/@connections/R1kmxc2VNjMCFIA%3D", body: "hi", sign: true,
			want: rawResponse{403, CodeForbidden, "application/json", `{"message":"No method found matching route @connections/R1kmxc2VNjMCFIA= for http method PUT."}`}},
		{name: "wrong method, custom domain", method: "PATCH", path: "/@connections/R1kmxc2VNjMCFIA%3D", sign: true,
			want: rawResponse{403, CodeForbidden, "application/json", `{"message":"No method found matching route @connections/R1kmxc2VNjMCFIA= for http method PATCH."}`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{err: tt.clusterEr, info: info}
			o := testOptions(t, rec.conns())
			o.MaxPayload = 1024
			o.AllowUnsigned = tt.unsigned
			srv := startServer(t, o)
			req := rawRequest(t, srv.URL, tt.method, tt.path, tt.body)
			for k, v := range tt.header {
				req.Header.Set(k, v)
			}
			if tt.sign {
				signRequest(t, req, tt.body, testKey, testSecret)
			}
			if diff := cmp.Diff(tt.want, do(t, req)); diff != "" {
				t.Errorf("response (-want +got):\n%s", diff)
			}
		})
	}
}

// rawRequest builds a request whose path goes on the wire exactly as given.
func rawRequest(tb testing.TB, base, method, path, body string) *http.Request {
	tb.Helper()
	req, err := http.NewRequestWithContext(ctx(tb), method, base, strings.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	req.URL.Opaque = "//" + strings.TrimPrefix(base, "http://") + path
	return req
}

func signRequest(tb testing.TB, req *http.Request, body, key, secret string) {
	tb.Helper()
	sum := sha256.Sum256([]byte(body))
	creds := aws.Credentials{AccessKeyID: key, SecretAccessKey: secret}
	if err := v4.NewSigner().SignHTTP(ctx(tb), creds, req, hex.EncodeToString(sum[:]), "execute-api", "us-east-1", time.Now()); err != nil {
		tb.Fatal(err)
	}
}

func do(tb testing.TB, req *http.Request) rawResponse {
	tb.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	if id := resp.Header.Get("X-Amzn-Requestid"); !requestIDForm.MatchString(id) {
		tb.Errorf("%s %s: %d without a request id (x-amzn-RequestId %q)", req.Method, req.URL, resp.StatusCode, id)
	}
	return rawResponse{
		Status:      resp.StatusCode,
		ErrorType:   resp.Header.Get("X-Amzn-ErrorType"),
		ContentType: resp.Header.Get("Content-Type"),
		Body:        string(body),
	}
}

// TestLogsKeepSecrets checks that failures are logged without the Authorization header,
// the signature, the secret or the payload.
func TestLogsKeepSecrets(t *testing.T) {
	const payload = "PAYLOAD-MUST-NOT-BE-LOGGED"
	var logs bytes.Buffer
	rec := &recorder{err: cluster.ErrGone}
	o := testOptions(t, rec.conns())
	o.Logger = slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv := startServer(t, o)

	var sent []string
	for _, secret := range []string{testSecret, "wrong-secret"} { // 410 and 403
		req := rawRequest(t, srv.URL, "POST", "/dev/@connections/R1kmxc2VNjMCFIA%3D", payload)
		signRequest(t, req, payload, testKey, secret)
		sent = append(sent, req.Header.Get("Authorization"))
		if got := do(t, req); got.Status != 410 && got.Status != 403 {
			t.Fatalf("status %d", got.Status)
		}
	}
	if logs.Len() == 0 {
		t.Fatal("nothing logged")
	}
	forbidden := []string{payload, testSecret, "AWS4-HMAC-SHA256", "Signature=", "Credential=", "Authorization"}
	for _, a := range sent {
		_, sig, _ := strings.Cut(a, "Signature=")
		forbidden = append(forbidden, sig)
	}
	for _, s := range forbidden {
		if strings.Contains(logs.String(), s) {
			t.Errorf("log contains %q:\n%s", s, logs.String())
		}
	}
	for _, s := range []string{CodeGone, CodeInvalidSignature, testID} {
		if !strings.Contains(logs.String(), s) {
			t.Errorf("log lacks %q:\n%s", s, logs.String())
		}
	}
}
