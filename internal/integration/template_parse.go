package integration

// The template parser: source text to nodes and expressions, checked at parse time.

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ParseTemplate parses a request template. Errors carry the line:column and say what is
// unsupported.
func ParseTemplate(src string) (*Template, error) {
	p := &parser{src: src, end: len(src)}
	nodes, term, err := p.parseNodes()
	if err != nil {
		return nil, err
	}
	if term.name != "" {
		return nil, p.errorf(term.at, "#%s without an open #if or #foreach", term.name)
	}
	return &Template{src: src, nodes: nodes}, nil
}

type parser struct {
	src      string
	pos, end int
	depth    int
	inString bool // parsing a double-quoted string: only references and escapes
}

// closer is the directive that ended a block: #elseif (with its condition), #else or #end.
type closer struct {
	name string
	at   int
	cond expr
}

var reservedNames = map[string]bool{"input": true, "util": true, "context": true, "stageVariables": true, "foreach": true}

// unsupportedDirectives are Velocity directives wsgate refuses; any other #word is text.
var unsupportedDirectives = map[string]bool{
	"macro": true, "define": true, "include": true, "parse": true, "evaluate": true,
	"stop": true, "break": true,
}

// knownMethods are the methods a template may call on values; see callMethod.
var knownMethods = map[string]bool{
	"length": true, "size": true, "isEmpty": true, "contains": true, "containsKey": true,
	"get": true, "keySet": true, "equals": true, "equalsIgnoreCase": true, "toString": true,
	"trim": true, "toLowerCase": true, "toUpperCase": true, "startsWith": true, "endsWith": true,
	"replace": true, "replaceAll": true, "substring": true, "indexOf": true,
}

var utilFuncs = map[string]bool{
	"escapeJavaScript": true, "base64Encode": true, "base64Decode": true,
	"urlEncode": true, "urlDecode": true, "parseJson": true,
}

func (p *parser) errorf(at int, format string, args ...any) *TemplateError {
	line, col := lineCol(p.src, at)
	return &TemplateError{Line: line, Col: col, Msg: fmt.Sprintf(format, args...)}
}

func lineCol(src string, at int) (int, int) {
	at = min(max(at, 0), len(src))
	before := src[:at]
	line := 1 + strings.Count(before, "\n")
	col := 1 + utf8.RuneCountInString(before[strings.LastIndexByte(before, '\n')+1:])
	return line, col
}

func (p *parser) enter(at int) error {
	p.depth++
	if p.depth > maxTemplateDepth {
		return p.errorf(at, "nesting deeper than %d", maxTemplateDepth)
	}
	return nil
}

func (p *parser) leave() { p.depth-- }

