package integration

import (
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/wsgate/wsgate/internal/config"
)

// ErrNoIntegrationResponse is wrapped by Invoke's error when an integration has
// integration responses but none matches the backend's answer and there is no
// $default (AWS logs "No match for output mapping and no default output mapping
// configured" and the client gets "Internal server error").
var ErrNoIntegrationResponse = errors.New("no integration response matches and there is no $default")

// responses are an integration's integration responses (HTTP, AWS and MOCK): the
// regular-expression keys, tried in the order of their keys, then $default.
type responses struct {
	keyed []keyedResponse
	def   *integrationResponse
}

type keyedResponse struct {
	re *regexp.Regexp
	r  *integrationResponse
}

// integrationResponse is one compiled config.IntegrationResponse.
type integrationResponse struct {
	key       string
	templates map[string]*Template
	selection ResponseSelection
}

// compileResponses compiles cfg's integration responses; nil when it has none (the
// backend's body then passes as is).
func compileResponses(cfg config.Integration) (*responses, error) {
	if len(cfg.IntegrationResponses) == 0 {
		return nil, nil
	}
	rs := &responses{}
	for _, key := range slices.Sorted(maps.Keys(cfg.IntegrationResponses)) {
		ir := cfg.IntegrationResponses[key]
		field := fmt.Sprintf("IntegrationResponses[%q]", key)
		re, err := config.ParseIntegrationResponseKey(key)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", field, err)
		}
		r := &integrationResponse{key: key, templates: make(map[string]*Template, len(ir.ResponseTemplates))}
		for k, src := range ir.ResponseTemplates {
			t, err := ParseTemplate(src)
			if err != nil {
				return nil, fmt.Errorf("%s.ResponseTemplates[%q]: %w", field, k, err)
			}
			r.templates[k] = t
		}
		expr := ir.TemplateSelectionExpression
		if expr == "" || expr == "$default" {
			expr = `\$default`
		}
		if r.selection, err = CompileResponseSelection(expr); err != nil {
			return nil, fmt.Errorf("%s.TemplateSelectionExpression: %w", field, err)
		}
		if re == nil {
			rs.def = r
		} else {
			rs.keyed = append(rs.keyed, keyedResponse{re: re, r: r})
		}
	}
	return rs, nil
}

// pick selects the integration response for value (a status code, or a Lambda error
// message when matchKeys). Without matchKeys (a Lambda that succeeded) only $default
// applies, as AWS documents: the regular expressions match Lambda error messages and
// $default is "the catch-all for successful responses".
func (rs *responses) pick(value string, matchKeys bool) *integrationResponse {
	if matchKeys {
		for _, k := range rs.keyed {
			if k.re.MatchString(value) {
				return k.r
			}
		}
	}
	return rs.def
}

// apply transforms resp in place: the integration response selected by value, then its
// response template selected by its TemplateSelectionExpression, rendered with $input
// as resp's body. A selected response without a matching template leaves the body as
// is. rs nil: nothing to do.
func (rs *responses) apply(req *Request, resp *Response, value string, matchKeys bool) error {
	if rs == nil {
		return nil
	}
	r := rs.pick(value, matchKeys)
	if r == nil {
		return ErrNoIntegrationResponse
	}
	if len(r.templates) == 0 {
		return nil
	}
	key := r.selection.Eval(req, resp)
	t, ok := r.templates[key]
	if !ok {
		if t, ok = r.templates["$default"]; !ok {
			return nil
		}
	}
	d := templateData(req)
	d.Body = resp.Body
	out, err := t.Render(d)
	if err != nil {
		return fmt.Errorf("integration response %s: response template: %w", r.key, err)
	}
	resp.Body = out
	return nil
}

// ResponseSelection is a compiled integration response TemplateSelectionExpression:
// literal text ("\$default", "200"), ${integration.response.statuscode},
// ${integration.response.header.X}, ${integration.response.multivalueheader.X} and
// ${request.body.<path>} parts, or one of these variables alone without braces. It is
// written here rather than as an extension of Selection because its variables read
// the integration's answer, which route and request-template selection never see.
type ResponseSelection struct {
	parts []responseSelectionPart
}

