package lambdarun

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/wsgate/wsgate/internal/config"
)

// apiProbe is a provided runtime (a Python script as bootstrap) that answers each
// invocation with the statuses it got from the Runtime API for requests the runtime
// should not make.
const apiProbe = `#!/usr/bin/env python3
import http.client, json, os
api = os.environ["AWS_LAMBDA_RUNTIME_API"]
def call(method, path, body=None, headers=None):
    c = http.client.HTTPConnection(api)
    c.request(method, "/2018-06-01/runtime/" + path, body=body, headers=headers or {})
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, r.headers, data

# 1: a wrong id, then the right one.
st, h, ev = call("GET", "invocation/next")
rid = h["Lambda-Runtime-Aws-Request-Id"]
seen = {"next": st, "headers": {k: h.get(k) for k in ("Lambda-Runtime-Deadline-Ms", "Lambda-Runtime-Invoked-Function-Arn", "Lambda-Runtime-Trace-Id", "Lambda-Runtime-Client-Context")},
        "event": json.loads(ev), "unknownId": call("POST", "invocation/nope/response", b"{}")[0],
        "badPath": call("GET", "invocation/" + rid + "/response")[0], "unknownOp": call("POST", "invocation/" + rid + "/other")[0]}
seen["respond"] = call("POST", "invocation/%s/response" % rid, json.dumps(seen))[0]
# 2: answering the first again, init/error after init, a too large response, then an error.
st, h, ev = call("GET", "invocation/next")
rid2 = h["Lambda-Runtime-Aws-Request-Id"]
again = call("POST", "invocation/%s/response" % rid, b"{}")[0]
initerr = call("POST", "init/error", b"{}")[0]
big = call("POST", "invocation/%s/response" % rid2, b"x" * (6 * 1024 * 1024 + 101))[0]
st, h, ev = call("GET", "invocation/next")
rid3 = h["Lambda-Runtime-Aws-Request-Id"]
call("POST", "invocation/%s/error" % rid3, json.dumps({"errorMessage": json.dumps({"again": again, "initError": initerr, "big": big}), "errorType": "Probe"}),
     {"Lambda-Runtime-Function-Error-Type": "Probe"})
st, h, ev = call("GET", "invocation/next")
call("POST", "invocation/%s/error" % h["Lambda-Runtime-Aws-Request-Id"], b"plain text failure", {"Lambda-Runtime-Function-Error-Type": "Custom.Type"})
call("GET", "invocation/next")
`

func TestRuntimeAPIStatuses(t *testing.T) {
	dir := writeFiles(t, map[string]string{"bootstrap": apiProbe})
	r := newRuntime(t, map[string]config.Function{"probe": {Runtime: "provided.al2023", CodeDir: dir, MaxConcurrency: 1}})
	var first struct {
		Next, UnknownID, BadPath, UnknownOp int
		Headers                             map[string]*string
		Event                               map[string]any
	}
	out := invoke(t, r, "probe", `{"k":"v"}`)
	if err := json.Unmarshal(out.Payload, &first); err != nil {
		t.Fatalf("%s: %v", out.Payload, err)
	}
	if first.Next != 200 || first.UnknownID != 400 || first.BadPath != 404 || first.UnknownOp != 404 || first.Event["k"] != "v" {
		t.Errorf("first: %+v", first)
	}
	for _, h := range []string{"Lambda-Runtime-Deadline-Ms", "Lambda-Runtime-Invoked-Function-Arn", "Lambda-Runtime-Trace-Id"} {
		if first.Headers[h] == nil || *first.Headers[h] == "" {
			t.Errorf("next lacks %s", h)
		}
	}
	if first.Headers["Lambda-Runtime-Client-Context"] != nil {
		t.Errorf("Client-Context %q without one", *first.Headers["Lambda-Runtime-Client-Context"])
	}
	typ, msg := errorPayload(t, invoke(t, r, "probe", `{}`))
	if typ != "Function.ResponseSizeTooLarge" {
		t.Errorf("too large: %s %s", typ, msg)
	}
	typ, msg = errorPayload(t, invoke(t, r, "probe", `{}`))
	var statuses map[string]int
	_ = json.Unmarshal([]byte(msg), &statuses)
	if typ != "Probe" || statuses["again"] != 403 || statuses["initError"] != 403 || statuses["big"] != 413 {
		t.Errorf("second: %s %s", typ, msg)
	}
	typ, msg = errorPayload(t, invoke(t, r, "probe", `{}`))
	if typ != "Custom.Type" || msg != "plain text failure" {
		t.Errorf("a non-JSON error body: %s %q", typ, msg)
	}
}

