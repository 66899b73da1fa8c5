package integration

// Method calls: $input and $util functions, and the String, List and Map methods.

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"maps"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

func (r *renderer) call(seg *segment, recv any, args []any) (any, error) {
	if err := r.spend(seg.at, 1); err != nil {
		return nil, err
	}
	switch recv {
	case builtinInput:
		if seg.name == "params" {
			return r.inputParams(seg, args)
		}
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
		for _, k := range slices.Sorted(maps.Keys(m)) {
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
