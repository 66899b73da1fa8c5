package integration

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Selection is a compiled selection expression, as in RouteSelectionExpression and
// TemplateSelectionExpression: "$request.body.action", text with "${request.body.a}"
// parts ("${request.body.service}/${request.body.action}"), or a literal ("\$default").
type Selection struct {
	parts   []selectionPart
	useBody bool
}

type selectionPart struct {
	literal string
	path    *Path // nil: literal
}

// CompileSelection compiles a selection expression. Only $request.body paths are
// selectable on WebSocket messages.
func CompileSelection(expr string) (Selection, error) {
	if expr == "" {
		return Selection{}, errors.New("empty selection expression")
	}
	if p, ok := strings.CutPrefix(expr, "$request.body"); ok && !strings.Contains(p, "${") {
		path, err := bodyPath(p)
		if err != nil {
			return Selection{}, fmt.Errorf("selection expression %q: %w", expr, err)
		}
		return Selection{parts: []selectionPart{{path: &path}}, useBody: true}, nil
	}
	var s Selection
	err := scanSelection(expr,
		func(lit string) { s.parts = append(s.parts, selectionPart{literal: lit}) },
		func(inner string) error {
			p, ok := strings.CutPrefix(inner, "request.body")
			if !ok {
				return fmt.Errorf("selection expression %q: ${%s} is not supported (only ${request.body...} is selectable on WebSocket messages)", expr, inner)
			}
			path, err := bodyPath(p)
			if err != nil {
				return fmt.Errorf("selection expression %q: %w", expr, err)
			}
			s.parts = append(s.parts, selectionPart{path: &path})
			s.useBody = true
			return nil
		},
		func(rest string) error {
			return fmt.Errorf("selection expression %q: %q is not supported (use $request.body.<path>, ${request.body.<path>} or \\$ for a literal $)", expr, rest)
		})
	if err != nil {
		return Selection{}, err
	}
	return s, nil
}

// scanSelection reads a selection expression that holds text besides its variables, in
// order: runs of literal text (\$ is a literal $) go to literal, the inside of each
// ${...} to variable; a $ outside ${...} is bare's error. Route, template and
// integration response selection expressions share it and differ in their variables.
func scanSelection(expr string, literal func(string), variable func(inner string) error, bare func(rest string) error) error {
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			literal(lit.String())
			lit.Reset()
		}
	}
	rest := expr
	for rest != "" {
		switch {
		case strings.HasPrefix(rest, `\$`):
			lit.WriteByte('$')
			rest = rest[2:]
		case strings.HasPrefix(rest, "${"):
			end := strings.IndexByte(rest, '}')
			if end < 0 {
				return fmt.Errorf("selection expression %q: unclosed ${", expr)
			}
			flush()
			if err := variable(rest[2:end]); err != nil {
				return err
			}
			rest = rest[end+1:]
		case rest[0] == '$':
			return bare(rest)
		default:
			lit.WriteByte(rest[0])
			rest = rest[1:]
		}
	}
	flush()
	return nil
}

// bodyPath compiles what follows "request.body": "" (the whole body), ".a.b", "[0]".
func bodyPath(p string) (Path, error) {
	if p != "" && p[0] != '.' && p[0] != '[' {
		return Path{}, fmt.Errorf("%q does not continue the body path", p)
	}
	return CompilePath("$" + p)
}

// UsesBody reports whether the expression reads the message body.
func (s Selection) UsesBody() bool { return s.useBody }

// Eval evaluates the expression on a message body already decoded (doc, ok=false when
// the body is not JSON). A missing value, an object, an array or null evaluates to "";
// strings as themselves; numbers and booleans as their JSON text.
func (s Selection) Eval(doc any, isJSON bool) string {
	if len(s.parts) == 1 && s.parts[0].path == nil {
		return s.parts[0].literal
	}
	var b strings.Builder
	for _, p := range s.parts {
		if p.path == nil {
			b.WriteString(p.literal)
			continue
		}
		if !isJSON {
			continue
		}
		v, ok := p.path.Lookup(doc)
		if !ok {
			continue
		}
		b.WriteString(scalarString(v))
	}
	return b.String()
}

// scalarString renders a JSON scalar as route selection and request parameters see it.
func scalarString(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case bool:
		return strconv.FormatBool(v)
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case json.Number:
		return v.String()
	default:
		return ""
	}
}

// DecodeBody decodes a message body for selection and request parameters; ok is false
// when it is not JSON. Like API Gateway, a body is JSON only when it is exactly one JSON
// value, with nothing but white space around it: `{"action":"x"}}` is not JSON, so it
// selects no route by its action (the message goes to $default).
func DecodeBody(body []byte) (doc any, ok bool) {
	doc, err := decodeJSON(body)
	return doc, err == nil
}

// decodeJSON decodes exactly one JSON value (numbers as json.Number); anything but white
// space after it is an error. json.Decoder alone does not check that: More and Token
// both let a stray '}' or ']' after the value through.
func decodeJSON(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if len(bytes.TrimLeft(b[dec.InputOffset():], " \t\r\n")) > 0 {
		return nil, errors.New("data after the JSON value")
	}
	return v, nil
}
