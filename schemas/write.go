package schemas

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// WriteYAML writes s as a schema file in the format Load reads, with keys
// in the documented order. Empty optional keys are left out.
func WriteYAML(w io.Writer, s *Schema) error {
	if s == nil {
		return fmt.Errorf("write schema: nil schema")
	}
	root := &yaml.Node{Kind: yaml.MappingNode}
	kv := func(m *yaml.Node, k string, v *yaml.Node) {
		m.Content = append(m.Content, str(k), v)
	}
	kv(root, "code", str(s.Code))
	kv(root, "name", str(s.Name))
	kv(root, "system", str(s.System))
	kv(root, "direction", str(string(s.Direction)))
	if s.BatchLimit > 0 {
		kv(root, "batchLimit", intNode(int64(s.BatchLimit)))
	}
	if s.BatchField != "" {
		kv(root, "batchField", str(s.BatchField))
	}
	kv(root, "source", str(s.Source))
	kv(root, "reconstructed", boolNode(s.Reconstructed))
	if s.ReconstructionNote != "" {
		kv(root, "reconstructionNote", str(s.ReconstructionNote))
	}
	if s.Description != "" {
		kv(root, "description", str(s.Description))
	}
	kv(root, "input", fieldsNode(s.Input))
	kv(root, "output", fieldsNode(s.Output))
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(root); err != nil {
		return fmt.Errorf("write schema %s: %w", s.Code, err)
	}
	if err := enc.Close(); err != nil {
		return fmt.Errorf("write schema %s: %w", s.Code, err)
	}
	return nil
}

func str(v string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: v} }

func intNode(v int64) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.FormatInt(v, 10)}
}

func boolNode(v bool) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: strconv.FormatBool(v)}
}

func fieldsNode(fields []Field) *yaml.Node {
	seq := &yaml.Node{Kind: yaml.SequenceNode}
	if len(fields) == 0 {
		seq.Style = yaml.FlowStyle
	}
	for i := range fields {
		f := &fields[i]
		m := &yaml.Node{Kind: yaml.MappingNode}
		add := func(k string, v *yaml.Node) { m.Content = append(m.Content, str(k), v) }
		add("name", str(f.Name))
		if f.Label != "" {
			add("label", str(f.Label))
		}
		add("type", str(f.Type.String()))
		if f.MaxLength > 0 {
			add("maxLength", intNode(int64(f.MaxLength)))
		}
		if f.LengthUnit != "" {
			add("lengthUnit", str(string(f.LengthUnit)))
		}
		if f.Required {
			add("required", boolNode(true))
		}
		if f.RequiredUnless != "" {
			add("requiredUnless", str(f.RequiredUnless))
		}
		if f.PlatformOnly {
			add("platformOnly", boolNode(true))
		}
		if f.Format != "" {
			add("format", str(f.Format))
		}
		if f.Pattern != "" {
			add("pattern", str(f.Pattern))
		}
		if f.Personal {
			add("personal", boolNode(true))
		}
		switch {
		case f.CodesRef != "":
			add("codes", str(f.CodesRef))
		case len(f.Codes) > 0:
			cm := &yaml.Node{Kind: yaml.MappingNode}
			for _, k := range sortedKeys(f.Codes) {
				cm.Content = append(cm.Content, str(k), str(f.Codes[k]))
			}
			add("codes", cm)
		}
		if f.MinItems > 0 {
			add("minItems", intNode(int64(f.MinItems)))
		}
		if f.MaxItems > 0 {
			add("maxItems", intNode(int64(f.MaxItems)))
		}
		if n := exampleNode(f.Example); n != nil {
			add("example", n)
		}
		if f.Description != "" {
			add("description", str(f.Description))
		}
		if len(f.Fields) > 0 {
			add("fields", fieldsNode(f.Fields))
		}
		seq.Content = append(seq.Content, m)
	}
	return seq
}

func exampleNode(v any) *yaml.Node {
	switch x := v.(type) {
	case nil:
		return nil
	case string:
		return str(x)
	case bool:
		return boolNode(x)
	}
	if t, ok := numberText(v); ok {
		tag := "!!float"
		if AllDigits(strings.TrimPrefix(t, "-")) {
			tag = "!!int"
		}
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: t}
	}
	return str(fmt.Sprint(v))
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
