package integration

// This file holds the VTL (Apache Velocity) request-template subset API Gateway uses:
// a parser that turns a template into a tree of nodes and expressions, rejecting what is
// not supported with a line:column, and a renderer bounded in output, loop iterations and
// work. docs/templates.md describes the language and its differences from AWS.

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// Template limits. A hostile template or message cannot make Render use more than about
// MaxTemplateOutput bytes per string or the output, or run for long.
const (
	// MaxTemplateOutput caps the rendered output and every string built while rendering.
	MaxTemplateOutput = 1 << 20
	// maxTemplateIterations caps the #foreach iterations of one rendering, summed over
	// all loops, and the length of a range [a..b].
	maxTemplateIterations = 100_000
	// maxTemplateWork caps the work of one rendering: one unit per node evaluated, plus the
	// bytes of every string produced.
	maxTemplateWork = 32 << 20
	// maxTemplateDepth caps the nesting of blocks and expressions.
	maxTemplateDepth = 100
	// maxRegexLen caps a replaceAll pattern.
	maxRegexLen = 1000
)

// ErrTemplateLimit is wrapped by the errors Render returns when a rendering exceeds one of
// the limits above.
var ErrTemplateLimit = errors.New("template limit exceeded")

// TemplateError is a parse or render error at a position in the template source.
type TemplateError struct {
	Line, Col int // 1-based; Col counts runes
	Msg       string
	Err       error // the cause, if any (ErrTemplateLimit for limits)
}

// Error returns the message and the position, e.g. "unsupported directive #macro at 3:1".
func (e *TemplateError) Error() string {
	return fmt.Sprintf("template: %s at %d:%d", e.Msg, e.Line, e.Col)
}

// Unwrap returns the cause.
func (e *TemplateError) Unwrap() error { return e.Err }

// Template is a parsed request template, safe for concurrent use by many Render calls.
type Template struct {
	src   string
	nodes []node
}

// TemplateData is what a template sees when it is rendered.
type TemplateData struct {
	Body           []byte            // the raw message body ($input.body)
	Context        map[string]any    // $context variables; nested maps for identity, authorizer, error
	StageVariables map[string]string // $stageVariables.x
}

// ---- AST ----

type node any // *textNode, *refNode, *setNode, *ifNode, *foreachNode

type textNode struct{ text string }

// refNode prints a reference.
type refNode struct{ ref *refExpr }

type setNode struct {
	at    int
	name  string
	value expr
}

type ifNode struct {
	conds    []expr   // #if then each #elseif
	bodies   [][]node // one per cond
	elseBody []node
}

type foreachNode struct {
	at      int
	varName string
	list    expr
	body    []node
}

type expr any // *litExpr, *refExpr, *listExpr, *mapExpr, *rangeExpr, *unaryExpr, *binaryExpr, *interpExpr

type litExpr struct{ v any }

// refExpr is $name followed by properties, method calls and indexes.
type refExpr struct {
	at    int
	raw   string // the source text, printed for an undefined non-quiet reference
	quiet bool   // $!name
	name  string
	segs  []segment
}

type segment struct {
	at    int
	name  string // property or method name; "" for an index
	call  bool
	args  []expr
	index expr
	path  *Path // $input.json/path with a literal argument, compiled at parse time
}

type listExpr struct{ items []expr }

type mapExpr struct{ keys, vals []expr }

type rangeExpr struct {
	at       int
	from, to expr
}

type unaryExpr struct {
	at int
	op string // "!" or "-"
	x  expr
}

type binaryExpr struct {
	at   int
	op   string // || && == != < <= > >= + - * / %
	l, r expr
}

// interpExpr is a double-quoted string: text and references.
type interpExpr struct{ parts []node }

// ---- parser ----

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
			return p.errorf(ref.at, "$input must be followed by .body, .json(path) or .path(path)")
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
		case s.name == "params" || s.name == "bodyBytes":
			return p.errorf(s.at, "unsupported: $input.%s (WebSocket templates see only $input.body, $input.json and $input.path)", s.name)
		default:
			return p.errorf(s.at, "unsupported: $input.%s (supported: $input.body, $input.json(path), $input.path(path))", s.name)
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

// ---- values ----

// listValue is a list made by the template ([a, b], [1..3], keySet()); it prints like a Java
// List ("[a, b]"). Lists from JSON ([]any) print as JSON, as API Gateway's do.
type listValue []any

// builtin marks the $input and $util roots.
type builtin string

const (
	builtinInput builtin = "input"
	builtinUtil  builtin = "util"
)

// ---- renderer ----

// Render renders the template with d. It fails on a limit (wrapping ErrTemplateLimit), a
// message body that is not JSON where JSON is needed, or a bad $util argument.
func (t *Template) Render(d *TemplateData) (out []byte, err error) {
	defer func() {
		// A bug in the renderer must not take the gateway down with it.
		if p := recover(); p != nil {
			out, err = nil, fmt.Errorf("template: internal error: %v", p)
		}
	}()
	if d == nil {
		d = &TemplateData{}
	}
	r := &renderer{t: t, d: d, vars: map[string]any{}}
	ctx := map[string]any{}
	for k, v := range d.Context {
		ctx[k] = v
	}
	r.context = ctx
	sv := make(map[string]any, len(d.StageVariables))
	for k, v := range d.StageVariables {
		sv[k] = v
	}
	r.stageVars = sv
	if err := r.nodes(t.nodes); err != nil {
		return nil, err
	}
	if r.out == nil {
		r.out = []byte{}
	}
	return r.out, nil
}

