package integration

// The template renderer: Render, its budget, and the nodes (text, #set, #if, #foreach).

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
)

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
	r := &renderer{t: t, d: d, vars: map[string]any{}, headerBytes: -1}
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

	bodyParsed  bool
	bodyDoc     any
	bodyErr     error
	regexps     map[string]*regexp.Regexp
	jsonCache   map[string]string // $input.json results by path
	bodyText    *string           // $input.body, once converted
	params      map[string]any    // $input.params(), once built
	headerBytes int               // the bytes of the handshake's header names; -1 until counted
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
		items = sortedValues(l)
	case map[string]string:
		items = sortedValues(l)
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

// sortedValues returns m's values in the order of their keys (nil for an empty map).
func sortedValues[V any](m map[string]V) []any {
	var items []any
	for _, k := range slices.Sorted(maps.Keys(m)) {
		items = append(items, m[k])
	}
	return items
}
