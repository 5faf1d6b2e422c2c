package mapping

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/medgate/medgate/host/internal/config"
	"github.com/medgate/medgate/plugins/sdk"
)

const visitSchema = `code: visit
name: visit
system: acme
direction: upload
source: the vendor's interface document
input:
  - name: patientId
    label: patient
    type: string
    maxLength: 20
    required: true
    example: P001
  - name: amount
    label: amount
    type: decimal(10,%s)
    example: "7"
`

// source is a plugin declaring acme/visit with two decimal places, and a
// site overlay with the scale given per site.
type source struct{ scale map[string]string }

func (source) Description() *sdk.DescribeResponse {
	return &sdk.DescribeResponse{Name: "acme", Schemas: map[string][]byte{"acme/visit.yaml": fmt.Appendf(nil, visitSchema, "2")}}
}

func (s source) SiteSchemas(site string) map[string][]byte {
	if sc := s.scale[site]; sc != "" {
		return map[string][]byte{"acme/visit.yaml": fmt.Appendf(nil, visitSchema, sc)}
	}
	return nil
}

// TestCompile: a mapping to an operation only a plugin declares compiles
// against the declared schema, and a site whose plugin returned its own
// schema gets the mapping compiled against that overlay.
func TestCompile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "default", "json", "acme.visit.yaml")
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, []byte("fields:\n  patientId: {from: $.patient.id}\n  amount: {from: $.amount}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := &config.Config{Transforms: dir, Sites: []config.Site{
		{Code: "h1", Plugins: map[string]config.SitePlugin{"acme": {}}},
		{Code: "h2", Plugins: map[string]config.SitePlugin{"acme": {}}},
	}}
	if _, err := Compile(cfg, map[string]source{}); err == nil || !strings.Contains(err.Error(), "no schema for acme/visit") {
		t.Fatalf("without the plugin's schema: err = %v, want no schema for acme/visit", err)
	}
	sets, err := Compile(cfg, map[string]source{"acme": {scale: map[string]string{"h2": "0"}}})
	if err != nil {
		t.Fatal(err)
	}
	var m Mappings
	// Nothing is in force before Set.
	if out, errs, mapped := m.Transform("h1", "json", "acme.visit", []byte(`{}`)); mapped || len(errs) > 0 || string(out) != `{}` {
		t.Fatalf("before Set: %s %v %v; want the payload unchanged", out, errs, mapped)
	}
	m.Set(sets)
	for site, want := range map[string]string{"h1": `{"amount":7.00,"patientId":"P9"}`, "h2": `{"amount":7,"patientId":"P9"}`} {
		out, errs, mapped := m.Transform(site, "json", "acme.visit", []byte(`{"patient":{"id":"P9"},"amount":"7"}`))
		if !mapped || len(errs) > 0 || string(out) != want {
			t.Errorf("site %s: %s %v mapped=%v; want %s", site, out, errs, mapped, want)
		}
	}
}

// TestCompileListsEverySite: the schema problems of every site are listed
// at once, not only the first site's.
func TestCompileListsEverySite(t *testing.T) {
	t.Parallel()
	cfg := &config.Config{Sites: []config.Site{
		{Code: "h1", Plugins: map[string]config.SitePlugin{"acme": {}}},
		{Code: "h2", Plugins: map[string]config.SitePlugin{"acme": {}}},
	}}
	_, err := Compile(cfg, map[string]source{"acme": {scale: map[string]string{"h1": "x", "h2": "y"}}})
	if err == nil {
		t.Fatal("want problems")
	}
	for _, want := range []string{"sites[0]", "sites[1]"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("problems lack %s:\n%v", want, err)
		}
	}
}
