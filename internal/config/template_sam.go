package config

// SAM (Transform: AWS::Serverless-2016-10-31): the transform accepted, Globals.Function,
// the SAM resource types refused, and the list of resources wsgate does not emulate.

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// samTransform is the one macro serve --template accepts: SAM's, whose
// AWS::Serverless::Function it reads itself (template_functions.go).
const samTransform = "AWS::Serverless-2016-10-31"

// The template sections errors name.
const (
	transformKey = "Transform"
	globalsKey   = "Globals"
)

// TemplateReport is what serve --template read in a template and does not emulate,
// for the startup log.
type TemplateReport struct {
	// NotEmulated maps a resource type (AWS::DynamoDB::Table), or a type and a property
	// ("AWS::Serverless::Function Policies"), to the logical ids that have it, sorted.
	NotEmulated map[string][]string
}

// Lines is the report as log lines, one per type, sorted.
func (r *TemplateReport) Lines() []string {
	if r == nil {
		return nil
	}
	var out []string
	for _, typ := range slices.Sorted(maps.Keys(r.NotEmulated)) {
		out = append(out, typ+": "+strings.Join(r.NotEmulated[typ], ", "))
	}
	return out
}

// transform checks the template's Transform: none, or SAM's alone.
func transform(root map[string]any) (sam bool, err error) {
	t, ok := root["Transform"]
	if !ok {
		if _, g := root["Globals"]; g {
			return false, fmt.Errorf("%s: only SAM templates (Transform: %s) have Globals", globalsKey, samTransform)
		}
		return false, nil
	}
	var names []any
	switch t := t.(type) {
	case string:
		names = []any{t}
	case []any:
		names = t
	default:
		return false, fmt.Errorf("%s: macros are not supported (only %s); deploy the processed template", transformKey, samTransform)
	}
	for _, n := range names {
		if n != samTransform {
			return false, fmt.Errorf("%s: %s: macros are not supported (only %s); deploy the processed template", transformKey, brief(n), samTransform)
		}
	}
	return true, nil
}

// samGlobals is Globals.Function, checked.
func samGlobals(root map[string]any) (map[string]any, error) {
	g, ok := root["Globals"]
	if !ok {
		return nil, nil
	}
	gm, ok := g.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s: not a mapping", globalsKey)
	}
	fn, ok := gm["Function"]
	if !ok {
		return nil, nil
	}
	fm, ok := fn.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s.Function: not a mapping", globalsKey)
	}
	return fm, nil
}

// samRefused are the SAM resource types a local run cannot do without: an API wsgate
// does not serve (clients would find nothing there), code the functions need (a layer),
// a nested application (resources in another template).
var samRefused = map[string]string{
	"AWS::Serverless::Api":          "a REST API: wsgate serves the template's AWS::ApiGatewayV2 WebSocket API only",
	"AWS::Serverless::HttpApi":      "an HTTP API: wsgate serves the template's AWS::ApiGatewayV2 WebSocket API only",
	"AWS::Serverless::GraphQLApi":   "an AppSync API: wsgate serves the template's AWS::ApiGatewayV2 WebSocket API only",
	"AWS::Serverless::LayerVersion": "a layer: functions run locally with their own code only; put the layer's code in the function's directory",
	"AWS::Serverless::Application":  "a nested application: its resources are in another template",
}

// emulated are the resource types serve --template translates; every other type is
// listed as not emulated.
var emulated = map[string]bool{
	"AWS::ApiGatewayV2::Api": true, "AWS::ApiGatewayV2::Route": true,
	"AWS::ApiGatewayV2::RouteResponse": true, "AWS::ApiGatewayV2::Integration": true,
	"AWS::ApiGatewayV2::Authorizer": true, "AWS::ApiGatewayV2::Stage": true,
	"AWS::ApiGatewayV2::Model": true, "AWS::ApiGatewayV2::IntegrationResponse": true,
	samFunction: true, lambdaFunction: true, lambdaVersion: true, lambdaAlias: true,
}

// checkTypes refuses the SAM types in samRefused (and any SAM type without the
// transform) and lists the types wsgate does not emulate.
func (b *builder) checkTypes(byType map[string][]resource, sam bool) error {
	for _, typ := range slices.Sorted(maps.Keys(byType)) {
		rs := byType[typ]
		if why, ok := samRefused[typ]; ok {
			return fmt.Errorf("Resources.%s.Type: %s is not supported (%s)", rs[0].id, typ, why)
		}
		if strings.HasPrefix(typ, "AWS::Serverless::") && !sam {
			return fmt.Errorf("Resources.%s.Type: %s needs Transform: %s", rs[0].id, typ, samTransform)
		}
		if emulated[typ] {
			continue
		}
		for _, r := range rs {
			b.notEmulated(typ, r.id)
		}
	}
	// SAM's Events (no event source is of type WebSocket): listed, never run.
	for _, r := range byType[samFunction] {
		ev, _ := r.props["Events"].(map[string]any)
		for _, name := range slices.Sorted(maps.Keys(ev)) {
			e, _ := ev[name].(map[string]any)
			b.notEmulated(samFunction+" Events", fmt.Sprintf("%s.%s (%v)", r.id, name, e["Type"]))
		}
	}
	return nil
}
