package config

// The template*.go files read a CloudFormation template into a Config: template_parse.go
// turns YAML or JSON into plain values, template_intrinsic.go evaluates the intrinsic
// functions, template_build.go translates the resources to config entries and
// template_overrides.go lays an overrides file over them.

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"

	"go.yaml.in/yaml/v3"
)

// LoadTemplate reads a CloudFormation template defining an AWS::ApiGatewayV2 WebSocket
// API and, if overridesPath is not empty, a YAML file in the config format whose Server
// section and entries override the template's (local integration URIs, the built-in
// authorizer in place of a Lambda). It returns the validated Config.
func LoadTemplate(templatePath, overridesPath string) (*Config, error) {
	tmpl, err := os.ReadFile(templatePath)
	if err != nil {
		return nil, fmt.Errorf("template: %w", err)
	}
	var over []byte
	if overridesPath != "" {
		if over, err = os.ReadFile(overridesPath); err != nil {
			return nil, fmt.Errorf("overrides: %w", err)
		}
	}
	opts := templateOptions{dir: filepath.Dir(templatePath), inlineDir: inlineCodeDir()}
	if overridesPath != "" {
		opts.overDir = filepath.Dir(overridesPath)
	}
	c, b, err := parseTemplate(tmpl, over, opts)
	if err == nil {
		err = b.writeCode(c) // template_code.go
	}
	if err != nil {
		if overridesPath != "" {
			return nil, fmt.Errorf("%s (overrides %s): %w", templatePath, overridesPath, err)
		}
		return nil, fmt.Errorf("%s: %w", templatePath, err)
	}
	return c, nil
}

// Overrides is the --overrides file: the config format, plus values for the template's
// parameters. Its Server section replaces the defaults; an entry of Api, Stage, Routes
// (by route key), Integrations or Authorizers (by logical id) replaces the fields it
// sets of the template's. An authorizer override with Cookie makes it the built-in
// cookie authorizer (its AuthorizerUri is dropped); an integration override with
// IntegrationType MOCK drops the template's IntegrationUri and RequestParameters.
type Overrides struct {
	Config `yaml:",inline"`
	// Parameters gives template parameters values (CommaDelimitedList ones as "a,b").
	// The pseudo parameter AWS::StackName can be given too (default "wsgate");
	// AWS::Region and AWS::AccountId are Server.Region and Server.AccountId. Default:
	// each parameter's Default.
	Parameters map[string]string `yaml:"Parameters"`
	// Stacks are the application's other templates, by stack name: their functions are
	// run too, and Fn::ImportValue of their exports is known (template_stacks.go).
	// Default none.
	Stacks map[string]Stack `yaml:"Stacks"`
}

// ParseTemplate maps a CloudFormation template (YAML or JSON, short or long intrinsic
// function forms) and an optional overrides file (nil for none) onto a validated
// Config. It reads the AWS::ApiGatewayV2 Api (WEBSOCKET), Route, RouteResponse,
// Integration, Authorizer and Stage resources, and ignores the rest (deployments,
// domain names, permissions, logs, DNS). Values it cannot know locally (Fn::ImportValue,
// Fn::GetAtt, a parameter without a value) are errors naming the resource and property,
// unless the overrides set that field.
//
// Function code paths stay as the template writes them (relative to its directory) and
// inline code is not written: LoadTemplate resolves the one and writes the other.
func ParseTemplate(tmpl, overrides []byte) (*Config, error) {
	c, _, err := parseTemplate(tmpl, overrides, templateOptions{inlineDir: inlineCodeDir()})
	return c, err
}

// templateOptions are what a template file's place gives its parsing.
type templateOptions struct {
	dir, overDir string // the template's and the overrides file's directories, or ""
	inlineDir    string // where inline function code goes
}

func parseTemplate(tmpl, overrides []byte, opts templateOptions) (*Config, *builder, error) {
	var over Overrides
	var overRoot *yaml.Node
	if len(bytes.TrimSpace(overrides)) > 0 {
		dec := yaml.NewDecoder(bytes.NewReader(overrides))
		dec.KnownFields(true)
		if err := dec.Decode(&over); err != nil {
			return nil, nil, fmt.Errorf("overrides: %w", err)
		}
		var doc yaml.Node
		if err := yaml.Unmarshal(overrides, &doc); err != nil {
			return nil, nil, fmt.Errorf("overrides: %w", err)
		}
		if len(doc.Content) == 1 {
			overRoot = doc.Content[0]
		}
	}

	var doc yaml.Node
	if err := yaml.Unmarshal(tmpl, &doc); err != nil {
		return nil, nil, fmt.Errorf("template: %w", err)
	}
	if len(doc.Content) != 1 {
		return nil, nil, errors.New("template: empty")
	}
	budget := maxTemplateNodes
	v, err := nodeValue(doc.Content[0], &budget)
	if err != nil {
		return nil, nil, fmt.Errorf("template: %w", err)
	}
	root, ok := v.(map[string]any)
	if !ok {
		return nil, nil, errors.New("template: not a mapping")
	}

	c := &Config{Server: over.Server}
	c.SetDefaults() // Server.Region and AccountId are AWS::Region and AWS::AccountId
	ev, err := newEvaluator(root, over.Parameters, c.Server)
	if err != nil {
		return nil, nil, err
	}
	b := &builder{ev: ev, cfg: &Config{Server: over.Server}, pending: map[string]pending{},
		dir: opts.dir, overDir: opts.overDir, inlineDir: opts.inlineDir, functionIDs: map[string]string{}}
	if err := b.stacks(over.Stacks); err != nil {
		return nil, nil, fmt.Errorf("overrides: %w", err)
	}
	if err := b.build(root, over.Stage.StageName); err != nil {
		return nil, nil, err
	}
	if len(b.errs) > 0 {
		return nil, nil, errors.Join(b.errs...)
	}
	if overRoot != nil {
		if err := b.applyOverrides(overRoot); err != nil {
			return nil, nil, fmt.Errorf("overrides: %w", err)
		}
	}
	if len(b.pending) > 0 {
		var errs []error
		for _, f := range slices.Sorted(maps.Keys(b.pending)) {
			p := b.pending[f]
			errs = append(errs, fmt.Errorf("%s: %w; or set %s in the overrides", p.where, p.err, f))
		}
		return nil, nil, errors.Join(errs...)
	}
	cfg := b.cfg
	if len(b.report.NotEmulated) > 0 {
		cfg.Template = &b.report
	}
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, nil, b.templateNames(err)
	}
	return cfg, b, nil
}
