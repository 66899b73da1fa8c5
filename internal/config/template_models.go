package config

// The translation of a template's AWS::ApiGatewayV2::Model resources (request
// validation; see models.go).

import (
	"encoding/json"
	"fmt"
)

// models reads the AWS::ApiGatewayV2::Model resources into Models, by their Name (the
// name a route's RequestModels use). Schema may be JSON text or an object.
func (b *builder) models(byType map[string][]resource, belongs func(resource) error) error {
	for _, r := range byType["AWS::ApiGatewayV2::Model"] {
		if err := belongs(r); err != nil {
			return err
		}
		name := b.str(r, "Name", "")
		if name == "" {
			return fmt.Errorf("Resources.%s.Properties.Name: a model name is required", r.id)
		}
		if other, dup := b.modelIDs[name]; dup {
			return fmt.Errorf("Resources.%s.Properties.Name: %q is also %s's", r.id, name, other)
		}
		if b.modelIDs == nil {
			b.modelIDs = map[string]string{}
		}
		b.modelIDs[name] = r.id
		f := "Models." + name + "."
		m := Model{
			ContentType: b.str(r, "ContentType", f+"ContentType"),
			Description: b.str(r, "Description", f+"Description"),
		}
		switch s := b.value(r, "Schema", f+"Schema").(type) {
		case nil:
		case string:
			m.Schema = s
		case map[string]any:
			j, err := json.Marshal(s)
			if err != nil {
				return fmt.Errorf("Resources.%s.Properties.Schema: %w", r.id, err)
			}
			m.Schema = string(j)
		default:
			b.bad(r, "Schema", "a JSON string or an object")
		}
		if b.cfg.Models == nil {
			b.cfg.Models = map[string]Model{}
		}
		b.cfg.Models[name] = m
	}
	return nil
}
