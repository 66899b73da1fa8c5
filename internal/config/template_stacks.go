package config

// Other stacks: templates whose functions this gateway runs too and whose exports the
// template's Fn::ImportValue reads (api.yaml's authorizer from authorizer.yaml).

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"

	"go.yaml.in/yaml/v3"
)

// maxStackTemplateBytes bounds another stack's template: CloudFormation's own limit is
// 1 MB (from S3); a device or a huge file is not a template.
const maxStackTemplateBytes = 16 << 20

// Stack is another template of the same application, named in the overrides' Stacks
// by its stack name (its AWS::StackName, which its export names usually start with).
type Stack struct {
	// Template is the template's path, relative to the overrides file. Required.
	Template string `yaml:"Template"`
	// Parameters gives its parameters values, as the overrides' Parameters do for the
	// main template. Default: each parameter's Default.
	Parameters map[string]string `yaml:"Parameters"`
}

// stacks reads the overrides' Stacks: their functions join the template's (overridable
// by name in Functions) and their Outputs' exports become what Fn::ImportValue returns.
func (b *builder) stacks(stacks map[string]Stack) error {
	for _, name := range slices.Sorted(maps.Keys(stacks)) {
		st := stacks[name]
		where := "Stacks." + name
		if st.Template == "" {
			return fmt.Errorf("%s.Template: required", where)
		}
		path := st.Template
		if !filepath.IsAbs(path) && b.overDir != "" {
			path = filepath.Join(b.overDir, path)
		}
		if fi, err := os.Stat(path); err != nil {
			return fmt.Errorf("%s.Template: %w", where, err)
		} else if !fi.Mode().IsRegular() || fi.Size() > maxStackTemplateBytes {
			return fmt.Errorf("%s.Template: %s is not a template file (a regular file of at most %d MB)", where, path, maxStackTemplateBytes>>20)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("%s.Template: %w", where, err)
		}
		var doc yaml.Node
		if err := yaml.Unmarshal(data, &doc); err != nil {
			return fmt.Errorf("%s (%s): %w", where, path, err)
		}
		if len(doc.Content) != 1 {
			return fmt.Errorf("%s (%s): empty", where, path)
		}
		budget := maxTemplateNodes
		v, err := nodeValue(doc.Content[0], &budget)
		if err != nil {
			return fmt.Errorf("%s (%s): %w", where, path, err)
		}
		root, ok := v.(map[string]any)
		if !ok {
			return fmt.Errorf("%s (%s): not a mapping", where, path)
		}
		params := maps.Clone(st.Parameters)
		if params == nil {
			params = map[string]string{}
		}
		params["AWS::StackName"] = name
		ev, err := newEvaluator(root, params, b.cfg.Server)
		if err != nil {
			return fmt.Errorf("%s: %w", where, err)
		}
		for _, k := range []string{"AWS::Region", "AWS::AccountId", "AWS::Partition", "AWS::URLSuffix"} {
			ev.pseudo[k] = b.ev.pseudo[k] // the main template's account and region
		}
		sb := &builder{ev: ev, cfg: &Config{Server: b.cfg.Server}, pending: map[string]pending{},
			dir: filepath.Dir(path), inlineDir: b.inlineDir, functionIDs: map[string]string{}}
		if err := sb.functionsOnly(root); err != nil {
			return fmt.Errorf("%s (%s): %w", where, path, err)
		}
		if len(sb.errs) > 0 {
			return fmt.Errorf("%s (%s): %w", where, path, errors.Join(sb.errs...))
		}
		if b.cfg.Functions == nil {
			b.cfg.Functions = map[string]Function{}
		}
		for _, fn := range slices.Sorted(maps.Keys(sb.cfg.Functions)) {
			if other, dup := b.functionIDs[fn]; dup {
				return fmt.Errorf("%s: function %s is also %s's", where, fn, other)
			}
			b.cfg.Functions[fn] = sb.cfg.Functions[fn]
			b.functionIDs[fn] = name + "/" + sb.functionIDs[fn] // errors: Resources.{stack}/{id}
		}
		for f, p := range sb.pending {
			p.where = where + ": " + p.where
			b.pending[f] = p
		}
		b.inline = append(b.inline, sb.inline...)
		for typ, ids := range sb.report.NotEmulated {
			for _, id := range ids {
				b.notEmulated(typ, name+"/"+id)
			}
		}
		// Exports: an Output's Export.Name → its Value, when both are known locally.
		outputs, _ := root["Outputs"].(map[string]any)
		for _, id := range slices.Sorted(maps.Keys(outputs)) {
			o, _ := outputs[id].(map[string]any)
			exp, _ := o["Export"].(map[string]any)
			if exp == nil {
				continue
			}
			n, err1 := ev.eval(exp["Name"])
			val, err2 := ev.eval(o["Value"])
			ns, ok1 := n.(string)
			vs, ok2 := val.(string)
			if err1 != nil || err2 != nil || !ok1 || !ok2 {
				continue // Fn::ImportValue of it stays unknown, with its usual error
			}
			if b.ev.imports == nil {
				b.ev.imports = map[string]string{}
			}
			b.ev.imports[ns] = vs
		}
	}
	return nil
}

// functionsOnly reads a template's functions and nothing else.
func (b *builder) functionsOnly(root map[string]any) error {
	if _, err := b.functionResources(root); err != nil {
		return err
	}
	switch {
	case b.limit != nil:
		return b.limit
	case b.ev.limit != nil:
		return b.ev.limit
	}
	return nil
}