type renderer struct {
	t         *Template
	d         *TemplateData
	out       []byte
	vars      map[string]any
	context   map[string]any
	stageVars map[string]any
	work      int
	iters     int

	bodyParsed bool
	bodyDoc    any
	bodyErr    error
	regexps    map[string]*regexp.Regexp
	jsonCache  map[string]string // $input.json results by path
	bodyText   *string           // $input.body, once converted
}

func (r *renderer) errorf(at int, format string, args ...any) error {
	line, col := lineCol(r.t.src, at)
	return &TemplateError{Line: line, Col: col, Msg: fmt.Sprintf(format, args...)}
}

func (r *renderer) limitf(at int, format string, args ...any) error {
	line, col := lineCol(r.t.src, at)
	return &TemplateError{Line: line, Col: col, Msg: fmt.Sprintf(format, args...), Err: ErrTemplateLimit}
}

// spend counts work and fails once the budget is gone.
func (r *renderer) spend(at, n int) error {
	r.work += n
	if r.work > maxTemplateWork {
		return r.limitf(at, "rendering takes too much work")
	}
	return nil
}

// str checks the size of a string the template built.
func (r *renderer) str(at int, s string) (any, error) {
	if len(s) > MaxTemplateOutput {
		return nil, r.limitf(at, "string longer than %d bytes", MaxTemplateOutput)
	}
	if err := r.spend(at, len(s)); err != nil {
		return nil, err
	}
	return s, nil
}

func (r *renderer) write(at int, s string) error {
	if len(r.out)+len(s) > MaxTemplateOutput {
		return r.limitf(at, "output larger than %d bytes", MaxTemplateOutput)
	}
	if err := r.spend(at, len(s)); err != nil {
		return err
	}
	r.out = append(r.out, s...)
	return nil
}

func (r *renderer) nodes(ns []node) error {
	for _, n := range ns {
		if err := r.node(n); err != nil {
			return err
		}
	}
	return nil
}

func (r *renderer) node(n node) error {
	switch n := n.(type) {
	case *textNode:
		return r.write(0, n.text)
	case *refNode:
		s, err := r.refText(n.ref)
		if err != nil {
			return err
		}
		return r.write(n.ref.at, s)
	case *setNode:
		if err := r.spend(n.at, 1); err != nil {
			return err
		}
		v, err := r.eval(n.value)
		if err != nil {
			return err
		}
		// Velocity 1.7: setting null leaves the variable as it was.
		if v != nil {
			r.vars[n.name] = v
		}
		return nil
	case *ifNode:
		for i, c := range n.conds {
			v, err := r.eval(c)
			if err != nil {
				return err
			}
			if truthy(v) {
				return r.nodes(n.bodies[i])
			}
		}
		return r.nodes(n.elseBody)
	case *foreachNode:
		return r.foreach(n)
	}
	return nil
}

// refText renders a reference as text: its value; "" for a quiet reference or a null
// property of a defined value; the source text for an undefined variable.
func (r *renderer) refText(ref *refExpr) (string, error) {
	v, defined, err := r.evalRef(ref)
	if err != nil {
		return "", err
	}
	if v == nil {
		if ref.quiet || defined {
			return "", nil
		}
		return ref.raw, nil
	}
	return r.toString(ref.at, v)
}

