package integration

import (
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the want section of testdata/templates golden files")

// testContext is a $context as the gateway builds it for a MESSAGE.
func testContext() map[string]any {
	return map[string]any{
		"connectionId": "R1kmxc2VNjMCFIA=",
		"connectedAt":  int64(1700000000000),
		"eventType":    "MESSAGE",
		"routeKey":     "sendmessage",
		"stage":        "prod",
		"requestId":    "req-1",
		"identity":     map[string]any{"sourceIp": "192.0.2.1", "userAgent": "curl/8"},
		"authorizer":   map[string]any{"principalId": "user-42", "role": "admin", "numKey": "1"},
		"error":        map[string]any{"messageString": `"Forbidden"`},
	}
}

const testBody = `{"action":"sendmessage","data":"hello","n":3,"f":1.5,"ok":true,"none":null,
"list":[1,"two",{"three":3}],"obj":{"b":2,"a":1},"quote":"it's \"q\"","items":[{"id":"a"},{"id":"b"}]}`

func render(t testing.TB, src string, d *TemplateData) (string, error) {
	t.Helper()
	tp, err := ParseTemplate(src)
	if err != nil {
		t.Fatalf("ParseTemplate(%q): %v", src, err)
	}
	out, err := tp.Render(d)
	return string(out), err
}

func TestRenderTemplate(t *testing.T) {
	tests := []struct {
		name  string
		src   string
		body  string // testBody if empty and noBody is false
		empty bool   // render with an empty body
		stage map[string]string
		want  string
	}{
		// text, comments, escapes
		{name: "plain text", src: "hello, world\n", want: "hello, world\n"},
		{name: "empty template", src: "", want: ""},
		{name: "line comment", src: "a ## comment\nb", want: "a b"},
		{name: "line comment alone on its line", src: "a\n  ## comment\nb", want: "a\nb"},
		{name: "line comment at end", src: "a ## comment", want: "a "},
		{name: "block comment", src: "a#* x\ny *#b", want: "ab"},
		{name: "block comment alone on its line", src: "a\n#* x *#\nb", want: "a\nb"},
		{name: "unparsed block", src: "#[[$x #if]]#", want: "$x #if"},
		{name: "escaped dollar", src: `\$context.stage`, want: "$context.stage"},
		{name: "escaped hash", src: `\#if(x)`, want: "#if(x)"},
		{name: "escaped backslash before reference", src: `\\$context.stage`, want: `\prod`},
		{name: "three backslashes", src: `\\\$x`, want: `\$x`},
		{name: "backslashes elsewhere kept", src: `a\nb\\c`, want: `a\nb\\c`},
		{name: "dollar not a reference", src: "cost: $5, ${ $! $", want: "cost: $5, ${ $! $"},
		{name: "hash not a directive", src: "color: #fff; #1 #{x #", want: "color: #fff; #1 #{x #"},
		{name: "unknown word directive is text", src: "#elsewhere #endless", want: "#elsewhere #endless"},

		// references
		{name: "context", src: "$context.connectionId", want: "R1kmxc2VNjMCFIA="},
		{name: "braced", src: "${context.stage}x", want: "prodx"},
		{name: "braced ends reference", src: "${context}.stage", want: "{authorizer={numKey=1, principalId=user-42, role=admin}, connectedAt=1700000000000, connectionId=R1kmxc2VNjMCFIA=, error={messageString=\"Forbidden\"}, eventType=MESSAGE, identity={sourceIp=192.0.2.1, userAgent=curl/8}, requestId=req-1, routeKey=sendmessage, stage=prod}.stage"},
		{name: "nested context", src: "$context.identity.sourceIp $context.authorizer.principalId $context.authorizer.role", want: "192.0.2.1 user-42 admin"},
		{name: "error messageString", src: "$context.error.messageString", want: `"Forbidden"`},
		{name: "number in context", src: "$context.connectedAt", want: "1700000000000"},
		{name: "missing context property is empty", src: "[$context.nope][$context.identity.nope.deeper]", want: "[][]"},
		{name: "undefined variable prints as written", src: "[$nope][${nope}][$nope.x.size()]", want: "[$nope][${nope}][$nope.x.size()]"},
		{name: "quiet undefined", src: "[$!nope][$!{nope}][$!nope.x]", want: "[][][]"},
		{name: "quiet defined", src: "$!context.stage", want: "prod"},
		{name: "trailing dot is text", src: "$context.stage.", want: "prod."},
		{name: "stage variables", src: "$stageVariables.name/${stageVariables.url}", stage: map[string]string{"name": "v1", "url": "http://x"}, want: "v1/http://x"},
		{name: "missing stage variable", src: "[$stageVariables.none]", want: "[]"},
		{name: "stage variables map", src: "$stageVariables", stage: map[string]string{"b": "2", "a": "1"}, want: "{a=1, b=2}"},
		{name: "index into list", src: "#set($l = ['a', 'b'])$l[1] $l[5]|", want: "b |"},
		{name: "index into map", src: "$context['stage'] $context.identity['sourceIp']", want: "prod 192.0.2.1"},
		{name: "reference followed by parenthesis", src: "$context(x)", want: "{authorizer={numKey=1, principalId=user-42, role=admin}, connectedAt=1700000000000, connectionId=R1kmxc2VNjMCFIA=, error={messageString=\"Forbidden\"}, eventType=MESSAGE, identity={sourceIp=192.0.2.1, userAgent=curl/8}, requestId=req-1, routeKey=sendmessage, stage=prod}(x)"},

		// $input
		{name: "input body", src: "$input.body", body: `{"a":1}`, want: `{"a":1}`},
		{name: "input body not json", src: "$input.body", body: "plain text", want: "plain text"},
		{name: "input body empty", src: "$input.body", empty: true, want: "{}"},
		{name: "input json root keeps order and spelling", src: "$input.json('$')", body: ` { "z" : 1.50, "a" : [ 1 ] } `, want: `{"z":1.50,"a":[1]}`},
		{name: "input json string", src: "$input.json('$.data')", want: `"hello"`},
		{name: "input json number", src: "$input.json('$.n')", want: "3"},
		{name: "input json object", src: "$input.json('$.list[2]')", want: `{"three":3}`},
		{name: "input json null", src: "$input.json('$.none')", want: "null"},
		{name: "input json missing", src: "$input.json('$.missing')", want: `""`},
		{name: "input json empty body", src: "$input.json('$')", empty: true, want: "{}"},
		{name: "input json empty body path", src: "$input.json('$.a')", empty: true, want: `""`},
		{name: "input json double-quoted path", src: `$input.json("$.data")`, want: `"hello"`},
		{name: "input json path from variable", src: "#set($p = '$.n')$input.json($p)", want: "3"},
		{name: "input json twice", src: "$input.json('$.n')$input.json('$.n')$input.json('$.data')", want: `33"hello"`},
		{name: "input json relative path", src: "$input.json('data')", want: `"hello"`},
		{name: "input path string", src: "$input.path('$.data')", want: "hello"},
		{name: "input path number", src: "$input.path('$.n') $input.path('$.f')", want: "3 1.5"},
		{name: "input path bool", src: "$input.path('$.ok')", want: "true"},
		{name: "input path object prints like a Java map", src: "$input.path('$.obj')", want: "{a=1, b=2}"},
		{name: "input path list prints as JSON", src: "$input.path('$.list')", want: `[1,"two",{"three":3}]`},
		{name: "input path missing", src: "[$input.path('$.missing')]", want: "[]"},
		{name: "input path property", src: "$input.path('$.obj').b $input.path('$').items[1].id", want: "2 b"},
		{name: "input path size", src: "$input.path('$.list').size() $input.path('$.obj').size() $input.path('$.data').length()", want: "3 2 5"},
		{name: "input path in condition", src: "#if($input.path('$.action') == 'sendmessage')yes#end", want: "yes"},
		{name: "input path foreach", src: "#foreach($it in $input.path('$.items'))$it.id#end", want: "ab"},
		{name: "input path keySet", src: "#foreach($k in $input.path('$.obj').keySet())$k=$input.path('$.obj').get($k);#end", want: "a=1;b=2;"},

		// $util
		{name: "escapeJavaScript", src: `$util.escapeJavaScript($input.path('$.quote'))`, want: `it\'s \"q\"`},
		{name: "escapeJavaScript controls and unicode", src: "$util.escapeJavaScript(\"a/b\\\tc\u00e9\u20ac\U0001F600\")", want: `a\/b\\\tc\u00E9\u20AC\uD83D\uDE00`},
		{name: "escapeJavaScript control char", src: "$util.escapeJavaScript(\"\x01\n\r\b\f\")", want: `\u0001\n\r\b\f`},
		{name: "escapeJavaScript of json", src: `"$util.escapeJavaScript($input.json('$.obj'))"`, want: `"{\"b\":2,\"a\":1}"`},
		{name: "escapeJavaScript fix for JSON", src: `$util.escapeJavaScript("it's").replaceAll("\\'", "'")`, want: `it's`},
		{name: "base64Encode", src: "$util.base64Encode('hello world')", want: "aGVsbG8gd29ybGQ="},
		{name: "base64Decode", src: "$util.base64Decode('aGVsbG8gd29ybGQ=') $util.base64Decode('aGk')", want: "hello world hi"},
		{name: "base64 of body", src: "$util.base64Encode($input.body)", body: `{"a":1}`, want: "eyJhIjoxfQ=="},
		{name: "urlEncode", src: "$util.urlEncode('a b&c=d/é*-_.~')", want: "a+b%26c%3Dd%2F%C3%A9*-_.%7E"},
		{name: "urlDecode", src: "$util.urlDecode('a+b%26c%3Dd%2F%C3%A9')", want: "a b&c=d/é"},
		{name: "parseJson", src: `#set($o = $util.parseJson($input.path('$.data').replace('hello', '{"k":[1,2]}')))$o.k.size() $o.k`, want: "2 [1,2]"},
		{name: "parseJson of body", src: "#set($b = $util.parseJson($input.body))$b.action", want: "sendmessage"},
		{name: "util of null", src: "[$util.escapeJavaScript($nope)]", want: "[]"},
		{name: "util of number", src: "$util.base64Encode(12)", want: "MTI="},

		// #set
		{name: "set string", src: "#set($x = 'a')$x", want: "a"},
		{name: "set braced", src: "#set(${x} = 1)${x}", want: "1"},
		{name: "set spaces", src: "#set ( $x = 1 )$x", want: "1"},
		{name: "set interpolated", src: `#set($x = "id=$context.connectionId, $nope, $!nope.")$x`, want: "id=R1kmxc2VNjMCFIA=, $nope, ."},
		{name: "set doubled quotes", src: `#set($x = "say ""hi"" it''s")#set($y = 'it''s')$x $y`, want: `say "hi" it''s it's`},
		{name: "set null keeps old value", src: "#set($x = 'a')#set($x = $input.path('$.missing'))$x", want: "a"},
		{name: "set number and bool", src: "#set($n = 2)#set($b = true)#set($f = 2.5)#set($z = null)$n $b $f [$z]", want: "2 true 2.5 [$z]"},
		{name: "set list and map", src: "#set($l = [1, 'a', true, [2]])#set($m = {'k': 'v', 'n': 1})$l $m $m.k $l.size()", want: "[1, a, true, [2]] {k=v, n=1} v 4"},
		{name: "set empty list and map", src: "#set($l = [])#set($m = {})$l $m $l.isEmpty() $m.isEmpty()", want: "[] {} true true"},
		{name: "set gobbles its line", src: "{\n  #set($x = 1)\n  \"x\": $x\n}", want: "{\n  \"x\": 1\n}"},
		{name: "set from reference chain", src: "#set($ip = $context.identity.sourceIp)$ip", want: "192.0.2.1"},
		{name: "set does not gobble inline", src: "a #set($x = 1) b", want: "a  b"},

		// #if
		{name: "if true", src: "#if(true)y#end", want: "y"},
		{name: "if false else", src: "#if(false)y#{else}n#end", want: "n"},
		{name: "elseif", src: "#set($n = 2)#if($n == 1)one#elseif($n == 2)two#elseif($n == 2)again#{else}other#end", want: "two"},
		{name: "elseif falls to else", src: "#if(false)a#elseif(false)b#else c#end", want: " c"},
		{name: "braced directives", src: "#{if}(true)x#{end}y", want: "xy"},
		{name: "if undefined is false", src: "#if($nope)y#{else}n#end", want: "n"},
		{name: "if empty string is true (Velocity 1.7)", src: "#if('')y#{else}n#end", want: "y"},
		{name: "if null path is false", src: "#if($input.path('$.missing'))y#{else}n#end", want: "n"},
		{name: "if JSON null is false", src: "#if($input.path('$.none'))y#{else}n#end", want: "n"},
		{name: "if gobbles lines", src: "a\n#if(true)\n  b\n#else\n  c\n#end\nd\n", want: "a\n  b\nd\n"},
		{name: "nested if", src: "#if(true)#if(false)a#{else}b#end#end", want: "b"},
		{name: "if multiline condition", src: "#if(\n  true &&\n  1 < 2\n)y#end", want: "y"},

		// operators
		{name: "equality", src: "#if(1 == 1 && 'a' == 'a' && 'a' != 'b' && 1 == 1.0 && 1 == '1' && true == 'true')y#end", want: "y"},
		{name: "null equality", src: "#if($nope == $nope2 && $nope != 'x' && !($nope == 'x'))y#end", want: "y"},
		{name: "relational", src: "#if(1 < 2 && 2 <= 2 && 3 > 2 && 3 >= 3 && 'a' < 'b' && 1.5 > 1)y#end", want: "y"},
		{name: "relational words", src: "#if(1 lt 2 and 2 le 2 and 3 gt 2 and 3 ge 3 and 1 eq 1 and 1 ne 2)y#end", want: "y"},
		{name: "incomparable is false", src: "#if('a' < 1 || 1 < $nope)y#{else}n#end", want: "n"},
		{name: "not and or words", src: "#if(not false and (false or true))y#end", want: "y"},
		{name: "bang", src: "#if(!false && !!true && !$nope)y#end", want: "y"},
		{name: "short circuit", src: "#if(false && $x.get(1))a#{else}b#end#if(true || $x.get(1))c#end", want: "bc"},
		{name: "number from body compares", src: "#if($input.path('$.n') > 2 && $input.path('$.n') == 3)y#end", want: "y"},
		{name: "arithmetic", src: "#set($a = 7)#set($b = 2)${a}+${b}: #set($r = $a + $b)$r #set($r = $a - $b)$r #set($r = $a * $b)$r #set($r = $a / $b)$r #set($r = $a % $b)$r #set($r = -$a)$r", want: "7+2: 9 5 14 3 1 -7"},
		{name: "float arithmetic", src: "#set($r = 1.5 * 2)$r #set($r = 1 / 2.0)$r #set($r = 2 - 0.5)$r", want: "3.0 0.5 1.5"},
		{name: "precedence", src: "#set($r = 1 + 2 * 3 - (4 - 2) / 2)$r", want: "6"},
		{name: "division by zero is null", src: "#set($r = 1)#set($r = 1 / 0)$r", want: "1"},
		{name: "string concatenation", src: "#set($s = 'a' + 1 + 'b')$s", want: "a1b"},
		{name: "negative literal", src: "#set($n = -3)$n", want: "-3"},
		{name: "overflow goes float", src: "#set($n = 9223372036854775807 + 1)$n", want: "9.223372036854776E18"},

		// #foreach
		{name: "foreach list", src: "#foreach($x in ['a', 'b', 'c'])$x#if($foreach.hasNext),#end#end", want: "a,b,c"},
		{name: "foreach range", src: "#foreach($i in [1..3])$i#end #foreach($i in [3..1])$i#end", want: "123 321"},
		{name: "foreach count index first last", src: "#foreach($x in ['a', 'b'])$foreach.index/$foreach.count/$foreach.first/$foreach.last/$velocityCount/$velocityHasNext #end", want: "0/1/true/false/1/true 1/2/false/true/2/false "},
		{name: "foreach over map values", src: "#foreach($v in {'b': 2, 'a': 1})$v#end", want: "12"},
		{name: "foreach over null", src: "#foreach($x in $nope)x#end.", want: "."},
		{name: "foreach over string", src: "#foreach($x in 'abc')x#end.", want: "."},
		{name: "foreach restores variable", src: "#set($x = 'outer')#foreach($x in [1, 2])$x#end $x", want: "12 outer"},
		{name: "foreach variable gone after", src: "#foreach($y in [1])#end$y", want: "$y"},
		{name: "nested foreach", src: "#foreach($a in [1, 2])#foreach($b in ['x', 'y'])$a$b$foreach.count #end$foreach.count;#end", want: "1x1 1y2 1;2x1 2y2 2;"},
		{name: "foreach json array", src: "[#foreach($it in $input.path('$.list'))$it#if($foreach.hasNext),#end#end]", want: `[1,two,{three=3}]`},
		{name: "foreach with null item", src: "#foreach($x in $util.parseJson('[1,null,3]'))[$!x]#end", want: "[1][][3]"},
		{name: "foreach gobbles lines", src: "[\n#foreach($i in [1..2])\n  $i\n#end\n]", want: "[\n  1\n  2\n]"},

		// methods
		{name: "string methods", src: "#set($s = ' Hello ')$s.length() $s.trim() $s.toLowerCase()$s.toUpperCase() $s.contains('ell') $s.startsWith(' H') $s.endsWith('x') $s.indexOf('l') $s.isEmpty()", want: "7 Hello  hello  HELLO  true true false 3 false"},
		{name: "string equals", src: "$context.stage.equals('prod') $context.stage.equalsIgnoreCase('PROD') $context.stage.equals('x')", want: "true true false"},
		{name: "substring", src: "#set($s = 'héllo')$s.substring(1) $s.substring(1, 3)", want: "éllo él"},
		{name: "replace", src: "$context.stage.replace('o', '0')", want: "pr0d"},
		{name: "replaceAll groups", src: "#set($s = 'a1b22')$s.replaceAll('([0-9]+)', '<$1>') $s.replaceAll('[0-9]', '\\$')", want: "a<1>b<22> a$b$$"},
		{name: "list methods", src: "#set($l = [1, 'a'])$l.size() $l.get(0) $l.contains('a') $l.contains(2) $l.isEmpty()", want: "2 1 true false false"},
		{name: "map methods", src: "$context.identity.containsKey('sourceIp') $context.identity.get('sourceIp') $context.identity.keySet() $context.identity.size()", want: "true 192.0.2.1 [sourceIp, userAgent] 2"},
		{name: "stage variables methods", src: "$stageVariables.keySet() $stageVariables.get('a') $stageVariables.containsKey('b')", stage: map[string]string{"a": "1"}, want: "[a] 1 false"},
		{name: "method on null is null", src: "[$input.path('$.missing').size()]", want: "[]"},
		{name: "toString", src: "$input.path('$.n').toString() $input.path('$.list').toString()", want: `3 [1,"two",{"three":3}]`},

		// AWS examples
		{name: "aws websocket template", src: `{"connectionId":"$context.connectionId","body":$input.json('$')}`, body: `{"action":"sendmessage","data":"hi"}`, want: `{"connectionId":"R1kmxc2VNjMCFIA=","body":{"action":"sendmessage","data":"hi"}}`},
		{name: "aws context example", src: "{\n  \"stage\" : \"$context.stage\",\n  \"request_id\" : \"$context.requestId\",\n  \"source_ip\" : \"$context.identity.sourceIp\",\n  \"user-agent\" : \"$context.identity.userAgent\"\n}", want: "{\n  \"stage\" : \"prod\",\n  \"request_id\" : \"req-1\",\n  \"source_ip\" : \"192.0.2.1\",\n  \"user-agent\" : \"curl/8\"\n}"},
		{name: "aws authorizer context", src: `{"principal":"$context.authorizer.principalId","num":"$context.authorizer.numKey"}`, want: `{"principal":"user-42","num":"1"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := []byte(testBody)
			switch {
			case tt.empty:
				body = nil
			case tt.body != "":
				body = []byte(tt.body)
			}
			got, err := render(t, tt.src, &TemplateData{Body: body, Context: testContext(), StageVariables: tt.stage})
			if err != nil {
				t.Fatalf("Render: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Render mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseTemplateErrors(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want string // the whole error
	}{
		{name: "macro", src: "a\nb\n#macro(x)#end", want: "template: unsupported directive #macro at 3:1"},
		{name: "define", src: "#define($x)a#end", want: "template: unsupported directive #define at 1:1"},
		{name: "include", src: "  #include('x')", want: "template: unsupported directive #include at 1:3"},
		{name: "parse", src: "#parse('x')", want: "template: unsupported directive #parse at 1:1"},
		{name: "evaluate", src: "#evaluate('x')", want: "template: unsupported directive #evaluate at 1:1"},
		{name: "stop", src: "#stop", want: "template: unsupported directive #stop at 1:1"},
		{name: "break", src: "#foreach($x in [1])#break#end", want: "template: unsupported directive #break at 1:20"},
		{name: "end without block", src: "a#end", want: "template: #end without an open #if or #foreach at 1:2"},
		{name: "else without if", src: "#else", want: "template: #else without an open #if or #foreach at 1:1"},
		{name: "elseif without if", src: "#elseif(true)", want: "template: #elseif without an open #if or #foreach at 1:1"},
		{name: "if without end", src: "#if(true)a", want: "template: #if without #end at 1:1"},
		{name: "if else without end", src: "#if(true)a#{else}b", want: "template: #if without #end at 1:1"},
		{name: "elseif after else", src: "#if(true)#else#elseif(true)#end", want: "template: #elseif after #else at 1:15"},
		{name: "else after else", src: "#if(true)#else#else#end", want: "template: #else after #else at 1:15"},
		{name: "foreach without end", src: "#foreach($x in [1])", want: "template: #foreach without #end at 1:1"},
		{name: "else in foreach", src: "#foreach($x in [1])#else#end", want: "template: unsupported: #else inside #foreach (only #if has #elseif/#else) at 1:20"},
		{name: "if without condition", src: "#if true", want: "template: #if needs a condition in parentheses at 1:1"},
		{name: "if unclosed", src: "#if($a", want: `template: expected ")" to close #if, found end of template at 1:7`},
		{name: "if junk", src: "#if($a $b)#end", want: `template: expected ")" to close #if, found '$' at 1:8`},
		{name: "set without parens", src: "#set $x = 1", want: "template: #set needs ($variable = value) at 1:1"},
		{name: "set without variable", src: "#set(x = 1)", want: "template: #set needs a $variable at 1:6"},
		{name: "set without equals", src: "#set($x 1)", want: `template: expected "=" in #set, found '1' at 1:9`},
		{name: "set property", src: "#set($x.y = 1)", want: "template: unsupported: #set of a property or index; only a plain $variable at 1:8"},
		{name: "set reserved", src: "#set($context = 1)", want: "template: cannot assign to the built-in $context at 1:6"},
		{name: "set input", src: "#set($input = 1)", want: "template: cannot assign to the built-in $input at 1:6"},
		{name: "set unclosed brace", src: "#set(${x = 1)", want: "template: unclosed ${ in #set at 1:6"},
		{name: "set missing value", src: "#set($x = )", want: `template: unexpected ')' in expression at 1:11`},
		{name: "foreach without in", src: "#foreach($x of [1])#end", want: `template: expected "in" in #foreach at 1:13`},
		{name: "foreach reserved", src: "#foreach($util in [1])#end", want: "template: cannot assign to the built-in $util at 1:10"},
		{name: "foreach without parens", src: "#foreach", want: "template: #foreach needs ($item in list) at 1:1"},
		{name: "unclosed block comment", src: "a #* b", want: "template: unclosed comment #* at 1:3"},
		{name: "unclosed unparsed", src: "#[[ b", want: "template: unclosed unparsed block #[[ at 1:1"},
		{name: "unclosed braced reference", src: "x ${a.b", want: "template: unclosed ${ at 1:3"},
		{name: "unclosed string", src: "#set($x = 'abc)", want: "template: unclosed string literal at 1:11"},
		{name: "unclosed double string", src: `#set($x = "abc)`, want: "template: unclosed string literal at 1:11"},
		{name: "unclosed call", src: "$context.stage.equals('a'", want: `template: expected ")" to close the argument list, found end of template at 1:26`},
		{name: "unclosed index", src: "$l[1", want: `template: expected "]" to close the index, found end of template at 1:5`},
		{name: "unclosed list", src: "#set($l = [1, 2)", want: `template: expected "]" to close the list, found ')' at 1:16`},
		{name: "unclosed map", src: "#set($m = {'a': 1)", want: `template: expected "}" to close the map, found ')' at 1:18`},
		{name: "map without colon", src: "#set($m = {'a' 1})", want: `template: expected ":" in the map, found '1' at 1:16`},
		{name: "bare word", src: "#if(foo)#end", want: `template: unexpected word "foo" (variables start with $) at 1:5`},
		{name: "dollar without name in expression", src: "#if($)#end", want: "template: expected a reference after $ at 1:5"},
		{name: "bad character", src: "#if(@)#end", want: `template: unexpected '@' in expression at 1:5`},
		{name: "bad number", src: "#set($n = 99999999999999999999)", want: `template: bad number "99999999999999999999" at 1:11`},
		{name: "input params two arguments", src: "$input.params('a', 'b')", want: "template: $input.params takes no argument or one parameter name at 1:7"},
		{name: "input params not called", src: "$input.params.header", want: "template: $input.params is a method: $input.params() or $input.params('name') at 1:7"},
		{name: "input bodyBytes", src: "$input.bodyBytes", want: "template: unsupported: $input.bodyBytes (WebSocket templates see only $input.body, $input.json, $input.path and $input.params) at 1:7"},
		{name: "input other", src: "x\n  $input.headers", want: "template: unsupported: $input.headers (supported: $input.body, $input.json(path), $input.path(path), $input.params(), $input.params(name)) at 2:9"},
		{name: "input bare", src: "$input", want: "template: $input must be followed by .body, .json(path), .path(path) or .params() at 1:1"},
		{name: "input json no args", src: "$input.json()", want: "template: $input.json takes one JSON path argument at 1:7"},
		{name: "input json number", src: "$input.json(1)", want: "template: $input.json takes a JSON path string at 1:7"},
		{name: "input json wildcard", src: "$input.json('$.a[*]')", want: `template: $input.json: json path "$.a[*]": unsupported: wildcard ([*]) at offset 3 at 1:7`},
		{name: "input path filter", src: "$input.path('$.a[?(@.b)]')", want: `template: $input.path: json path "$.a[?(@.b)]": unsupported: filter or script expression at offset 3 at 1:7`},
		{name: "util unknown", src: "$util.toJson($x)", want: "template: unsupported: $util.toJson (supported: escapeJavaScript, base64Encode, base64Decode, urlEncode, urlDecode, parseJson) at 1:6"},
		{name: "util bare", src: "$util", want: "template: unsupported: $util. (supported: escapeJavaScript, base64Encode, base64Decode, urlEncode, urlDecode, parseJson) at 1:1"},
		{name: "util property", src: "$util.escapeJavaScript", want: "template: unsupported: $util.escapeJavaScript (supported: escapeJavaScript, base64Encode, base64Decode, urlEncode, urlDecode, parseJson) at 1:6"},
		{name: "util arity", src: "$util.urlEncode('a', 'b')", want: "template: $util.urlEncode takes one argument at 1:6"},
		{name: "unknown method", src: "$context.stage.matches('x')", want: "template: unsupported method .matches() at 1:15"},
		{name: "property called like a method", src: "$context.stage(x)", want: "template: unsupported method .stage() at 1:9"},
		{name: "unknown method in expression", src: "#if($x.put('a', 1))#end", want: "template: unsupported method .put() at 1:7"},
		{name: "unknown method in string", src: `#set($s = "$x.foo()")`, want: "template: unsupported method .foo() at 1:14"},
		{name: "too deep parens", src: "#if(" + strings.Repeat("(", 200) + "true" + strings.Repeat(")", 200) + ")#end", want: "template: nesting deeper than 100 at 1:105"},
		{name: "too deep blocks", src: strings.Repeat("#if(true)", 200), want: "template: nesting deeper than 100 at 1:905"},
		{name: "too deep not", src: "#if(" + strings.Repeat("!", 200) + "true)#end", want: "template: nesting deeper than 100 at 1:104"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tp, err := ParseTemplate(tt.src)
			if err == nil {
				t.Fatalf("ParseTemplate(%q) = %v, want error %q", tt.src, tp, tt.want)
			}
			if diff := cmp.Diff(tt.want, err.Error()); diff != "" {
				t.Errorf("error mismatch (-want +got):\n%s", diff)
			}
			var te *TemplateError
			if !errors.As(err, &te) {
				t.Errorf("error %T is not a *TemplateError", err)
			}
		})
	}
}

func TestRenderErrors(t *testing.T) {
	tests := []struct {
		name  string
		src   string
		body  string
		want  string // the whole error
		limit bool   // errors.Is(err, ErrTemplateLimit)
	}{
		{name: "json of non-JSON body", src: "$input.json('$')", body: "hello", want: "template: $input: message body is not JSON: invalid character 'h' looking for beginning of value at 1:7"},
		{name: "path of non-JSON body", src: "\n $input.path('$.a')", body: "{", want: "template: $input: message body is not JSON: unexpected EOF at 2:8"},
		{name: "body with trailing data", src: "$input.path('$')", body: "{} {}", want: "template: $input: message body is not JSON: data after the JSON value at 1:7"},
		{name: "body with a stray closing brace", src: "$input.path('$.action')", body: `{"action":"x"}}`, want: "template: $input: message body is not JSON: data after the JSON value at 1:7"},
		{name: "body with a stray closing bracket", src: "$input.json('$')", body: "[1]]", want: "template: $input: message body is not JSON: data after the JSON value at 1:7"},
		{name: "parseJson with trailing data", src: `$util.parseJson('{"a":1}}')`, want: "template: $util.parseJson: data after the JSON value at 1:6"},
		{name: "runtime bad path", src: "#set($p = '$..a')$input.json($p)", body: "{}", want: `template: $input.json: json path "$..a": unsupported: recursive descent (..) at offset 1 at 1:24`},
		{name: "runtime path not string", src: "#set($p = 1)$input.path($p)", body: "{}", want: "template: $input.path takes a JSON path string, got a number at 1:19"},
		{name: "bad base64", src: "$util.base64Decode('***')", want: "template: $util.base64Decode: illegal base64 data at input byte 0 at 1:6"},
		{name: "bad url escape", src: "$util.urlDecode('%zz')", want: `template: $util.urlDecode: invalid URL escape "%zz" at 1:6`},
		{name: "bad parseJson", src: "$util.parseJson('{')", want: "template: $util.parseJson: unexpected EOF at 1:6"},
		{name: "method on wrong type", src: "#set($n = 1)$n.length()", want: "template: method .length() is not defined for a number at 1:15"},
		{name: "keySet on string", src: "$context.stage.keySet()", want: "template: method .keySet() is not defined for a string at 1:15"},
		{name: "contains on map", src: "$context.identity.contains('a')", want: "template: method .contains() is not defined for a map at 1:18"},
		{name: "method arity", src: "$context.stage.contains()", want: "template: .contains() takes 1 argument(s), got 0 at 1:15"},
		{name: "substring arity", src: "$context.stage.substring()", want: "template: .substring() takes 1 or 2 arguments, got 0 at 1:15"},
		{name: "substring range", src: "$context.stage.substring(2, 9)", want: "template: .substring(2, 9) out of range for length 4 at 1:15"},
		{name: "substring type", src: "$context.stage.substring('a')", want: "template: .substring() takes integers, got a string at 1:15"},
		{name: "null argument", src: "$context.stage.contains($nope)", want: "template: .contains() argument is null at 1:15"},
		{name: "bad regex", src: "$context.stage.replaceAll('(', '')", want: "template: .replaceAll(): error parsing regexp: missing closing ): `(` at 1:15"},
		{name: "long regex", src: "$context.stage.replaceAll('" + strings.Repeat("a", 1001) + "', '')", want: "template: .replaceAll() pattern longer than 1000 bytes at 1:15"},
		{name: "list index type", src: "#set($l = [1])$l['a']", want: "template: list index must be an integer, got a string at 1:17"},
		{name: "arithmetic on list", src: "#set($x = [1] - 1)", want: "template: cannot apply - to a list and a number at 1:15"},
		{name: "negate string", src: "#set($x = -'a')", want: "template: cannot negate a string at 1:11"},
		{name: "range of strings", src: "#foreach($i in ['a'..2])#end", want: "template: range [a..b] needs integers, got a string and a number at 1:16"},

		{name: "range too long", src: "#foreach($i in [1..100001])#end", want: "template: range longer than 100000 at 1:16", limit: true},
		{name: "too many iterations", src: "#foreach($i in [1..100000])#foreach($j in [1..2])#end#end", want: "template: more than 100000 #foreach iterations at 1:28", limit: true},
		{name: "output too large", src: "#foreach($i in [1..2000])" + strings.Repeat("x", 1000) + "#end", want: "template: output larger than 1048576 bytes at 1:1", limit: true},
		{name: "string doubling", src: "#set($s = 'xxxxxxxxxxxxxxxx')#foreach($i in [1..30])#set($s = \"$s$s\")#end", want: "template: string longer than 1048576 bytes at 1:66", limit: true},
		{name: "concat doubling", src: "#set($s = 'xxxxxxxxxxxxxxxx')#foreach($i in [1..30])#set($s = $s + $s)#end", want: "template: string longer than 1048576 bytes at 1:66", limit: true},
		{name: "list doubling printed", src: "#set($l = ['xxxxxxxx'])#foreach($i in [1..30])#set($l = [$l, $l])#end$l", want: "template: value longer than 1048576 bytes when printed at 1:70", limit: true},
		{name: "replace blowup", src: "#set($s = 'aaaaaaaaaaaaaaaa')#foreach($i in [1..10])#set($s = $s.replace('a', 'aaaa'))#end", want: "template: string longer than 1048576 bytes at 1:65", limit: true},
		{name: "replaceAll blowup", src: "#set($s = 'aaaaaaaaaaaaaaaa')#foreach($i in [1..10])#set($s = $s.replaceAll('a', 'aaaa'))#end", want: "template: string longer than 1048576 bytes at 1:65", limit: true},
		{name: "work budget", src: "#set($s = 'x')#foreach($i in [1..16])#set($s = \"$s$s\")#end#foreach($i in [1..100000])#set($t = $s.toUpperCase())#end", want: "template: rendering takes too much work at 1:98", limit: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := []byte(tt.body)
			if tt.body == "" {
				body = []byte(testBody)
			}
			got, err := render(t, tt.src, &TemplateData{Body: body, Context: testContext()})
			if err == nil {
				t.Fatalf("Render = %q, want error %q", got, tt.want)
			}
			if diff := cmp.Diff(tt.want, err.Error()); diff != "" {
				t.Errorf("error mismatch (-want +got):\n%s", diff)
			}
			if got := errors.Is(err, ErrTemplateLimit); got != tt.limit {
				t.Errorf("errors.Is(err, ErrTemplateLimit) = %v, want %v", got, tt.limit)
			}
		})
	}
}

