package integration

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
)

// maxPathSteps bounds how many steps a compiled path may have, so that looking one up stays
// cheap whatever the template or configuration says.
const maxPathSteps = 64

// Path is a compiled JSON path in the subset API Gateway uses for $input.json, $input.path,
// route selection expressions and request parameters: the root "$", child names ("$.a.b"
// or "$['a b']") and array indexes ("$.a[0]"). The zero Path is "$", the whole document.
type Path struct {
	steps []pathStep
}

// pathStep is one child name or one array index.
type pathStep struct {
	name    string
	index   int
	isIndex bool
}

// CompilePath compiles a JSON path such as "$", "$.a.b", "$.a[0].b" or "$['a b']". A path
// without the leading "$" ("a.b") is relative to the root. Filters, wildcards, slices, unions
// and recursive descent are reported as unsupported.
func CompilePath(expr string) (Path, error) {
	c := pathCompiler{src: expr}
	steps, err := c.compile()
	if err != nil {
		return Path{}, fmt.Errorf("json path %q: %w", expr, err)
	}
	return Path{steps: steps}, nil
}

// errUnsupportedPath marks path syntax that JSONPath has but wsgate does not implement.
var errUnsupportedPath = errors.New("unsupported")

type pathCompiler struct {
	src string
	pos int
}

func (c *pathCompiler) compile() ([]pathStep, error) {
	s := c.src
	if strings.TrimSpace(s) == "" {
		return nil, errors.New("empty path")
	}
	if s != strings.TrimSpace(s) {
		return nil, errors.New("leading or trailing space")
	}
	var steps []pathStep
	switch {
	case s[0] == '$':
		c.pos = 1
	case s[0] == '@':
		return nil, fmt.Errorf("%w: current-node @ paths", errUnsupportedPath)
	case s[0] == '.' || s[0] == '[':
		// Relative to the root, e.g. ".a" or "[0]".
	default:
		// "a.b": the first name has no leading dot.
		name, err := c.name()
		if err != nil {
			return nil, err
		}
		steps = append(steps, pathStep{name: name})
	}
	for c.pos < len(s) {
		if len(steps) >= maxPathSteps {
			return nil, fmt.Errorf("more than %d steps", maxPathSteps)
		}
		switch s[c.pos] {
		case '.':
			c.pos++
			if c.pos < len(s) && s[c.pos] == '.' {
				return nil, fmt.Errorf("%w: recursive descent (..) at offset %d", errUnsupportedPath, c.pos-1)
			}
			name, err := c.name()
			if err != nil {
				return nil, err
			}
			steps = append(steps, pathStep{name: name})
		case '[':
			st, err := c.bracket()
			if err != nil {
				return nil, err
			}
			steps = append(steps, st)
		default:
			return nil, fmt.Errorf("unexpected %q at offset %d", s[c.pos], c.pos)
		}
	}
	return steps, nil
}

// name reads a dot-notation child name: everything up to the next '.' or '['.
func (c *pathCompiler) name() (string, error) {
	start := c.pos
	for c.pos < len(c.src) && c.src[c.pos] != '.' && c.src[c.pos] != '[' {
		switch ch := c.src[c.pos]; {
		case ch == '*':
			return "", fmt.Errorf("%w: wildcard (*) at offset %d", errUnsupportedPath, c.pos)
		case ch == ']' || ch == '\'' || ch == '"' || ch == '(' || ch == ')' || ch == '?' || ch == '@':
			return "", fmt.Errorf("unexpected %q at offset %d", ch, c.pos)
		case ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r':
			return "", fmt.Errorf("unexpected space at offset %d (use ['a b'] for names with spaces)", c.pos)
		}
		c.pos++
	}
	if c.pos == start {
		return "", fmt.Errorf("missing name at offset %d", start)
	}
	return c.src[start:c.pos], nil
}

