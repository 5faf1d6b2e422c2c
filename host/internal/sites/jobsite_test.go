package sites

import (
	"strings"
	"testing"
	"time"

	"github.com/medgate/medgate/host/internal/pluginhost"
	"github.com/medgate/medgate/host/internal/scheduler"
	"github.com/medgate/medgate/plugins/sdk/sdktest"
)

// TestJobAfterTheSiteIsDisabled: a job keeps the closure it was scheduled
// with until the scheduler gets the new job list, after the reload's
// Apply; a run that starts in between (a due run, or one an operator
// triggered, taking its lease) must not reach the plugin for a site the
// reload disabled or removed. Entering the plugin for that site made the
// host services serve it again for the run (pluginhost serves a site
// with a call in flight), so the plugin wrote state and published events
// for a site it is no longer enabled at. The run now fails, naming the
// plugin and the site; jobs of the sites still enabled keep running.
func TestJobAfterTheSiteIsDisabled(t *testing.T) {
	t.Parallel()
	path, sum := ledger(t)
	host := sdktest.NewMemoryHost()
	in, err := pluginhost.Start(t.Context(), pluginhost.Spec{Name: "ledger", Path: path, SHA256: sum}, host, pluginhost.Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	plugins := map[string]*pluginhost.Instance{"ledger": in}
	d1, d2, d3 := t.TempDir(), t.TempDir(), t.TempDir()
	_, jobs, err := Apply(t.Context(), siteCfg(at{"h1", map[string]string{"ledgerDir": d1}}, at{"h2", map[string]string{"ledgerDir": d2}}, at{"h3", map[string]string{"ledgerDir": d3}}), plugins, quiet)
	if err != nil {
		t.Fatal(err)
	}
	// The reload disables the plugin at h2 and removes site h3.
	if _, _, err := Apply(t.Context(), siteCfg(at{"h1", map[string]string{"ledgerDir": d1}}, at{"h2", nil}), plugins, quiet); err != nil {
		t.Fatal(err)
	}
	bySite := map[string]scheduler.Job{}
	for _, j := range jobs {
		bySite[j.Site] = j
	}
	for _, tc := range []struct {
		site string
		ok   bool
	}{
		{site: "h1", ok: true},
		{site: "h2", ok: false},
		{site: "h3", ok: false},
	} {
		j, found := bySite[tc.site]
		if !found {
			t.Fatalf("no job scheduled for %s before the reload; got %+v", tc.site, jobs)
		}
		err := j.Run(t.Context(), time.Now())
		if tc.ok {
			if err != nil {
				t.Errorf("%s (still enabled): job run: %v", tc.site, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), `plugin "ledger" is no longer enabled at site "`+tc.site+`"`) {
			t.Errorf("%s (disabled): job run on the old job list returned %v; want an error naming the plugin and the site", tc.site, err)
		}
		for _, e := range host.Events() {
			if e.Site == tc.site {
				t.Errorf("%s (disabled): the job reached the plugin, which published %+v", tc.site, e)
			}
		}
		if _, err := host.Get(t.Context(), tc.site, "ticks"); err == nil {
			t.Errorf("%s (disabled): the job reached the plugin, which wrote its state", tc.site)
		}
	}
}
