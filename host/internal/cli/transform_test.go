package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestTransformTestVendorSchemas: a hospital maps its platform's messages
// to a vendor plugin's operation (acme.order) and runs `medgate transform
// test -dir DIR` before reloading, as the README says. The target schema
// is the plugin's own document (acme/order.yaml, which the plugin declares
// in Describe), not a built-in one: -schemas DIR gives the plugin's schema
// documents, and without it the error says so.
func TestTransformTestVendorSchemas(t *testing.T) {
	t.Parallel()
	write := func(t *testing.T, path, data string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	dir, sch := t.TempDir(), t.TempDir()
	write(t, filepath.Join(sch, "acme", "order.yaml"), `code: order
name: lab order
system: acme
direction: upload
source: a vendor's plugin
input:
  - name: patientName
    label: name
    type: string
    required: true
    personal: true
    example: Ada
  - name: testCode
    label: test
    type: string
    required: true
    example: CBC
`)
	write(t, filepath.Join(dir, "main", "json", "acme.order.yaml"), `description: the platform's lab order to acme.order
fields:
  patientName: $.patient.name
  testCode: $.order.item
`)
	write(t, filepath.Join(dir, "testdata", "main", "json", "acme.order", "one.in.json"), `{"patient":{"name":"Ada"},"order":{"item":"CBC"}}`)
	write(t, filepath.Join(dir, "testdata", "main", "json", "acme.order", "one.out.json"), `{"patientName":"Ada","testCode":"CBC"}`)

	cases := map[string]struct {
		args    []string
		fails   bool
		outputs []string // in the output or the error
	}{
		"with the plugin's schemas": {args: []string{"-dir", dir, "-schemas", sch, "main/json/acme.order"}, outputs: []string{"ok   main/json/acme.order/one", "1 passed, 0 failed"}},
		"without them":              {args: []string{"-dir", dir, "main/json/acme.order"}, fails: true, outputs: []string{"no schema for acme/order", "-schemas DIR"}},
		"schemas not a directory":   {args: []string{"-dir", dir, "-schemas", filepath.Join(sch, "nope")}, fails: true, outputs: []string{"nope"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var out bytes.Buffer
			err := transformTest(t.Context(), tc.args, &out)
			if (err != nil) != tc.fails {
				t.Fatalf("transform test %v: error %v, want failure %v\n%s", tc.args, err, tc.fails, out.String())
			}
			all := out.String()
			if err != nil {
				all += err.Error()
			}
			for _, w := range tc.outputs {
				if !strings.Contains(all, w) {
					t.Errorf("transform test %v: %q not in\n%s", tc.args, w, all)
				}
			}
		})
	}
}