func (r *renderer) foreach(n *foreachNode) error {
	lv, err := r.eval(n.list)
	if err != nil {
		return err
	}
	var items []any
	switch l := lv.(type) {
	case listValue:
		items = l
	case []any:
		items = l
	case map[string]any:
		// Velocity iterates a map's values; in key order here, Go maps have no order.
		for _, k := range sortedKeys(l) {
			items = append(items, l[k])
		}
	case map[string]string:
		for _, k := range sortedKeys(l) {
			items = append(items, l[k])
		}
	default:
		return nil // null or not iterable: no iterations, as in Velocity
	}
	saved := map[string]any{}
	for _, name := range []string{n.varName, "foreach", "velocityCount", "velocityHasNext"} {
		saved[name] = r.vars[name]
	}
	defer func() {
		for name, v := range saved {
			if v == nil {
				delete(r.vars, name)
			} else {
				r.vars[name] = v
			}
		}
	}()
	for i, item := range items {
		r.iters++
		if r.iters > maxTemplateIterations {
			return r.limitf(n.at, "more than %d #foreach iterations", maxTemplateIterations)
		}
		if err := r.spend(n.at, 1); err != nil {
			return err
		}
		hasNext := i < len(items)-1
		r.vars["foreach"] = map[string]any{
			"index": int64(i), "count": int64(i + 1), "hasNext": hasNext,
			"first": i == 0, "last": !hasNext,
		}
		r.vars["velocityCount"] = int64(i + 1)
		r.vars["velocityHasNext"] = hasNext
		if item == nil {
			delete(r.vars, n.varName)
		} else {
			r.vars[n.varName] = item
		}
		if err := r.nodes(n.body); err != nil {
			return err
		}
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func truthy(v any) bool {
	switch v := v.(type) {
	case nil:
		return false
	case bool:
		return v
	}
	return true
}

func (r *renderer) eval(e expr) (any, error) {
	switch e := e.(type) {
	case *litExpr:
		return e.v, nil
	case *refExpr:
		v, _, err := r.evalRef(e)
		return v, err
	case *interpExpr:
		var b strings.Builder
		for _, part := range e.parts {
			switch part := part.(type) {
			case *textNode:
				b.WriteString(part.text)
			case *refNode:
				s, err := r.refText(part.ref)
				if err != nil {
					return nil, err
				}
				if b.Len()+len(s) > MaxTemplateOutput {
					return nil, r.limitf(part.ref.at, "string longer than %d bytes", MaxTemplateOutput)
				}
				b.WriteString(s)
			}
		}
		return r.str(0, b.String())
	case *listExpr:
		if err := r.spend(0, len(e.items)+1); err != nil {
			return nil, err
		}
		l := make(listValue, 0, len(e.items))
		for _, it := range e.items {
			v, err := r.eval(it)
			if err != nil {
				return nil, err
			}
			l = append(l, v)
		}
		return l, nil
	case *mapExpr:
		if err := r.spend(0, len(e.keys)+1); err != nil {
			return nil, err
		}
		m := make(map[string]any, len(e.keys))
		for i := range e.keys {
			k, err := r.eval(e.keys[i])
			if err != nil {
				return nil, err
			}
			ks, err := r.toString(0, k)
			if err != nil {
				return nil, err
			}
			v, err := r.eval(e.vals[i])
			if err != nil {
				return nil, err
			}
			m[ks] = v
		}
		return m, nil
	case *rangeExpr:
		return r.evalRange(e)
	case *unaryExpr:
		x, err := r.eval(e.x)
		if err != nil {
			return nil, err
		}
		if e.op == "!" {
			return !truthy(x), nil
		}
		switch n := toNumber(x).(type) {
		case int64:
			if n == math.MinInt64 {
				return -float64(n), nil
			}
			return -n, nil
		case float64:
			return -n, nil
		}
		return nil, r.errorf(e.at, "cannot negate %s", typeName(x))
	case *binaryExpr:
		return r.evalBinary(e)
	}
	return nil, fmt.Errorf("template: unknown expression %T", e)
}

func (r *renderer) evalRange(e *rangeExpr) (any, error) {
	from, err := r.eval(e.from)
	if err != nil {
		return nil, err
	}
	to, err := r.eval(e.to)
	if err != nil {
		return nil, err
	}
	a, ok1 := toNumber(from).(int64)
	b, ok2 := toNumber(to).(int64)
	if !ok1 || !ok2 {
		return nil, r.errorf(e.at, "range [a..b] needs integers, got %s and %s", typeName(from), typeName(to))
	}
	step := int64(1)
	if b < a {
		step = -1
	}
	if n := (b-a)*step + 1; n <= 0 || n > maxTemplateIterations {
		return nil, r.limitf(e.at, "range longer than %d", maxTemplateIterations)
	}
	l := listValue{}
	for i := a; ; i += step {
		l = append(l, i)
		if i == b {
			break
		}
	}
	if err := r.spend(e.at, len(l)); err != nil {
		return nil, err
	}
	return l, nil
}

func (r *renderer) evalBinary(e *binaryExpr) (any, error) {
	if err := r.spend(e.at, 1); err != nil {
		return nil, err
	}
	l, err := r.eval(e.l)
	if err != nil {
		return nil, err
	}
	switch e.op {
	case "&&":
		if !truthy(l) {
			return false, nil
		}
		rv, err := r.eval(e.r)
		return truthy(rv), err
	case "||":
		if truthy(l) {
			return true, nil
		}
		rv, err := r.eval(e.r)
		return truthy(rv), err
	}
	rv, err := r.eval(e.r)
	if err != nil {
		return nil, err
	}
	switch e.op {
	case "==", "!=":
		eq, err := r.equal(e.at, l, rv)
		if err != nil {
			return nil, err
		}
		return eq == (e.op == "=="), nil
	case "<", "<=", ">", ">=":
		if err := r.spendCompare(e.at, l, rv); err != nil {
			return nil, err
		}
		c, ok := compare(l, rv)
		if !ok {
			return false, nil // Velocity: incomparable values compare false
		}
		switch e.op {
		case "<":
			return c < 0, nil
		case "<=":
			return c <= 0, nil
		case ">":
			return c > 0, nil
		default:
			return c >= 0, nil
		}
	case "+":
		if _, ok := l.(string); ok && rv != nil {
			return r.concat(e.at, l, rv)
		}
		if _, ok := rv.(string); ok && l != nil {
			return r.concat(e.at, l, rv)
		}
	}
	return r.arith(e, l, rv)
}

func (r *renderer) concat(at int, l, rv any) (any, error) {
	a, err := r.toString(at, l)
	if err != nil {
		return nil, err
	}
	b, err := r.toString(at, rv)
	if err != nil {
		return nil, err
	}
	if len(a)+len(b) > MaxTemplateOutput {
		return nil, r.limitf(at, "string longer than %d bytes", MaxTemplateOutput)
	}
	return r.str(at, a+b)
}

// arith does + - * / % on numbers: integers stay integers unless they overflow; division by
// zero gives null, as in Velocity.
func (r *renderer) arith(e *binaryExpr, l, rv any) (any, error) {
	a, b := toNumber(l), toNumber(rv)
	if a == nil || b == nil {
		return nil, r.errorf(e.at, "cannot apply %s to %s and %s", e.op, typeName(l), typeName(rv))
	}
	ai, aInt := a.(int64)
	bi, bInt := b.(int64)
	if aInt && bInt {
		switch e.op {
		case "+":
			if s := ai + bi; (s > ai) == (bi > 0) {
				return s, nil
			}
		case "-":
			if s := ai - bi; (s < ai) == (bi > 0) {
				return s, nil
			}
		case "*":
			if ai == 0 || bi == 0 {
				return int64(0), nil
			}
			if s := ai * bi; s/bi == ai && !(ai == -1 && bi == math.MinInt64) && !(bi == -1 && ai == math.MinInt64) {
				return s, nil
			}
		case "/":
			if bi == 0 {
				return nil, nil
			}
			if !(ai == math.MinInt64 && bi == -1) {
				return ai / bi, nil
			}
		case "%":
			if bi == 0 {
				return nil, nil
			}
			if bi == -1 {
				return int64(0), nil
			}
			return ai % bi, nil
		}
	}
	af, bf := toFloat(a), toFloat(b)
	switch e.op {
	case "+":
		return af + bf, nil
	case "-":
		return af - bf, nil
	case "*":
		return af * bf, nil
	case "/":
		if bf == 0 {
			return nil, nil
		}
		return af / bf, nil
	default:
		if bf == 0 {
			return nil, nil
		}
		return math.Mod(af, bf), nil
	}
}

// toNumber returns v as int64 or float64, or nil if it is not a number.
func toNumber(v any) any {
	switch n := v.(type) {
	case int64:
		return n
	case float64:
		return n
	case int:
		return int64(n)
	case int32:
		return int64(n)
	case uint32:
		return int64(n)
	case float32:
		return float64(n)
	case uint64:
		if n <= math.MaxInt64 {
			return int64(n)
		}
		return float64(n)
	case json.Number:
		if i, err := n.Int64(); err == nil {
			return i
		}
		if f, err := n.Float64(); err == nil {
			return f
		}
	}
	return nil
}

func toFloat(n any) float64 {
	if i, ok := n.(int64); ok {
		return float64(i)
	}
	f, _ := n.(float64)
	return f
}

// spendCompare charges for comparing two strings.
func (r *renderer) spendCompare(at int, a, b any) error {
	as, ok1 := a.(string)
	bs, ok2 := b.(string)
	if ok1 && ok2 {
		return r.spend(at, min(len(as), len(bs)))
	}
	return nil
}

// compare orders two numbers or two strings.
func compare(a, b any) (int, bool) {
	if x, y := toNumber(a), toNumber(b); x != nil && y != nil {
		xi, xok := x.(int64)
		yi, yok := y.(int64)
		if xok && yok {
			return cmpOrdered(xi, yi), true
		}
		xf, yf := toFloat(x), toFloat(y)
		if math.IsNaN(xf) || math.IsNaN(yf) {
			return 0, false
		}
		return cmpOrdered(xf, yf), true
	}
	as, ok1 := a.(string)
	bs, ok2 := b.(string)
	if ok1 && ok2 {
		return strings.Compare(as, bs), true
	}
	return 0, false
}

func cmpOrdered[T int64 | float64](a, b T) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// equal is Velocity's ==: numbers by value, nulls only equal each other, values of
// different kinds by their string forms.
func (r *renderer) equal(at int, a, b any) (bool, error) {
	if a == nil || b == nil {
		return a == nil && b == nil, nil
	}
	if err := r.spendCompare(at, a, b); err != nil {
		return false, err
	}
	if c, ok := compare(a, b); ok {
		return c == 0, nil
	}
	if x, ok := a.(bool); ok {
		if y, ok := b.(bool); ok {
			return x == y, nil
		}
	}
	as, err := r.toString(at, a)
	if err != nil {
		return false, err
	}
	bs, err := r.toString(at, b)
	if err != nil {
		return false, err
	}
	return as == bs, nil
}

// evalRef evaluates a reference. defined is false when its root variable does not exist.
func (r *renderer) evalRef(ref *refExpr) (v any, defined bool, err error) {
	if err := r.spend(ref.at, 1); err != nil {
		return nil, false, err
	}
	switch ref.name {
	case "input":
		v = builtinInput
	case "util":
		v = builtinUtil
	case "context":
		v = r.context
	case "stageVariables":
		v = r.stageVars
	default:
		var ok bool
		v, ok = r.vars[ref.name]
		if !ok {
			return nil, false, nil
		}
	}
	for i := range ref.segs {
		seg := &ref.segs[i]
		if v == nil {
			return nil, true, nil // null-safe navigation
		}
		switch {
		case seg.index != nil:
			idx, err := r.eval(seg.index)
			if err != nil {
				return nil, true, err
			}
			v, err = r.index(seg.at, v, idx)
			if err != nil {
				return nil, true, err
			}
		case seg.call:
			args := make([]any, len(seg.args))
			for j, a := range seg.args {
				if args[j], err = r.eval(a); err != nil {
					return nil, true, err
				}
			}
			v, err = r.call(seg, v, args)
			if err != nil {
				return nil, true, err
			}
		default:
			v = property(v, seg.name)
			if b, ok := v.(builtin); ok && b == builtinInput && seg.name == "body" {
				v = r.inputBody()
			}
		}
	}
	return v, true, nil
}

func property(v any, name string) any {
	switch m := v.(type) {
	case map[string]any:
		return m[name]
	case map[string]string:
		if s, ok := m[name]; ok {
			return s
		}
	case builtin:
		if m == builtinInput && name == "body" {
			return m // resolved by the caller
		}
	}
	return nil
}

func (r *renderer) index(at int, v, idx any) (any, error) {
	switch l := v.(type) {
	case listValue, []any:
		list, _ := l.(listValue)
		if list == nil {
			list = listValue(l.([]any))
		}
		i, ok := toNumber(idx).(int64)
		if !ok {
			return nil, r.errorf(at, "list index must be an integer, got %s", typeName(idx))
		}
		if i < 0 || i >= int64(len(list)) {
			return nil, nil
		}
		return list[i], nil
	case map[string]any, map[string]string:
		k, err := r.toString(at, idx)
		if err != nil {
			return nil, err
		}
		return property(v, k), nil
	}
	return nil, nil
}

// inputBody is $input.body: the raw body, or "{}" when it is empty (as API Gateway does).
func (r *renderer) inputBody() string {
	if r.bodyText == nil {
		s := "{}"
		if len(r.d.Body) > 0 {
			s = string(r.d.Body)
		}
		r.bodyText = &s
	}
	return *r.bodyText
}

// body parses the message body once; an empty body is the empty object.
func (r *renderer) body(at int) (any, error) {
	if !r.bodyParsed {
		r.bodyParsed = true
		if len(bytes.TrimSpace(r.d.Body)) == 0 {
			r.bodyDoc = map[string]any{}
		} else {
			r.bodyDoc, r.bodyErr = decodeJSON(r.d.Body)
		}
		if err := r.spend(at, len(r.d.Body)); err != nil {
			return nil, err
		}
	}
	if r.bodyErr != nil {
		return nil, r.errorf(at, "$input: message body is not JSON: %v", r.bodyErr)
	}
	return r.bodyDoc, nil
}

func decodeJSON(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, errors.New("data after the JSON value")
	}
	if _, err := dec.Token(); err == nil {
		return nil, errors.New("data after the JSON value")
	}
	return v, nil
}

func (r *renderer) pathArg(seg *segment, args []any) (Path, error) {
	if seg.path != nil {
		return *seg.path, nil
	}
	s, ok := args[0].(string)
	if !ok {
		return Path{}, r.errorf(seg.at, "$input.%s takes a JSON path string, got %s", seg.name, typeName(args[0]))
	}
	p, err := CompilePath(s)
	if err != nil {
		return Path{}, r.errorf(seg.at, "$input.%s: %v", seg.name, err)
	}
	return p, nil
}

func (r *renderer) call(seg *segment, recv any, args []any) (any, error) {
	if err := r.spend(seg.at, 1); err != nil {
		return nil, err
	}
	switch recv {
	case builtinInput:
		path, err := r.pathArg(seg, args)
		if err != nil {
			return nil, err
		}
		if seg.name == "path" {
			doc, err := r.body(seg.at)
			if err != nil {
				return nil, err
			}
			v, _ := path.Lookup(doc)
			return v, nil
		}
		// $input.json: the JSON text at path, from the raw body so that key order and
		// numbers are kept; "" (an empty JSON string) when the path matches nothing.
		key := path.String()
		if s, ok := r.jsonCache[key]; ok {
			return s, nil
		}
		raw := r.d.Body
		if len(bytes.TrimSpace(raw)) == 0 {
			raw = []byte("{}")
		}
		if _, err := r.body(seg.at); err != nil {
			return nil, err
		}
		if err := r.spend(seg.at, len(raw)*(len(path.steps)+1)); err != nil {
			return nil, err
		}
		out, ok, err := path.lookupRaw(raw)
		if err != nil {
			return nil, r.errorf(seg.at, "$input.json: %v", err)
		}
		s := `""`
		if ok {
			s = string(out)
		}
		if r.jsonCache == nil {
			r.jsonCache = map[string]string{}
		}
		r.jsonCache[key] = s
		return s, nil
	case builtinUtil:
		return r.util(seg, args[0])
	}
	return r.callMethod(seg, recv, args)
}

func (r *renderer) util(seg *segment, arg any) (any, error) {
	if arg == nil {
		return nil, nil
	}
	s, err := r.toString(seg.at, arg)
	if err != nil {
		return nil, err
	}
	if err := r.spend(seg.at, len(s)); err != nil {
		return nil, err
	}
	switch seg.name {
	case "escapeJavaScript":
		return r.str(seg.at, escapeJavaScript(s))
	case "base64Encode":
		return r.str(seg.at, base64.StdEncoding.EncodeToString([]byte(s)))
	case "base64Decode":
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			b, err = base64.RawStdEncoding.DecodeString(strings.TrimRight(s, "="))
		}
		if err != nil {
			return nil, r.errorf(seg.at, "$util.base64Decode: %v", err)
		}
		return string(b), nil
	case "urlEncode":
		return r.str(seg.at, urlEncode(s))
	case "urlDecode":
		d, err := url.QueryUnescape(s)
		if err != nil {
			return nil, r.errorf(seg.at, "$util.urlDecode: %v", err)
		}
		return d, nil
	case "parseJson":
		v, err := decodeJSON([]byte(s))
		if err != nil {
			return nil, r.errorf(seg.at, "$util.parseJson: %v", err)
		}
		return v, nil
	}
	return nil, r.errorf(seg.at, "unsupported: $util.%s", seg.name)
}

