package mgmt

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/wsgate/wsgate/internal/cluster"
)

// BenchmarkSignedPost is one PostToConnection signed as the Go SDK signs it (no
// X-Amz-Content-Sha256), served in process: the signature checks, the body read and
// hash, and the registry. The request is signed once, outside the loop, and its
// X-Amz-Date kept within the 5-minute window by the server's clock.
//
//	go test ./internal/mgmt -run '^$' -bench SignedPost -benchmem
func BenchmarkSignedPost(b *testing.B) {
	reg := cluster.NewLocal(0)
	var sent atomic.Int64
	id := cluster.NewConnectionID(1)
	reg.Add(countingConn{id: id, sent: &sent})
	at := time.Now()
	o := testOptions(b, reg)
	o.Now = func() time.Time { return at }
	h, err := New(o)
	if err != nil {
		b.Fatal(err)
	}
	body := []byte(`{"t":1700000000000000000,"p":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}`)
	sum := sha256.Sum256(body)
	req := httptest.NewRequest(http.MethodPost, "/"+testStage+"/@connections/"+id, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "aws-sdk-go-v2/1.36.3 os/linux lang/go#1.26.8 md/GOOS#linux md/GOARCH#amd64 api/apigatewaymanagementapi#1.25.1")
	req.Header.Set("Amz-Sdk-Invocation-Id", "5a8e9c43-5b2f-4a28-9a3d-1b6f0a4e2c11")
	req.Header.Set("Amz-Sdk-Request", "attempt=1; max=3")
	creds := aws.Credentials{AccessKeyID: testKey, SecretAccessKey: testSecret}
	if err := v4.NewSigner().SignHTTP(b.Context(), creds, req, hex.EncodeToString(sum[:]), "execute-api", "us-east-1", at); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		r := req.Clone(b.Context())
		r.Body = http.NoBody
		r.Body = readCloser{bytes.NewReader(body)}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			b.Fatalf("%d %s", w.Code, w.Body)
		}
	}
}

type readCloser struct{ *bytes.Reader }

func (readCloser) Close() error { return nil }