func isIdentStart(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' }

func isIdentChar(c byte) bool { return isIdentStart(c) || c >= '0' && c <= '9' }

// ident reads an identifier at p.pos, or returns "".
func (p *parser) ident() string {
	start := p.pos
	if p.pos >= p.end || !isIdentStart(p.src[p.pos]) {
		return ""
	}
	for p.pos < p.end && isIdentChar(p.src[p.pos]) {
		p.pos++
	}
	return p.src[start:p.pos]
}

// parseNodes parses text, references and directives up to the end of input or a closing
// directive (#elseif, #else, #end), which it consumes and returns.
func (p *parser) parseNodes() ([]node, closer, error) {
	var nodes []node
	var buf []byte
	flush := func() {
		if len(buf) > 0 {
			nodes = append(nodes, &textNode{text: string(buf)})
			buf = nil
		}
	}
	for p.pos < p.end {
		c := p.src[p.pos]
		switch {
		case c == '\\':
			n := 0
			for p.pos+n < p.end && p.src[p.pos+n] == '\\' {
				n++
			}
			next := byte(0)
			if p.pos+n < p.end {
				next = p.src[p.pos+n]
			}
			if next != '$' && (next != '#' || p.inString) {
				buf = append(buf, p.src[p.pos:p.pos+n]...)
				p.pos += n
				continue
			}
			// A run of backslashes before $ or #: each pair prints one backslash; an odd
			// one out escapes the $ or #.
			buf = append(buf, strings.Repeat(`\`, n/2)...)
			p.pos += n
			if n%2 == 1 {
				buf = append(buf, next)
				p.pos++
			}
		case c == '$':
			ref, ok, err := p.parseRef(false)
			if err != nil {
				return nil, closer{}, err
			}
			if !ok {
				buf = append(buf, '$')
				p.pos++
				continue
			}
			flush()
			nodes = append(nodes, &refNode{ref: ref})
		case c == '#' && !p.inString:
			n, cl, handled, err := p.parseHash(&buf)
			if err != nil {
				return nil, closer{}, err
			}
			if !handled {
				buf = append(buf, '#')
				p.pos++
				continue
			}
			if cl.name != "" {
				flush()
				return nodes, cl, nil
			}
			if n != nil {
				flush()
				nodes = append(nodes, n)
			}
		default:
			// Copy plain text up to the next special character.
			i := p.pos + 1
			for i < p.end && p.src[i] != '\\' && p.src[i] != '$' && p.src[i] != '#' {
				i++
			}
			buf = append(buf, p.src[p.pos:i]...)
			p.pos = i
		}
	}
	flush()
	return nodes, closer{}, nil
}

// lineOnlyBefore reports whether only spaces and tabs precede at on its line.
func (p *parser) lineOnlyBefore(at int) bool {
	for i := at - 1; i >= 0; i-- {
		switch p.src[i] {
		case ' ', '\t':
		case '\n':
			return true
		default:
			return false
		}
	}
	return true
}

// restOfLine returns the position after the newline ending the line at pos, if only spaces
// and tabs come before it (or the end of input), or -1.
func (p *parser) restOfLine(pos int) int {
	for i := pos; i < p.end; i++ {
		switch p.src[i] {
		case ' ', '\t', '\r':
		case '\n':
			return i + 1
		default:
			return -1
		}
	}
	return p.end
}

// gobble removes the indentation before a directive at `at` that ends at p.pos and the
// newline after it, when the directive is alone on its line (Velocity 2's "lines" mode), so
// that directives do not leave blank lines in the output.
func (p *parser) gobble(at int, buf *[]byte) {
	if !p.lineOnlyBefore(at) {
		return
	}
	after := p.restOfLine(p.pos)
	if after < 0 {
		return
	}
	*buf = bytes.TrimRight(*buf, " \t")
	p.pos = after
}

// parseHash parses what starts with '#' at p.pos: a comment, an unparsed block, or a
// directive. handled is false when the '#' is plain text.
func (p *parser) parseHash(buf *[]byte) (n node, cl closer, handled bool, err error) {
	at := p.pos
	rest := p.src[at:p.end]
	switch {
	case strings.HasPrefix(rest, "##"):
		nl := strings.IndexByte(rest, '\n')
		if nl < 0 {
			p.pos = p.end
		} else {
			p.pos = at + nl + 1
		}
		if p.lineOnlyBefore(at) {
			*buf = bytes.TrimRight(*buf, " \t")
		}
		return nil, closer{}, true, nil
	case strings.HasPrefix(rest, "#*"):
		end := strings.Index(rest[2:], "*#")
		if end < 0 {
			return nil, closer{}, false, p.errorf(at, "unclosed comment #*")
		}
		p.pos = at + 2 + end + 2
		p.gobble(at, buf)
		return nil, closer{}, true, nil
	case strings.HasPrefix(rest, "#[["):
		end := strings.Index(rest[3:], "]]#")
		if end < 0 {
			return nil, closer{}, false, p.errorf(at, "unclosed unparsed block #[[")
		}
		*buf = append(*buf, rest[3:3+end]...)
		p.pos = at + 3 + end + 3
		return nil, closer{}, true, nil
	}

	// #name or #{name}
	p.pos = at + 1
	braced := p.pos < p.end && p.src[p.pos] == '{'
	if braced {
		p.pos++
	}
	name := p.ident()
	if name == "" || braced && (p.pos >= p.end || p.src[p.pos] != '}') {
		p.pos = at
		return nil, closer{}, false, nil
	}
	if braced {
		p.pos++
	}
	switch name {
	case "set":
		n, err = p.parseSet(at)
		if err != nil {
			return nil, closer{}, false, err
		}
		p.gobble(at, buf)
		return n, closer{}, true, nil
	case "if":
		cond, err := p.parseCondition(at, name)
		if err != nil {
			return nil, closer{}, false, err
		}
		p.gobble(at, buf)
		n, err = p.parseIf(at, cond)
		return n, closer{}, err == nil, err
	case "foreach":
		n, err = p.parseForeach(at, buf)
		return n, closer{}, err == nil, err
	case "elseif":
		cond, err := p.parseCondition(at, name)
		if err != nil {
			return nil, closer{}, false, err
		}
		p.gobble(at, buf)
		return nil, closer{name: name, at: at, cond: cond}, true, nil
	case "else", "end":
		p.gobble(at, buf)
		return nil, closer{name: name, at: at}, true, nil
	}
	if unsupportedDirectives[name] {
		return nil, closer{}, false, p.errorf(at, "unsupported directive #%s", name)
	}
	// Not a directive: Velocity prints unknown #words (CSS colours, anchors) as text.
	p.pos = at
	return nil, closer{}, false, nil
}

// skipSpace skips whitespace inside a directive's or call's parentheses.
func (p *parser) skipSpace() {
	for p.pos < p.end {
		switch p.src[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

// skipBlank skips spaces and tabs between a directive's name and its '('.
func (p *parser) skipBlank() {
	for p.pos < p.end && (p.src[p.pos] == ' ' || p.src[p.pos] == '\t') {
		p.pos++
	}
}

func (p *parser) expect(s, what string) error {
	p.skipSpace()
	if !strings.HasPrefix(p.src[p.pos:p.end], s) {
		if p.pos >= p.end {
			return p.errorf(p.pos, "expected %q %s, found end of template", s, what)
		}
		r, _ := utf8.DecodeRuneInString(p.src[p.pos:p.end])
		return p.errorf(p.pos, "expected %q %s, found %q", s, what, r)
	}
	p.pos += len(s)
	return nil
}

func (p *parser) parseCondition(at int, name string) (expr, error) {
	p.skipBlank()
	if p.pos >= p.end || p.src[p.pos] != '(' {
		return nil, p.errorf(at, "#%s needs a condition in parentheses", name)
	}
	p.pos++
	p.skipSpace()
	cond, err := p.parseExpr()
	if err != nil {
		return nil, err
	}
	if err := p.expect(")", "to close #"+name); err != nil {
		return nil, err
	}
	return cond, nil
}

// parseVarName reads "$name" or "${name}" for #set and #foreach.
func (p *parser) parseVarName(directive string) (string, error) {
	p.skipSpace()
	at := p.pos
	if p.pos >= p.end || p.src[p.pos] != '$' {
		return "", p.errorf(at, "#%s needs a $variable", directive)
	}
	p.pos++
	braced := p.pos < p.end && p.src[p.pos] == '{'
	if braced {
		p.pos++
	}
	name := p.ident()
	if name == "" {
		return "", p.errorf(at, "#%s needs a $variable", directive)
	}
	if braced {
		if p.pos >= p.end || p.src[p.pos] != '}' {
			return "", p.errorf(at, "unclosed ${ in #%s", directive)
		}
		p.pos++
	}
	if p.pos < p.end && (p.src[p.pos] == '.' || p.src[p.pos] == '[') {
		return "", p.errorf(p.pos, "unsupported: #%s of a property or index; only a plain $variable", directive)
	}
	if reservedNames[name] {
		return "", p.errorf(at, "cannot assign to the built-in $%s", name)
	}
	return name, nil
}

func (p *parser) parseSet(at int) (node, error) {
	p.skipBlank()
	if p.pos >= p.end || p.src[p.pos] != '(' {
		return nil, p.errorf(at, "#set needs ($variable = value)")
	}
	p.pos++
	name, err := p.parseVarName("set")
	if err != nil {
		return nil, err
	}
	if err := p.expect("=", "in #set"); err != nil {
		return nil, err
	}
	p.skipSpace()
	value, err := p.parseExpr()
	if err != nil {
		return nil, err
	}
	if err := p.expect(")", "to close #set"); err != nil {
		return nil, err
	}
	return &setNode{at: at, name: name, value: value}, nil
}

func (p *parser) parseIf(at int, cond expr) (node, error) {
	if err := p.enter(at); err != nil {
		return nil, err
	}
	defer p.leave()
	n := &ifNode{}
	for {
		body, cl, err := p.parseNodes()
		if err != nil {
			return nil, err
		}
		n.conds = append(n.conds, cond)
		n.bodies = append(n.bodies, body)
		switch cl.name {
		case "":
			return nil, p.errorf(at, "#if without #end")
		case "end":
			return n, nil
		case "elseif":
			cond = cl.cond
			continue
		case "else":
			body, cl2, err := p.parseNodes()
			if err != nil {
				return nil, err
			}
			switch cl2.name {
			case "end":
				n.elseBody = body
				return n, nil
			case "":
				return nil, p.errorf(at, "#if without #end")
			default:
				return nil, p.errorf(cl2.at, "#%s after #else", cl2.name)
			}
		}
	}
}

func (p *parser) parseForeach(at int, buf *[]byte) (node, error) {
	p.skipBlank()
	if p.pos >= p.end || p.src[p.pos] != '(' {
		return nil, p.errorf(at, "#foreach needs ($item in list)")
	}
	p.pos++
	name, err := p.parseVarName("foreach")
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	if in := p.pos; p.ident() != "in" {
		return nil, p.errorf(in, "expected \"in\" in #foreach")
	}
	p.skipSpace()
	list, err := p.parseExpr()
	if err != nil {
		return nil, err
	}
	if err := p.expect(")", "to close #foreach"); err != nil {
		return nil, err
	}
	p.gobble(at, buf)
	if err := p.enter(at); err != nil {
		return nil, err
	}
	defer p.leave()
	body, cl, err := p.parseNodes()
	if err != nil {
		return nil, err
	}
	switch cl.name {
	case "end":
		return &foreachNode{at: at, varName: name, list: list, body: body}, nil
	case "":
		return nil, p.errorf(at, "#foreach without #end")
	default:
		return nil, p.errorf(cl.at, "unsupported: #%s inside #foreach (only #if has #elseif/#else)", cl.name)
	}
}

// parseRef parses a reference at p.pos ('$'). ok is false when the '$' does not start one
// (then p.pos is unchanged and the '$' is text).
func (p *parser) parseRef(inExpr bool) (*refExpr, bool, error) {
	at := p.pos
	p.pos++
	ref := &refExpr{at: at}
	if p.pos < p.end && p.src[p.pos] == '!' {
		ref.quiet = true
		p.pos++
	}
	braced := p.pos < p.end && p.src[p.pos] == '{'
	if braced {
		p.pos++
	}
	ref.name = p.ident()
	if ref.name == "" {
		p.pos = at
		if inExpr {
			return nil, false, p.errorf(at, "expected a reference after $")
		}
		return nil, false, nil
	}
	if err := p.enter(at); err != nil {
		return nil, false, err
	}
	defer p.leave()
	for p.pos < p.end {
		c := p.src[p.pos]
		if c == '.' && p.pos+1 < p.end && isIdentStart(p.src[p.pos+1]) {
			seg := segment{at: p.pos}
			p.pos++
			seg.name = p.ident()
			if p.pos < p.end && p.src[p.pos] == '(' {
				first := len(ref.segs) == 0 && (ref.name == "input" || ref.name == "util")
				if !first && !knownMethods[seg.name] {
					return nil, false, p.errorf(seg.at, "unsupported method .%s()", seg.name)
				}
				seg.call = true
				p.pos++
				args, err := p.parseArgs(")")
				if err != nil {
					return nil, false, err
				}
				seg.args = args
			}
			ref.segs = append(ref.segs, seg)
			continue
		}
		if c == '[' {
			seg := segment{at: p.pos}
			p.pos++
			p.skipSpace()
			idx, err := p.parseExpr()
			if err != nil {
				return nil, false, err
			}
			if err := p.expect("]", "to close the index"); err != nil {
				return nil, false, err
			}
			seg.index = idx
			ref.segs = append(ref.segs, seg)
			continue
		}
		break
	}
	if braced {
		if p.pos >= p.end || p.src[p.pos] != '}' {
			return nil, false, p.errorf(at, "unclosed ${")
		}
		p.pos++
	}
	ref.raw = p.src[at:p.pos]
	if err := p.checkRef(ref); err != nil {
		return nil, false, err
	}
	return ref, true, nil
}

// parseArgs parses comma-separated expressions up to close.
func (p *parser) parseArgs(close string) ([]expr, error) {
	var args []expr
	p.skipSpace()
	if strings.HasPrefix(p.src[p.pos:p.end], close) {
		p.pos += len(close)
		return args, nil
	}
	for {
		p.skipSpace()
		a, err := p.parseExpr()
		if err != nil {
			return nil, err
		}
		args = append(args, a)
		p.skipSpace()
		if p.pos < p.end && p.src[p.pos] == ',' {
			p.pos++
			continue
		}
		if err := p.expect(close, "to close the argument list"); err != nil {
			return nil, err
		}
		return args, nil
	}
}

// checkRef rejects, at parse time, what $input and $util do not support and methods no
// value has.
func (p *parser) checkRef(ref *refExpr) error {
	segs := ref.segs
	switch ref.name {
	case "input":
		if len(segs) == 0 || segs[0].index != nil {
			return p.errorf(ref.at, "$input must be followed by .body, .json(path), .path(path) or .params()")
		}
		s := &segs[0]
		switch {
		case s.name == "body" && !s.call:
		case (s.name == "json" || s.name == "path") && s.call:
			if len(s.args) != 1 {
				return p.errorf(s.at, "$input.%s takes one JSON path argument", s.name)
			}
			if lit, ok := s.args[0].(*litExpr); ok {
				str, ok := lit.v.(string)
				if !ok {
					return p.errorf(s.at, "$input.%s takes a JSON path string", s.name)
				}
				path, err := CompilePath(str)
				if err != nil {
					return p.errorf(s.at, "$input.%s: %v", s.name, err)
				}
				s.path = &path
			}
		case s.name == "params" && s.call:
			if len(s.args) > 1 {
				return p.errorf(s.at, "$input.params takes no argument or one parameter name")
			}
		case s.name == "params":
			return p.errorf(s.at, "$input.params is a method: $input.params() or $input.params('name')")
		case s.name == "bodyBytes":
			return p.errorf(s.at, "unsupported: $input.bodyBytes (WebSocket templates see only $input.body, $input.json, $input.path and $input.params)")
		default:
			return p.errorf(s.at, "unsupported: $input.%s (supported: $input.body, $input.json(path), $input.path(path), $input.params(), $input.params(name))", s.name)
		}
		segs = segs[1:]
	case "util":
		if len(segs) == 0 || !segs[0].call || !utilFuncs[segs[0].name] {
			at, name := ref.at, ""
			if len(segs) > 0 {
				at, name = segs[0].at, segs[0].name
			}
			return p.errorf(at, "unsupported: $util.%s (supported: escapeJavaScript, base64Encode, base64Decode, urlEncode, urlDecode, parseJson)", name)
		}
		if len(segs[0].args) != 1 {
			return p.errorf(segs[0].at, "$util.%s takes one argument", segs[0].name)
		}
		segs = segs[1:]
	}
	for _, s := range segs {
		if s.call && !knownMethods[s.name] {
			return p.errorf(s.at, "unsupported method .%s()", s.name)
		}
	}
	return nil
}

// Expressions, lowest precedence first: || or, && and, == != eq ne, < <= > >= lt le gt ge,
// + -, * / %, unary ! not -, primary.

func (p *parser) parseExpr() (expr, error) {
	if err := p.enter(p.pos); err != nil {
		return nil, err
	}
	defer p.leave()
	return p.parseBinary(0)
}

var binaryLevels = [][]struct{ tok, op string }{
	{{"||", "||"}, {"or", "||"}},
	{{"&&", "&&"}, {"and", "&&"}},
	{{"==", "=="}, {"!=", "!="}, {"eq", "=="}, {"ne", "!="}},
	{{"<=", "<="}, {">=", ">="}, {"<", "<"}, {">", ">"}, {"le", "<="}, {"ge", ">="}, {"lt", "<"}, {"gt", ">"}},
	{{"+", "+"}, {"-", "-"}},
	{{"*", "*"}, {"/", "/"}, {"%", "%"}},
}

// matchOp consumes tok at p.pos if present; a word operator must be a whole word.
func (p *parser) matchOp(tok string) bool {
	if !strings.HasPrefix(p.src[p.pos:p.end], tok) {
		return false
	}
	after := p.pos + len(tok)
	if isIdentStart(tok[0]) && after < p.end && isIdentChar(p.src[after]) {
		return false
	}
	if tok == "=" || tok == "<" || tok == ">" || tok == "!" {
		// not part of ==, <=, >=, !=
		if after < p.end && p.src[after] == '=' {
			return false
		}
	}
	p.pos = after
	return true
}

func (p *parser) parseBinary(level int) (expr, error) {
	if level == len(binaryLevels) {
		return p.parseUnary()
	}
	l, err := p.parseBinary(level + 1)
	if err != nil {
		return nil, err
	}
	for {
		p.skipSpace()
		at := p.pos
		op := ""
		for _, o := range binaryLevels[level] {
			if p.matchOp(o.tok) {
				op = o.op
				break
			}
		}
		if op == "" {
			return l, nil
		}
		p.skipSpace()
		r, err := p.parseBinary(level + 1)
		if err != nil {
			return nil, err
		}
		l = &binaryExpr{at: at, op: op, l: l, r: r}
	}
}

func (p *parser) parseUnary() (expr, error) {
	p.skipSpace()
	at := p.pos
	op := ""
	switch {
	case p.matchOp("!"), p.matchOp("not"):
		op = "!"
	case p.pos < p.end && p.src[p.pos] == '-' && !(p.pos+1 < p.end && p.src[p.pos+1] >= '0' && p.src[p.pos+1] <= '9'):
		p.pos++
		op = "-"
	}
	if op == "" {
		return p.parsePrimary()
	}
	if err := p.enter(at); err != nil {
		return nil, err
	}
	defer p.leave()
	x, err := p.parseUnary()
	if err != nil {
		return nil, err
	}
	return &unaryExpr{at: at, op: op, x: x}, nil
}

func (p *parser) parsePrimary() (expr, error) {
	p.skipSpace()
	at := p.pos
	if p.pos >= p.end {
		return nil, p.errorf(at, "expected a value, found end of template")
	}
	c := p.src[p.pos]
	switch {
	case c == '(':
		p.pos++
		p.skipSpace()
		x, err := p.parseExpr()
		if err != nil {
			return nil, err
		}
		if err := p.expect(")", "to close the parenthesis"); err != nil {
			return nil, err
		}
		return x, nil
	case c == '$':
		ref, _, err := p.parseRef(true)
		if err != nil {
			return nil, err
		}
		return ref, nil
	case c == '\'':
		s, err := p.quoted('\'')
		if err != nil {
			return nil, err
		}
		return &litExpr{v: s}, nil
	case c == '"':
		return p.parseInterp()
	case c >= '0' && c <= '9' || c == '-':
		return p.parseNumber()
	case c == '[':
		return p.parseList()
	case c == '{':
		return p.parseMap()
	case isIdentStart(c):
		switch w := p.ident(); w {
		case "true":
			return &litExpr{v: true}, nil
		case "false":
			return &litExpr{v: false}, nil
		case "null":
			return &litExpr{v: nil}, nil
		default:
			return nil, p.errorf(at, "unexpected word %q (variables start with $)", w)
		}
	}
	r, _ := utf8.DecodeRuneInString(p.src[p.pos:p.end])
	return nil, p.errorf(at, "unexpected %q in expression", r)
}

// quoted reads a string literal; a doubled quote stands for one. Backslashes are kept as
// they are, as in Velocity.
func (p *parser) quoted(q byte) (string, error) {
	at := p.pos
	p.pos++
	var b strings.Builder
	for p.pos < p.end {
		c := p.src[p.pos]
		if c == q {
			if p.pos+1 < p.end && p.src[p.pos+1] == q {
				b.WriteByte(q)
				p.pos += 2
				continue
			}
			p.pos++
			return b.String(), nil
		}
		b.WriteByte(c)
		p.pos++
	}
	return "", p.errorf(at, "unclosed string literal")
}

// parseInterp parses a double-quoted string, interpolating references in it.
func (p *parser) parseInterp() (expr, error) {
	at := p.pos
	// Find the closing quote first: a reference inside cannot contain one.
	i := p.pos + 1
	for {
		if i >= p.end {
			return nil, p.errorf(at, "unclosed string literal")
		}
		if p.src[i] == '"' {
			if i+1 < p.end && p.src[i+1] == '"' {
				i += 2
				continue
			}
			break
		}
		i++
	}
	sub := &parser{src: p.src, pos: p.pos + 1, end: i, depth: p.depth, inString: true}
	parts, _, err := sub.parseNodes()
	if err != nil {
		return nil, err
	}
	p.pos = i + 1
	for _, part := range parts {
		if t, ok := part.(*textNode); ok {
			t.text = strings.ReplaceAll(t.text, `""`, `"`)
		}
	}
	if len(parts) == 0 {
		return &litExpr{v: ""}, nil
	}
	if t, ok := parts[0].(*textNode); ok && len(parts) == 1 {
		return &litExpr{v: t.text}, nil
	}
	return &interpExpr{parts: parts}, nil
}

func (p *parser) parseNumber() (expr, error) {
	at := p.pos
	if p.src[p.pos] == '-' {
		p.pos++
	}
	digits := func() {
		for p.pos < p.end && p.src[p.pos] >= '0' && p.src[p.pos] <= '9' {
			p.pos++
		}
	}
	digits()
	isFloat := false
	// "1.5" is a float; "1..3" is a range.
	if p.pos+1 < p.end && p.src[p.pos] == '.' && p.src[p.pos+1] >= '0' && p.src[p.pos+1] <= '9' {
		isFloat = true
		p.pos++
		digits()
	}
	text := p.src[at:p.pos]
	if isFloat {
		f, err := strconv.ParseFloat(text, 64)
		if err != nil {
			return nil, p.errorf(at, "bad number %q", text)
		}
		return &litExpr{v: f}, nil
	}
	n, err := strconv.ParseInt(text, 10, 64)
	if err != nil {
		return nil, p.errorf(at, "bad number %q", text)
	}
	return &litExpr{v: n}, nil
}

func (p *parser) parseList() (expr, error) {
	at := p.pos
	if err := p.enter(at); err != nil {
		return nil, err
	}
	defer p.leave()
	p.pos++ // '['
	p.skipSpace()
	if p.pos < p.end && p.src[p.pos] == ']' {
		p.pos++
		return &listExpr{}, nil
	}
	first, err := p.parseExpr()
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	if strings.HasPrefix(p.src[p.pos:p.end], "..") {
		p.pos += 2
		p.skipSpace()
		to, err := p.parseExpr()
		if err != nil {
			return nil, err
		}
		if err := p.expect("]", "to close the range"); err != nil {
			return nil, err
		}
		return &rangeExpr{at: at, from: first, to: to}, nil
	}
	items := []expr{first}
	for {
		p.skipSpace()
		if p.pos < p.end && p.src[p.pos] == ',' {
			p.pos++
			p.skipSpace()
			x, err := p.parseExpr()
			if err != nil {
				return nil, err
			}
			items = append(items, x)
			continue
		}
		if err := p.expect("]", "to close the list"); err != nil {
			return nil, err
		}
		return &listExpr{items: items}, nil
	}
}

func (p *parser) parseMap() (expr, error) {
	at := p.pos
	if err := p.enter(at); err != nil {
		return nil, err
	}
	defer p.leave()
	p.pos++ // '{'
	m := &mapExpr{}
	p.skipSpace()
	if p.pos < p.end && p.src[p.pos] == '}' {
		p.pos++
		return m, nil
	}
	for {
		p.skipSpace()
		k, err := p.parseExpr()
		if err != nil {
			return nil, err
		}
		if err := p.expect(":", "in the map"); err != nil {
			return nil, err
		}
		p.skipSpace()
		v, err := p.parseExpr()
		if err != nil {
			return nil, err
		}
		m.keys = append(m.keys, k)
		m.vals = append(m.vals, v)
		p.skipSpace()
		if p.pos < p.end && p.src[p.pos] == ',' {
			p.pos++
			continue
		}
		if err := p.expect("}", "to close the map"); err != nil {
			return nil, err
		}
		return m, nil
	}
}
