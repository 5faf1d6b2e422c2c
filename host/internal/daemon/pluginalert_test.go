package daemon

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/medgate/medgate/test/testenv"
)

// TestPluginALERTLineCounted: an ALERT a real plugin process logs through
// the SDK's logger (sdk.Logger, as the trace-code token outage, the
// work-injury deadlines and the e-card QR keys are raised) crosses
// go-plugin's stderr and is counted in medgate_plugin_alerts_total{plugin},
// the series MedgatePluginAlert pages on; a plugin logging none stays at
// 0. The counting itself was tested only with a line handed to the
// host's logger in process, not as a plugin binary writes it.
func TestPluginALERTLineCounted(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		alert string
		want  float64
	}{
		"an ALERT": {"the site has no valid token left", 1},
		"no ALERT": {"", 0},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			bin, sum := buildAcme(t, dir, "1.0.0")
			cfgPath := filepath.Join(dir, "medgate.yaml")
			text := fmt.Sprintf(`kafka:
  embedded: {listen: %q, dataDir: kafka}
store: {path: db/medgate.db}
http: {listen: 127.0.0.1:0}
plugins:
  - {name: acme, path: %q, sha256: %s}
sites:
  - code: h1
    plugins: {acme: {settings: {alert: %q}}}
`, testenv.FreeAddr(t), bin, sum, tc.alert)
			if err := os.WriteFile(cfgPath, []byte(text), 0o600); err != nil {
				t.Fatal(err)
			}
			var out lockedBuffer
			d, err := Start(t.Context(), cfgPath, Options{Out: &out})
			if err != nil {
				t.Fatalf("start: %v", err)
			}
			defer func() { _ = d.Close() }()
			count := func() (float64, bool) {
				mfs, err := d.metrics.Registry.Gather()
				if err != nil {
					t.Fatal(err)
				}
				for _, mf := range mfs {
					if mf.GetName() != "medgate_plugin_alerts_total" {
						continue
					}
					for _, m := range mf.GetMetric() {
						for _, l := range m.GetLabel() {
							if l.GetName() == "plugin" && l.GetValue() == "acme" {
								return m.GetCounter().GetValue(), true
							}
						}
					}
				}
				return 0, false
			}
			if tc.want > 0 {
				// The line crosses the plugin's stderr pipe after Configure
				// answered: poll for it.
				deadline := time.Now().Add(10 * time.Second)
				for !strings.Contains(out.String(), "ALERT: "+tc.alert) {
					if time.Now().After(deadline) {
						t.Fatalf("the plugin's ALERT is not in the host's log within 10s:\n%s", out.String())
					}
					time.Sleep(10 * time.Millisecond) // polling go-plugin's stderr goroutine
				}
			}
			if v, ok := count(); !ok || v != tc.want {
				t.Errorf("medgate_plugin_alerts_total{plugin=\"acme\"} = %v (exported: %v), want %v; the log:\n%s", v, ok, tc.want, out.String())
			}
		})
	}
}
