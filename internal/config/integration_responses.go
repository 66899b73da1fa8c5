package config

// Integration responses (AWS::ApiGatewayV2::IntegrationResponse): how a non-proxy
// integration's answer becomes the body a two-way route sends.

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// IntegrationResponse is one integration response of an HTTP, AWS or MOCK integration,
// selected by its key (the map key in Integration.IntegrationResponses).
type IntegrationResponse struct {
	// ResponseTemplates maps a template key to a VTL template rendered on the backend's
	// answer ($input is the integration response body; docs/templates.md). The key is
	// chosen by TemplateSelectionExpression, falling back to "$default". Default none:
	// the body is sent as the backend gave it.
	ResponseTemplates map[string]string `yaml:"ResponseTemplates"`
	// TemplateSelectionExpression selects the response template key: a literal
	// ("\$default", "200"), ${integration.response.statuscode},
	// ${integration.response.header.X}, ${integration.response.multivalueheader.X},
	// ${request.body.<path>} (the message), or text mixing them. Default: "$default".
	TemplateSelectionExpression string `yaml:"TemplateSelectionExpression"`
	// ContentHandlingStrategy (CONVERT_TO_BINARY, CONVERT_TO_TEXT) is not supported:
	// wsgate refuses any value. Default empty: the payload passes as is.
	ContentHandlingStrategy string `yaml:"ContentHandlingStrategy"`
	// ResponseParameters (method.response.header.X) are not supported: a WebSocket
	// route response is a message, without headers; wsgate refuses any. Default none.
	ResponseParameters map[string]string `yaml:"ResponseParameters"`
}

// Integration response selection expressions, as AWS fixes them per integration type.
const (
	SelectByStatusCode   = "$integration.response.statuscode"
	SelectByErrorMessage = "$integration.response.body.errorMessage"
)

// IntegrationResponseSelection is the integration response selection expression of an
// integration type ("" for the proxy types, which have no integration responses).
func IntegrationResponseSelection(integrationType string) string {
	switch integrationType {
	case IntegrationHTTP, IntegrationMock:
		return SelectByStatusCode
	case IntegrationAWS:
		return SelectByErrorMessage
	}
	return ""
}

// maxIntegrationResponseKey bounds a key's length (and so the regular expression's).
const maxIntegrationResponseKey = 1000

// ParseIntegrationResponseKey parses an IntegrationResponseKey: "$default" (nil, nil)
// or "/regex/", which must match the whole status code or error message (as REST
// APIs' selection patterns do). The regular expression is Go's RE2 syntax, which
// agrees with the Java syntax AWS uses on the patterns people write (\d, [45], |, .*);
// RE2 has no backreferences or lookaround, so such keys are refused.
func ParseIntegrationResponseKey(key string) (*regexp.Regexp, error) {
	if key == "$default" {
		return nil, nil
	}
	if len(key) > maxIntegrationResponseKey {
		return nil, fmt.Errorf("over %d bytes", maxIntegrationResponseKey)
	}
	inner, ok := strings.CutPrefix(key, "/")
	if ok {
		inner, ok = strings.CutSuffix(inner, "/")
	}
	if !ok || inner == "" {
		return nil, errors.New(`must be $default or a regular expression between slashes, e.g. "/4\d\d/"`)
	}
	// The expression must stand on its own before it is anchored: ")|(" compiles only
	// inside the group it would close, and would then match any value's empty prefix.
	if _, err := regexp.Compile(inner); err != nil {
		return nil, fmt.Errorf("not a regular expression: %w", err)
	}
	return regexp.Compile(`^(?:` + inner + `)$`)
}

func validateIntegrationResponses(errs *errorList, field string, in Integration) {
	sel := IntegrationResponseSelection(in.IntegrationType)
	if in.IntegrationResponseSelectionExpression != "" && in.IntegrationResponseSelectionExpression != sel {
		if sel == "" {
			errs.add(field+".IntegrationResponseSelectionExpression", "%s integrations have no integration responses", in.IntegrationType)
		} else {
			errs.add(field+".IntegrationResponseSelectionExpression", "%q: for %s integrations AWS fixes it to %s", in.IntegrationResponseSelectionExpression, in.IntegrationType, sel)
		}
	}
	if len(in.IntegrationResponses) == 0 {
		return
	}
	if sel == "" {
		errs.add(field+".IntegrationResponses", "%s integrations pass the backend's answer as is; only HTTP, AWS and MOCK integrations have integration responses", in.IntegrationType)
		return
	}
	for _, key := range sortedKeys(in.IntegrationResponses) {
		f := field + ".IntegrationResponses." + key
		if _, err := ParseIntegrationResponseKey(key); err != nil {
			errs.add(f, "%v", err)
		}
		ir := in.IntegrationResponses[key]
		if ir.ContentHandlingStrategy != "" {
			errs.add(f+".ContentHandlingStrategy", "%q is not supported (the payload passes as is)", ir.ContentHandlingStrategy)
		}
		if len(ir.ResponseParameters) > 0 {
			errs.add(f+".ResponseParameters", "not supported: a WebSocket route response is a message, without headers")
		}
		if ir.TemplateSelectionExpression != "" && len(ir.ResponseTemplates) == 0 {
			errs.add(f+".TemplateSelectionExpression", "set, but there are no ResponseTemplates to select from")
		}
	}
}
