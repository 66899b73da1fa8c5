package integration

// Printing values as Velocity does: maps as {k=v, ...}, template lists as [a, b], JSON lists as JSON.

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
)

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
		writeValueMap(w, v)
	case map[string]string:
		writeValueMap(w, v)
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

// writeValueMap writes m as Velocity prints a map: {k=v, ...}, keys sorted, each value
// as writeValue prints it (so a list from JSON as JSON).
func writeValueMap[V any](w *limitedWriter, m map[string]V) {
	w.str("{")
	for i, k := range slices.Sorted(maps.Keys(m)) {
		if i > 0 {
			w.str(", ")
		}
		w.str(k)
		w.str("=")
		writeValue(w, m[k])
	}
	w.str("}")
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
		writeJSONMap(w, v)
	case map[string]string:
		writeJSONMap(w, v)
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

// writeJSONMap writes m as a JSON object, keys sorted.
func writeJSONMap[V any](w *limitedWriter, m map[string]V) {
	w.str("{")
	for i, k := range slices.Sorted(maps.Keys(m)) {
		if i > 0 {
			w.str(",")
		}
		writeJSONString(w, k)
		w.str(":")
		writeJSON(w, m[k])
	}
	w.str("}")
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