// bracket reads "[0]", "['name']" or "[\"name\"]".
func (c *pathCompiler) bracket() (pathStep, error) {
	open := c.pos
	c.pos++ // '['
	if c.pos >= len(c.src) {
		return pathStep{}, fmt.Errorf("unclosed [ at offset %d", open)
	}
	switch ch := c.src[c.pos]; {
	case ch == '\'' || ch == '"':
		name, err := c.quoted(ch)
		if err != nil {
			return pathStep{}, err
		}
		if c.pos < len(c.src) && c.src[c.pos] == ',' {
			return pathStep{}, fmt.Errorf("%w: union ([a,b]) at offset %d", errUnsupportedPath, open)
		}
		if c.pos >= len(c.src) || c.src[c.pos] != ']' {
			return pathStep{}, fmt.Errorf("unclosed [ at offset %d", open)
		}
		c.pos++
		return pathStep{name: name}, nil
	case ch == '*':
		return pathStep{}, fmt.Errorf("%w: wildcard ([*]) at offset %d", errUnsupportedPath, open)
	case ch == '?' || ch == '(':
		return pathStep{}, fmt.Errorf("%w: filter or script expression at offset %d", errUnsupportedPath, open)
	case ch >= '0' && ch <= '9' || ch == '-':
		start := c.pos
		for c.pos < len(c.src) && c.src[c.pos] != ']' {
			c.pos++
		}
		if c.pos >= len(c.src) {
			return pathStep{}, fmt.Errorf("unclosed [ at offset %d", open)
		}
		num := c.src[start:c.pos]
		c.pos++ // ']'
		if strings.ContainsAny(num, ":,") {
			return pathStep{}, fmt.Errorf("%w: slice or union ([%s]) at offset %d", errUnsupportedPath, num, open)
		}
		if strings.HasPrefix(num, "-") {
			return pathStep{}, fmt.Errorf("%w: negative index [%s] at offset %d", errUnsupportedPath, num, open)
		}
		n, err := strconv.Atoi(num)
		if err != nil || n < 0 {
			return pathStep{}, fmt.Errorf("bad index [%s] at offset %d", num, open)
		}
		return pathStep{index: n, isIndex: true}, nil
	default:
		return pathStep{}, fmt.Errorf("unexpected %q after [ at offset %d", ch, c.pos)
	}
}

// quoted reads a quoted name; a backslash escapes the next character.
func (c *pathCompiler) quoted(q byte) (string, error) {
	open := c.pos
	c.pos++
	var b strings.Builder
	for c.pos < len(c.src) {
		ch := c.src[c.pos]
		switch {
		case ch == '\\' && c.pos+1 < len(c.src):
			b.WriteByte(c.src[c.pos+1])
			c.pos += 2
		case ch == q:
			c.pos++
			return b.String(), nil
		default:
			b.WriteByte(ch)
			c.pos++
		}
	}
	return "", fmt.Errorf("unclosed quote at offset %d", open)
}

// Lookup returns the value at p in doc, the result of json.Unmarshal into an any
// (map[string]any, []any, float64 or json.Number, string, bool, nil), and whether it exists.
// A present JSON null is returned as (nil, true).
func (p Path) Lookup(doc any) (any, bool) {
	cur := doc
	for _, st := range p.steps {
		if st.isIndex {
			list, ok := cur.([]any)
			if !ok || st.index >= len(list) {
				return nil, false
			}
			cur = list[st.index]
			continue
		}
		switch m := cur.(type) {
		case map[string]any:
			v, ok := m[st.name]
			if !ok {
				return nil, false
			}
			cur = v
		case map[string]string:
			v, ok := m[st.name]
			if !ok {
				return nil, false
			}
			cur = v
		default:
			return nil, false
		}
	}
	return cur, true
}

// lookupRaw returns the compact JSON text of the value at p in the JSON document raw,
// keeping the document's key order and number spelling. It fails if raw is not JSON.
func (p Path) lookupRaw(raw []byte) ([]byte, bool, error) {
	if !json.Valid(raw) {
		return nil, false, errors.New("not valid JSON")
	}
	cur := json.RawMessage(raw)
	for _, st := range p.steps {
		if st.isIndex {
			var list []json.RawMessage
			if json.Unmarshal(cur, &list) != nil || st.index >= len(list) {
				return nil, false, nil
			}
			cur = list[st.index]
			continue
		}
		var m map[string]json.RawMessage
		if json.Unmarshal(cur, &m) != nil {
			return nil, false, nil
		}
		v, ok := m[st.name]
		if !ok {
			return nil, false, nil
		}
		cur = v
	}
	var out bytes.Buffer
	if err := json.Compact(&out, cur); err != nil {
		return nil, false, err
	}
	return out.Bytes(), true, nil
}

// String returns the path in canonical form: "$", then ".name" for plain names,
// "['name']" for others, and "[n]" for indexes.
func (p Path) String() string {
	var b strings.Builder
	b.WriteByte('$')
	for _, st := range p.steps {
		switch {
		case st.isIndex:
			b.WriteByte('[')
			b.WriteString(strconv.Itoa(st.index))
			b.WriteByte(']')
		case plainPathName(st.name):
			b.WriteByte('.')
			b.WriteString(st.name)
		default:
			b.WriteString("['")
			b.WriteString(strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(st.name))
			b.WriteString("']")
		}
	}
	return b.String()
}

// plainPathName reports whether name can be written after a dot and read back unchanged.
func plainPathName(name string) bool {
	if name == "" {
		return false
	}
	for _, r := range name {
		switch r {
		case '.', '[', ']', '\'', '"', '*', '(', ')', '?', '@':
			return false
		}
		if unicode.IsSpace(r) { // any space TrimSpace would take off the end of "$.name"
			return false
		}
	}
	return true
}
