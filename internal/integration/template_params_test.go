package integration

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// connectHeaders and connectQuery are a handshake as the gateway hands it to $connect.
func connectHeaders() map[string][]string {
	return map[string][]string{
		"Host":            {"ws.example.test"},
		"X-Forwarded-For": {"203.0.113.9, 127.0.0.1"},
		"X-Multi":         {"one", "two"},
		"X-Quote":         {`it's "q"`},
		"Room":            {"from-header"},
	}
}

func connectQuery() map[string][]string {
	return map[string][]string{"room": {"lobby"}, "tag": {"a", "b"}, "Host": {"from-query"}, "empty": {""}}
}

func TestRenderInputParams(t *testing.T) {
	tests := []struct {
		name      string
		src       string
		noConnect bool // render as a MESSAGE: no headers, no query
		want      string
	}{
		{name: "query parameter", src: "$input.params('room')", want: "lobby"},
		{name: "last of several values", src: "$input.params('tag') $input.params('X-Multi')", want: "b two"},
		{name: "header in any case", src: "$input.params('x-forwarded-for')|$input.params('HOST')", want: "203.0.113.9, 127.0.0.1|ws.example.test"},
		{name: "query string before header", src: "$input.params('Host') $input.params('host') $input.params('Room')", want: "from-query ws.example.test from-header"},
		{name: "empty value is found", src: "[$input.params('empty')]#if($input.params().querystring.containsKey('empty')) present#end", want: "[] present"},
		{name: "missing is null", src: "[$input.params('nope')]#if($input.params('nope'))y#{else}n#end", want: "[]n"},
		{name: "name from a variable", src: "#set($n = 'room')#set($t = \"t${n}\")$input.params($n) $input.params($t.replace('troom', 'tag'))", want: "lobby b"},
		{name: "map of the three kinds", src: "$input.params().keySet() $input.params().size()", want: "[header, path, querystring] 3"},
		{name: "path is empty on WebSocket", src: "$input.params().path $input.params().path.size()", want: "{} 0"},
		{name: "querystring map", src: "$input.params().querystring", want: "{Host=from-query, empty=, room=lobby, tag=b}"},
		{name: "header map get", src: "$input.params().header.get('Host') $input.params().header.Host [$input.params().header.get('host')]", want: "ws.example.test ws.example.test []"},
		{name: "foreach over a kind", src: "#foreach($k in $input.params().querystring.keySet())$k=$input.params().querystring.get($k);#end", want: "Host=from-query;empty=;room=lobby;tag=b;"},
		{name: "AWS's all-parameters loop", src: "#set($all = $input.params())#foreach($type in $all.keySet())#set($ps = $all.get($type))$type:$ps.size()#if($foreach.hasNext),#end#end", want: "header:5,path:0,querystring:4"},
		{name: "escaped for JSON", src: `{"q":"$util.escapeJavaScript($input.params('X-Quote'))"}`, want: `{"q":"it\'s \"q\""}`},
		{name: "no handshake on a message route", src: "[$input.params('room')] $input.params().header.size() $input.params().querystring", noConnect: true, want: "[] 0 {}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := &TemplateData{Body: []byte(testBody), Context: testContext()}
			if !tt.noConnect {
				d.Headers, d.Query = connectHeaders(), connectQuery()
			}
			got, err := render(t, tt.src, d)
			if err != nil {
				t.Fatalf("Render: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Render mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRenderInputParamsErrors(t *testing.T) {
	d := &TemplateData{Headers: connectHeaders(), Query: connectQuery()}
	_, err := render(t, "\n $input.params($nope)", d)
	var te *TemplateError
	if !errors.As(err, &te) || te.Line != 2 || !strings.Contains(te.Msg, "argument is null") {
		t.Errorf("null name: %v, want a TemplateError at line 2 saying the argument is null", err)
	}

	// Many lookups of a handshake with many headers spend the work budget.
	big := map[string][]string{}
	for i := range 5000 {
		big[strings.Repeat("h", 1+i%50)+string(rune('a'+i%26))+strings.Repeat("x", i/1300)] = []string{"v"}
	}
	_, err = render(t, "#foreach($i in [1..100000])$input.params('nope')#end", &TemplateData{Headers: big})
	if !errors.Is(err, ErrTemplateLimit) || !strings.Contains(err.Error(), "too much work") {
		t.Errorf("100000 header searches: %v, want ErrTemplateLimit for work", err)
	}
}
