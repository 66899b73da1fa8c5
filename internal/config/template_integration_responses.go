package config

// The translation of a template's AWS::ApiGatewayV2::IntegrationResponse resources, and
// of the IntegrationResponseSelectionExpression of its integrations (see
// integration_responses.go).

import (
	"fmt"
	"maps"
	"slices"
)

// integrationResponseProps are the properties of AWS::ApiGatewayV2::IntegrationResponse.
var integrationResponseProps = []string{"ApiId", "IntegrationId", "IntegrationResponseKey", "ResponseTemplates",
	"TemplateSelectionExpression", "ContentHandlingStrategy", "ResponseParameters"}

// integrationResponses reads the AWS::ApiGatewayV2::IntegrationResponse resources into
// their integrations' IntegrationResponses. Errors name the resource: an unknown or
// unsupported property, an IntegrationId that is not !Ref to an integration of the
// template, a key that is not $default or /regex/, a key given twice.
func (b *builder) integrationResponses(byType map[string][]resource, belongs func(resource) error) error {
	for _, r := range byType["AWS::ApiGatewayV2::Integration"] {
		in, ok := b.cfg.Integrations[r.id]
		if !ok {
			continue
		}
		in.IntegrationResponseSelectionExpression = b.str(r, "IntegrationResponseSelectionExpression", "Integrations."+r.id+".IntegrationResponseSelectionExpression")
		b.cfg.Integrations[r.id] = in
	}
	seen := map[string]map[string]string{} // integration id → key → resource id
	for _, r := range byType["AWS::ApiGatewayV2::IntegrationResponse"] {
		if err := belongs(r); err != nil {
			return err
		}
		for _, p := range slices.Sorted(maps.Keys(r.props)) {
			if !slices.Contains(integrationResponseProps, p) {
				return fmt.Errorf("Resources.%s.Properties.%s: not an AWS::ApiGatewayV2::IntegrationResponse property", r.id, p)
			}
		}
		idv, _ := b.ev.eval(r.props["IntegrationId"])
		id, _ := idv.(string)
		in, ok := b.cfg.Integrations[id]
		if !ok {
			return fmt.Errorf("Resources.%s.Properties.IntegrationId: must be !Ref to an AWS::ApiGatewayV2::Integration of this template", r.id)
		}
		key := b.str(r, "IntegrationResponseKey", "")
		if key == "" {
			return fmt.Errorf("Resources.%s.Properties.IntegrationResponseKey: required ($default or a regular expression between slashes)", r.id)
		}
		if _, err := ParseIntegrationResponseKey(key); err != nil {
			return fmt.Errorf("Resources.%s.Properties.IntegrationResponseKey: %q: %w", r.id, key, err)
		}
		if other, dup := seen[id][key]; dup {
			return fmt.Errorf("Resources.%s.Properties.IntegrationResponseKey: %q is also %s's, for the same integration", r.id, key, other)
		}
		if seen[id] == nil {
			seen[id] = map[string]string{}
		}
		seen[id][key] = r.id
		if IntegrationResponseSelection(in.IntegrationType) == "" {
			return fmt.Errorf("Resources.%s.Properties.IntegrationId: %s is a %s integration, which has no integration responses (the backend's answer passes as is)", r.id, id, in.IntegrationType)
		}
		f := "Integrations." + id + ".IntegrationResponses." + key + "."
		ir := IntegrationResponse{
			ResponseTemplates:           b.strMap(r, "ResponseTemplates", f+"ResponseTemplates"),
			TemplateSelectionExpression: b.str(r, "TemplateSelectionExpression", f+"TemplateSelectionExpression"),
		}
		if v := b.str(r, "ContentHandlingStrategy", ""); v != "" {
			return fmt.Errorf("Resources.%s.Properties.ContentHandlingStrategy: %q is not supported (wsgate passes the payload as is)", r.id, v)
		}
		if _, set := r.props["ResponseParameters"]; set {
			return fmt.Errorf("Resources.%s.Properties.ResponseParameters: not supported: a WebSocket route response is a message, without headers", r.id)
		}
		if in.IntegrationResponses == nil {
			in.IntegrationResponses = map[string]IntegrationResponse{}
		}
		in.IntegrationResponses[key] = ir
		b.cfg.Integrations[id] = in
	}
	return nil
}
