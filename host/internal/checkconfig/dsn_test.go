package checkconfig

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheckParsesThePostgresDSN: check-config parses the PostgreSQL
// connection string as the driver does (never connecting) and reports a
// malformed one at store.dsn, without its password; a sound one is not
// reported.
func TestCheckParsesThePostgresDSN(t *testing.T) {
	cases := map[string]struct {
		dsn  string
		want string // "" : store.dsn not reported
	}{
		"bad port in URL":   {dsn: "postgres://medgate:S3cretPw@db.hosp:54x2/medgate", want: "store.dsn:"},
		"bad sslmode":       {dsn: "postgres://medgate:S3cretPw@db.hosp:5432/medgate?sslmode=sometimes", want: "store.dsn:"},
		"keyword, bad port": {dsn: "host=db.hosp port=notaport user=medgate password=S3cretPw dbname=medgate", want: "store.dsn:"},
		"sound URL":         {dsn: "postgres://medgate:S3cretPw@db.hosp:5432/medgate?sslmode=disable"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "dsn"), []byte(tc.dsn), 0o600); err != nil {
				t.Fatal(err)
			}
			src := "kafka:\n  brokers: [\"127.0.0.1:1\"]\nstore:\n  driver: postgres\n  dsn: file:dsn\n"
			path := filepath.Join(dir, "medgate.yaml")
			if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
				t.Fatal(err)
			}
			var msg string
			if err := Check(t.Context(), path); err != nil {
				msg = err.Error()
			}
			if got := strings.Contains(msg, "store.dsn:"); got != (tc.want != "") {
				t.Fatalf("store.dsn reported %v, want %v:\n%s", got, tc.want != "", msg)
			}
			if strings.Contains(msg, "S3cretPw") {
				t.Fatalf("Check shows the DSN's password:\n%s", msg)
			}
		})
	}
}