// escapeJavaScript escapes s with JavaScript string rules, as Apache Commons Lang 2's
// StringEscapeUtils.escapeJavaScript (which API Gateway uses) does: quotes, backslash,
// slash and control characters, and every non-ASCII UTF-16 unit as \uXXXX. Note that the
// escaped single quote (\') is not valid JSON.
func escapeJavaScript(s string) string {
	var b strings.Builder
	for _, u := range utf16.Encode([]rune(s)) {
		switch {
		case u > 0x7f:
			fmt.Fprintf(&b, `\u%04X`, u)
		case u < 0x20:
			switch u {
			case '\b':
				b.WriteString(`\b`)
			case '\n':
				b.WriteString(`\n`)
			case '\t':
				b.WriteString(`\t`)
			case '\f':
				b.WriteString(`\f`)
			case '\r':
				b.WriteString(`\r`)
			default:
				fmt.Fprintf(&b, `\u%04X`, u)
			}
		case u == '\'':
			b.WriteString(`\'`)
		case u == '"':
			b.WriteString(`\"`)
		case u == '\\':
			b.WriteString(`\\`)
		case u == '/':
			b.WriteString(`\/`)
		default:
			b.WriteByte(byte(u))
		}
	}
	return b.String()
}

// urlEncode is Java's URLEncoder.encode(s, "UTF-8"): letters, digits and ".-*_" stay, space
// becomes '+', every other byte %XX.
func urlEncode(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '-', c == '*', c == '_':
			b.WriteByte(c)
		case c == ' ':
			b.WriteByte('+')
		default:
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
	}
	return b.String()
}

