package ssmsecret

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
)

const secret = "0123456789abcdef0123456789abcdef-from-ssm"

// fakeSSM speaks SSM's awsJson1_1 GetParameter, as the real service does.
type fakeSSM struct {
	calls      atomic.Int64
	decryption atomic.Bool
}

func (f *fakeSSM) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.calls.Add(1)
	var in struct {
		Name           string
		WithDecryption bool
	}
	if r.Header.Get("X-Amz-Target") != "AmazonSSM.GetParameter" || json.NewDecoder(r.Body).Decode(&in) != nil {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	f.decryption.Store(in.WithDecryption)
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	if in.Name != "/wsgate/jwt-secret" {
		w.WriteHeader(http.StatusBadRequest)
		json.NewEncoder(w).Encode(map[string]string{"__type": "ParameterNotFound", "message": "not found"})
		return
	}
	json.NewEncoder(w).Encode(map[string]any{"Parameter": map[string]any{"Name": in.Name, "Type": "SecureString", "Value": secret, "Version": 1}})
}

func client(url string) *ssm.Client {
	return ssm.New(ssm.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(url),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""),
	})
}

func TestNewWithTheRealSDKClient(t *testing.T) {
	fake := &fakeSSM{}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	ctx := context.Background()
	ks, err := New(ctx, client(srv.URL), "/wsgate/jwt-secret", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if !fake.decryption.Load() {
		t.Fatal("GetParameter without WithDecryption")
	}
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			k, err := ks.Key(ctx, "HS256", "")
			if err != nil || string(k.([]byte)) != secret {
				t.Errorf("Key: %v", err)
			}
		})
	}
	wg.Wait()
	if n := fake.calls.Load(); n != 1 {
		t.Fatalf("%d GetParameter calls, want exactly 1 (cached)", n)
	}
}

func TestNewMissingParameter(t *testing.T) {
	srv := httptest.NewServer(&fakeSSM{})
	defer srv.Close()
	_, err := New(context.Background(), client(srv.URL), "/nope", time.Hour)
	if err == nil || !strings.Contains(err.Error(), "/nope") || !strings.Contains(err.Error(), "ParameterNotFound") {
		t.Fatalf("got %v, want an error naming the parameter and ParameterNotFound", err)
	}
}
