package config

// Request validation: AWS::ApiGatewayV2::Model and a route's RequestModels and
// ModelSelectionExpression.

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// MaxModelSchemaBytes bounds a model's Schema, as API Gateway's model size quota does.
const MaxModelSchemaBytes = 400 << 10

// Model is a JSON Schema (draft 4) that message bodies are validated against
// (AWS::ApiGatewayV2::Model).
type Model struct {
	// ContentType is the model's media type. Default "" (application/json, the only
	// one WebSocket APIs validate).
	ContentType string `yaml:"ContentType"`
	// Schema is the JSON Schema draft 4 document, as JSON text. Required. Only references
	// inside the schema itself ("#/definitions/x") resolve; nothing is fetched.
	Schema string `yaml:"Schema"`
	// Description is for people. Default "".
	Description string `yaml:"Description"`
}

// CompileSchema compiles the model's Schema as JSON Schema draft 4. It loads nothing
// from outside: a $ref to a file or URL is an error.
func (m Model) CompileSchema() (*jsonschema.Schema, error) {
	if strings.TrimSpace(m.Schema) == "" {
		return nil, errors.New("a schema is required")
	}
	if len(m.Schema) > MaxModelSchemaBytes {
		return nil, fmt.Errorf("%d bytes, at most %d", len(m.Schema), MaxModelSchemaBytes)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader([]byte(m.Schema)))
	if err != nil {
		return nil, fmt.Errorf("not JSON: %w", err)
	}
	const loc = "wsgate:///model.json"
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft4)
	c.UseLoader(noLoader{})
	if err := c.AddResource(loc, doc); err != nil {
		return nil, err
	}
	s, err := c.Compile(loc)
	if err != nil {
		return nil, fmt.Errorf("not a valid draft 4 schema: %w", err)
	}
	return s, nil
}

// noLoader refuses every URL: a schema's $ref cannot make the gateway read a file or
// call the network.
type noLoader struct{}

func (noLoader) Load(url string) (any, error) {
	return nil, errors.New("references outside the schema are not loaded")
}

// validateModels checks the models and the routes' RequestModels.
func (c *Config) validateModels(errs *errorList) {
	for _, name := range sortedKeys(c.Models) {
		m := c.Models[name]
		field := "Models." + name
		if ct := m.ContentType; ct != "" && ct != "application/json" {
			errs.add(field+".ContentType", "%q: only application/json is validated", ct)
		}
		if _, err := m.CompileSchema(); err != nil {
			errs.add(field+".Schema", "%v", err)
		}
	}
	for _, key := range sortedKeys(c.Routes) {
		r := c.Routes[key]
		field := "Routes." + key
		if len(r.RequestModels) == 0 {
			if r.ModelSelectionExpression != "" {
				errs.add(field+".ModelSelectionExpression", "set, but RequestModels is empty")
			}
			continue
		}
		if key == RouteConnect || key == RouteDisconnect {
			errs.add(field+".RequestModels", "models validate message bodies; %s has none", key)
		}
		if r.ModelSelectionExpression == "" {
			errs.add(field+".ModelSelectionExpression", "required with RequestModels (e.g. \\$default or $request.body.action)")
		}
		for _, sk := range sortedKeys(r.RequestModels) {
			if _, ok := c.Models[r.RequestModels[sk]]; !ok {
				errs.add(field+".RequestModels."+sk, "model %q is not in Models", r.RequestModels[sk])
			}
		}
	}
}
