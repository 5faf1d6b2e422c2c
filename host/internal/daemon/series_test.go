package daemon

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/medgate/medgate/test/testenv"
)

// buildNamed builds the vendor plugin of the tests under name into dir
// and returns its path and sha256.
func buildNamed(t *testing.T, dir, name string) (string, string) {
	t.Helper()
	bin := filepath.Join(dir, "plugins", name)
	if out, err := exec.Command("go", "build", "-ldflags", "-X main.name="+name, "-o", bin, "./testdata/acme").CombinedOutput(); err != nil {
		t.Fatalf("build the vendor plugin as %s: %v\n%s", name, err, out)
	}
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	return bin, hex.EncodeToString(sum[:])
}

// TestReloadDropsSeriesOfRemovedPlugin: a reload that removes a plugin
// deletes its medgate_plugin_up series, so MedgatePluginDown cannot fire
// and no dashboard shows it up for a plugin that no longer runs; the
// plugin that stays keeps its series, and a reload declaring the plugin
// again exports it afresh. The series used to stay at its last value
// until medgate restarted.
func TestReloadDropsSeriesOfRemovedPlugin(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bins := map[string][2]string{}
	for _, name := range []string{"alpha", "beta"} {
		bin, sum := buildNamed(t, dir, name)
		bins[name] = [2]string{bin, sum}
	}
	cfgPath := filepath.Join(dir, "medgate.yaml")
	kafka := testenv.FreeAddr(t)
	writeCfg := func(names ...string) {
		t.Helper()
		text := fmt.Sprintf(`kafka:
  embedded: {listen: %q, dataDir: kafka}
store: {path: db/medgate.db}
http: {listen: 127.0.0.1:0}
plugins:
`, kafka)
		for _, n := range names {
			text += fmt.Sprintf("  - {name: %s, path: %q, sha256: %s}\n", n, bins[n][0], bins[n][1])
		}
		text += "sites:\n"
		for _, n := range names {
			text += fmt.Sprintf("  - code: %s1\n    plugins: {%s: {}}\n", n, n)
		}
		if err := os.WriteFile(cfgPath, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	writeCfg("alpha", "beta")
	d, err := Start(t.Context(), cfgPath, Options{Out: io.Discard})
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	defer func() { _ = d.Close() }()
	for _, step := range []struct {
		name     string
		declared []string
		want     map[string]bool // plugin → whether it has a medgate_plugin_up series (of 1)
	}{
		{name: "start", declared: nil, want: map[string]bool{"alpha": true, "beta": true}},
		{name: "beta removed", declared: []string{"alpha"}, want: map[string]bool{"alpha": true, "beta": false}},
		{name: "beta declared again", declared: []string{"alpha", "beta"}, want: map[string]bool{"alpha": true, "beta": true}},
	} {
		if step.declared != nil {
			writeCfg(step.declared...)
			if err := d.Reload(t.Context()); err != nil {
				t.Fatalf("%s: reload: %v", step.name, err)
			}
		}
		for name, want := range step.want {
			v, ok := pluginUp(t, d, name)
			if ok != want || (want && v != 1) {
				t.Errorf("%s: medgate_plugin_up{plugin=%q} = %v (exported: %v); want exported %v with 1", step.name, name, v, ok, want)
			}
		}
	}
}