// methodArity is the number of arguments of each method but substring.
var methodArity = map[string]int{
	"length": 0, "size": 0, "isEmpty": 0, "keySet": 0, "toString": 0, "trim": 0,
	"toLowerCase": 0, "toUpperCase": 0, "contains": 1, "containsKey": 1, "get": 1,
	"equals": 1, "equalsIgnoreCase": 1, "startsWith": 1, "endsWith": 1, "indexOf": 1,
	"replace": 2, "replaceAll": 2,
}

// callMethod calls one of knownMethods on a value.
func (r *renderer) callMethod(seg *segment, recv any, args []any) (any, error) {
	name := seg.name
	if n, ok := methodArity[name]; ok && len(args) != n {
		return nil, r.errorf(seg.at, ".%s() takes %d argument(s), got %d", name, n, len(args))
	}
	if name == "substring" && (len(args) < 1 || len(args) > 2) {
		return nil, r.errorf(seg.at, ".substring() takes 1 or 2 arguments, got %d", len(args))
	}
	switch name {
	case "toString":
		s, err := r.toString(seg.at, recv)
		if err != nil {
			return nil, err
		}
		return r.str(seg.at, s)
	case "equals":
		return r.equal(seg.at, recv, args[0])
	}
	switch v := recv.(type) {
	case string:
		return r.stringMethod(seg, v, args)
	case listValue:
		return r.listMethod(seg, v, args)
	case []any:
		return r.listMethod(seg, listValue(v), args)
	case map[string]any:
		return r.mapMethod(seg, v, args)
	case map[string]string:
		m := make(map[string]any, len(v))
		for k, s := range v {
			m[k] = s
		}
		return r.mapMethod(seg, m, args)
	}
	return nil, r.errorf(seg.at, "method .%s() is not defined for %s", name, typeName(recv))
}

