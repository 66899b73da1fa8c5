package config

// The overrides file laid over the entries built from the template.

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// applyOverrides lays the overrides file's entries over the template's.
func (b *builder) applyOverrides(root *yaml.Node) error {
	for i := 0; i+1 < len(root.Content); i += 2 {
		section, n := root.Content[i].Value, root.Content[i+1]
		switch section {
		case "Parameters", "Stacks":
		case "Functions": // template_functions.go
			if err := b.overlayFunctions(n); err != nil {
				return err
			}
		case "Server":
			// Decoded already: it is the base the template's config was built on.
		case "Api":
			if err := b.overlay(n, &b.cfg.API, "Api."); err != nil {
				return err
			}
		case "Stage":
			if err := b.overlay(n, &b.cfg.Stage, "Stage."); err != nil {
				return err
			}
		case "Routes":
			if err := overlayEntries(b, n, section, b.cfg.Routes, "route keys", nil); err != nil {
				return err
			}
		case "Integrations":
			if err := overlayEntries(b, n, section, b.cfg.Integrations, "integrations", func(in *Integration, set []string, f string) {
				if in.IntegrationType == IntegrationMock && !slices.Contains(set, "IntegrationUri") {
					in.IntegrationURI, in.RequestParameters = "", nil
					delete(b.pending, f+"IntegrationUri")
					delete(b.pending, f+"RequestParameters")
				}
			}); err != nil {
				return err
			}
		case "Authorizers":
			if err := overlayEntries(b, n, section, b.cfg.Authorizers, "authorizers", func(a *Authorizer, set []string, f string) {
				if a.Cookie != nil && !slices.Contains(set, "AuthorizerUri") {
					a.AuthorizerURI = ""
					delete(b.pending, f+"AuthorizerUri")
				}
			}); err != nil {
				return err
			}
		}
	}
	return nil
}

// overlayEntries overlays each entry of the mapping n onto the same key of m, which must
// exist (a misspelt id would otherwise be silently unused).
func overlayEntries[V any](b *builder, n *yaml.Node, section string, m map[string]V, what string, after func(v *V, set []string, field string)) error {
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: %s: not a mapping", n.Line, section)
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		id := n.Content[i].Value
		v, ok := m[id]
		if !ok {
			return fmt.Errorf("line %d: %s.%s: the template has no such entry (its %s: %s)", n.Content[i].Line, section, id, what, strings.Join(slices.Sorted(maps.Keys(m)), ", "))
		}
		f := section + "." + id + "."
		if err := b.overlay(n.Content[i+1], &v, f); err != nil {
			return err
		}
		if after != nil {
			after(&v, mappingKeys(n.Content[i+1]), f)
		}
		m[id] = v
	}
	return nil
}

// overlay replaces the fields of *dst (a struct) that the mapping n sets, and clears
// their pending errors.
func (b *builder) overlay(n *yaml.Node, dst any, field string) error {
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: %s: not a mapping", n.Line, strings.TrimSuffix(field, "."))
	}
	dv := reflect.ValueOf(dst).Elem()
	src := reflect.New(dv.Type())
	if err := n.Decode(src.Interface()); err != nil {
		return err
	}
	for _, key := range mappingKeys(n) {
		for i := 0; i < dv.NumField(); i++ {
			tag, _, _ := strings.Cut(dv.Type().Field(i).Tag.Get("yaml"), ",")
			if tag == key {
				dv.Field(i).Set(src.Elem().Field(i))
				delete(b.pending, field+key)
			}
		}
	}
	return nil
}

func mappingKeys(n *yaml.Node) []string {
	var keys []string
	for i := 0; i+1 < len(n.Content); i += 2 {
		keys = append(keys, n.Content[i].Value)
	}
	return keys
}
