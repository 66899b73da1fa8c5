package config

// The CloudFormation intrinsic functions, evaluated with what is known locally.

import (
	"encoding/base64"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// noValue is what Ref AWS::NoValue evaluates to: the property is removed.
var noValue = &struct{ name string }{"AWS::NoValue"}

// Bounds on evaluating a template's intrinsic functions: nothing a template says (a
// mapping entry that finds itself, conditions that refer to each other, values that
// double at every step) may exhaust the stack, the memory or the time of --check-config.
const (
	// maxEvalDepth bounds the nesting of values and intrinsic functions, counting the
	// mapping entries and conditions they lead to.
	maxEvalDepth = 200
	// maxEvalValues bounds the values evaluated in all, and maxEvalBytes the bytes of
	// the strings built (Fn::Join, Fn::Sub, Fn::Base64, Fn::Split).
	maxEvalValues = 1 << 20
	maxEvalBytes  = 16 << 20
)

// evaluator evaluates CloudFormation intrinsic functions with the values known
// locally: parameters, pseudo parameters, mappings, conditions, and Ref to a resource
// (its logical id: what API Gateway resources' ids are named locally).
type evaluator struct {
	params     map[string]any
	unset      map[string]string // parameters without a value: why
	pseudo     map[string]any
	resources  map[string]any
	mappings   map[string]any
	conditions map[string]any
	condCache  map[string]bool

	// stack holds the mapping entries and conditions being evaluated, outermost first
	// ("Fn::FindInMap M.a.b", "Condition C"): one met again is a cycle.
	stack  []string
	depth  int
	values int         // evaluated so far, up to maxEvalValues
	bytes  int         // of strings built so far, up to maxEvalBytes
	limit  *limitError // the first bound met

	lambda  *lambdaNames      // the template's functions (template_functions.go)
	imports map[string]string // other stacks' exports, by name (template_stacks.go)
}

func newEvaluator(root map[string]any, given map[string]string, s Server) (*evaluator, error) {
	partition := "aws"
	switch {
	case strings.HasPrefix(s.Region, "cn-"):
		partition = "aws-cn"
	case strings.HasPrefix(s.Region, "us-gov-"):
		partition = "aws-us-gov"
	}
	stack := "wsgate"
	if v, ok := given["AWS::StackName"]; ok {
		stack = v
	}
	ev := &evaluator{
		params: map[string]any{},
		unset:  map[string]string{},
		pseudo: map[string]any{
			"AWS::Region": s.Region, "AWS::AccountId": s.AccountID, "AWS::Partition": partition,
			"AWS::URLSuffix": "amazonaws.com", "AWS::StackName": stack, "AWS::NotificationARNs": []any{},
			"AWS::StackId": fmt.Sprintf("arn:%s:cloudformation:%s:%s:stack/%s/local", partition, s.Region, s.AccountID, stack),
		},
		condCache: map[string]bool{},
	}
	if partition == "aws-cn" {
		ev.pseudo["AWS::URLSuffix"] = "amazonaws.com.cn"
	}
	ev.resources, _ = root["Resources"].(map[string]any)
	ev.mappings, _ = root["Mappings"].(map[string]any)
	ev.conditions, _ = root["Conditions"].(map[string]any)
	params, _ := root["Parameters"].(map[string]any)
	for _, name := range slices.Sorted(maps.Keys(given)) {
		if _, ok := params[name]; !ok && name != "AWS::StackName" {
			return nil, fmt.Errorf("overrides: Parameters.%s: the template has no such parameter (its parameters: %s)", name, strings.Join(slices.Sorted(maps.Keys(params)), ", "))
		}
	}
	for _, name := range slices.Sorted(maps.Keys(params)) {
		if _, ok := ev.resources[name]; ok {
			return nil, fmt.Errorf("parameter %s is also a resource's logical id", name)
		}
		p, _ := params[name].(map[string]any)
		typ, _ := p["Type"].(string)
		val, ok := given[name]
		if !ok {
			d, has := p["Default"]
			if !has {
				ev.unset[name] = fmt.Sprintf("parameter %s has no value (it has no Default: give one in the overrides' Parameters)", name)
				continue
			}
			val = fmt.Sprint(d)
		} else if allowed, ok := p["AllowedValues"].([]any); ok {
			if !slices.ContainsFunc(allowed, func(a any) bool { return fmt.Sprint(a) == val }) {
				return nil, fmt.Errorf("overrides: Parameters.%s: %q is not one of the template's AllowedValues %v", name, val, allowed)
			}
		}
		switch {
		case typ == "CommaDelimitedList" || strings.HasPrefix(typ, "List<"):
			var list []any
			if val != "" {
				for s := range strings.SplitSeq(val, ",") {
					list = append(list, strings.TrimSpace(s))
				}
			}
			ev.params[name] = list
		case strings.HasPrefix(typ, "AWS::SSM::Parameter::Value<") && !ok:
			ev.unset[name] = fmt.Sprintf("parameter %s is read from SSM by CloudFormation (give it a value in the overrides' Parameters)", name)
		default:
			ev.params[name] = val
		}
	}
	return ev, nil
}

// limitError is a template whose intrinsic functions exceed a bound (maxEvalDepth,
// maxEvalValues, maxEvalBytes). Once one is met, everything evaluated after it fails
// too: the first is the error to report.
type limitError struct{ what string }

func (e *limitError) Error() string { return e.what }

// unresolved is a value CloudFormation knows and a local gateway does not.
type unresolved struct{ what string }

func (u *unresolved) Error() string { return u.what }

func (ev *evaluator) condition(name string) (bool, error) {
	if v, ok := ev.condCache[name]; ok {
		return v, nil
	}
	raw, ok := ev.conditions[name]
	if !ok {
		return false, fmt.Errorf("condition %s is not defined", name)
	}
	pop, err := ev.enter("Condition " + name)
	if err != nil {
		return false, err
	}
	defer pop()
	v, err := ev.eval(raw)
	if err != nil {
		return false, fmt.Errorf("condition %s: %w", name, err)
	}
	holds, ok := v.(bool)
	if !ok {
		return false, fmt.Errorf("condition %s is not a boolean", name)
	}
	ev.condCache[name] = holds
	return holds, nil
}

// enter pushes frame (a mapping entry or a condition) on the evaluation stack; it is an
// error naming the cycle when frame is already on it. The returned func pops it.
func (ev *evaluator) enter(frame string) (func(), error) {
	if i := slices.Index(ev.stack, frame); i >= 0 {
		return nil, fmt.Errorf("%s refers to itself: %s", frame, strings.Join(append(slices.Clone(ev.stack[i:]), frame), " → "))
	}
	ev.stack = append(ev.stack, frame)
	return func() { ev.stack = ev.stack[:len(ev.stack)-1] }, nil
}

// where names the mapping entries and conditions being evaluated, for an error.
func (ev *evaluator) where() string {
	if len(ev.stack) == 0 {
		return ""
	}
	path := ev.stack
	if len(path) > 6 {
		path = append(append(slices.Clone(path[:3]), "..."), path[len(path)-3:]...)
	}
	return " (in " + strings.Join(path, " → ") + ")"
}

// limited returns the limitError for a bound met, and keeps the first.
func (ev *evaluator) limited(format string, args ...any) error {
	err := &limitError{fmt.Sprintf(format, args...)}
	if ev.limit == nil {
		ev.limit = err
	}
	return err
}

// spendBytes counts n bytes of strings built against maxEvalBytes.
func (ev *evaluator) spendBytes(n int) error {
	if ev.bytes += n; ev.bytes > maxEvalBytes {
		return ev.limited("intrinsic functions build more than %d MB of strings%s", maxEvalBytes>>20, ev.where())
	}
	return nil
}

// eval evaluates v: strings, numbers, booleans, lists and maps, with intrinsic
// functions applied. Values not knowable locally are *unresolved errors. It counts
// against maxEvalDepth and maxEvalValues.
func (ev *evaluator) eval(v any) (any, error) {
	if ev.depth >= maxEvalDepth {
		return nil, ev.limited("values and intrinsic functions nest deeper than %d levels%s", maxEvalDepth, ev.where())
	}
	if ev.values++; ev.values > maxEvalValues {
		return nil, ev.limited("intrinsic functions expand to more than %d values%s", maxEvalValues, ev.where())
	}
	ev.depth++
	defer func() { ev.depth-- }()
	switch v := v.(type) {
	case []any:
		out := make([]any, 0, len(v))
		for _, x := range v {
			y, err := ev.eval(x)
			if err != nil {
				return nil, err
			}
			if y != noValue {
				out = append(out, y)
			}
		}
		return out, nil
	case map[string]any:
		if len(v) == 1 {
			for k, arg := range v {
				if k == "Ref" || k == "Condition" || strings.HasPrefix(k, "Fn::") {
					return ev.fn(k, arg)
				}
			}
		}
		out := make(map[string]any, len(v))
		for k, x := range v {
			y, err := ev.eval(x)
			if err != nil {
				return nil, err
			}
			if y != noValue {
				out[k] = y
			}
		}
		return out, nil
	}
	return v, nil
}

func (ev *evaluator) ref(name string) (any, error) {
	if name == "AWS::NoValue" {
		return noValue, nil
	}
	if v, ok := ev.params[name]; ok {
		return v, nil
	}
	if why, ok := ev.unset[name]; ok {
		return nil, &unresolved{why}
	}
	if v, ok := ev.pseudo[name]; ok {
		return v, nil
	}
	if v, ok := ev.functionRef(name); ok {
		return v, nil
	}
	if _, ok := ev.resources[name]; ok {
		return name, nil
	}
	return nil, fmt.Errorf("!Ref %s: no such parameter or resource", name)
}

func (ev *evaluator) fn(name string, arg any) (any, error) {
	args, _ := arg.([]any)
	argErr := func(want string) error { return fmt.Errorf("%s: arguments must be %s", name, want) }
	str := func(x any) (string, error) {
		y, err := ev.eval(x)
		if err != nil {
			return "", err
		}
		switch y := y.(type) {
		case string:
			return y, nil
		case int, float64, bool:
			return fmt.Sprint(y), nil
		}
		return "", fmt.Errorf("%s: %s is not a string", name, brief(y))
	}
	list := func(x any) ([]any, error) {
		y, err := ev.eval(x)
		if err != nil {
			return nil, err
		}
		l, ok := y.([]any)
		if !ok {
			return nil, fmt.Errorf("%s: %s is not a list", name, brief(y))
		}
		return l, nil
	}
	boolean := func(x any) (bool, error) {
		if m, ok := x.(map[string]any); ok {
			if c, ok := m["Condition"].(string); ok && len(m) == 1 {
				return ev.condition(c)
			}
		}
		y, err := ev.eval(x)
		if err != nil {
			return false, err
		}
		b, ok := y.(bool)
		if !ok {
			return false, fmt.Errorf("%s: %s is not a condition", name, brief(y))
		}
		return b, nil
	}
	switch name {
	case "Ref":
		s, ok := arg.(string)
		if !ok {
			return nil, argErr("a name")
		}
		return ev.ref(s)
	case "Condition":
		s, ok := arg.(string)
		if !ok {
			return nil, argErr("a condition name")
		}
		return ev.condition(s)
	case "Fn::Sub":
		var tmpl string
		vars := map[string]any{}
		switch a := arg.(type) {
		case string:
			tmpl = a
		case []any:
			if len(a) != 2 {
				return nil, argErr("a string, or [string, {variables}]")
			}
			tmpl, _ = a[0].(string)
			m, ok := a[1].(map[string]any)
			if !ok {
				return nil, argErr("a string, or [string, {variables}]")
			}
			for k, x := range m {
				vars[k] = x
			}
		default:
			return nil, argErr("a string, or [string, {variables}]")
		}
		return ev.sub(tmpl, vars)
	case "Fn::Join":
		if len(args) != 2 {
			return nil, argErr("[delimiter, [values]]")
		}
		delim, ok := args[0].(string)
		if !ok {
			return nil, argErr("[delimiter, [values]]")
		}
		items, err := list(args[1])
		if err != nil {
			return nil, err
		}
		parts := make([]string, 0, len(items))
		for _, it := range items {
			s, err := str(it)
			if err != nil {
				return nil, err
			}
			parts = append(parts, s)
		}
		out := strings.Join(parts, delim)
		if err := ev.spendBytes(len(out)); err != nil {
			return nil, err
		}
		return out, nil
	case "Fn::Select":
		if len(args) != 2 {
			return nil, argErr("[index, [values]]")
		}
		is, err := str(args[0])
		if err != nil {
			return nil, err
		}
		i, err := strconv.Atoi(is)
		if err != nil {
			return nil, argErr("[index, [values]]")
		}
		items, err := list(args[1])
		if err != nil {
			return nil, err
		}
		if i < 0 || i >= len(items) {
			return nil, fmt.Errorf("Fn::Select: index %d out of %d values", i, len(items))
		}
		return items[i], nil
	case "Fn::Split":
		if len(args) != 2 {
			return nil, argErr("[delimiter, string]")
		}
		delim, _ := args[0].(string)
		s, err := str(args[1])
		if err != nil {
			return nil, err
		}
		if err := ev.spendBytes(len(s)); err != nil {
			return nil, err
		}
		var out []any
		for _, p := range strings.Split(s, delim) {
			out = append(out, p)
		}
		return out, nil
	case "Fn::If":
		if len(args) != 3 {
			return nil, argErr("[condition, then, else]")
		}
		c, _ := args[0].(string)
		holds, err := ev.condition(c)
		if err != nil {
			return nil, err
		}
		if holds {
			return ev.eval(args[1])
		}
		return ev.eval(args[2])
	case "Fn::Equals":
		if len(args) != 2 {
			return nil, argErr("[a, b]")
		}
		a, err := ev.eval(args[0])
		if err != nil {
			return nil, err
		}
		b, err := ev.eval(args[1])
		if err != nil {
			return nil, err
		}
		return fmt.Sprint(a) == fmt.Sprint(b), nil
	case "Fn::Not":
		if len(args) != 1 {
			return nil, argErr("[condition]")
		}
		b, err := boolean(args[0])
		return !b, err
	case "Fn::And", "Fn::Or":
		if len(args) < 2 {
			return nil, argErr("2 to 10 conditions")
		}
		for _, a := range args {
			b, err := boolean(a)
			if err != nil {
				return nil, err
			}
			if b == (name == "Fn::Or") {
				return b, nil
			}
		}
		return name == "Fn::And", nil
	case "Fn::FindInMap":
		if len(args) < 3 {
			return nil, argErr("[map, top-level key, second-level key]")
		}
		var keys [3]string
		for i := range keys {
			s, err := str(args[i])
			if err != nil {
				return nil, err
			}
			keys[i] = s
		}
		m, _ := ev.mappings[keys[0]].(map[string]any)
		top, _ := m[keys[1]].(map[string]any)
		v, ok := top[keys[2]]
		if !ok {
			if len(args) == 4 { // AWS::LanguageExtensions DefaultValue
				if d, ok := args[3].(map[string]any); ok {
					return ev.eval(d["DefaultValue"])
				}
			}
			return nil, fmt.Errorf("Fn::FindInMap: %s.%s.%s is not in Mappings", keys[0], keys[1], keys[2])
		}
		pop, err := ev.enter("Fn::FindInMap " + strings.Join(keys[:], "."))
		if err != nil {
			return nil, err
		}
		defer pop()
		return ev.eval(v)
	case "Fn::Base64":
		s, err := str(arg)
		if err != nil {
			return nil, err
		}
		if err := ev.spendBytes(base64.StdEncoding.EncodedLen(len(s))); err != nil {
			return nil, err
		}
		return base64.StdEncoding.EncodeToString([]byte(s)), nil
	case "Fn::GetAtt":
		what := fmt.Sprint(arg)
		if len(args) == 2 {
			what = fmt.Sprintf("%v.%v", args[0], args[1])
		}
		if res, attr, ok := strings.Cut(what, "."); ok {
			if v, ok := ev.functionAtt(res, attr); ok {
				return v, nil
			}
		}
		return nil, &unresolved{"Fn::GetAtt " + what + " is known only to CloudFormation"}
	case "Fn::ImportValue":
		what := "a value"
		if s, err := str(arg); err == nil {
			if v, ok := ev.imports[s]; ok {
				return v, nil
			}
			what = strconv.Quote(s)
		}
		return nil, &unresolved{"Fn::ImportValue " + what + " is another stack's export, known only to CloudFormation"}
	}
	return nil, &unresolved{name + " is not supported locally"}
}

// sub evaluates an Fn::Sub string: ${Name} is a variable, a parameter, a pseudo
// parameter or a resource's logical id; ${Res.Attr} is an attribute (unknowable
// locally); ${!Literal} is "${Literal}".
func (ev *evaluator) sub(tmpl string, vars map[string]any) (any, error) {
	var b strings.Builder
	rest := tmpl
	for {
		i := strings.Index(rest, "${")
		if i < 0 {
			b.WriteString(rest)
			return b.String(), nil
		}
		b.WriteString(rest[:i])
		end := strings.IndexByte(rest[i:], '}')
		if end < 0 {
			b.WriteString(rest[i:])
			return b.String(), nil
		}
		name := rest[i+2 : i+end]
		rest = rest[i+end+1:]
		if lit, ok := strings.CutPrefix(name, "!"); ok {
			b.WriteString("${" + lit + "}")
			continue
		}
		var v any
		var err error
		if x, ok := vars[name]; ok {
			v, err = ev.eval(x)
		} else if res, attr, ok := strings.Cut(name, "."); ok && !strings.HasPrefix(name, "AWS::") {
			v, err = ev.fn("Fn::GetAtt", []any{res, attr})
		} else {
			v, err = ev.ref(name)
		}
		if err != nil {
			return nil, err
		}
		switch v.(type) {
		case string, int, float64, bool:
			s := fmt.Sprint(v)
			if err := ev.spendBytes(len(s)); err != nil {
				return nil, err
			}
			b.WriteString(s)
		default:
			return nil, fmt.Errorf("Fn::Sub: ${%s} is not a string", name)
		}
	}
}

// brief is v as an error shows it: at most 100 bytes of its text.
func brief(v any) string {
	s := fmt.Sprint(v)
	if len(s) > 100 {
		return strings.ToValidUTF8(s[:100], "") + "..."
	}
	return s
}
