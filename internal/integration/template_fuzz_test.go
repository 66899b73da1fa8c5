package integration

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fuzzBody is the message every fuzzed template is rendered with.
const fuzzBody = `{"action":"send","data":{"to":["a","b"],"n":1.5,"s":"it's"},"list":[1,2,3],"none":null}`

var templateSeeds = []string{
	`{"connectionId":"$context.connectionId","body":$input.json('$')}`,
	`{"stage":"$context.stage","ip":"$context.identity.sourceIp","p":"$context.authorizer.principalId"}`,
	"#set($x = $input.path('$.data'))\n#foreach($t in $x.to)\n  \"$t\"#if($foreach.hasNext),#end\n#end",
	"#if($input.path('$.action') == 'send')a#elseif($x > 1 && !$y || not $z)b#{else}c#end",
	`$util.escapeJavaScript($input.body).replaceAll("\\'", "'") $util.base64Encode($input.json('$.data'))`,
	`$util.urlEncode('a b') $util.urlDecode('a+b') $util.base64Decode('YQ==') $util.parseJson('{"a":[1]}').a`,
	"## comment\n#* block *# #[[raw $x]]# \\$escaped \\#if $!quiet ${braced} $undefined",
	"#set($l = [1, 'two', [3], {'k': 'v'}])#set($r = [1..5])$l $r $l.size() $l.get(0) $l[1]",
	`#set($s = "interp $context.stage ""q""")#set($n = 7 % 3 + 2 * -1 / 1.5)$s $n`,
	"#foreach($i in [1..3])#foreach($j in $input.path('$.list'))$i$j $velocityCount#end#end",
	`$context.stage.substring(1, 2).toUpperCase().replace('R', 'r').length() $stageVariables.keySet()`,
	"#set($all = $input.params())#foreach($type in $all.keySet())$type={#foreach($k in $all.get($type).keySet())$k=$all.get($type).get($k)#end}#end",
	"$input.params('room') $input.params('Host') [$input.params('nope')] $input.params().path.size() $input.params().querystring.room",
	"$input.params('a', 'b')", "$input.params", "$input.params($undefined)",
	"#macro(x)#end",
	"#if(",
	"${",
}

func FuzzParseTemplate(f *testing.F) {
	for _, s := range templateSeeds {
		f.Add(s)
	}
	if files, err := filepath.Glob(filepath.Join("testdata", "templates", "*.vtl")); err == nil {
		for _, file := range files {
			raw, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			sections, _ := parseGolden(f, string(raw))
			f.Add(sections["template"])
		}
	}
	data := &TemplateData{
		Body:           []byte(fuzzBody),
		Context:        testContext(),
		StageVariables: map[string]string{"a": "1"},
		Headers:        connectHeaders(),
		Query:          connectQuery(),
	}
	f.Fuzz(func(t *testing.T, src string) {
		tp, err := ParseTemplate(src)
		if err != nil {
			var te *TemplateError
			if !errors.As(err, &te) {
				t.Fatalf("ParseTemplate(%q) error %T is not a *TemplateError: %v", src, err, err)
			}
			return
		}
		start := time.Now()
		out, err := tp.Render(data)
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("Render(%q) took %v", src, d)
		}
		if err != nil {
			if strings.Contains(err.Error(), "internal error") {
				t.Fatalf("Render(%q): %v", src, err)
			}
			return
		}
		if len(out) > MaxTemplateOutput {
			t.Fatalf("Render(%q) output is %d bytes, over the limit", src, len(out))
		}
	})
}

func FuzzCompilePath(f *testing.F) {
	for _, s := range []string{
		"$", "$.action", "$.data.to[1]", "$['a b'].c", `$["x"]`, "a.b", "[0]", ".a",
		"$..a", "$.a[*]", "$.a[?(@.b)]", "$.a[0:1]", "$.a[-1]", "$['it\\'s']", "$.$connect",
	} {
		f.Add(s)
	}
	var doc any
	if err := json.Unmarshal([]byte(fuzzBody), &doc); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, expr string) {
		p, err := CompilePath(expr)
		if err != nil {
			return
		}
		again, err := CompilePath(p.String())
		if err != nil {
			t.Fatalf("CompilePath(%q).String() = %q does not compile: %v", expr, p.String(), err)
		}
		if again.String() != p.String() {
			t.Fatalf("String() not stable: %q then %q", p.String(), again.String())
		}
		v, ok := p.Lookup(doc)
		raw, rawOK, err := p.lookupRaw([]byte(fuzzBody))
		if err != nil {
			t.Fatalf("lookupRaw(%q): %v", expr, err)
		}
		if ok != rawOK {
			t.Fatalf("Lookup(%q) ok = %v but lookupRaw ok = %v", expr, ok, rawOK)
		}
		if ok {
			var fromRaw any
			if err := json.Unmarshal(raw, &fromRaw); err != nil {
				t.Fatalf("lookupRaw(%q) = %q is not JSON: %v", expr, raw, err)
			}
			a, _ := json.Marshal(v)
			b, _ := json.Marshal(fromRaw)
			if string(a) != string(b) {
				t.Fatalf("Lookup(%q) = %s but lookupRaw = %s", expr, a, b)
			}
		}
	})
}