func (r *renderer) argString(seg *segment, v any) (string, error) {
	if v == nil {
		return "", r.errorf(seg.at, ".%s() argument is null", seg.name)
	}
	return r.toString(seg.at, v)
}

func (r *renderer) stringMethod(seg *segment, s string, args []any) (any, error) {
	if err := r.spend(seg.at, len(s)); err != nil {
		return nil, err
	}
	switch seg.name {
	case "length", "size":
		return int64(utf8.RuneCountInString(s)), nil
	case "isEmpty":
		return s == "", nil
	case "trim":
		return strings.TrimSpace(s), nil
	case "toLowerCase":
		return r.str(seg.at, strings.ToLower(s))
	case "toUpperCase":
		return r.str(seg.at, strings.ToUpper(s))
	case "substring":
		return r.substring(seg, s, args)
	}
	switch seg.name {
	case "contains", "equalsIgnoreCase", "startsWith", "endsWith", "indexOf", "replace", "replaceAll":
	default:
		return nil, r.errorf(seg.at, "method .%s() is not defined for a string", seg.name)
	}
	a, err := r.argString(seg, args[0])
	if err != nil {
		return nil, err
	}
	switch seg.name {
	case "contains":
		return strings.Contains(s, a), nil
	case "equalsIgnoreCase":
		return strings.EqualFold(s, a), nil
	case "startsWith":
		return strings.HasPrefix(s, a), nil
	case "endsWith":
		return strings.HasSuffix(s, a), nil
	case "indexOf":
		i := strings.Index(s, a)
		if i < 0 {
			return int64(-1), nil
		}
		return int64(utf8.RuneCountInString(s[:i])), nil
	case "replace":
		b, err := r.argString(seg, args[1])
		if err != nil {
			return nil, err
		}
		n := strings.Count(s, a)
		if int64(len(s))+int64(n)*int64(len(b)-len(a)) > MaxTemplateOutput {
			return nil, r.limitf(seg.at, "string longer than %d bytes", MaxTemplateOutput)
		}
		return r.str(seg.at, strings.ReplaceAll(s, a, b))
	case "replaceAll":
		b, err := r.argString(seg, args[1])
		if err != nil {
			return nil, err
		}
		return r.replaceAll(seg, s, a, b)
	}
	return nil, r.errorf(seg.at, "method .%s() is not defined for a string", seg.name)
}

