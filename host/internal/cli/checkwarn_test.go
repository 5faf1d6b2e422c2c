package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheckConfigPrintsWarnings: medgate check-config prints a warning
// (a PostgreSQL DSN verifying the server against the system's CAs) as a
// "warning:" line naming the file, line and key, and still passes (exit
// 0, configuration OK); the DSN and its password are not printed.
func TestCheckConfigPrintsWarnings(t *testing.T) {
	t.Setenv("PGSSLROOTCERT", "")
	t.Setenv("PGSSLMODE", "")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "dsn"), []byte("postgres://medgate:S3cretPw@db.hosp.example/medgate?sslmode=verify-full"), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "medgate.yaml")
	if err := os.WriteFile(path, []byte("kafka:\n  brokers: [\"127.0.0.1:1\"]\nstore:\n  driver: postgres\n  dsn: file:dsn\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	if code := Main([]string{"check-config", "-config", path}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d, want 0 (a warning passes)\nstdout:\n%s\nstderr:\n%s", code, out.String(), errOut.String())
	}
	got := out.String()
	for _, want := range []string{"warning: " + path + ":5: store.dsn: sslmode=verify-full without sslrootcert", "sslrootcert=", "configuration OK"} {
		if !strings.Contains(got, want) {
			t.Errorf("stdout lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got+errOut.String(), "S3cretPw") || strings.Contains(got+errOut.String(), "db.hosp.example") {
		t.Errorf("check-config printed the DSN:\n%s%s", got, errOut.String())
	}
}
