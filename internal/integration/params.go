package integration

import (
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
)

// parameter is one compiled RequestParameters entry.
type parameter struct {
	target string // header, querystring or path
	name   string
	source func(req *Request, body any, isJSON bool) (string, bool)
}

// compileParameters compiles RequestParameters: integration.request.{header,querystring,path}.X
// ← route.request.header.X | route.request.querystring.X | route.request.multivalueheader.X |
// route.request.multivaluequerystring.X (these four on $connect only) |
// route.request.body.<path> | stageVariables.X | context.X | 'static'.
func compileParameters(m map[string]string) ([]parameter, error) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out []parameter
	for _, k := range keys {
		field := fmt.Sprintf("RequestParameters[%q]", k)
		rest, ok := strings.CutPrefix(k, "integration.request.")
		if !ok {
			return nil, fmt.Errorf("%s: the key must start with integration.request", field)
		}
		target, name, ok := strings.Cut(rest, ".")
		if !ok || name == "" || (target != "header" && target != "querystring" && target != "path") {
			return nil, fmt.Errorf("%s: the key must be integration.request.header.X, .querystring.X or .path.X", field)
		}
		src, err := compileSource(m[k])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", field, err)
		}
		out = append(out, parameter{target: target, name: name, source: src})
	}
	return out, nil
}

func compileSource(s string) (func(*Request, any, bool) (string, bool), error) {
	if len(s) >= 2 && s[0] == '\'' && s[len(s)-1] == '\'' {
		v := s[1 : len(s)-1]
		return func(*Request, any, bool) (string, bool) { return v, true }, nil
	}
	switch {
	case strings.HasPrefix(s, "route.request.multivalueheader."):
		name := strings.TrimPrefix(s, "route.request.multivalueheader.")
		if name == "" {
			return nil, fmt.Errorf("%q names no header", s)
		}
		return func(r *Request, _ any, _ bool) (string, bool) { return joinValues(headerValues(r.Headers, name)) }, nil
	case strings.HasPrefix(s, "route.request.multivaluequerystring."):
		name := strings.TrimPrefix(s, "route.request.multivaluequerystring.")
		if name == "" {
			return nil, fmt.Errorf("%q names no query parameter", s)
		}
		return func(r *Request, _ any, _ bool) (string, bool) { return joinValues(r.Query[name]) }, nil
	case strings.HasPrefix(s, "route.request.header."):
		name := strings.TrimPrefix(s, "route.request.header.")
		return func(r *Request, _ any, _ bool) (string, bool) { return r.header(name) }, nil
	case strings.HasPrefix(s, "route.request.querystring."):
		name := strings.TrimPrefix(s, "route.request.querystring.")
		return func(r *Request, _ any, _ bool) (string, bool) { return r.query(name) }, nil
	case strings.HasPrefix(s, "route.request.body"):
		p, err := bodyPath(strings.TrimPrefix(s, "route.request.body"))
		if err != nil {
			return nil, err
		}
		return func(_ *Request, doc any, isJSON bool) (string, bool) {
			if !isJSON {
				return "", false
			}
			v, ok := p.Lookup(doc)
			if !ok {
				return "", false
			}
			return scalarString(v), true
		}, nil
	case strings.HasPrefix(s, "stageVariables."):
		name := strings.TrimPrefix(s, "stageVariables.")
		return func(r *Request, _ any, _ bool) (string, bool) {
			v, ok := r.StageVariables[name]
			return v, ok
		}, nil
	case strings.HasPrefix(s, "context."):
		name := strings.TrimPrefix(s, "context.")
		return func(r *Request, _ any, _ bool) (string, bool) { return r.ContextValue(name) }, nil
	}
	return nil, fmt.Errorf("%q is not route.request.header.X, route.request.querystring.X, route.request.multivalueheader.X, "+
		"route.request.multivaluequerystring.X, route.request.body.<path>, stageVariables.X, context.X or 'static'", s)
}

// headerValues returns every value of the header name (in any letter case) in h: the
// values of each spelling in the order sent, the spellings in sorted order.
func headerValues(h map[string][]string, name string) []string {
	var spellings []string
	for k := range h {
		if strings.EqualFold(k, name) {
			spellings = append(spellings, k)
		}
	}
	if len(spellings) == 1 {
		return h[spellings[0]]
	}
	sort.Strings(spellings)
	var out []string
	for _, k := range spellings {
		out = append(out, h[k]...)
	}
	return out
}

