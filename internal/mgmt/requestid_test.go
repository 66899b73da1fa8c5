package mgmt

import (
	"context"
	"errors"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/aws/smithy-go/middleware"

	"github.com/wsgate/wsgate/internal/cluster"
)

// requestIDForm is a version 4 UUID, as API Gateway's request ids are.
var requestIDForm = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// checkRequestID fails the test unless id is a request id not in seen, and records it.
func checkRequestID(tb testing.TB, what, id string, seen map[string]bool) {
	tb.Helper()
	if !requestIDForm.MatchString(id) {
		tb.Errorf("%s: request id %q, want a version 4 UUID", what, id)
	}
	if seen[id] {
		tb.Errorf("%s: request id %q was already used", what, id)
	}
	seen[id] = true
}

// TestRequestIDWithTheGoSDK checks that the Go SDK v2 reports a request id for every
// answer: in the result metadata of a success, in the ResponseError of a modelled error
// (GoneException), of an unmodelled one (a bad signature) and of an unknown path.
func TestRequestIDWithTheGoSDK(t *testing.T) {
	live := (&recorder{}).conns()
	conns := fakeConns{
		post: func(ctx context.Context, id string, data []byte) error {
			if id == "Gone0000000000A=" {
				return cluster.ErrGone
			}
			return live.post(ctx, id, data)
		},
		get: live.get,
		del: live.del,
	}
	srv := startServer(t, testOptions(t, conns))
	good := newClient(t, srv.URL+"/dev", staticCreds(testKey, testSecret, ""))
	seen := map[string]bool{}

	okMeta := func(what string, md middleware.Metadata, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		id, ok := awsmiddleware.GetRequestIDMetadata(md)
		if !ok {
			t.Errorf("%s: the SDK found no request id", what)
		}
		checkRequestID(t, what, id, seen)
	}
	post, err := good.PostToConnection(ctx(t), &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: aws.String(testID), Data: []byte("hi")})
	okMeta("PostToConnection", resultMetadata(post, func(o *apigatewaymanagementapi.PostToConnectionOutput) middleware.Metadata { return o.ResultMetadata }), err)
	get, err := good.GetConnection(ctx(t), &apigatewaymanagementapi.GetConnectionInput{ConnectionId: aws.String(testID)})
	okMeta("GetConnection", resultMetadata(get, func(o *apigatewaymanagementapi.GetConnectionOutput) middleware.Metadata { return o.ResultMetadata }), err)
	del, err := good.DeleteConnection(ctx(t), &apigatewaymanagementapi.DeleteConnectionInput{ConnectionId: aws.String(testID)})
	okMeta("DeleteConnection", resultMetadata(del, func(o *apigatewaymanagementapi.DeleteConnectionOutput) middleware.Metadata { return o.ResultMetadata }), err)

	failures := []struct {
		name   string
		client *apigatewaymanagementapi.Client
		id     string
		status int
	}{
		{"gone", good, "Gone0000000000A=", http.StatusGone},
		{"bad signature", newClient(t, srv.URL+"/dev", staticCreds(testKey, "not-the-secret", "")), testID, http.StatusForbidden},
		{"unknown key", newClient(t, srv.URL+"/dev", staticCreds("AKIDUNKNOWN", testSecret, "")), testID, http.StatusForbidden},
		{"unknown stage", newClient(t, srv.URL+"/prod", staticCreds(testKey, testSecret, "")), testID, http.StatusForbidden},
	}
	for _, tt := range failures {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.client.PostToConnection(ctx(t), &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: aws.String(tt.id), Data: []byte("hi")})
			var re *awshttp.ResponseError
			if !errors.As(err, &re) {
				t.Fatalf("error %v, want an *awshttp.ResponseError", err)
			}
			if re.HTTPStatusCode() != tt.status {
				t.Errorf("status %d, want %d", re.HTTPStatusCode(), tt.status)
			}
			checkRequestID(t, tt.name, re.ServiceRequestID(), seen)
			if !strings.Contains(err.Error(), "RequestID: "+re.ServiceRequestID()) {
				t.Errorf("the error does not show the request id: %v", err)
			}
		})
	}
}

// resultMetadata is the metadata of out, or none when the call failed (out is nil).
func resultMetadata[T any](out *T, md func(*T) middleware.Metadata) middleware.Metadata {
	if out == nil {
		return middleware.Metadata{}
	}
	return md(out)
}

// TestRequestIDOnTheWire checks the header on the wire, on success and error answers,
// and that each answer has its own id.
func TestRequestIDOnTheWire(t *testing.T) {
	srv := startListener(t, testOptions(t, (&recorder{}).conns()), Limits{})
	seen := map[string]bool{}
	for _, path := range []string{"/dev/@connections/" + testID, "/", "/prod/@connections/" + testID} {
		c := rawConnect(t, srv)
		c.send(t, "GET "+path+" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
		var head strings.Builder
		for {
			line, err := c.br.ReadString('\n')
			if err != nil {
				t.Fatalf("GET %s: %v after %q", path, err, head.String())
			}
			if line == "\r\n" {
				break
			}
			head.WriteString(line)
		}
		m := regexp.MustCompile(`(?i)\r\nx-amzn-RequestId: ([^\r]*)\r\n`).FindStringSubmatch(head.String())
		if m == nil {
			t.Errorf("GET %s: no x-amzn-RequestId line in\n%s", path, head.String())
			continue
		}
		checkRequestID(t, "GET "+path, m[1], seen)
	}
}
