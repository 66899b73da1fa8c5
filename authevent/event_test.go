package authevent

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wsgate/wsgate/cookieauth"
)

// readFixture returns testdata/name.
func readFixture(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// assertJSONEqual fails when want and got are not the same JSON value (aws-lambda-go's
// round-trip check: key order and spacing do not matter, missing or extra keys do).
func assertJSONEqual(tb testing.TB, want, got []byte) {
	tb.Helper()
	var w, g any
	if err := json.Unmarshal(want, &w); err != nil {
		tb.Fatalf("want is not JSON: %v", err)
	}
	if err := json.Unmarshal(got, &g); err != nil {
		tb.Fatalf("got is not JSON: %v", err)
	}
	if diff := cmp.Diff(w, g); diff != "" {
		tb.Errorf("JSON differs after the round trip (-want +got):\n%s", diff)
	}
}

func TestEventRoundTrip(t *testing.T) {
	for _, name := range []string{
		"websocket-connect-authorizer-request.json",
		"websocket-connect-authorizer-request-no-query.json",
	} {
		t.Run(name, func(t *testing.T) {
			in := readFixture(t, name)
			var e Event
			if err := json.Unmarshal(in, &e); err != nil {
				t.Fatal(err)
			}
			out, err := json.Marshal(e)
			if err != nil {
				t.Fatal(err)
			}
			assertJSONEqual(t, in, out)
		})
	}
}

func TestEventKeepsWebSocketContext(t *testing.T) {
	var e Event
	if err := json.Unmarshal(readFixture(t, "websocket-connect-authorizer-request.json"), &e); err != nil {
		t.Fatal(err)
	}
	want := RequestContext{
		RouteKey:          "$connect",
		EventType:         "CONNECT",
		ExtendedRequestID: "ABCD1234efgh5=",
		RequestTime:       "16/Oct/2023:18:58:48 +0000",
		MessageDirection:  "IN",
		Stage:             "default",
		ConnectedAt:       1697482728655,
		RequestTimeEpoch:  1697482728656,
		Identity:          Identity{SourceIP: "192.0.2.1"},
		RequestID:         "ABCD1234efgh5=",
		DomainName:        "ws.dev.example.com",
		ConnectionID:      "R1kmxc2VNjMCFIA=",
		APIID:             "abcdef123",
	}
	if diff := cmp.Diff(want, e.RequestContext); diff != "" {
		t.Errorf("requestContext (-want +got):\n%s", diff)
	}
	if got, want := e.MethodArn, "arn:aws:execute-api:us-east-1:123456789012:abcdef123/default/$connect"; got != want {
		t.Errorf("methodArn = %q, want %q", got, want)
	}
}

func TestEventRequest(t *testing.T) {
	for _, tc := range []struct {
		name  string
		event Event
		want  cookieauth.Request
	}{
		{
			name:  "empty event gives empty maps",
			event: Event{},
			want:  cookieauth.Request{Headers: map[string][]string{}, Query: map[string][]string{}},
		},
		{
			name: "multiValueHeaders preferred: all values kept",
			event: Event{
				MethodArn:         "arn:aws:execute-api:us-east-1:1:api/prod/$connect",
				Headers:           map[string]string{"Cookie": "b=2", "Origin": "https://a.example.com"},
				MultiValueHeaders: map[string][]string{"Cookie": {"a=1", "b=2"}, "Origin": {"https://a.example.com"}},
				RequestContext:    RequestContext{Identity: Identity{SourceIP: "192.0.2.9"}},
			},
			want: cookieauth.Request{
				Headers:   map[string][]string{"Cookie": {"a=1", "b=2"}, "Origin": {"https://a.example.com"}},
				Query:     map[string][]string{},
				SourceIP:  "192.0.2.9",
				MethodArn: "arn:aws:execute-api:us-east-1:1:api/prod/$connect",
			},
		},
		{
			name:  "only headers: each becomes a single value, names as sent",
			event: Event{Headers: map[string]string{"cookie": "JWT=x", "ORIGIN": "https://a.example.com"}},
			want: cookieauth.Request{
				Headers: map[string][]string{"cookie": {"JWT=x"}, "ORIGIN": {"https://a.example.com"}},
				Query:   map[string][]string{},
			},
		},
		{
			name: "header missing from multiValueHeaders is added",
			event: Event{
				Headers:           map[string]string{"Cookie": "JWT=x", "Origin": "https://a.example.com"},
				MultiValueHeaders: map[string][]string{"Cookie": {"JWT=x"}},
			},
			want: cookieauth.Request{
				Headers: map[string][]string{"Cookie": {"JWT=x"}, "Origin": {"https://a.example.com"}},
				Query:   map[string][]string{},
			},
		},
		{
			name: "header present in both with different case is not counted twice",
			event: Event{
				Headers:           map[string]string{"cookie": "JWT=x"},
				MultiValueHeaders: map[string][]string{"Cookie": {"JWT=x"}},
			},
			want: cookieauth.Request{
				Headers: map[string][]string{"Cookie": {"JWT=x"}},
				Query:   map[string][]string{},
			},
		},
		{
			name: "query: multi preferred, single added, names compared exactly",
			event: Event{
				QueryStringParameters:           map[string]string{"csrf": "b", "CSRF": "c", "v": "1"},
				MultiValueQueryStringParameters: map[string][]string{"csrf": {"a", "b"}},
			},
			want: cookieauth.Request{
				Headers: map[string][]string{},
				Query:   map[string][]string{"csrf": {"a", "b"}, "CSRF": {"c"}, "v": {"1"}},
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.event.Request()
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Request() (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.want, tc.event.RequestView()); diff != "" {
				t.Errorf("RequestView() (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEventRequestDoesNotShareSlices(t *testing.T) {
	e := Event{MultiValueHeaders: map[string][]string{"Cookie": {"JWT=x"}}}
	r := e.Request()
	r.Headers["Cookie"][0] = "changed"
	if got := e.MultiValueHeaders["Cookie"][0]; got != "JWT=x" {
		t.Errorf("event header changed through the request: %q", got)
	}
}

func TestEventRequestViewSharesWhatItCan(t *testing.T) {
	e := Event{
		Headers:           map[string]string{"cookie": "JWT=x"},
		MultiValueHeaders: map[string][]string{"Cookie": {"JWT=x"}},
	}
	r := e.RequestView()
	r.Headers["Cookie"][0] = "changed"
	if got := e.MultiValueHeaders["Cookie"][0]; got != "changed" {
		t.Errorf("RequestView copied the headers that needed no merge: the event still has %q", got)
	}
	e.Headers["Origin"] = "https://a.example.com" // now a merge is needed
	r = e.RequestView()
	r.Headers["Cookie"][0] = "again"
	if got := e.MultiValueHeaders["Cookie"][0]; got != "changed" {
		t.Errorf("RequestView shared the headers it merged: the event has %q", got)
	}
}

func TestEventFixtureRequest(t *testing.T) {
	var e Event
	if err := json.Unmarshal(readFixture(t, "websocket-connect-authorizer-request-no-query.json"), &e); err != nil {
		t.Fatal(err)
	}
	r := e.Request()
	if diff := cmp.Diff([]string{"chat.v1, csrf.c3JmLXRva2Vu"}, r.Headers["Sec-WebSocket-Protocol"]); diff != "" {
		t.Errorf("Sec-WebSocket-Protocol (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string][]string{}, r.Query); diff != "" {
		t.Errorf("query (-want +got):\n%s", diff)
	}
	if r.SourceIP != "198.51.100.7" {
		t.Errorf("SourceIP = %q", r.SourceIP)
	}
}
