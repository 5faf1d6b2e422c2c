package daemon

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestStartComparesTopicRetention: the daemon compares the requests
// topic's retention with retention.messages at start. With outcomes kept
// one hour and the topic keeping records for days, a WARN names both;
// with outcomes kept longer than the topic's records, nothing is said.
func TestStartComparesTopicRetention(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		keep string
		warn bool
	}{{"1h", true}, {"87600h", false}} {
		t.Run(tc.keep, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			cfg := filepath.Join(dir, "medgate.yaml")
			yaml := "node: retention-1\n" +
				"kafka:\n  embedded:\n    listen: 127.0.0.1:0\n    dataDir: " + filepath.Join(dir, "kafka") + "\n" +
				"store:\n  driver: sqlite\n  path: " + filepath.Join(dir, "medgate.db") + "\n" +
				"http:\n  listen: 127.0.0.1:0\n" +
				"retention:\n  messages: " + tc.keep + "\n"
			if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			var out lockedBuffer
			d, err := Start(t.Context(), cfg, Options{Out: &out})
			if err != nil {
				t.Fatal(err)
			}
			if err := d.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
			var warned bool
			for _, line := range strings.Split(out.String(), "\n") {
				if strings.Contains(line, "WARN") && strings.Contains(line, "retention.messages") {
					warned = true
				}
			}
			if warned != tc.warn {
				t.Fatalf("retention.messages %s: WARN about the topic's retention %v, want %v; log:\n%s", tc.keep, warned, tc.warn, out.String())
			}
		})
	}
}
