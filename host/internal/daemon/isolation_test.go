package daemon

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/medgate/medgate/host/internal/pluginhost"
	"github.com/medgate/medgate/test/testenv"
)

// TestPluginIsolationFromConfig: plugins[].isolation reaches the plugin's
// supervisor at start; a reload puts new values in force on the running
// plugin, and a plugin a reload launched from a new binary has them too.
func TestPluginIsolationFromConfig(t *testing.T) {
	dir := t.TempDir()
	bin1, sum1 := buildAcme(t, dir, "1.0.0")
	bin2, sum2 := buildAcme(t, dir, "2.0.0")
	listen := testenv.FreeAddr(t)
	cfgPath := filepath.Join(dir, "medgate.yaml")
	writeCfg := func(bin, sum, isolation string) {
		t.Helper()
		text := fmt.Sprintf(`kafka:
  embedded: {listen: %q, dataDir: kafka}
store: {path: db/medgate.db}
http: {listen: 127.0.0.1:0}
plugins:
  - {name: acme, path: %q, sha256: %s%s}
sites:
  - code: h1
    plugins: {acme: {settings: {}}}
`, listen, bin, sum, isolation)
		if err := os.WriteFile(cfgPath, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	writeCfg(bin1, sum1, ", isolation: {configureCrashes: 1, siteCrashes: 5, siteCrashWindow: 30m}")
	d, err := Start(t.Context(), cfgPath, Options{Out: io.Discard})
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	defer func() { _ = d.Close() }()
	steps := []struct {
		name      string
		bin, sum  string
		isolation string
		want      pluginhost.Isolation
	}{
		{"start", bin1, sum1, "", pluginhost.Isolation{ConfigureCrashes: 1, SiteCrashes: 5, SiteCrashWindow: 30 * time.Minute}},
		{"reload, same binary", bin1, sum1, ", isolation: {configureCrashes: 7, siteCrashes: -1}", pluginhost.Isolation{ConfigureCrashes: 7, SiteCrashes: -1, SiteCrashWindow: 10 * time.Minute}},
		{"reload, new binary", bin2, sum2, ", isolation: {siteCrashes: 2}", pluginhost.Isolation{ConfigureCrashes: 3, SiteCrashes: 2, SiteCrashWindow: 10 * time.Minute}},
		{"reload, key removed", bin2, sum2, "", pluginhost.Isolation{ConfigureCrashes: 3, SiteCrashes: 3, SiteCrashWindow: 10 * time.Minute}},
	}
	for i, st := range steps {
		if i > 0 {
			writeCfg(st.bin, st.sum, st.isolation)
			if _, err := d.ReloadReport(t.Context()); err != nil {
				t.Fatalf("%s: reload: %v", st.name, err)
			}
		}
		if got := d.Plugin("acme").Isolation(); got != st.want {
			t.Errorf("%s: acme isolates a site at %+v, want %+v", st.name, got, st.want)
		}
	}
}