type responseSelectionPart struct {
	literal string
	kind    responseVar
	name    string // header name
	path    *Path  // request.body path
}

type responseVar int

const (
	varLiteral responseVar = iota
	varStatusCode
	varHeader
	varMultiHeader
	varRequestBody
)

// maxSelectionExpression bounds a selection expression's length.
const maxSelectionExpression = 1000

// CompileResponseSelection compiles an integration response TemplateSelectionExpression.
func CompileResponseSelection(expr string) (ResponseSelection, error) {
	if expr == "" {
		return ResponseSelection{}, errors.New("empty selection expression")
	}
	if len(expr) > maxSelectionExpression {
		return ResponseSelection{}, fmt.Errorf("selection expression over %d bytes", maxSelectionExpression)
	}
	if rest, ok := strings.CutPrefix(expr, "$"); ok && !strings.Contains(rest, "${") && !strings.HasPrefix(rest, "{") {
		p, err := responseVariable(rest)
		if err != nil {
			return ResponseSelection{}, fmt.Errorf("selection expression %q: %w", expr, err)
		}
		return ResponseSelection{parts: []responseSelectionPart{p}}, nil
	}
	var s ResponseSelection
	err := scanSelection(expr,
		func(lit string) { s.parts = append(s.parts, responseSelectionPart{literal: lit}) },
		func(inner string) error {
			p, err := responseVariable(inner)
			if err != nil {
				return fmt.Errorf("selection expression %q: %w", expr, err)
			}
			s.parts = append(s.parts, p)
			return nil
		},
		func(rest string) error {
			return fmt.Errorf("selection expression %q: %q: put variables inside ${...} when the expression has text besides, or \\$ for a literal $", expr, rest)
		})
	if err != nil {
		return ResponseSelection{}, err
	}
	return s, nil
}

// responseVariable parses a variable name without its "$" or braces.
func responseVariable(v string) (responseSelectionPart, error) {
	switch {
	case v == "integration.response.statuscode":
		return responseSelectionPart{kind: varStatusCode}, nil
	case strings.HasPrefix(v, "integration.response.header."):
		name := strings.TrimPrefix(v, "integration.response.header.")
		if !validHeaderName(name) {
			return responseSelectionPart{}, fmt.Errorf("%q is not a header name", name)
		}
		return responseSelectionPart{kind: varHeader, name: name}, nil
	case strings.HasPrefix(v, "integration.response.multivalueheader."):
		name := strings.TrimPrefix(v, "integration.response.multivalueheader.")
		if !validHeaderName(name) {
			return responseSelectionPart{}, fmt.Errorf("%q is not a header name", name)
		}
		return responseSelectionPart{kind: varMultiHeader, name: name}, nil
	case strings.HasPrefix(v, "request.body"):
		path, err := bodyPath(strings.TrimPrefix(v, "request.body"))
		if err != nil {
			return responseSelectionPart{}, err
		}
		return responseSelectionPart{kind: varRequestBody, path: &path}, nil
	}
	return responseSelectionPart{}, fmt.Errorf("$%s is not supported (use integration.response.statuscode, integration.response.header.X, integration.response.multivalueheader.X or request.body.<path>)", v)
}

func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}

// Eval evaluates the expression for the request req and the backend's answer resp.
// A missing header or body value evaluates to ""; several values of a multi-value
// header are joined with a comma.
func (s ResponseSelection) Eval(req *Request, resp *Response) string {
	var b strings.Builder
	var doc any
	var isJSON, decoded bool
	for _, p := range s.parts {
		switch p.kind {
		case varLiteral:
			b.WriteString(p.literal)
		case varStatusCode:
			b.WriteString(strconv.Itoa(resp.StatusCode))
		case varHeader:
			b.WriteString(resp.Header.Get(p.name))
		case varMultiHeader:
			b.WriteString(strings.Join(resp.Header.Values(p.name), ","))
		case varRequestBody:
			if !decoded {
				doc, isJSON = DecodeBody(req.Body)
				decoded = true
			}
			if isJSON {
				if v, ok := p.path.Lookup(doc); ok {
					b.WriteString(scalarString(v))
				}
			}
		}
	}
	return b.String()
}
