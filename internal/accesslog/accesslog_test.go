package accesslog

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// apiYAMLFormat is deploy/cloudformation/api.yaml's AccessLogSettings.Format.
const apiYAMLFormat = `{"requestId":"$context.requestId","extendedRequestId":"$context.extendedRequestId","requestTime":"$context.requestTime","connectionId":"$context.connectionId","eventType":"$context.eventType","routeKey":"$context.routeKey","status":"$context.status","principalId":"$context.authorizer.principalId","authorizerError":"$context.authorizer.error","integrationError":"$context.integrationErrorMessage","sourceIp":"$context.identity.sourceIp","userAgent":"$context.identity.userAgent"}`

var at = time.Date(2026, 12, 1, 9, 0, 1, 234e6, time.UTC)

func TestRender(t *testing.T) {
	rec := &Record{
		RequestID: "req-1", EventType: "MESSAGE", RouteKey: "sendmessage", ConnectionID: "conn=",
		MessageID: "msg-1", Status: 200, SourceIP: "192.0.2.1", UserAgent: `evil "agent"` + "\n\\\x01\u2028",
		RequestTime: at, ConnectedAt: at.Add(-time.Second), Stage: "dev", APIID: "api1", DomainName: "ws.example.com",
		PrincipalID: "alice", AuthorizerContext: NewAuthContext(map[string]any{"role": "admin", "n": float64(1)}),
		IntegrationRan: true, IntegrationLatency: 12 * time.Millisecond, IntegrationStatus: 200,
	}
	for _, tc := range []struct {
		name, format, want string
	}{
		{"plain text", "$context.requestId $context.eventType $context.status", "req-1 MESSAGE 200"},
		{"missing is a dash", "$context.error.message|$context.disconnectReason|$context.nosuch", "-|-|-"},
		{"escaped in a JSON string", `{"ua":"$context.identity.userAgent"}`, `{"ua":"evil \"agent\"\n\\\u0001\u2028"}`},
		{"control bytes are spaces outside a string", `$context.identity.userAgent.`, `evil "agent" \  .`},
		{"a number outside a string", `{"lat":$context.integrationLatency,"at":$context.requestTimeEpoch}`, `{"lat":12,"at":1796115601234}`},
		{"times", "$context.requestTime $context.connectedAt", "01/Dec/2026:09:00:01 +0000 1796115600234"},
		{"authorizer context", "$context.authorizer.role $context.authorizer.n $context.authorizer.principalId", "admin 1 alice"},
		{"a trailing dot is not the name's", "[$context.stage.]", "[dev.]"},
		{"an escaped quote keeps the string open", `"a\"$context.stage"`, `"a\"dev"`},
		{"a bare $context is text", "$context. $context.apiId $", "$context. api1 $"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Compile(tc.format)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, string(f.Render(nil, rec))); diff != "" {
				t.Error(diff)
			}
		})
	}
}

func TestErrorMessageString(t *testing.T) {
	f, err := Compile(`{"error":$context.error.messageString}`)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]string
	line := f.Render(nil, &Record{Error: `say "no"`})
	if err := json.Unmarshal(line, &got); err != nil {
		t.Fatalf("%s: %v", line, err)
	}
	if got["error"] != `say "no"` {
		t.Errorf("error = %q", got["error"])
	}
}

func TestCompileRejects(t *testing.T) {
	for _, tc := range []struct{ name, format, want string }{
		{"empty", "", "empty"},
		{"no variable", `{"a":"b"}`, "no $context variable"},
		{"two lines", "$context.requestId\n$context.status", "line break"},
		{"too long", "$context.requestId" + strings.Repeat(" ", MaxFormatBytes), "at most"},
		{"not UTF-8", "$context.requestId\xff", "UTF-8"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Compile(tc.format)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

// TestAPIYAMLFormat renders the reference stack's format with hostile values: the line
// is one line of JSON holding exactly those values, and "-" for the missing ones.
func TestAPIYAMLFormat(t *testing.T) {
	f, err := Compile(apiYAMLFormat)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	l := New(f, &buf)
	l.Log(&Record{RequestID: "r1", EventType: "CONNECT", RouteKey: "$connect", ConnectionID: "c1", Status: 403,
		AuthorizerError: "Forbidden", SourceIP: "::1", UserAgent: "a\"b\nc\\", RequestTime: at})
	line, ok := bytes.CutSuffix(buf.Bytes(), []byte("\n"))
	if !ok || bytes.Contains(line, []byte("\n")) {
		t.Fatalf("not one line: %q", buf.Bytes())
	}
	var got map[string]string
	if err := json.Unmarshal(line, &got); err != nil {
		t.Fatalf("%s: %v", line, err)
	}
	want := map[string]string{
		"requestId": "r1", "extendedRequestId": "r1", "requestTime": "01/Dec/2026:09:00:01 +0000", "connectionId": "c1",
		"eventType": "CONNECT", "routeKey": "$connect", "status": "403", "principalId": "-", "authorizerError": "Forbidden",
		"integrationError": "-", "sourceIp": "::1", "userAgent": "a\"b\nc\\",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Error(diff)
	}
}

func TestOpenFile(t *testing.T) {
	f, err := Compile("$context.requestId")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "access.log")
	for _, id := range []string{"a", "b"} {
		l, err := Open(f, path, nil)
		if err != nil {
			t.Fatal(err)
		}
		l.Log(&Record{RequestID: id})
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != "a\nb\n" {
		t.Errorf("file = %q, want appended lines", b)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("mode = %v, want 0600", st.Mode().Perm())
	}
	var out bytes.Buffer
	for _, p := range []string{"", "-"} {
		l, err := Open(f, p, &out)
		if err != nil {
			t.Fatal(err)
		}
		l.Log(&Record{RequestID: "s" + p})
	}
	if out.String() != "s\ns-\n" {
		t.Errorf("stdout = %q", out.String())
	}
}

// FuzzFormat compiles any format and renders it with values full of quotes, escapes and
// control bytes: nothing panics, a line never holds a line break, and a format that is
// valid JSON with every variable inside a JSON string renders as valid JSON.
func FuzzFormat(f *testing.F) {
	f.Add(apiYAMLFormat, `a"b`)
	f.Add(`$context.requestId $context.status $context.error.message`, "x\ny")
	f.Add(`{"a":"\"$context.identity.userAgent\\","n":$context.integrationLatency}`, `\`)
	f.Add(`{"e":$context.error.messageString,"k":"$context.authorizer.k"}`, "\u2028\x00")
	f.Fuzz(func(t *testing.T, format, value string) {
		c, err := Compile(format)
		if err != nil {
			return
		}
		rec := &Record{RequestID: value, UserAgent: value, Error: value, SourceIP: value, RouteKey: value,
			AuthorizerContext: NewAuthContext(map[string]any{"k": value}), PrincipalID: value}
		line := c.Render(nil, rec)
		if bytes.ContainsAny(line, "\r\n") {
			t.Fatalf("line break in %q", line)
		}
		if !json.Valid([]byte(format)) {
			return
		}
		for _, p := range c.parts {
			if p.name != "" && !p.inString {
				return
			}
		}
		if !json.Valid(line) {
			t.Fatalf("format %q rendered invalid JSON %q", format, line)
		}
	})
}
