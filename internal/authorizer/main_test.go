package authorizer

import (
	"context"
	"sync/atomic"
	"testing"

	"go.uber.org/goleak"

	"github.com/wsgate/wsgate/authevent"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const testArn = "arn:aws:execute-api:eu-west-1:123456789012:abcdef1234/dev/$connect"

// testEvent is a $connect authorizer event as API Gateway sends it.
func testEvent() *authevent.Event {
	return &authevent.Event{
		Type:      authevent.EventTypeRequest,
		MethodArn: testArn,
		Headers: map[string]string{
			"Cookie":                 "JWT=header.payload.sig; CSRF-TOKEN=c5rf",
			"Origin":                 "https://ui.example.com",
			"Sec-WebSocket-Protocol": "chat.v1, csrf.c5rf",
			"User-Agent":             "test/1.0",
		},
		MultiValueHeaders: map[string][]string{
			"Cookie":                 {"JWT=header.payload.sig; CSRF-TOKEN=c5rf"},
			"Origin":                 {"https://ui.example.com"},
			"Sec-WebSocket-Protocol": {"chat.v1, csrf.c5rf"},
			"User-Agent":             {"test/1.0"},
		},
		QueryStringParameters:           map[string]string{"csrf": "c5rf"},
		MultiValueQueryStringParameters: map[string][]string{"csrf": {"c5rf"}},
		StageVariables:                  map[string]string{"tenant": "acme"},
		RequestContext: authevent.RequestContext{
			RouteKey:          "$connect",
			EventType:         "CONNECT",
			ExtendedRequestID: "ext-1",
			RequestTime:       "24/Nov/2026:12:00:00 +0000",
			MessageDirection:  "IN",
			Stage:             "dev",
			ConnectedAt:       1795521600000,
			RequestTimeEpoch:  1795521600001,
			Identity:          authevent.Identity{SourceIP: "192.0.2.10"},
			RequestID:         "req-1",
			DomainName:        "ws.example.com",
			ConnectionID:      "R1kmxc2VNjMCFIA=",
			APIID:             "abcdef1234",
		},
	}
}

// fakeAuthorizer is an Authorizer made of a function; it counts its calls.
type fakeAuthorizer struct {
	authorize func(ctx context.Context, ev *authevent.Event) Result
	calls     atomic.Int64
}

func (f *fakeAuthorizer) Authorize(ctx context.Context, ev *authevent.Event) Result {
	f.calls.Add(1)
	return f.authorize(ctx, ev)
}

// returns is a fakeAuthorizer that always answers r.
func returns(r Result) *fakeAuthorizer {
	return &fakeAuthorizer{authorize: func(context.Context, *authevent.Event) Result { return r }}
}

func TestStatus(t *testing.T) {
	for _, tc := range []struct {
		outcome Outcome
		want    int
		name    string
	}{
		{Allow, 0, "allow"},
		{Unauthorized, 401, "unauthorized"},
		{Forbidden, 403, "forbidden"},
		{Failed, 500, "failed"},
		{0, 500, "failed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := (Result{Outcome: tc.outcome}).Status(); got != tc.want {
				t.Errorf("Status() = %d, want %d", got, tc.want)
			}
			if got := tc.outcome.String(); got != tc.name {
				t.Errorf("String() = %q, want %q", got, tc.name)
			}
		})
	}
}
