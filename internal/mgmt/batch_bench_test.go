package mgmt

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/wsgate/wsgate/internal/cluster"
)

// countingConn is a cluster.Conn whose Send only counts: what is measured is the API,
// the registry and the signature, not the sockets (bench/run broadcast measures those).
type countingConn struct {
	id   string
	sent *atomic.Int64
}

func (c countingConn) ID() string         { return c.id }
func (c countingConn) Send([]byte) error  { c.sent.Add(1); return nil }
func (c countingConn) Info() cluster.Info { return cluster.Info{} }
func (c countingConn) Close()             {}

// BenchmarkBatchPost is one signed batch post to 10,000 connections, served in process.
//
//	go test ./internal/mgmt -run '^$' -bench BatchPost -benchmem
func BenchmarkBatchPost(b *testing.B) {
	reg := cluster.NewLocal(0)
	var sent atomic.Int64
	ids := make([]string, 10_000)
	for i := range ids {
		ids[i] = cluster.NewConnectionID(1)
		reg.Add(countingConn{id: ids[i], sent: &sent})
	}
	o := testOptions(b, reg)
	h, err := New(o)
	if err != nil {
		b.Fatal(err)
	}
	body, _ := json.Marshal(map[string]any{"connectionIds": ids, "data": `{"t":1,"p":"` + strconv.Itoa(42) + `"}`})
	sum := sha256.Sum256(body)
	creds := aws.Credentials{AccessKeyID: testKey, SecretAccessKey: testSecret}
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodPost, "/"+testStage+"/@wsgate/post-to-connections", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if err := v4.NewSigner().SignHTTP(b.Context(), creds, req, hex.EncodeToString(sum[:]), "execute-api", "us-east-1", time.Now()); err != nil {
			b.Fatal(err)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatalf("%d %s", w.Code, w.Body)
		}
	}
	if sent.Load() < int64(len(ids)) {
		b.Fatalf("sent %d", sent.Load())
	}
}
