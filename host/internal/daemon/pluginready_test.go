package daemon

import (
	"errors"
	"strings"
	"testing"
)

// TestPluginReadiness: a plugin that runs without a site it is enabled at
// (its Configure killed the process at every relaunch) is shown degraded
// with the reason, which keeps the instance ready for the other sites, and
// medgate_plugin_up is 0 for it, so MedgatePluginDown fires.
func TestPluginReadiness(t *testing.T) {
	t.Parallel()
	isolated := errors.New(`plugin "picky": site isolated from the plugin: site "bad": …`)
	cases := map[string]struct {
		running  bool
		lastErr  error
		isolated int
		prefix   string // of the check
		contains string
		up       bool
	}{
		"running":          {running: true, prefix: "ok", up: true},
		"site isolated":    {running: true, lastErr: isolated, isolated: 1, prefix: "degraded: ", contains: `site "bad"`},
		"down with reason": {lastErr: errors.New("checksum"), prefix: "down after 2 restart(s): ", contains: "checksum"},
		"down":             {prefix: "down"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			check, up := pluginReadiness(tc.running, 2, tc.lastErr, tc.isolated)
			if !strings.HasPrefix(check, tc.prefix) || !strings.Contains(check, tc.contains) || up != tc.up {
				t.Errorf("pluginReadiness = %q, up %v; want a check starting %q with %q, up %v", check, up, tc.prefix, tc.contains, tc.up)
			}
		})
	}
}
