package daemon

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSecondInstanceOnOneSQLiteFile: a second medgate started on the
// SQLite database another one runs on is refused, saying which instance
// holds it and what to do; once the first stops, it starts. Before, the
// second started without a word beside the first (its own embedded
// broker, the first's store), took its job leases and raised a false
// Kafka-data-loss ALERT for the partitions the first had consumed.
func TestSecondInstanceOnOneSQLiteFile(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "store", "medgate.db")
	write := func(node string) string {
		t.Helper()
		cfg := filepath.Join(dir, node+".yaml")
		yaml := "node: " + node + "\nlog: {format: json}\n" +
			"kafka:\n  embedded:\n    listen: 127.0.0.1:0\n    dataDir: " + filepath.Join(dir, node+"-kafka") + "\n" +
			"store:\n  driver: sqlite\n  path: " + db + "\n" +
			"http:\n  listen: 127.0.0.1:0\n"
		if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	first, second := write("lock-a"), write("lock-b")
	var out lockedBuffer
	d1, err := Start(t.Context(), first, Options{Out: &out})
	if err != nil {
		t.Fatal(err)
	}
	d2, err := Start(t.Context(), second, Options{Out: &out})
	if err == nil {
		d2.Close()
		d1.Close()
		t.Fatal("a second instance started on the SQLite database the first runs on")
	}
	for _, want := range []string{"store.path", db, "in use by another medgate", "node lock-a", "stop that one first", "postgres"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the refusal lacks %q: %v", want, err)
		}
	}
	if err := d1.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	d2, err = Start(t.Context(), second, Options{Out: &out})
	if err != nil {
		t.Fatalf("once the first instance stopped, the second did not start: %v", err)
	}
	if err := d2.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}
