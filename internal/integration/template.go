package integration

// The template*.go files hold the VTL (Apache Velocity) request-template subset API
// Gateway uses: a parser (template_parse.go) that turns a template into a tree of nodes and
// expressions, rejecting what is not supported with a line:column, and a renderer
// (template_render.go, template_eval.go, template_methods.go, template_print.go) bounded in
// output, loop iterations and work. docs/templates.md describes the language and its
// differences from AWS.

import (
	"errors"
	"fmt"
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

	// Headers and Query are the handshake's headers and query parameters (multi-value,
	// names as sent), set on CONNECT only: $input.params() and $input.params('x') read
	// them.
	Headers map[string][]string
	Query   map[string][]string
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
