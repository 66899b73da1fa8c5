package config

// YAML or JSON to plain values, with the short-form intrinsic tags in their long forms.

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// maxTemplateNodes bounds the values a template expands to (YAML aliases can make a
// small file expand exponentially). CloudFormation's own limit is 1 MB of template.
const maxTemplateNodes = 1 << 20

// maxTemplateDepth bounds the nesting of a template's values, aliases expanded (an alias
// may stand inside the node it names: &a [*a]).
const maxTemplateDepth = 1000

// nodeValue turns YAML into plain values, with CloudFormation's short-form tags
// (!Ref, !Sub, !GetAtt, ...) as their long forms ({"Ref": x}, {"Fn::Sub": x}, ...).
// Each node expanded takes one from *budget.
func nodeValue(n *yaml.Node, budget *int) (any, error) {
	w := &nodeWalk{budget: budget}
	return w.value(n)
}

// nodeWalk is one nodeValue: the budget, and the aliases being expanded.
type nodeWalk struct {
	budget  *int
	depth   int
	aliases []*yaml.Node
}

func (w *nodeWalk) value(n *yaml.Node) (any, error) {
	if *w.budget--; *w.budget < 0 {
		return nil, errors.New("too large (aliases expand to more than a million values)")
	}
	if w.depth >= maxTemplateDepth {
		return nil, fmt.Errorf("line %d: values nest deeper than %d levels", n.Line, maxTemplateDepth)
	}
	w.depth++
	defer func() { w.depth-- }()
	var v any
	switch n.Kind {
	case yaml.AliasNode:
		if slices.Contains(w.aliases, n.Alias) {
			return nil, fmt.Errorf("line %d: alias *%s stands inside the value it names", n.Line, n.Value)
		}
		w.aliases = append(w.aliases, n.Alias)
		defer func() { w.aliases = w.aliases[:len(w.aliases)-1] }()
		return w.value(n.Alias)
	case yaml.DocumentNode:
		if len(n.Content) == 1 {
			return w.value(n.Content[0])
		}
		return nil, nil
	case yaml.SequenceNode:
		list := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			x, err := w.value(c)
			if err != nil {
				return nil, err
			}
			list = append(list, x)
		}
		v = list
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			x, err := w.value(n.Content[i+1])
			if err != nil {
				return nil, err
			}
			m[n.Content[i].Value] = x
		}
		v = m
	case yaml.ScalarNode:
		if isIntrinsicTag(n.Tag) {
			v = n.Value
		} else if err := n.Decode(&v); err != nil {
			v = n.Value
		}
	}
	if !isIntrinsicTag(n.Tag) {
		return v, nil
	}
	name := strings.TrimPrefix(n.Tag, "!")
	switch name {
	case "Ref", "Condition":
	case "GetAtt":
		if s, ok := v.(string); ok {
			res, attr, _ := strings.Cut(s, ".")
			v = []any{res, attr}
		}
		name = "Fn::GetAtt"
	default:
		name = "Fn::" + name
	}
	return map[string]any{name: v}, nil
}

func isIntrinsicTag(tag string) bool {
	return strings.HasPrefix(tag, "!") && !strings.HasPrefix(tag, "!!")
}
