package authorizer

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wsgate/wsgate/authevent"
)

func TestParseIdentitySource(t *testing.T) {
	for _, tc := range []struct {
		name    string
		in      string
		wantErr string // substring; "" means valid
	}{
		{name: "header", in: "route.request.header.Cookie"},
		{name: "header with dashes", in: "route.request.header.Sec-WebSocket-Protocol"},
		{name: "query", in: "route.request.querystring.csrf"},
		{name: "query with dots", in: "route.request.querystring.a.b[0]"},
		{name: "stage variable", in: "stageVariables.tenant_1"},
		{name: "context", in: "context.connectionId"},
		{name: "context nested", in: "context.identity.sourceIp"},
		{name: "empty", in: "", wantErr: `identity source "": must start with`},
		{name: "no header name", in: "route.request.header.", wantErr: "header name must be a non-empty HTTP token"},
		{name: "header with space", in: "route.request.header.Bad Name", wantErr: `"route.request.header.Bad Name": header name`},
		{name: "header with colon", in: "route.request.header.A:b", wantErr: "HTTP token"},
		{name: "no query name", in: "route.request.querystring.", wantErr: "query parameter name must be non-empty"},
		{name: "query with control", in: "route.request.querystring.a\nb", wantErr: "without control characters"},
		{name: "query invalid UTF-8", in: "route.request.querystring.\xff", wantErr: "UTF-8"},
		{name: "stage variable with dash", in: "stageVariables.a-b", wantErr: "letters, digits and underscores"},
		{name: "no stage variable", in: "stageVariables.", wantErr: "letters, digits and underscores"},
		{name: "context messageId", in: "context.messageId", wantErr: "not a context variable set before authorization"},
		{name: "context authorizer", in: "context.authorizer.principalId", wantErr: "not a context variable"},
		{name: "context unknown", in: "context.nope", wantErr: "one of apiId, connectedAt"},
		{name: "HTTP API form", in: "$request.header.Authorization", wantErr: "HTTP/REST API form"},
		{name: "REST form", in: "method.request.header.Authorization", wantErr: "HTTP/REST API form"},
		{name: "prefix case", in: "Route.Request.Header.Cookie", wantErr: "must start with"},
		{name: "bare header", in: "header.Cookie", wantErr: "must start with"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseIdentitySource(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("ParseIdentitySource(%q) error = %v, want one containing %q", tc.in, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseIdentitySource(%q): %v", tc.in, err)
			}
			if diff := cmp.Diff(tc.in, got.String()); diff != "" {
				t.Errorf("String() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseIdentitySources(t *testing.T) {
	got, err := ParseIdentitySources([]string{"route.request.header.Cookie", "route.request.querystring.csrf"})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"route.request.header.Cookie", "route.request.querystring.csrf"}, sourceStrings(got)); diff != "" {
		t.Errorf("mismatch (-want +got):\n%s", diff)
	}

	_, err = ParseIdentitySources([]string{"bogus", "route.request.header.Cookie", "context.nope"})
	if err == nil {
		t.Fatal("no error for two bad entries")
	}
	for _, want := range []string{`[0]: identity source "bogus"`, `[2]: identity source "context.nope"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
}

func sourceStrings(src []IdentitySource) []string {
	var out []string
	for _, s := range src {
		out = append(out, s.String())
	}
	return out
}

func mustSource(tb testing.TB, s string) IdentitySource {
	tb.Helper()
	src, err := ParseIdentitySource(s)
	if err != nil {
		tb.Fatal(err)
	}
	return src
}

func TestIdentitySourceValue(t *testing.T) {
	type want struct {
		Value string
		OK    bool
	}
	for _, tc := range []struct {
		name   string
		source string
		mutate func(ev *authevent.Event)
		want   want
	}{
		{name: "header", source: "route.request.header.Origin", want: want{"https://ui.example.com", true}},
		{name: "header name case-insensitive", source: "route.request.header.cOOKIE",
			want: want{"JWT=header.payload.sig; CSRF-TOKEN=c5rf", true}},
		{name: "header sent in lower case", source: "route.request.header.Origin",
			mutate: func(ev *authevent.Event) {
				ev.Headers = map[string]string{"origin": "https://a.example.com"}
				ev.MultiValueHeaders = map[string][]string{"origin": {"https://a.example.com"}}
			},
			want: want{"https://a.example.com", true}},
		{name: "multi-value joined", source: "route.request.header.Cookie",
			mutate: func(ev *authevent.Event) { ev.MultiValueHeaders["Cookie"] = []string{"a=1", "b=2"} },
			want:   want{"a=1,b=2", true}},
		{name: "names differing in case all read, sorted", source: "route.request.header.Cookie",
			mutate: func(ev *authevent.Event) { ev.MultiValueHeaders["cookie"] = []string{"z=9"} },
			want:   want{"JWT=header.payload.sig; CSRF-TOKEN=c5rf,z=9", true}},
		{name: "multiValueHeaders preferred over headers", source: "route.request.header.Origin",
			mutate: func(ev *authevent.Event) { ev.Headers["Origin"] = "https://last.example.com" },
			want:   want{"https://ui.example.com", true}},
		{name: "header only in headers", source: "route.request.header.X-Api-Key",
			mutate: func(ev *authevent.Event) { ev.Headers["x-api-key"] = "k" },
			want:   want{"k", true}},
		{name: "header absent", source: "route.request.header.Authorization", want: want{"", false}},
		{name: "header empty", source: "route.request.header.Origin",
			mutate: func(ev *authevent.Event) {
				ev.MultiValueHeaders["Origin"] = []string{""}
				ev.Headers["Origin"] = ""
			},
			want: want{"", false}},
		{name: "header all values empty", source: "route.request.header.Origin",
			mutate: func(ev *authevent.Event) { ev.MultiValueHeaders["Origin"] = []string{"", ""} },
			want:   want{"", false}},
		{name: "query", source: "route.request.querystring.csrf", want: want{"c5rf", true}},
		{name: "query multi-value", source: "route.request.querystring.csrf",
			mutate: func(ev *authevent.Event) { ev.MultiValueQueryStringParameters["csrf"] = []string{"a", "b"} },
			want:   want{"a,b", true}},
		{name: "query only single", source: "route.request.querystring.csrf",
			mutate: func(ev *authevent.Event) { ev.MultiValueQueryStringParameters = nil },
			want:   want{"c5rf", true}},
		{name: "query name case-sensitive", source: "route.request.querystring.CSRF", want: want{"", false}},
		{name: "query empty", source: "route.request.querystring.csrf",
			mutate: func(ev *authevent.Event) {
				ev.MultiValueQueryStringParameters["csrf"] = []string{""}
				ev.QueryStringParameters["csrf"] = ""
			},
			want: want{"", false}},
		{name: "stage variable", source: "stageVariables.tenant", want: want{"acme", true}},
		{name: "stage variable absent", source: "stageVariables.other", want: want{"", false}},
		{name: "context connectionId", source: "context.connectionId", want: want{"R1kmxc2VNjMCFIA=", true}},
		{name: "context connectedAt", source: "context.connectedAt", want: want{"1795521600000", true}},
		{name: "context requestTimeEpoch", source: "context.requestTimeEpoch", want: want{"1795521600001", true}},
		{name: "context sourceIp", source: "context.identity.sourceIp", want: want{"192.0.2.10", true}},
		{name: "context userAgent absent", source: "context.identity.userAgent", want: want{"", false}},
		{name: "context connectedAt unset", source: "context.connectedAt",
			mutate: func(ev *authevent.Event) { ev.RequestContext.ConnectedAt = 0 },
			want:   want{"", false}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev := testEvent()
			if tc.mutate != nil {
				tc.mutate(ev)
			}
			v, ok := mustSource(t, tc.source).Value(ev)
			if diff := cmp.Diff(tc.want, want{v, ok}); diff != "" {
				t.Errorf("Value mismatch (-want +got):\n%s", diff)
			}
		})
	}
	if v, ok := mustSource(t, "route.request.header.Cookie").Value(nil); ok || v != "" {
		t.Errorf("Value(nil) = %q, %v; want missing", v, ok)
	}
}

func TestEveryContextVariableReadable(t *testing.T) {
	ev := testEvent()
	ev.RequestContext.Identity.UserAgent = "test/1.0"
	for _, name := range contextNames() {
		if _, ok := mustSource(t, "context."+name).Value(ev); !ok {
			t.Errorf("context.%s missing from a full event", name)
		}
	}
}

func FuzzParseIdentitySource(f *testing.F) {
	for _, s := range []string{
		"route.request.header.Cookie", "route.request.header.Sec-WebSocket-Protocol",
		"route.request.querystring.csrf", "stageVariables.tenant", "context.connectionId",
		"context.identity.sourceIp", "$request.header.Authorization", "route.request.header.",
		"context.authorizer.x", "",
	} {
		f.Add(s)
	}
	ev := testEvent()
	f.Fuzz(func(t *testing.T, s string) {
		src, err := ParseIdentitySource(s)
		if err != nil {
			if !strings.Contains(err.Error(), "identity source ") {
				t.Fatalf("error %q does not name the source", err)
			}
			return
		}
		if src.String() != s {
			t.Fatalf("String() = %q, want %q", src.String(), s)
		}
		again, err := ParseIdentitySource(src.String())
		if err != nil || !again.Equal(src) {
			t.Fatalf("re-parse of %q: %v, %v", s, again, err)
		}
		v, ok := src.Value(ev)
		if ok == (v == "") {
			t.Fatalf("Value = %q, %v: present must mean non-empty", v, ok)
		}
	})
}
