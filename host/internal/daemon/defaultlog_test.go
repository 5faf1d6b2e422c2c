package daemon

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDefaultLoggerMasks: lines logged through slog's default logger (the
// mapping warnings, the audit fallback) go through the daemon's masking
// handler, in its format. Not parallel: slog's default is global.
func TestDefaultLoggerMasks(t *testing.T) {
	old := slog.Default()
	t.Cleanup(func() { slog.SetDefault(old) })
	dir := t.TempDir()
	cfg := filepath.Join(dir, "medgate.yaml")
	yaml := "node: deflog-1\nlog: {format: json}\n" +
		"kafka:\n  embedded:\n    listen: 127.0.0.1:0\n    dataDir: " + filepath.Join(dir, "kafka") + "\n" +
		"store:\n  driver: sqlite\n  path: " + filepath.Join(dir, "medgate.db") + "\n" +
		"http:\n  listen: 127.0.0.1:0\n"
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	var out lockedBuffer
	d, err := Start(t.Context(), cfg, Options{Out: &out})
	if err != nil {
		t.Fatal(err)
	}
	slog.Warn("outbound mapping failed", "first", "aac002: 11010519491231002X is not allowed")
	if err := d.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	var line string
	for _, l := range strings.Split(out.String(), "\n") {
		if strings.Contains(l, "outbound mapping failed") {
			line = l
		}
	}
	switch {
	case line == "":
		t.Fatalf("a line logged through slog's default is not in the daemon's log:\n%s", out.String())
	case strings.Contains(line, "11010519491231002X") || !strings.HasPrefix(line, "{"):
		t.Fatalf("a line logged through slog's default is not masked or not in the configured JSON format: %s", line)
	}
}
