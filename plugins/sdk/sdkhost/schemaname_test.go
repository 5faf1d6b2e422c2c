package sdkhost

import (
	"strings"
	"testing"

	"github.com/medgate/medgate/plugins/sdk"
)

// TestOperationSchemasAreDeclared: an operation's Schema names one of the
// schema documents the plugin declares (DescribeResponse.Schemas, by path
// "<system>/<code>.yaml"). One it does not declare, misspelt or another
// system's, would be shown to people (medgate plugins) as the operation's
// schema while nothing of it exists, so the host refuses the plugin at
// launch, naming the operation, the schema and the schemas declared. A
// plugin of protocol version 1, which cannot declare schema documents,
// still launches with the names it shows. Documents keyed by another path
// (the embedded directory's name in front, no system directory) are named
// with how to key them, not reported as no documents at all.
func TestOperationSchemasAreDeclared(t *testing.T) {
	t.Parallel()
	doc := []byte("code: order\n")
	cases := map[string]struct {
		protocol int // 0: the latest
		schema   string
		schemas  map[string][]byte
		want     []string // in the one problem reported; none: no problem
	}{
		"declared":  {schema: "lab/order", schemas: map[string][]byte{"lab/order.yaml": doc, "lab/result.yaml": doc}},
		"no schema": {schema: "", schemas: nil},
		"misspelt": {schema: "lab/odrer", schemas: map[string][]byte{"lab/order.yaml": doc, "lab/result.yaml": doc, "lab/codes/units.yaml": doc},
			want: []string{`operation "lab.order"`, `schema "lab/odrer"`, "lab/order, lab/result", "lab/odrer.yaml"}},
		"none declared": {schema: "lab/order", schemas: nil,
			want: []string{`operation "lab.order"`, `schema "lab/order"`, "declares no schema documents", "lab/order.yaml"}},
		"keyed with the embedded directory's name": {schema: "lab/order", schemas: map[string][]byte{"schemas/lab/order.yaml": doc},
			want: []string{`schema "lab/order"`, "declares no document at a path <system>/<code>.yaml", `"schemas/lab/order.yaml"`, "fs.Sub", `so that this one is "lab/order.yaml"`}},
		"keyed without the system's directory": {schema: "lab/order", schemas: map[string][]byte{"order.yaml": doc},
			want: []string{`schema "lab/order"`, `"order.yaml", which is no path <system>/<code>.yaml`}},
		"one misplaced among the declared": {schema: "lab/order", schemas: map[string][]byte{"lab/result.yaml": doc, "schemas/lab/order.yaml": doc},
			want: []string{"(lab/result)", `the Schemas also hold "schemas/lab/order.yaml"`}},
		"a code table": {schema: "lab/codes/units", schemas: map[string][]byte{"lab/order.yaml": doc, "lab/codes/units.yaml": doc},
			want: []string{`schema "lab/codes/units"`, "(lab/order)"}},
		"another system's": {schema: "selfpay/4201A", schemas: map[string][]byte{"lab/order.yaml": doc},
			want: []string{`schema "selfpay/4201A"`, "(lab/order)"}},
		"protocol 1, none declared": {protocol: ProtocolV1, schema: "workinjury/GYU101", schemas: nil},
		"with its file's extension": {schema: "lab/order.yaml", schemas: map[string][]byte{"lab/order.yaml": doc},
			want: []string{`schema "lab/order.yaml"`, "(lab/order)"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			d := &sdk.DescribeResponse{Name: "lab", Operations: []sdk.Operation{{Type: "lab.order", Schema: tc.schema}}, Schemas: tc.schemas}
			errs := CheckDescription(d)
			if tc.protocol != 0 {
				errs = CheckDescriptionAt(d, tc.protocol)
			}
			if len(tc.want) == 0 {
				if len(errs) > 0 {
					t.Fatalf("problems %v; want none", errs)
				}
				return
			}
			if len(errs) != 1 {
				t.Fatalf("problems %v; want one naming the operation, its schema and those declared", errs)
			}
			for _, w := range tc.want {
				if !strings.Contains(errs[0].Error(), w) {
					t.Errorf("problem %q lacks %q", errs[0], w)
				}
			}
		})
	}
}
