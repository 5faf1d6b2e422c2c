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

// TestPluginLinesInTheHostFormat: with log.format text, the lines go-plugin
// logs for a plugin ("plugin process exited" when it stops) come out as
// the host's text lines with plugin=<name>, not as hclog JSON among them.
func TestPluginLinesInTheHostFormat(t *testing.T) {
	dir := t.TempDir()
	bin, sum := buildAcme(t, dir, "1.0.0")
	cfgPath := filepath.Join(dir, "medgate.yaml")
	text := fmt.Sprintf(`log: {format: text}
kafka:
  embedded: {listen: %q, dataDir: kafka}
store: {path: db/medgate.db}
http: {listen: 127.0.0.1:0}
plugins:
  - {name: acme, path: %q, sha256: %s}
sites:
  - code: h1
    plugins: {acme: {settings: {}}}
`, testenv.FreeAddr(t), bin, sum)
	if err := os.WriteFile(cfgPath, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	var out lockedBuffer
	d, err := Start(t.Context(), cfgPath, Options{Out: &out})
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	if err := d.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(out.String(), "plugin process exited") {
		if time.Now().After(deadline) {
			t.Fatalf("go-plugin's line of the plugin's exit is not in the log within 10s:\n%s", out.String())
		}
		time.Sleep(10 * time.Millisecond) // polling go-plugin's wait goroutine
	}
	for line := range strings.Lines(out.String()) {
		if !strings.HasPrefix(line, "time=") || !strings.Contains(line, " level=") {
			t.Errorf("a line not in the host's text format: %s", line)
		}
		if strings.Contains(line, "plugin process exited") && !strings.Contains(line, " plugin=acme ") {
			t.Errorf("the plugin's line lacks plugin=acme: %s", line)
		}
	}
}
