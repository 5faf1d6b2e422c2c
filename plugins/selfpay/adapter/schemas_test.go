package adapter

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/schemas"
)

// TestSchemasDeclared checks that Describe declares every schema the
// operations name and that Configure returns a site's own schema files
// (its schemaDir overlay) for the host to map against.
func TestSchemasDeclared(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	d, err := e.plugin.Describe(context.Background(), &sdk.DescribeRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, op := range d.Operations {
		if op.Schema != "" && d.Schemas[op.Schema+".yaml"] == nil {
			t.Errorf("operation %s names schema %s, which Describe does not declare", op.Type, op.Schema)
		}
	}
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "selfpay"), 0o750); err != nil {
		t.Fatal(err)
	}
	doc := schemas.Documents("selfpay")["selfpay/4202.yaml"]
	if err := os.WriteFile(filepath.Join(dir, "selfpay", "4202.yaml"), doc, 0o640); err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct {
		schemaDir string
		want      []string
	}{
		"no overlay":   {"", nil},
		"site overlay": {dir, []string{"selfpay/4202.yaml"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			settings := baseSettings(e.url)
			settings[SetSchemaDir] = tc.schemaDir
			r, err := e.plugin.Configure(context.Background(), &sdk.ConfigureRequest{Site: "s-" + name, Settings: settings})
			if err != nil || r.Diagnostics.HasError() {
				t.Fatalf("configure: %v %v", err, r.Diagnostics)
			}
			if len(r.Schemas) != len(tc.want) {
				t.Fatalf("Configure returned schemas %v, want %v", keys(r.Schemas), tc.want)
			}
			for _, w := range tc.want {
				if string(r.Schemas[w]) != string(doc) {
					t.Errorf("schema %s not returned as in the overlay", w)
				}
			}
		})
	}
}

func keys(m map[string][]byte) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