func TestParseAPIPath(t *testing.T) {
	for _, tc := range []struct {
		method, path string
		op           apiOp
		id           string
	}{
		{"GET", "/2018-06-01/runtime/invocation/next", opNext, ""},
		{"POST", "/2018-06-01/runtime/invocation/next", opUnknown, ""},
		{"POST", "/2018-06-01/runtime/invocation/8476a536-e9f4-11e8-9739-2dfe598c3fcd/response", opResponse, "8476a536-e9f4-11e8-9739-2dfe598c3fcd"},
		{"POST", "/2018-06-01/runtime/invocation/abc/error", opError, "abc"},
		{"GET", "/2018-06-01/runtime/invocation/abc/error", opUnknown, ""},
		{"POST", "/2018-06-01/runtime/invocation//error", opUnknown, ""},
		{"POST", "/2018-06-01/runtime/invocation/a/b/error", opUnknown, ""},
		{"POST", "/2018-06-01/runtime/init/error", opInitError, ""},
		{"POST", "/2020-01-01/runtime/init/error", opUnknown, ""},
	} {
		op, id := parseAPIPath(tc.method, tc.path)
		if op != tc.op || id != tc.id {
			t.Errorf("%s %s = %v %q, want %v %q", tc.method, tc.path, op, id, tc.op, tc.id)
		}
	}
}

func FuzzParseAPIPath(f *testing.F) {
	for _, s := range []string{"/2018-06-01/runtime/invocation/next", "/2018-06-01/runtime/invocation/8476a536-e9f4-11e8-9739-2dfe598c3fcd/response",
		"/2018-06-01/runtime/invocation/x/error", "/2018-06-01/runtime/init/error", "/2018-06-01/runtime/invocation//", "/"} {
		f.Add("POST", s)
		f.Add("GET", s)
	}
	f.Fuzz(func(t *testing.T, method, path string) {
		op, id := parseAPIPath(method, path)
		if (op == opResponse || op == opError) && (id == "" || strings.Contains(id, "/")) {
			t.Fatalf("%s %q: id %q", method, path, id)
		}
		if op != opResponse && op != opError && id != "" {
			t.Fatalf("%s %q: op %v with id %q", method, path, op, id)
		}
	})
}

// Real error bodies: the Node and Python runtimes', aws-lambda-go's, and not JSON.
func FuzzErrorBody(f *testing.F) {
	for _, s := range []string{
		`{"errorType":"Error","errorMessage":"boom","trace":["Error: boom","    at Runtime.handler (/var/task/index.js:2:9)"]}`,
		`{"errorMessage": "'missing'", "errorType": "KeyError", "requestId": "8476a536-e9f4-11e8-9739-2dfe598c3fcd", "stackTrace": ["  File \"/var/task/app.py\", line 9, in fails\n"]}`,
		`{"errorMessage":"asked to fail","errorType":"errorString"}`,
		`plain text`, ``, `[1,2]`, `{"unterminated`, " \n{}\t",
	} {
		f.Add([]byte(s), "Custom.Type")
	}
	f.Fuzz(func(t *testing.T, body []byte, typ string) {
		out := errorBody(body, typ)
		var m map[string]any
		if err := json.Unmarshal(out, &m); err != nil {
			t.Fatalf("errorBody(%q) = %q: not a JSON object: %v", body, out, err)
		}
	})
}

func FuzzParseFunctionName(f *testing.F) {
	for _, s := range []string{"f", "f:live", "123456789012:function:f", "arn:aws:lambda:us-east-1:123456789012:function:f:$LATEST", "arn:aws:lambda:::function:", ":::"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		name, q := parseFunctionName(s)
		if strings.Contains(name, ":") || strings.Contains(q, ":") {
			t.Fatalf("parseFunctionName(%q) = %q, %q", s, name, q)
		}
	})
}