func TestRenderNilData(t *testing.T) {
	got, err := render(t, "[$context.stage][$stageVariables.x][$input.body][$input.json('$')]", nil)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff("[][][{}][{}]", got); diff != "" {
		t.Errorf("Render mismatch (-want +got):\n%s", diff)
	}
}

// TestRenderConcurrent renders one template from many goroutines (run with -race) and
// checks that rendering does not change the caller's maps.
func TestRenderConcurrent(t *testing.T) {
	tp, err := ParseTemplate("#set($x = $context.stage)#foreach($k in $context.identity.keySet())$k#end$x$input.json('$.a')")
	if err != nil {
		t.Fatal(err)
	}
	ctx := testContext()
	done := make(chan error)
	for range 8 {
		go func() {
			out, err := tp.Render(&TemplateData{Body: []byte(`{"a":1}`), Context: ctx})
			if err == nil && string(out) != "sourceIpuserAgentprod1" {
				err = errors.New("got " + string(out))
			}
			done <- err
		}()
	}
	for range 8 {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
	if diff := cmp.Diff(testContext(), ctx); diff != "" {
		t.Errorf("context changed (-want +got):\n%s", diff)
	}
}

func TestEscapeJavaScript(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{name: "plain", in: "abc 123", want: "abc 123"},
		{name: "quotes", in: `'"`, want: `\'\"`},
		{name: "slashes", in: `/\`, want: `\/\\`},
		{name: "controls", in: "\b\t\n\f\r\x00\x1f", want: `\b\t\n\f\r\u0000\u001F`},
		{name: "latin1", in: "é\u00ff", want: `\u00E9\u00FF`},
		{name: "bmp", in: "\u0100€", want: `\u0100\u20AC`},
		{name: "astral", in: "😀", want: `\uD83D\uDE00`},
		{name: "del", in: "\x7f", want: "\x7f"},
		{name: "invalid utf8", in: "\xff", want: `\uFFFD`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, escapeJavaScript(tt.in)); diff != "" {
				t.Errorf("escapeJavaScript(%q) mismatch (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestFormatFloat(t *testing.T) {
	tests := []struct {
		in   float64
		want string
	}{
		{0, "0.0"}, {2, "2.0"}, {1.5, "1.5"}, {-0.25, "-0.25"}, {1e7, "1.0E7"}, {1.25e10, "1.25E10"},
		{1e-4, "1.0E-4"}, {0.001, "0.001"},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, formatFloat(tt.in)); diff != "" {
			t.Errorf("formatFloat(%v) mismatch (-want +got):\n%s", tt.in, diff)
		}
	}
}

// Golden files in testdata/templates hold a template, its input and the expected output in
// sections:
//
//	-- template --
//	-- body --           (optional)
//	-- context --        (optional JSON; defaults to testContext)
//	-- stageVariables -- (optional JSON)
//	-- want --
//
// Run with -update to rewrite the want sections.
func TestTemplateGolden(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "templates", "*.vtl"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no golden files")
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			raw, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			sections, order := parseGolden(t, string(raw))
			d := &TemplateData{Body: []byte(sections["body"]), Context: testContext()}
			if c, ok := sections["context"]; ok {
				d.Context = nil
				if err := json.Unmarshal([]byte(c), &d.Context); err != nil {
					t.Fatalf("context: %v", err)
				}
			}
			if s, ok := sections["stageVariables"]; ok {
				if err := json.Unmarshal([]byte(s), &d.StageVariables); err != nil {
					t.Fatalf("stageVariables: %v", err)
				}
			}
			for name, m := range map[string]*map[string][]string{"headers": &d.Headers, "query": &d.Query} {
				if s, ok := sections[name]; ok {
					if err := json.Unmarshal([]byte(s), m); err != nil {
						t.Fatalf("%s: %v", name, err)
					}
				}
			}
			got, err := render(t, sections["template"], d)
			if err != nil {
				got = "error: " + err.Error() + "\n"
			}
			if *update {
				sections["want"] = got
				if !strings.Contains(strings.Join(order, " "), "want") {
					order = append(order, "want")
				}
				var b strings.Builder
				for _, name := range order {
					b.WriteString("-- " + name + " --\n" + sections[name])
				}
				if err := os.WriteFile(file, []byte(b.String()), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if diff := cmp.Diff(sections["want"], got); diff != "" {
				t.Errorf("%s mismatch (-want +got):\n%s", file, diff)
			}
		})
	}
}

func parseGolden(t testing.TB, s string) (map[string]string, []string) {
	t.Helper()
	sections := map[string]string{}
	var order []string
	name := ""
	for line := range strings.Lines(s) {
		if strings.HasPrefix(line, "-- ") && strings.HasSuffix(line, " --\n") {
			name = strings.TrimSuffix(strings.TrimPrefix(line, "-- "), " --\n")
			order = append(order, name)
			sections[name] = ""
			continue
		}
		if name == "" {
			t.Fatalf("text before the first section: %q", line)
		}
		sections[name] += line
	}
	return sections, order
}