// joinValues is a multi-value parameter as one value: its values joined with ",", as
// API Gateway maps route.request.multivalueheader.X and .multivaluequerystring.X; false
// when there are none.
func joinValues(vs []string) (string, bool) {
	if len(vs) == 0 {
		return "", false
	}
	return strings.Join(vs, ","), true
}

// lastValue is the last of a parameter's values, as the single-value maps of API
// Gateway's events hold it; false when there are none.
func lastValue(vs []string) (string, bool) {
	if len(vs) == 0 {
		return "", false
	}
	return vs[len(vs)-1], true
}

// applyParameters sets the parameters on an outgoing request: headers and query values,
// and {name} placeholders in the URL path (see substitutePath). Missing sources are left
// out, as API Gateway does.
func applyParameters(params []parameter, req *Request, u *url.URL, h http.Header) {
	if len(params) == 0 {
		return
	}
	var doc any
	var isJSON bool
	decoded := false
	var q url.Values
	var path map[string]string
	for _, p := range params {
		if !decoded {
			doc, isJSON = DecodeBody(req.Body)
			decoded = true
		}
		v, ok := p.source(req, doc, isJSON)
		if !ok {
			continue
		}
		switch p.target {
		case "header":
			h.Set(p.name, v)
		case "querystring":
			if q == nil {
				q = u.Query()
			}
			q.Set(p.name, v)
		case "path":
			if path == nil {
				path = make(map[string]string, len(params))
			}
			path[p.name] = v
		}
	}
	if q != nil {
		u.RawQuery = q.Encode()
	}
	if path != nil {
		substitutePath(u, path)
	}
}

// substitutePath replaces the {name} placeholders of u's path with values[name], each
// escaped as one path segment (url.PathEscape: a "/", "?", "#" or "%" in a value is
// percent-encoded), in one pass, so that a value holding "{other}" is not substituted
// again. A segment that a substitution makes "." or ".." is sent as "%2E" or "%2E%2E",
// so that no value can climb the backend's path. Segments without a placeholder keep
// their spelling in the integration URI (an escaped "%2F" stays one).
func substitutePath(u *url.URL, values map[string]string) {
	raw := u.RawPath
	if raw == "" {
		raw = u.EscapedPath()
	}
	segs := strings.Split(raw, "/")
	for i, seg := range segs {
		dec, err := url.PathUnescape(seg)
		if err != nil || !strings.Contains(dec, "{") {
			if !validSegment(seg) {
				segs[i] = url.PathEscape(dec)
			}
			continue
		}
		segs[i] = substituteSegment(dec, values)
	}
	u.RawPath = strings.Join(segs, "/")
	if p, err := url.PathUnescape(u.RawPath); err == nil {
		u.Path = p
	}
}

// substituteSegment returns the escaped segment dec (decoded) with its placeholders
// replaced.
func substituteSegment(dec string, values map[string]string) string {
	var out, plain strings.Builder
	substituted := false
	for dec != "" {
		open := strings.IndexByte(dec, '{')
		end := -1
		if open >= 0 {
			end = strings.IndexByte(dec[open:], '}')
		}
		if open < 0 || end < 0 {
			out.WriteString(url.PathEscape(dec))
			plain.WriteString(dec)
			break
		}
		end += open
		v, ok := values[dec[open+1:end]]
		if !ok {
			v = dec[open : end+1] // left as it is, escaped
		} else {
			substituted = true
		}
		out.WriteString(url.PathEscape(dec[:open]))
		out.WriteString(url.PathEscape(v))
		plain.WriteString(dec[:open])
		plain.WriteString(v)
		dec = dec[end+1:]
	}
	if substituted && (plain.String() == "." || plain.String() == "..") {
		return strings.Repeat("%2E", plain.Len())
	}
	return out.String()
}

// validSegment reports whether seg is a path segment as RFC 3986 spells one: unreserved
// characters, sub-delimiters, ":", "@" and percent escapes.
func validSegment(seg string) bool {
	for i := 0; i < len(seg); i++ {
		c := seg[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("-._~!$&'()*+,;=:@", c) >= 0:
		case c == '%' && i+2 < len(seg) && isHex(seg[i+1]) && isHex(seg[i+2]):
			i += 2
		default:
			return false
		}
	}
	return true
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}
