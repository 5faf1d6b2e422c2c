package daemon

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/medgate/medgate/test/testenv"
)

// pluginUp reads medgate_plugin_up{plugin=name} from d's registry, as a
// scrape of /metrics would: ok false when there is no such series.
func pluginUp(t *testing.T, d *Daemon, name string) (v float64, ok bool) {
	t.Helper()
	mfs, err := d.metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "medgate_plugin_up" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "plugin" && l.GetValue() == name {
					return m.GetGauge().GetValue(), true
				}
			}
		}
	}
	return 0, false
}

// TestPluginUpWithoutReadyz: medgate_plugin_up says whether each plugin
// runs whether or not anything asks /readyz. It was set only while
// answering /readyz, which a Kubernetes readiness probe polls but nothing
// does under the systemd unit: there the series never existed, and the
// alert MedgatePluginDown (deploy/prometheus) could not fire.
func TestPluginUpWithoutReadyz(t *testing.T) {
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
    plugins: {acme: {settings: {hold: %q}}}
`, testenv.FreeAddr(t), bin, sum, filepath.Join(dir, "hold"))
	if err := os.WriteFile(cfgPath, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	d, err := Start(t.Context(), cfgPath, Options{Out: io.Discard})
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	defer func() { _ = d.Close() }()
	if v, ok := pluginUp(t, d, "acme"); !ok || v != 1 {
		t.Fatalf("medgate_plugin_up{plugin=\"acme\"} after start, no /readyz asked: %v (exported: %v); want 1", v, ok)
	}
}