func (r *renderer) substring(seg *segment, s string, args []any) (any, error) {
	runes := []rune(s)
	idx := make([]int64, len(args))
	for i, a := range args {
		n, ok := toNumber(a).(int64)
		if !ok {
			return nil, r.errorf(seg.at, ".substring() takes integers, got %s", typeName(a))
		}
		idx[i] = n
	}
	begin, end := idx[0], int64(len(runes))
	if len(idx) == 2 {
		end = idx[1]
	}
	if begin < 0 || end > int64(len(runes)) || begin > end {
		return nil, r.errorf(seg.at, ".substring(%d, %d) out of range for length %d", begin, end, len(runes))
	}
	return string(runes[begin:end]), nil
}

// replaceAll is Java's String.replaceAll with Go's regexp syntax (RE2, no backreferences
// in patterns); $1 in the replacement is a group, \x a literal x.
func (r *renderer) replaceAll(seg *segment, s, pattern, repl string) (any, error) {
	if len(pattern) > maxRegexLen {
		return nil, r.errorf(seg.at, ".replaceAll() pattern longer than %d bytes", maxRegexLen)
	}
	re, ok := r.regexps[pattern]
	if !ok {
		var err error
		re, err = regexp.Compile(pattern)
		if err != nil {
			return nil, r.errorf(seg.at, ".replaceAll(): %v", err)
		}
		if err := r.spend(seg.at, len(pattern)*100); err != nil {
			return nil, err
		}
		if r.regexps == nil {
			r.regexps = map[string]*regexp.Regexp{}
		}
		r.regexps[pattern] = re
	}
	// RE2 runs in linear time, but with a larger constant than a byte copy.
	if err := r.spend(seg.at, 8*len(s)); err != nil {
		return nil, err
	}
	tmpl := javaReplacement(repl)
	var out []byte
	last := 0
	for _, m := range re.FindAllStringSubmatchIndex(s, -1) {
		out = append(out, s[last:m[0]]...)
		out = re.ExpandString(out, tmpl, s, m)
		last = m[1]
		if len(out) > MaxTemplateOutput {
			return nil, r.limitf(seg.at, "string longer than %d bytes", MaxTemplateOutput)
		}
	}
	out = append(out, s[last:]...)
	return r.str(seg.at, string(out))
}

