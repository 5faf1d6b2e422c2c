package transforms_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"testing/fstest"

	ecard "github.com/medgate/medgate/plugins/ecard/adapter"
	"github.com/medgate/medgate/plugins/sdk"
	selfpay "github.com/medgate/medgate/plugins/selfpay/adapter"
	tracecode "github.com/medgate/medgate/plugins/tracecode/adapter"
	workinjury "github.com/medgate/medgate/plugins/workinjury/adapter"
	"github.com/medgate/medgate/schemas"
	"github.com/medgate/medgate/transforms"
)

// TestMappingsCompileAgainstDeclaredSchemas compiles the built-in mappings
// against nothing but the schema documents the four plugins declare in
// Describe, as the host does with what its running plugins declared.
func TestMappingsCompileAgainstDeclaredSchemas(t *testing.T) {
	t.Parallel()
	var docs []map[string][]byte
	for _, p := range []sdk.Plugin{workinjury.New(), selfpay.New(), tracecode.New(), ecard.New()} {
		d, err := p.Describe(context.Background(), &sdk.DescribeRequest{})
		if err != nil {
			t.Fatal(err)
		}
		if len(d.Schemas) == 0 {
			t.Fatalf("plugin %s declares no schema documents", d.Name)
		}
		for _, op := range d.Operations {
			if op.Schema != "" && d.Schemas[op.Schema+".yaml"] == nil {
				t.Errorf("%s: operation %s names schema %s, which the plugin does not declare", d.Name, op.Type, op.Schema)
			}
		}
		docs = append(docs, d.Schemas)
	}
	declared, err := schemas.FromDocuments(docs...)
	if err != nil {
		t.Fatalf("the declared schemas do not load: %v", err)
	}
	set, err := transforms.Embedded().WithSchemas(declared)
	if err != nil {
		t.Fatalf("the built-in mappings do not compile against the declared schemas: %v", err)
	}
	if _, ok := set.Find("demo", transforms.FormatJSON, "ecard.register"); !ok {
		t.Fatal("no demo mapping for ecard.register")
	}
}

// TestVendorOperationCanBeMapped maps a message to an operation of a
// plugin medgate does not ship, against the schema it declares.
func TestVendorOperationCanBeMapped(t *testing.T) {
	t.Parallel()
	// The shipped plugins' schemas, as in TestMappingsCompileAgainstDeclaredSchemas, and the vendor's.
	shipped := schemas.Documents("workinjury", "selfpay", "tracecode", "ecard")
	declared, err := schemas.FromDocuments(shipped, map[string][]byte{"acme/visit.yaml": []byte(`code: visit
name: 就诊登记
system: acme
direction: upload
source: the vendor's interface document, section 3
input:
  - name: patientId
    label: 患者号
    type: string
    maxLength: 20
    required: true
    example: P001
`)})
	if err != nil {
		t.Fatal(err)
	}
	mappings := fstest.MapFS{"h1/json/acme.visit.yaml": {Data: []byte("fields:\n  patientId: {from: $.patient.id}\n")}}
	cases := map[string]struct {
		sch  *schemas.Set
		want string // part of the error; empty: compiles
	}{
		"against the declared schema": {declared, ""},
		"without it":                  {schemas.Embedded(), "acme"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			base, err := transforms.Embedded().WithSchemas(tc.sch)
			if err != nil {
				t.Fatalf("built-in mappings against %s: %v", name, err)
			}
			set, err := base.OverlayFS(mappings)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("the vendor's mapping does not compile: %v", err)
				}
				m, ok := set.Find("h1", transforms.FormatJSON, "acme.visit")
				if !ok {
					t.Fatal("mapping not found")
				}
				out, problems := m.Apply([]byte(`{"patient":{"id":"P9"}}`), nil)
				got, _ := json.Marshal(out)
				if len(problems) > 0 || string(got) != `{"patientId":"P9"}` {
					t.Fatalf("applied: %v %v", out, problems)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one naming %q", err, tc.want)
			}
		})
	}
}
