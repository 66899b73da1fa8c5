package mgmt

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/google/go-cmp/cmp"
)

// TestSignerOracle signs requests with the SDK's own SigV4 signer, sends them over HTTP
// exactly as built (path escapes kept through URL.Opaque) and checks that the server
// accepts them and sees the right connection id.
func TestSignerOracle(t *testing.T) {
	tests := []struct {
		name    string
		method  string
		path    string // raw, as on the request line
		query   string
		header  http.Header
		body    string
		token   string
		wantID  string
		wantOp  string
		hashHdr bool // send X-Amz-Content-Sha256 (signed)
	}{
		{name: "SDK form", method: "POST", path: "/dev/@connections/R1kmxc2VNjMCFIA%3D", body: "hi", wantID: testID, wantOp: "post"},
		{name: "= unescaped", method: "POST", path: "/dev/@connections/R1kmxc2VNjMCFIA=", body: "hi", wantID: testID, wantOp: "post"},
		{name: "@ escaped, lowercase hex", method: "POST", path: "/dev/%40connections/R1kmxc2VNjMCFIA%3d", body: "hi", wantID: testID, wantOp: "post"},
		{name: "+ and / escaped", method: "POST", path: "/dev/@connections/ab%2Bcd%2Fef%3D", body: "hi", wantID: "ab+cd/ef=", wantOp: "post"},
		{name: "custom domain", method: "POST", path: "/@connections/R1kmxc2VNjMCFIA%3D", body: "hi", wantID: testID, wantOp: "post"},
		{name: "query string", method: "POST", path: "/dev/@connections/R1kmxc2VNjMCFIA%3D", query: "b=2&a=1&a=0&c=x%20y+z&d&e=%2F~", body: "hi", wantID: testID, wantOp: "post"},
		{name: "extra signed headers", method: "POST", path: "/dev/@connections/R1kmxc2VNjMCFIA%3D", body: `{"a":1}`,
			header: http.Header{"Content-Type": {"application/json"}, "X-Custom": {"  a   b  "}, "X-Multi": {"1", " 2 "}},
			wantID: testID, wantOp: "post"},
		{name: "x-amz-content-sha256", method: "POST", path: "/dev/@connections/R1kmxc2VNjMCFIA%3D", body: "hi", hashHdr: true, wantID: testID, wantOp: "post"},
		{name: "session token", method: "POST", path: "/dev/@connections/R1kmxc2VNjMCFIA%3D", body: "hi", token: "IQoJb3JpZ2luX2Vj/token+=", wantID: testID, wantOp: "post"},
		{name: "GET", method: "GET", path: "/dev/@connections/R1kmxc2VNjMCFIA%3D", wantID: testID, wantOp: "get"},
		{name: "DELETE", method: "DELETE", path: "/dev/@connections/R1kmxc2VNjMCFIA%3D", wantID: testID, wantOp: "delete"},
		{name: "non-ASCII id", method: "DELETE", path: "/dev/@connections/%C3%A9t%C3%A9", wantID: "été", wantOp: "delete"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{}
			srv := startServer(t, testOptions(t, rec.conns()))
			host := strings.TrimPrefix(srv.URL, "http://")

			req, err := http.NewRequestWithContext(ctx(t), tt.method, srv.URL, strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			req.URL.Opaque = "//" + host + tt.path
			req.URL.RawQuery = tt.query
			for k, vs := range tt.header {
				for _, v := range vs {
					req.Header.Add(k, v)
				}
			}
			sum := sha256.Sum256([]byte(tt.body))
			payloadHash := hex.EncodeToString(sum[:])
			if tt.hashHdr {
				req.Header.Set("X-Amz-Content-Sha256", payloadHash)
			}
			creds := aws.Credentials{AccessKeyID: testKey, SecretAccessKey: testSecret, SessionToken: tt.token}
			if err := v4.NewSigner().SignHTTP(ctx(t), creds, req, payloadHash, "execute-api", "us-east-1", time.Now()); err != nil {
				t.Fatal(err)
			}
			if tt.token != "" && !strings.Contains(req.Header.Get("Authorization"), "x-amz-security-token") {
				t.Fatal("the signer did not sign the session token")
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode >= 300 {
				t.Fatalf("status %d %s: %s", resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"), body)
			}
			want := []call{{Op: tt.wantOp, ID: tt.wantID}}
			if tt.wantOp == "post" {
				want[0].Data = tt.body
			}
			if diff := cmp.Diff(want, rec.Calls()); diff != "" {
				t.Errorf("calls (-want +got):\n%s", diff)
			}
		})
	}
}

// TestCanonicalURI pins the canonical URI rule against the SDK signer: the
// escaped path, escaped once more.
func TestCanonicalURI(t *testing.T) {
	tests := []struct{ raw, want string }{
		{"/dev/@connections/R1kmxc2VNjMCFIA%3D", "/dev/%40connections/R1kmxc2VNjMCFIA%253D"},
		{"/@connections/ab%2Bcd%2F", "/%40connections/ab%252Bcd%252F"},
		{"/dev/@connections/a-b_c.d~e", "/dev/%40connections/a-b_c.d~e"},
	}
	for _, tt := range tests {
		if got := uriEncode(tt.raw, false); got != tt.want {
			t.Errorf("uriEncode(%q) = %q, want %q", tt.raw, got, tt.want)
		}
	}
}

func TestParseAuthorization(t *testing.T) {
	const sig = "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"
	tests := []struct {
		name    string
		header  string
		want    authorization
		wantErr string
	}{
		{name: "SDK", header: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/execute-api/aws4_request, SignedHeaders=host;x-amz-date, Signature=" + sig,
			want: authorization{AccessKeyID: "AKIDEXAMPLE", Date: "20150830", Region: "us-east-1", Service: "execute-api", SignedHeaders: []string{"host", "x-amz-date"}, Signature: sig}},
		{name: "no spaces, other order", header: "AWS4-HMAC-SHA256 Signature=" + sig + ",SignedHeaders=host,Credential=K/20150830/eu-west-1/execute-api/aws4_request",
			want: authorization{AccessKeyID: "K", Date: "20150830", Region: "eu-west-1", Service: "execute-api", SignedHeaders: []string{"host"}, Signature: sig}},
		{name: "other algorithm", header: "AWS4-ECDSA-P256-SHA256 Credential=K/20150830/execute-api/aws4_request, SignedHeaders=host, Signature=" + sig, wantErr: "algorithm"},
		{name: "bearer", header: "Bearer abc", wantErr: "algorithm"},
		{name: "empty", header: "", wantErr: "algorithm"},
		{name: "no signature", header: "AWS4-HMAC-SHA256 Credential=K/20150830/us-east-1/execute-api/aws4_request, SignedHeaders=host", wantErr: "'Signature'"},
		{name: "no credential", header: "AWS4-HMAC-SHA256 SignedHeaders=host, Signature=" + sig, wantErr: "'Credential'"},
		{name: "repeated", header: "AWS4-HMAC-SHA256 Credential=K/20150830/us-east-1/execute-api/aws4_request, Credential=K/20150830/us-east-1/execute-api/aws4_request, SignedHeaders=host, Signature=" + sig, wantErr: "repeats"},
		{name: "unknown parameter", header: "AWS4-HMAC-SHA256 Credential=K/20150830/us-east-1/execute-api/aws4_request, SignedHeaders=host, Signature=" + sig + ", Extra=1", wantErr: "unknown"},
		{name: "wrong service", header: "AWS4-HMAC-SHA256 Credential=K/20150830/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=" + sig, wantErr: "execute-api"},
		{name: "short scope", header: "AWS4-HMAC-SHA256 Credential=K/20150830/execute-api/aws4_request, SignedHeaders=host, Signature=" + sig, wantErr: "form"},
		{name: "bad date", header: "AWS4-HMAC-SHA256 Credential=K/2015083/us-east-1/execute-api/aws4_request, SignedHeaders=host, Signature=" + sig, wantErr: "YYYYMMDD"},
		{name: "uppercase header", header: "AWS4-HMAC-SHA256 Credential=K/20150830/us-east-1/execute-api/aws4_request, SignedHeaders=Host, Signature=" + sig, wantErr: "lowercase"},
		{name: "duplicate header", header: "AWS4-HMAC-SHA256 Credential=K/20150830/us-east-1/execute-api/aws4_request, SignedHeaders=host;host, Signature=" + sig, wantErr: "repeats"},
		{name: "empty header name", header: "AWS4-HMAC-SHA256 Credential=K/20150830/us-east-1/execute-api/aws4_request, SignedHeaders=host;, Signature=" + sig, wantErr: "lowercase"},
		{name: "short signature", header: "AWS4-HMAC-SHA256 Credential=K/20150830/us-east-1/execute-api/aws4_request, SignedHeaders=host, Signature=abc", wantErr: "64"},
		{name: "uppercase signature", header: "AWS4-HMAC-SHA256 Credential=K/20150830/us-east-1/execute-api/aws4_request, SignedHeaders=host, Signature=" + strings.ToUpper(sig), wantErr: "64"},
		{name: "non-hex signature", header: "AWS4-HMAC-SHA256 Credential=K/20150830/us-east-1/execute-api/aws4_request, SignedHeaders=host, Signature=" + strings.Repeat("g", 64), wantErr: "64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseAuthorization(tt.header)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// FuzzSigV4Parse checks that the Authorization parser never panics and that whatever it
// accepts is well formed and survives a round trip through its canonical rendering.
func FuzzSigV4Parse(f *testing.F) {
	for _, s := range []string{
		"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/execute-api/aws4_request, SignedHeaders=amz-sdk-invocation-id;amz-sdk-request;content-length;content-type;host;x-amz-date;x-amz-security-token, Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7",
		"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/execute-api/aws4_request,SignedHeaders=host;x-amz-date,Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7",
		"AWS4-HMAC-SHA256 Credential=/20150830//execute-api/aws4_request, SignedHeaders=, Signature=",
		"AWS4-HMAC-SHA256 Credential=a/b/c/d/e/f, SignedHeaders=host;;x, Signature==",
		"AWS4-HMAC-SHA256 ,,,",
		"Bearer eyJhbGciOiJIUzI1NiJ9.e30.x",
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		a, err := parseAuthorization(h)
		if err != nil {
			if _, ok := err.(errIncomplete); !ok {
				t.Fatalf("error %T %v is not an errIncomplete", err, err)
			}
			return
		}
		if a.Service != sigService || a.AccessKeyID == "" || a.Region == "" || len(a.Date) != 8 ||
			len(a.SignedHeaders) == 0 || len(a.Signature) != 64 {
			t.Fatalf("accepted a malformed header %q: %+v", h, a)
		}
		again := sigAlgorithm + " Credential=" + a.AccessKeyID + "/" + a.scope() +
			", SignedHeaders=" + strings.Join(a.SignedHeaders, ";") + ", Signature=" + a.Signature
		b, err := parseAuthorization(again)
		if err != nil {
			t.Fatalf("re-rendered %q does not parse: %v", again, err)
		}
		if diff := cmp.Diff(a, b); diff != "" {
			t.Fatalf("round trip (-first +second):\n%s", diff)
		}
	})
}

// TestDateHeader accepts a request dated by Date instead of X-Amz-Date, signed by hand
// with the same canonicalisation.
func TestDateHeader(t *testing.T) {
	rec := &recorder{}
	o := testOptions(t, rec.conns())
	now := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	o.Now = func() time.Time { return now.Add(time.Minute) }
	h, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest("DELETE", "http://gw.example/dev/@connections/R1kmxc2VNjMCFIA%3D", nil)
	req.Header.Set("Date", now.Format(http.TimeFormat))
	a := authorization{AccessKeyID: testKey, Date: "20240506", Region: "us-east-1", Service: sigService, SignedHeaders: []string{"date", "host"}}
	empty := sha256.Sum256(nil)
	a.Signature = signature(testSecret, a, "20240506T070809Z", canonicalRequest(req, a.SignedHeaders, hex.EncodeToString(empty[:])))
	req.Header.Set("Authorization", sigAlgorithm+" Credential="+testKey+"/"+a.scope()+", SignedHeaders=date;host, Signature="+a.Signature)

	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != http.StatusNoContent {
		t.Fatalf("status %d, want 204: %s", w.Code, w.Body)
	}
	if diff := cmp.Diff([]call{{Op: "delete", ID: testID}}, rec.Calls()); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
}

// FuzzAppendTrimmed checks the fast path of header value trimming against the
// definition it replaces: the fields of the value joined with single spaces.
func FuzzAppendTrimmed(f *testing.F) {
	for _, s := range []string{"", "a", "application/json", " a", "a ", "a  b", "a\tb", "attempt=1; max=3", "\u00a0x", "x\u0085", "  "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		if got, want := string(appendTrimmed(nil, v)), strings.Join(strings.Fields(v), " "); got != want {
			t.Fatalf("appendTrimmed(%q) = %q, want %q", v, got, want)
		}
	})
}

// TestHeaderValuesAnyCase reads a signed header whatever the case of its key, as SigV4
// compares names lowercased.
func TestHeaderValuesAnyCase(t *testing.T) {
	h := http.Header{"X-Amz-Date": {"1"}, "x-amz-date": {"2"}, "Content-Type": {"a"}}
	got := headerValues(h, "x-amz-date")
	slices.Sort(got)
	if !slices.Equal(got, []string{"1", "2"}) {
		t.Errorf("x-amz-date: %q", got)
	}
	if got := headerValues(h, "content-type"); !slices.Equal(got, []string{"a"}) {
		t.Errorf("content-type: %q", got)
	}
	if got := headerValues(h, "x-missing"); len(got) != 0 {
		t.Errorf("x-missing: %q", got)
	}
	if h["X-Amz-Date"][0] != "1" || len(h["X-Amz-Date"]) != 1 {
		t.Errorf("headerValues changed the header: %v", h)
	}
}
