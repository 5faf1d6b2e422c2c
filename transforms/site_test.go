package transforms_test

import (
	"strings"
	"testing"
	"testing/fstest"

	"github.com/medgate/medgate/schemas"
	"github.com/medgate/medgate/transforms"
)

// TestForSite keeps a site's own and the default mappings and checks only
// them against the site's schemas.
func TestForSite(t *testing.T) {
	t.Parallel()
	visit := func(extra string) fstest.MapFS {
		return fstest.MapFS{"acme/visit.yaml": {Data: []byte("code: visit\nname: v\nsystem: acme\ndirection: upload\nsource: s\ninput:\n" +
			"  - {name: patientId, label: p, type: string, maxLength: 20, required: true, example: P1}\n" + extra)}}
	}
	base, err := schemas.Embedded().OverlayFS(visit("  - {name: ward, label: w, type: string, maxLength: 9, example: W1}\n"))
	if err != nil {
		t.Fatal(err)
	}
	// Site h2's schema has no ward, which only h1's mapping uses.
	h2, err := schemas.Embedded().OverlayFS(visit(""))
	if err != nil {
		t.Fatal(err)
	}
	set, err := transforms.Embedded().WithSchemas(base)
	if err != nil {
		t.Fatal(err)
	}
	set, err = set.OverlayFS(fstest.MapFS{
		"h1/json/acme.visit.yaml":      {Data: []byte("fields:\n  patientId: {from: $.id}\n  ward: {from: $.ward}\n")},
		"default/json/acme.visit.yaml": {Data: []byte("fields:\n  patientId: {from: $.id}\n")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := set.WithSchemas(h2); err == nil || !strings.Contains(err.Error(), "ward") {
		t.Fatalf("every mapping against h2's schemas: err = %v, want h1's ward refused", err)
	}
	only, err := set.ForSite("h2", h2)
	if err != nil {
		t.Fatalf("ForSite(h2): %v", err)
	}
	if m, ok := only.Find("h2", transforms.FormatJSON, "acme.visit"); !ok || m.Name != "default/json/acme.visit" {
		t.Fatalf("h2 finds %v, want the default mapping", m)
	}
	if _, ok := only.Mapping("h1/json/acme.visit"); ok {
		t.Fatal("ForSite(h2) keeps h1's mapping")
	}
}
