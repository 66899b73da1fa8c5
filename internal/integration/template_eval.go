package integration

// Expression evaluation: operators, comparisons, references, $input and its JSON body.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strings"
)

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