// javaReplacement turns a Java replacement string ($1, \$) into a Go template (${1}, $$).
func javaReplacement(repl string) string {
	var b strings.Builder
	for i := 0; i < len(repl); i++ {
		c := repl[i]
		switch {
		case c == '\\' && i+1 < len(repl):
			i++
			if repl[i] == '$' {
				b.WriteString("$$")
			} else {
				b.WriteByte(repl[i])
			}
		case c == '$':
			j := i + 1
			for j < len(repl) && repl[j] >= '0' && repl[j] <= '9' {
				j++
			}
			if j == i+1 {
				b.WriteString("$$")
				continue
			}
			b.WriteString("${" + repl[i+1:j] + "}")
			i = j - 1
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func (r *renderer) listMethod(seg *segment, l listValue, args []any) (any, error) {
	switch seg.name {
	case "size":
		return int64(len(l)), nil
	case "isEmpty":
		return len(l) == 0, nil
	case "get":
		return r.index(seg.at, l, args[0])
	case "contains":
		if err := r.spend(seg.at, len(l)); err != nil {
			return nil, err
		}
		for _, it := range l {
			eq, err := r.equal(seg.at, it, args[0])
			if err != nil {
				return nil, err
			}
			if eq {
				return true, nil
			}
		}
		return false, nil
	}
	return nil, r.errorf(seg.at, "method .%s() is not defined for a list", seg.name)
}

func (r *renderer) mapMethod(seg *segment, m map[string]any, args []any) (any, error) {
	switch seg.name {
	case "size":
		return int64(len(m)), nil
	case "isEmpty":
		return len(m) == 0, nil
	case "keySet":
		if err := r.spend(seg.at, len(m)); err != nil {
			return nil, err
		}
		keys := listValue{}
		for _, k := range sortedKeys(m) {
			keys = append(keys, k)
		}
		return keys, nil
	case "get", "containsKey":
		k, err := r.argString(seg, args[0])
		if err != nil {
			return nil, err
		}
		v, ok := m[k]
		if seg.name == "containsKey" {
			return ok, nil
		}
		return v, nil
	}
	return nil, r.errorf(seg.at, "method .%s() is not defined for a map", seg.name)
}

func typeName(v any) string {
	switch b := v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case listValue, []any:
		return "a list"
	case map[string]any, map[string]string:
		return "a map"
	case builtin:
		return "$" + string(b)
	}
	if toNumber(v) != nil {
		return "a number"
	}
	return fmt.Sprintf("%T", v)
}

// toString renders a value as Velocity prints it: maps as {k=v, ...} (keys sorted), lists
// from JSON as JSON, lists made by the template as [a, b], numbers and booleans plainly.
func (r *renderer) toString(at int, v any) (string, error) {
	if s, ok := v.(string); ok {
		return s, nil
	}
	w := &limitedWriter{}
	writeValue(w, v)
	if w.over {
		return "", r.limitf(at, "value longer than %d bytes when printed", MaxTemplateOutput)
	}
	if err := r.spend(at, len(w.b)); err != nil {
		return "", err
	}
	return string(w.b), nil
}

// limitedWriter collects up to MaxTemplateOutput bytes and then records that it overflowed.
type limitedWriter struct {
	b    []byte
	over bool
}

func (w *limitedWriter) str(s string) {
	if w.over {
		return
	}
	if len(w.b)+len(s) > MaxTemplateOutput {
		w.over = true
		return
	}
	w.b = append(w.b, s...)
}

func writeValue(w *limitedWriter, v any) {
	if w.over {
		return
	}
	switch v := v.(type) {
	case nil:
		w.str("null")
	case string:
		w.str(v)
	case bool:
		w.str(strconv.FormatBool(v))
	case json.Number:
		w.str(v.String())
	case float64:
		w.str(formatFloat(v))
	case float32:
		w.str(formatFloat(float64(v)))
	case listValue:
		w.str("[")
		for i, it := range v {
			if i > 0 {
				w.str(", ")
			}
			writeValue(w, it)
		}
		w.str("]")
	case []any:
		writeJSON(w, v)
	case map[string]any:
		w.str("{")
		for i, k := range sortedKeys(v) {
			if i > 0 {
				w.str(", ")
			}
			w.str(k)
			w.str("=")
			if l, ok := v[k].([]any); ok {
				writeJSON(w, l)
			} else {
				writeValue(w, v[k])
			}
		}
		w.str("}")
	case map[string]string:
		w.str("{")
		for i, k := range sortedKeys(v) {
			if i > 0 {
				w.str(", ")
			}
			w.str(k + "=" + v[k])
		}
		w.str("}")
	case builtin:
		w.str("$" + string(v))
	default:
		if n := toNumber(v); n != nil {
			if i, ok := n.(int64); ok {
				w.str(strconv.FormatInt(i, 10))
			} else {
				w.str(formatFloat(n.(float64)))
			}
			return
		}
		w.str(fmt.Sprint(v))
	}
}

// formatFloat prints like Java's Double.toString for common values: 2.0, 1.5, 1.0E10.
func formatFloat(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	}
	if a := math.Abs(f); a == 0 || a >= 1e-3 && a < 1e7 {
		s := strconv.FormatFloat(f, 'f', -1, 64)
		if !strings.Contains(s, ".") {
			s += ".0"
		}
		return s
	}
	s := strconv.FormatFloat(f, 'E', -1, 64)
	mant, exp, _ := strings.Cut(s, "E")
	if !strings.Contains(mant, ".") {
		mant += ".0"
	}
	exp = strings.TrimPrefix(exp, "+")
	if strings.HasPrefix(exp, "-") {
		exp = "-" + strings.TrimLeft(exp[1:], "0")
	} else {
		exp = strings.TrimLeft(exp, "0")
	}
	return mant + "E" + exp
}

// writeJSON writes v as compact JSON without HTML escaping.
func writeJSON(w *limitedWriter, v any) {
	if w.over {
		return
	}
	switch v := v.(type) {
	case nil:
		w.str("null")
	case string:
		writeJSONString(w, v)
	case bool:
		w.str(strconv.FormatBool(v))
	case json.Number:
		w.str(v.String())
	case []any:
		writeJSONList(w, v)
	case listValue:
		writeJSONList(w, v)
	case map[string]any:
		w.str("{")
		for i, k := range sortedKeys(v) {
			if i > 0 {
				w.str(",")
			}
			writeJSONString(w, k)
			w.str(":")
			writeJSON(w, v[k])
		}
		w.str("}")
	case map[string]string:
		w.str("{")
		for i, k := range sortedKeys(v) {
			if i > 0 {
				w.str(",")
			}
			writeJSONString(w, k)
			w.str(":")
			writeJSONString(w, v[k])
		}
		w.str("}")
	default:
		if n := toNumber(v); n != nil {
			if i, ok := n.(int64); ok {
				w.str(strconv.FormatInt(i, 10))
				return
			}
			if f := n.(float64); !math.IsNaN(f) && !math.IsInf(f, 0) {
				w.str(strconv.FormatFloat(f, 'g', -1, 64))
				return
			}
			w.str("null")
			return
		}
		writeJSONString(w, fmt.Sprint(v))
	}
}

func writeJSONList[L ~[]any](w *limitedWriter, l L) {
	w.str("[")
	for i, it := range l {
		if i > 0 {
			w.str(",")
		}
		writeJSON(w, it)
	}
	w.str("]")
}

func writeJSONString(w *limitedWriter, s string) {
	const hex = "0123456789abcdef"
	b := []byte{'"'}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c == '\n':
			b = append(b, '\\', 'n')
		case c == '\r':
			b = append(b, '\\', 'r')
		case c == '\t':
			b = append(b, '\\', 't')
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&15])
		default:
			b = append(b, c)
		}
	}
	b = append(b, '"')
	w.str(string(b))
}
