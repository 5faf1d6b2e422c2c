package adapter

import (
	"context"
	"maps"
	"strings"
	"testing"

	"github.com/medgate/medgate/plugins/sdk"
)

// TestSitesSharingASenderCodeAreWarned: serials are the sender code, the
// second and a per-site sequence, so two sites sending as one sender (the
// default senderCode is the regionCode, which sites of one region share)
// draw the same serials, which the national system refuses as repeated.
// Configuring the second site warns, naming the first; a site with its own
// sender code is not warned.
func TestSitesSharingASenderCodeAreWarned(t *testing.T) {
	e := newEnv(t)
	configure := func(site string, change map[string]string) sdk.Diagnostics {
		t.Helper()
		settings := maps.Clone(e.settings)
		maps.Copy(settings, change)
		r, err := e.p.Configure(context.Background(), &sdk.ConfigureRequest{Site: site, Settings: settings})
		if err != nil {
			t.Fatal(err)
		}
		if r.Diagnostics.HasError() {
			t.Fatalf("configure %s: %s", site, r.Diagnostics)
		}
		return r.Diagnostics
	}
	sender := e.settings[setSenderCode]
	if sender == "" {
		sender = e.settings[setRegionCode]
	}
	ds := configure("second", nil)
	var warned bool
	for _, d := range ds {
		if d.Field == setSenderCode && d.Rule == "unique" && d.Severity == sdk.SeverityWarning {
			warned = true
			if !strings.Contains(d.Summary, "site "+testSite) || !strings.Contains(d.Summary, sender) {
				t.Errorf("warning %q does not name site %s and sender %s", d.Summary, testSite, sender)
			}
		}
	}
	if !warned {
		t.Errorf("a second site sending as %s was not warned: %s", sender, ds)
	}
	if ds := configure("third", map[string]string{setSenderCode: "OTHER01"}); len(ds) != 0 {
		for _, d := range ds {
			if d.Field == setSenderCode {
				t.Errorf("a site with its own sender code was warned: %s", d.Summary)
			}
		}
	}
	// Configuring the first site again (a reload) warns of the second.
	if ds := configure(testSite, nil); !strings.Contains(ds.String(), "site second sends as") {
		t.Errorf("reconfiguring %s: %s, want a warning naming site second", testSite, ds)
	}
}
