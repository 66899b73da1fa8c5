package integration

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestCompilePath(t *testing.T) {
	tests := []struct {
		name    string
		expr    string
		want    string // String() of the compiled path
		wantErr string // substring of the error
	}{
		{name: "root", expr: "$", want: "$"},
		{name: "dotted", expr: "$.a.b", want: "$.a.b"},
		{name: "index", expr: "$.a[0].b", want: "$.a[0].b"},
		{name: "root index", expr: "$[2]", want: "$[2]"},
		{name: "quoted single", expr: "$['a b']", want: "$['a b']"},
		{name: "quoted double", expr: `$["a b"].c`, want: "$['a b'].c"},
		{name: "quoted plain name", expr: "$['a']", want: "$.a"},
		{name: "quoted escape", expr: `$['it\'s']`, want: `$['it\'s']`},
		{name: "quoted dot", expr: "$['a.b']", want: "$['a.b']"},
		{name: "relative", expr: "a.b", want: "$.a.b"},
		{name: "relative index", expr: "a[1]", want: "$.a[1]"},
		{name: "relative dot", expr: ".a", want: "$.a"},
		{name: "relative bracket", expr: "[0]", want: "$[0]"},
		{name: "dollar name", expr: "$.$connect", want: "$.$connect"},
		{name: "dash and underscore", expr: "$.a-b.c_d", want: "$.a-b.c_d"},
		{name: "unicode", expr: "$.héllo", want: "$.héllo"},

		{name: "empty", expr: "", wantErr: "empty path"},
		{name: "blank", expr: "  ", wantErr: "empty path"},
		{name: "spaces around", expr: " $.a", wantErr: "leading or trailing space"},
		{name: "wildcard dot", expr: "$.a.*", wantErr: "unsupported: wildcard"},
		{name: "wildcard bracket", expr: "$.a[*]", wantErr: "unsupported: wildcard"},
		{name: "recursive descent", expr: "$..a", wantErr: "unsupported: recursive descent"},
		{name: "filter", expr: "$.a[?(@.b == 1)]", wantErr: "unsupported: filter"},
		{name: "script", expr: "$.a[(@.length-1)]", wantErr: "unsupported: filter"},
		{name: "slice", expr: "$.a[0:2]", wantErr: "unsupported: slice"},
		{name: "union index", expr: "$.a[0,1]", wantErr: "unsupported: slice or union"},
		{name: "union names", expr: "$['a','b']", wantErr: "unsupported: union"},
		{name: "negative index", expr: "$.a[-1]", wantErr: "unsupported: negative index"},
		{name: "current node", expr: "@.a", wantErr: "unsupported: current-node"},
		{name: "trailing dot", expr: "$.a.", wantErr: "missing name"},
		{name: "double bracket", expr: "$[[0]]", wantErr: "unexpected '['"},
		{name: "unclosed bracket", expr: "$.a[0", wantErr: "unclosed ["},
		{name: "unclosed quote", expr: "$['a", wantErr: "unclosed quote"},
		{name: "quote without bracket end", expr: "$['a'", wantErr: "unclosed ["},
		{name: "bad index", expr: "$.a[1x]", wantErr: "bad index"},
		{name: "huge index", expr: "$.a[99999999999999999999]", wantErr: "bad index"},
		{name: "space in name", expr: "$.a b", wantErr: "unexpected space"},
		{name: "junk after root", expr: "$a", wantErr: "unexpected 'a'"},
		{name: "function call", expr: "$.a.length()", wantErr: "unexpected '('"},
		{name: "too many steps", expr: "$" + strings.Repeat(".a", maxPathSteps+1), wantErr: "more than 64 steps"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := CompilePath(tt.expr)
			if tt.wantErr != "" {
				if err == nil {
					t.Fatalf("CompilePath(%q) = %v, want error containing %q", tt.expr, p, tt.wantErr)
				}
				if !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("CompilePath(%q) error = %q, want it to contain %q", tt.expr, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("CompilePath(%q): %v", tt.expr, err)
			}
			if diff := cmp.Diff(tt.want, p.String()); diff != "" {
				t.Errorf("String() mismatch (-want +got):\n%s", diff)
			}
			// The canonical form compiles back to the same path.
			again, err := CompilePath(p.String())
			if err != nil {
				t.Fatalf("CompilePath(%q) of the canonical form: %v", p.String(), err)
			}
			if diff := cmp.Diff(p.String(), again.String()); diff != "" {
				t.Errorf("round trip mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPathLookup(t *testing.T) {
	const doc = `{"action":"send","data":{"to":["a","b"],"n":1.5,"big":12345678901234567890,"ok":true,"nil":null},
		"a b":{"c":"spaced"},"list":[{"id":1},{"id":2}]}`
	var numbers, floats any
	dec := json.NewDecoder(strings.NewReader(doc))
	dec.UseNumber()
	if err := dec.Decode(&numbers); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(doc), &floats); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		path   string
		doc    any
		want   any
		wantOK bool
	}{
		{name: "string", path: "$.action", doc: floats, want: "send", wantOK: true},
		{name: "relative", path: "action", doc: floats, want: "send", wantOK: true},
		{name: "nested index", path: "$.data.to[1]", doc: floats, want: "b", wantOK: true},
		{name: "float64", path: "$.data.n", doc: floats, want: 1.5, wantOK: true},
		{name: "json.Number", path: "$.data.big", doc: numbers, want: json.Number("12345678901234567890"), wantOK: true},
		{name: "bool", path: "$.data.ok", doc: floats, want: true, wantOK: true},
		{name: "present null", path: "$.data.nil", doc: floats, want: nil, wantOK: true},
		{name: "quoted name", path: "$['a b'].c", doc: floats, want: "spaced", wantOK: true},
		{name: "object in list", path: "$.list[1].id", doc: floats, want: 2.0, wantOK: true},
		{name: "root", path: "$", doc: "scalar", want: "scalar", wantOK: true},
		{name: "string map", path: "$.k", doc: map[string]string{"k": "v"}, want: "v", wantOK: true},

		{name: "missing key", path: "$.nope", doc: floats},
		{name: "missing nested", path: "$.data.nope.deeper", doc: floats},
		{name: "index out of range", path: "$.data.to[2]", doc: floats},
		{name: "index into object", path: "$.data[0]", doc: floats},
		{name: "name into list", path: "$.list.id", doc: floats},
		{name: "name into scalar", path: "$.action.x", doc: floats},
		{name: "nil doc", path: "$.a", doc: nil},
		{name: "missing in string map", path: "$.x", doc: map[string]string{"k": "v"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := CompilePath(tt.path)
			if err != nil {
				t.Fatal(err)
			}
			got, ok := p.Lookup(tt.doc)
			if ok != tt.wantOK {
				t.Fatalf("Lookup ok = %v, want %v", ok, tt.wantOK)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Lookup mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPathLookupRaw(t *testing.T) {
	const doc = `{ "z": 1, "a": { "y": [ 1, 2.50, {"k": "v"} ], "x": "s" } }`
	tests := []struct {
		name    string
		path    string
		doc     string
		want    string
		wantOK  bool
		wantErr bool
	}{
		{name: "root keeps key order", path: "$", doc: doc, want: `{"z":1,"a":{"y":[1,2.50,{"k":"v"}],"x":"s"}}`, wantOK: true},
		{name: "object", path: "$.a.y[2]", doc: doc, want: `{"k":"v"}`, wantOK: true},
		{name: "number spelling kept", path: "$.a.y[1]", doc: doc, want: `2.50`, wantOK: true},
		{name: "string", path: "$.a.x", doc: doc, want: `"s"`, wantOK: true},
		{name: "missing", path: "$.b", doc: doc},
		{name: "index out of range", path: "$.a.y[3]", doc: doc},
		{name: "index into object", path: "$.a[0]", doc: doc},
		{name: "name into scalar", path: "$.z.q", doc: doc},
		{name: "not json", path: "$", doc: "hello", wantErr: true},
		{name: "trailing garbage", path: "$", doc: `{} x`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := CompilePath(tt.path)
			if err != nil {
				t.Fatal(err)
			}
			got, ok, err := p.lookupRaw([]byte(tt.doc))
			if (err != nil) != tt.wantErr {
				t.Fatalf("lookupRaw error = %v, want error %v", err, tt.wantErr)
			}
			if ok != tt.wantOK {
				t.Fatalf("lookupRaw ok = %v, want %v", ok, tt.wantOK)
			}
			if diff := cmp.Diff(tt.want, string(got)); diff != "" {
				t.Errorf("lookupRaw mismatch (-want +got):\n%s", diff)
			}
		})
	}
}
