package adapter

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"gopkg.in/yaml.v3"

	"github.com/medgate/medgate/plugins/ecard/card"
	"github.com/medgate/medgate/schemas"
)

// TestRegisterSchemaRelation: the declared schema of ecard.register
// (schemas/ecard/register.yaml), which mappings and the console read, has
// the guardian relation codes the plugin accepts, with their names, and
// describes them as what they are: the codes of GB/T 4761-2008, checked
// against its public copies (card/identity.go), no longer as codes to be
// confirmed.
func TestRegisterSchemaRelation(t *testing.T) {
	t.Parallel()
	type field struct {
		Name        string            `yaml:"name"`
		Description string            `yaml:"description"`
		Codes       map[string]string `yaml:"codes"`
		Fields      []field           `yaml:"fields"`
	}
	var doc struct {
		Input []field `yaml:"input"`
	}
	raw := schemas.Documents("ecard")["ecard/register.yaml"]
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("schemas/ecard/register.yaml: %v", err)
	}
	var relation *field
	for _, f := range doc.Input {
		for i, g := range f.Fields {
			if f.Name == "guardian" && g.Name == "relation" {
				relation = &f.Fields[i]
			}
		}
	}
	if relation == nil {
		t.Fatal("schemas/ecard/register.yaml has no guardian.relation field")
	}
	accepted := map[string]string{}
	for i := range 100 {
		code := fmt.Sprintf("%02d", i)
		if name := card.RelationName(code); name != "" {
			accepted[code] = name
		}
	}
	if diff := cmp.Diff(accepted, relation.Codes); diff != "" {
		t.Errorf("guardian.relation codes differ from those the plugin accepts (-plugin +schema):\n%s", diff)
	}
	d := relation.Description
	for _, want := range []string{"GB/T 4761-2008", "public copies", "card/identity.go"} {
		if !strings.Contains(d, want) {
			t.Errorf("guardian.relation description %q does not say %q", d, want)
		}
	}
	if strings.Contains(strings.ToLower(d), "confirm") {
		t.Errorf("guardian.relation description %q still asks to confirm the codes", d)
	}
}
