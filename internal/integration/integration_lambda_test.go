package integration

import (
	"encoding/json"
	"sort"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// keysOf returns the keys of the JSON object at path (top level when path is empty).
func keysOf(t *testing.T, b []byte, path ...string) []string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, p := range path {
		m, _ = m[p].(map[string]any)
	}
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// The keys of each proxy event, as API Gateway sends them (the full events are compared
// with recorded ones through a real gateway in internal/server's conformance test).
func TestProxyEventKeys(t *testing.T) {
	base := func(eventType string) *Request {
		return &Request{
			RouteKey: "$default", EventType: eventType, ConnectionID: "c1", RequestID: "r1", ExtendedRequestID: "r1",
			ConnectedAt: time.Unix(1, 0), RequestTime: time.Unix(2, 0), DomainName: "ws.example.test", Stage: "prod", APIID: "a1",
			SourceIP: "192.0.2.1",
		}
	}
	rc := []string{"apiId", "connectedAt", "connectionId", "domainName", "eventType", "extendedRequestId", "identity",
		"messageDirection", "requestId", "requestTime", "requestTimeEpoch", "routeKey", "stage"}
	with := func(extra ...string) []string {
		ks := append(append([]string{}, rc...), extra...)
		sort.Strings(ks)
		return ks
	}
	for _, tc := range []struct {
		name             string
		req              func() *Request
		top, rc, ident   []string
		wantBody         any
		wantDisconnectHd map[string]any
	}{
		{
			name: "CONNECT without a query, a User-Agent or an authorizer",
			req: func() *Request {
				r := base(EventConnect)
				r.Headers = map[string][]string{"Host": {"h"}, "HeaderAuth1": {"v"}}
				return r
			},
			top: []string{"headers", "isBase64Encoded", "multiValueHeaders", "requestContext"}, rc: with(), ident: []string{"sourceIp"},
		},
		{
			name: "CONNECT with a query, stage variables, a User-Agent and an authorizer",
			req: func() *Request {
				r := base(EventConnect)
				r.Headers, r.Query = map[string][]string{"Host": {"h"}}, map[string][]string{"q": {"1"}}
				r.StageVariables, r.UserAgent, r.PrincipalID = map[string]string{"v": "1"}, "ua", "me"
				return r
			},
			top: []string{"headers", "isBase64Encoded", "multiValueHeaders", "multiValueQueryStringParameters", "queryStringParameters",
				"requestContext", "stageVariables"},
			rc: with("authorizer"), ident: []string{"sourceIp", "userAgent"},
		},
		{
			name: "MESSAGE with an empty body",
			req: func() *Request {
				r := base(EventMessage)
				r.MessageID = "m1"
				return r
			},
			top: []string{"body", "isBase64Encoded", "requestContext"}, rc: with("messageId"), ident: []string{"sourceIp"}, wantBody: "",
		},
		{
			name: "DISCONNECT",
			req: func() *Request {
				r := base(EventDisconnect)
				r.Headers, r.AuthorizerContext = map[string][]string{"Cookie": {"JWT=secret"}}, NewAuthContext(map[string]any{"k": "v"})
				r.DisconnectStatusCode = 1006
				return r
			},
			top: []string{"headers", "isBase64Encoded", "multiValueHeaders", "requestContext"},
			rc:  with("authorizer", "disconnectReason", "disconnectStatusCode"), ident: []string{"sourceIp"},
			wantDisconnectHd: map[string]any{"Host": "ws.example.test", "X-Forwarded-For": "", "x-api-key": "", "x-restapi": ""},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := json.Marshal(newProxyEvent(tc.req()))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.top, keysOf(t, b)); diff != "" {
				t.Errorf("keys (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.rc, keysOf(t, b, "requestContext")); diff != "" {
				t.Errorf("requestContext keys (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.ident, keysOf(t, b, "requestContext", "identity")); diff != "" {
				t.Errorf("identity keys (-want +got):\n%s", diff)
			}
			var m map[string]any
			_ = json.Unmarshal(b, &m)
			if tc.wantBody != nil && m["body"] != tc.wantBody {
				t.Errorf("body = %#v, want %#v", m["body"], tc.wantBody)
			}
			if tc.wantDisconnectHd != nil {
				if diff := cmp.Diff(tc.wantDisconnectHd, m["headers"]); diff != "" {
					t.Errorf("DISCONNECT headers (-want +got): the handshake's are not sent, AWS's four are:\n%s", diff)
				}
			}
		})
	}
}
