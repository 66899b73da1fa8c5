package server

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi/types"
	"github.com/coder/websocket"
)

const signedMgmt = `
  Management:
    Credentials: [{AccessKeyId: AKIDTEST, SecretAccessKeyEnv: MGMT_SECRET}]`

// mgmtClient is the real AWS SDK client pointed at the gateway's @connections endpoint.
func mgmtClient(r *running, secret string) *apigatewaymanagementapi.Client {
	return apigatewaymanagementapi.NewFromConfig(aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", secret, ""),
	}, func(o *apigatewaymanagementapi.Options) {
		o.BaseEndpoint = aws.String("http://" + r.Management + "/" + r.cfg.Stage.StageName)
	})
}

func TestConnectionsAPIWithTheGoSDK(t *testing.T) {
	be := echoBackend(t)
	cfg := strings.Replace(chatConfig(be.URL, ""), "  Management: {AllowUnsigned: true}", signedMgmt, 1)
	r := startGateway(t, cfg, Deps{})
	api := mgmtClient(r, "mgmt-secret")
	ctx := context.Background()

	c := mustDial(t, r, loginAs(t, "alice", time.Now().Add(time.Hour)))
	id := be.next(t, "/connect").Header.Get("X-Connection-Id")

	t.Run("post", func(t *testing.T) {
		if _, err := api.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: &id, Data: []byte(`{"hello":"alice"}`)}); err != nil {
			t.Fatal(err)
		}
		if got := read(t, c); got != `{"hello":"alice"}` {
			t.Errorf("client got %q", got)
		}
	})
	t.Run("binary post arrives as a binary frame", func(t *testing.T) {
		data := []byte{0xff, 0x00, 0x01}
		if _, err := api.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: &id, Data: data}); err != nil {
			t.Fatal(err)
		}
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		typ, b, err := c.Read(rctx)
		if err != nil || typ != websocket.MessageBinary || string(b) != string(data) {
			t.Errorf("got %v %x %v", typ, b, err)
		}
	})
	t.Run("get", func(t *testing.T) {
		out, err := api.GetConnection(ctx, &apigatewaymanagementapi.GetConnectionInput{ConnectionId: &id})
		if err != nil {
			t.Fatal(err)
		}
		if aws.ToString(out.Identity.SourceIp) != "127.0.0.1" || out.ConnectedAt == nil || out.LastActiveAt == nil ||
			time.Since(*out.ConnectedAt) > time.Minute {
			t.Errorf("GetConnection = %+v / %+v", out, out.Identity)
		}
	})
	t.Run("payload too large", func(t *testing.T) {
		_, err := api.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: &id, Data: make([]byte, 128<<10+1)})
		var e *types.PayloadTooLargeException
		if !errors.As(err, &e) {
			t.Errorf("error = %v, want PayloadTooLargeException", err)
		}
	})
	t.Run("wrong secret", func(t *testing.T) {
		_, err := mgmtClient(r, "wrong").PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: &id, Data: []byte("x")})
		if err == nil || !strings.Contains(err.Error(), "403") {
			t.Errorf("error = %v, want a 403", err)
		}
	})
	t.Run("delete closes with 1000 and runs $disconnect", func(t *testing.T) {
		if _, err := api.DeleteConnection(ctx, &apigatewaymanagementapi.DeleteConnectionInput{ConnectionId: &id}); err != nil {
			t.Fatal(err)
		}
		if code := readClose(t, c, 5*time.Second); code != websocket.StatusNormalClosure {
			t.Errorf("close code %d, want 1000", code)
		}
		if got := mustJSON(t, be.next(t, "/disconnect").Body); got["code"] != float64(1000) || got["connectionId"] != id {
			t.Errorf("$disconnect = %v", got)
		}
	})
	t.Run("gone after close", func(t *testing.T) {
		_, err := api.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: &id, Data: []byte("x")})
		var gone *types.GoneException
		if !errors.As(err, &gone) {
			t.Errorf("post: error = %v, want GoneException", err)
		}
		_, err = api.GetConnection(ctx, &apigatewaymanagementapi.GetConnectionInput{ConnectionId: &id})
		if !errors.As(err, &gone) {
			t.Errorf("get: error = %v, want GoneException", err)
		}
		_, err = api.DeleteConnection(ctx, &apigatewaymanagementapi.DeleteConnectionInput{ConnectionId: aws.String("AAAAAAAAAAAAAAA=")})
		if !errors.As(err, &gone) {
			t.Errorf("delete unknown: error = %v, want GoneException", err)
		}
	})
}

// A client that does not read fills its send queue: POSTs then get 429
// (LimitExceededException) instead of buffering without bound, and a write stuck for
// WriteTimeout closes the connection.
func TestSlowReaderGetsLimitExceeded(t *testing.T) {
	be := echoBackend(t)
	cfg := strings.Replace(chatConfig(be.URL, `  Limits: {SendQueueMessages: 4, SendQueueBytes: 65536, WriteTimeout: 500ms}`),
		"  Management: {AllowUnsigned: true}", signedMgmt, 1)
	r := startGateway(t, cfg, Deps{})
	api := mgmtClient(r, "mgmt-secret")
	ctx := context.Background()
	c := mustDial(t, r, loginAs(t, "alice", time.Now().Add(time.Hour)))
	id := be.next(t, "/connect").Header.Get("X-Connection-Id")
	_ = c // never read: the kernel buffers fill, then the queue
	payload := make([]byte, 60<<10)
	for i := range payload {
		payload[i] = 'x'
	}
	var limited, gone bool
	deadline := time.Now().Add(10 * time.Second)
	for i := 0; time.Now().Before(deadline) && !gone; i++ {
		// The SDK retries LimitExceededException as throttling (with backoff): ask once.
		_, err := api.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: &id, Data: payload},
			func(o *apigatewaymanagementapi.Options) { o.RetryMaxAttempts = 1 })
		var le *types.LimitExceededException
		var ge *types.GoneException
		switch {
		case errors.As(err, &le):
			limited = true
		case errors.As(err, &ge):
			if !limited {
				t.Fatalf("post %d: gone before any 429", i)
			}
			gone = true
		case err != nil:
			t.Fatalf("post %d: %v", i, err)
		}
	}
	if !limited || !gone {
		t.Fatalf("posts of 60 KiB for 10s to a client that never reads: 429 seen %v, closed %v", limited, gone)
	}
	// The stuck write timed out: the connection was closed and $disconnect ran, with
	// 1011 (the close frame cannot reach a client that does not read).
	if got := mustJSON(t, be.next(t, "/disconnect").Body); got["connectionId"] != id || got["code"] != float64(1011) {
		t.Errorf("$disconnect = %v, want code 1011", got)
	}
}
