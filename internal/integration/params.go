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
// ← route.request.header.X | route.request.querystring.X ($connect only) |
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
	return nil, fmt.Errorf("%q is not route.request.header.X, route.request.querystring.X, route.request.body.<path>, stageVariables.X, context.X or 'static'", s)
}

// apply sets the parameters on an outgoing request: headers and query values, and
// {name} placeholders in the URL path. Missing sources are left out, as API Gateway
// does.
func applyParameters(params []parameter, req *Request, u *url.URL, h http.Header) {
	if len(params) == 0 {
		return
	}
	var doc any
	var isJSON bool
	decoded := false
	var q url.Values
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
			u.Path = strings.ReplaceAll(u.Path, "{"+p.name+"}", v)
			u.RawPath = ""
		}
	}
	if q != nil {
		u.RawQuery = q.Encode()
	}
}
