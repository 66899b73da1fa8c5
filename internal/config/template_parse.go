package config

// YAML or JSON to plain values, with the short-form intrinsic tags in their long forms.

import (
	"errors"
	"strings"

	"go.yaml.in/yaml/v3"
)

// maxTemplateNodes bounds the values a template expands to (YAML aliases can make a
// small file expand exponentially). CloudFormation's own limit is 1 MB of template.
const maxTemplateNodes = 1 << 20

// nodeValue turns YAML into plain values, with CloudFormation's short-form tags
// (!Ref, !Sub, !GetAtt, ...) as their long forms ({"Ref": x}, {"Fn::Sub": x}, ...).
// Each node expanded takes one from *budget.
func nodeValue(n *yaml.Node, budget *int) (any, error) {
	if *budget--; *budget < 0 {
		return nil, errors.New("too large (aliases expand to more than a million values)")
	}
	var v any
	switch n.Kind {
	case yaml.AliasNode:
		return nodeValue(n.Alias, budget)
	case yaml.DocumentNode:
		if len(n.Content) == 1 {
			return nodeValue(n.Content[0], budget)
		}
		return nil, nil
	case yaml.SequenceNode:
		list := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			x, err := nodeValue(c, budget)
			if err != nil {
				return nil, err
			}
			list = append(list, x)
		}
		v = list
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			x, err := nodeValue(n.Content[i+1], budget)
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
