package checkconfig

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
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

// TestCheckWarnsOfSystemCAsForTheDSN: a store.dsn with sslmode=verify-full
// (or verify-ca) and no sslrootcert passed check-config without a word,
// though the driver then checks the PostgreSQL server's certificate
// against the system's CAs, not the hospital's own CA. check-config now
// warns at store.dsn (a warning: the check still passes), saying to set
// sslrootcert, and never shows the DSN (its password, host, user).
func TestCheckWarnsOfSystemCAsForTheDSN(t *testing.T) {
	t.Setenv("PGSSLROOTCERT", "") // the driver reads it as sslrootcert
	t.Setenv("PGSSLMODE", "")
	dir := t.TempDir()
	writeCert(t, dir, "pg-ca", time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	ca := filepath.Join(dir, "pg-ca.crt")
	const url = "postgres://medgate:S3cretPw@db.hosp.example:5432/medgate"
	cases := map[string]struct {
		dsn  string
		warn string // "": no warning
	}{
		"verify-full, no root cert":      {dsn: url + "?sslmode=verify-full", warn: "sslmode=verify-full without sslrootcert"},
		"verify-ca, no root cert":        {dsn: url + "?sslmode=verify-ca", warn: "sslmode=verify-ca without sslrootcert"},
		"keywords, verify-full, no root": {dsn: "host=db.hosp.example user=medgate password=S3cretPw dbname=medgate sslmode=verify-full", warn: "sslmode=verify-full without sslrootcert"},
		"verify-full with the CA file":   {dsn: url + "?sslmode=verify-full&sslrootcert=" + ca},
		"verify-ca with the CA file":     {dsn: url + "?sslmode=verify-ca&sslrootcert=" + ca},
		"keywords, verify-full with CA":  {dsn: "host=db.hosp.example user=medgate password=S3cretPw dbname=medgate sslmode=verify-full sslrootcert=" + ca},
		"system CAs named on purpose":    {dsn: url + "?sslmode=verify-full&sslrootcert=system"},
		"require (no verification)":      {dsn: url + "?sslmode=require"},
		"disable":                        {dsn: url + "?sslmode=disable"},
		"no sslmode (prefer)":            {dsn: url},
		"unix socket (no TLS at all)":    {dsn: "host=/var/run/postgresql user=medgate dbname=medgate sslmode=verify-full"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			sub := t.TempDir()
			if err := os.WriteFile(filepath.Join(sub, "dsn"), []byte(tc.dsn), 0o600); err != nil {
				t.Fatal(err)
			}
			src := "kafka:\n  brokers: [\"127.0.0.1:1\"]\nstore:\n  driver: postgres\n  dsn: file:dsn\n"
			path := filepath.Join(sub, "medgate.yaml")
			if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
				t.Fatal(err)
			}
			warnings, err := CheckWarn(t.Context(), path)
			if err != nil {
				t.Fatalf("a warning must not fail the check: %v", err)
			}
			var text []string
			for _, w := range warnings {
				text = append(text, w.String())
			}
			got := strings.Join(text, "\n")
			if tc.warn == "" {
				if len(warnings) != 0 {
					t.Fatalf("warned:\n%s", got)
				}
				return
			}
			if len(warnings) != 1 || warnings[0].Path != "store.dsn" || warnings[0].Line != 5 {
				t.Fatalf("want one warning at store.dsn (line 5), got:\n%s", got)
			}
			for _, want := range []string{tc.warn, "system CAs", "sslrootcert=/etc/medgate/tls/pg-ca.pem"} {
				if !strings.Contains(got, want) {
					t.Errorf("warning lacks %q:\n%s", want, got)
				}
			}
			for _, secret := range []string{"S3cretPw", "db.hosp.example", "medgate:"} {
				if strings.Contains(got, secret) {
					t.Errorf("warning shows the DSN (%q):\n%s", secret, got)
				}
			}
		})
	}
}
