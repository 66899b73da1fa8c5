package integration

import (
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fuzzBodies are messages seeded for the targets that read one.
var fuzzBodies = []string{
	fuzzBody,
	`{"action":"join","room":"../../admin/delete","n":1.50,"ok":true,"none":null,"list":["a/b",".."]}`,
	`{"room":".."}`, `{"room":"a/b?c#d%2F"}`, `{"room":"{other}","other":"."}`,
	`{"action":"x"}}`, `[1,2]]`, `"just a string"`, `12.5e3`, `null`, `hello`, ``, ` `,
	`{"a":{"b":{"c":[{"d":"deep"}]}}}`, `{"u":"\u00e9\ud83d\ude00\u0000"}`,
}

// FuzzRenderBody renders templates against fuzzed messages: no template and no body may
// panic, run for long, or produce more than MaxTemplateOutput.
func FuzzRenderBody(f *testing.F) {
	var srcs []string
	srcs = append(srcs, templateSeeds...)
	files, err := filepath.Glob(filepath.Join("testdata", "templates", "*.vtl"))
	if err != nil {
		f.Fatal(err)
	}
	for _, file := range files {
		raw, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		sections, _ := parseGolden(f, string(raw))
		srcs = append(srcs, sections["template"])
		f.Add(sections["template"], sections["body"])
	}
	srcs = append(srcs,
		"$input.json('$')", "$input.path('$')", "$input.json('$.room')", "#foreach($x in $input.path('$.list'))$x#end",
		"$input.body", "$util.parseJson($input.body).action", "$util.escapeJavaScript($input.json('$'))",
		"#set($r = $input.path('$.room'))$util.urlEncode($r)",
		"$input.params('room') $input.params('X-Room') $input.params('x-forwarded-for')", "$input.params()",
		"#foreach($k in $input.params().header.keySet())$k=$util.escapeJavaScript($input.params().header.get($k))#end",
		"#set($n = $input.path('$.room'))$input.params($n)",
	)
	for i, src := range srcs {
		f.Add(src, fuzzBodies[i%len(fuzzBodies)])
	}
	f.Fuzz(func(t *testing.T, src, body string) {
		tp, err := ParseTemplate(src)
		if err != nil {
			return
		}
		req := &Request{
			RouteKey: "send", EventType: EventMessage, ConnectionID: "R1kmxc2VNjMCFIA=", Stage: "prod",
			Body: []byte(body), StageVariables: map[string]string{"a": "1"}, PrincipalID: "user-42",
			AuthorizerContext: NewAuthContext(map[string]any{"role": "admin"}),
			Headers:           map[string][]string{"X-Room": {body, "b"}, "x-forwarded-for": {"203.0.113.9"}},
			Query:             map[string][]string{"room": {body}},
		}
		start := time.Now()
		out, err := tp.Render(templateData(req))
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("Render(%q) on %q took %v", src, body, d)
		}
		if err != nil {
			if strings.Contains(err.Error(), "internal error") {
				t.Fatalf("Render(%q) on %q: %v", src, body, err)
			}
			return
		}
		if len(out) > MaxTemplateOutput {
			t.Fatalf("Render(%q) output is %d bytes, over the limit", src, len(out))
		}
	})
}

// FuzzRequestParameters maps fuzzed sources from a fuzzed message and headers onto a
// header, a query value and a path placeholder: nothing may panic, and a value must stay
// inside its one path segment.
func FuzzRequestParameters(f *testing.F) {
	sources := []string{
		"route.request.body.room", "route.request.body", "route.request.body.list[1]", "route.request.body['a b']",
		"route.request.header.X-Room", "route.request.querystring.room", "stageVariables.room",
		"context.connectionId", "context.authorizer.principalId", "context.authorizer.room", "context.routeKey",
		"'static'", "'..'", "'a/b'", "''", "route.request.body..room", "route.request.body[*]", "nonsense",
		"route.request.multivalueheader.X-Room", "route.request.multivalueheader.x-room", "route.request.multivaluequerystring.room",
		"route.request.multivalueheader.X-Forwarded-For", "route.request.multivaluequerystring.", "route.request.multivalueheader.",
	}
	paths := []string{"rooms/{room}/messages", "{room}", "a%2Fb/{room}{room}", "x/{room}.json", "{room}/{other}", "{ro{room}om}", "a/./{room}/../b"}
	for i, src := range sources {
		f.Add(src, paths[i%len(paths)], fuzzBodies[i%len(fuzzBodies)], "../x")
	}
	f.Fuzz(func(t *testing.T, source, path, body, header string) {
		params, err := compileParameters(map[string]string{
			"integration.request.path.room":       source,
			"integration.request.querystring.q":   source,
			"integration.request.header.X-Mapped": source,
		})
		if err != nil {
			return
		}
		if strings.ContainsAny(path, "?#") {
			return // not a path
		}
		written, err := url.Parse("http://backend/" + path + "?static=1")
		if err != nil || written.Host != "backend" {
			return
		}
		before := strings.Split(rawPath(written), "/")
		u, err := parseURI("http://backend/" + path + "?static=1")
		if err != nil {
			t.Fatalf("parseURI(%q): %v, but url.Parse took it", path, err)
		}
		req := &Request{
			EventType: EventConnect, ConnectionID: "R1kmxc2VNjMCFIA=", RouteKey: "$connect",
			Headers:        map[string][]string{"X-Room": {header, "../y"}, "x-room": {header}, "X-Forwarded-For": {header + ", 127.0.0.1"}},
			Query:          map[string][]string{"room": {header, header, "{other}"}},
			StageVariables: map[string]string{"room": header},
			PrincipalID:    header, AuthorizerContext: NewAuthContext(map[string]any{"room": header}),
			Body: []byte(body),
		}
		h := http.Header{}
		applyParameters(params, req, u, h)

		after := strings.Split(u.EscapedPath(), "/")
		if len(after) != len(before) {
			t.Fatalf("path %q became %q: %d segments, want %d", path, u.EscapedPath(), len(after), len(before))
		}
		for i, seg := range before {
			dec, err := url.PathUnescape(seg)
			if err == nil && strings.Contains(dec, "{room}") && (after[i] == "." || after[i] == "..") {
				t.Fatalf("path %q became %q: segment %d is %q", path, u.EscapedPath(), i, after[i])
			}
		}
		again, err := url.Parse(u.String())
		if err != nil {
			t.Fatalf("%q does not parse again: %v", u.String(), err)
		}
		if again.EscapedPath() != u.EscapedPath() || again.Query().Get("static") != "1" {
			t.Fatalf("%q parses again as path %q, query %q", u.String(), again.EscapedPath(), again.RawQuery)
		}
	})
}

// rawPath is u's path as written.
func rawPath(u *url.URL) string {
	if u.RawPath != "" {
		return u.RawPath
	}
	return u.EscapedPath()
}
