package server

// Request validation: compiling the config's Models and a route's RequestModels.

import (
	"errors"
	"fmt"

	"github.com/wsgate/wsgate/internal/config"
	"github.com/wsgate/wsgate/internal/gateway"
	"github.com/wsgate/wsgate/internal/integration"
)

// buildModels compiles route key's request validation; nil when it has no
// RequestModels. Its errors name the config field.
func buildModels(cfg *config.Config, key string, rc config.Route) (*gateway.Models, error) {
	if len(rc.RequestModels) == 0 {
		return nil, nil
	}
	field := "Routes." + key + "."
	expr := rc.ModelSelectionExpression
	if expr == config.RouteDefault {
		expr = `\$default` // the constant key, as AWS accepts it unescaped here
	}
	sel, err := integration.CompileSelection(expr)
	if err != nil {
		return nil, fmt.Errorf("%sModelSelectionExpression: %w", field, err)
	}
	m := &gateway.Models{Selection: sel, Schemas: make(map[string]gateway.Model, len(rc.RequestModels))}
	var errs []error
	for sk, name := range rc.RequestModels {
		model, ok := cfg.Models[name]
		if !ok {
			errs = append(errs, fmt.Errorf("%sRequestModels.%s: model %q is not in Models", field, sk, name))
			continue
		}
		s, err := model.CompileSchema()
		if err != nil {
			errs = append(errs, fmt.Errorf("Models.%s.Schema: %w", name, err))
			continue
		}
		m.Schemas[sk] = gateway.Model{Name: name, Schema: s}
	}
	return m, errors.Join(errs...)
}
