package store_test

import (
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/medgate/medgate/host/internal/store"
	"github.com/medgate/medgate/test/testenv"
)

// TestUsersUpgradeToSessionGeneration: a user made before schema version
// 6 (which added users.session_generation) has generation 0 after the
// upgrade, keeps everything else, and the first change after it makes 1.
func TestUsersUpgradeToSessionGeneration(t *testing.T) {
	t.Parallel()
	for _, eng := range []struct {
		name, driver, migrations, user string
		dsn                            func(t *testing.T) string
		open                           func(t *testing.T, dsn string) store.Store
	}{
		{
			name: "sqlite", driver: "sqlite",
			migrations: `CREATE TABLE schema_migrations (version INTEGER NOT NULL PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL) STRICT;
				INSERT INTO schema_migrations (version, name, applied_at) VALUES `,
			user: `INSERT INTO users (name, role, password_hash, disabled, created_at, updated_at) VALUES ('pharm01', 'operator', 'h', 1, 1, 2)`,
			dsn:  func(t *testing.T) string { return filepath.Join(t.TempDir(), "medgate.db") },
			open: func(t *testing.T, dsn string) store.Store { return openSQLite(t, dsn) },
		},
		{
			name: "postgres", driver: "pgx",
			migrations: `CREATE TABLE schema_migrations (version bigint NOT NULL PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now());
				INSERT INTO schema_migrations (version, name) VALUES `,
			user: `INSERT INTO users (name, role, password_hash, disabled, created_at, updated_at) VALUES ('pharm01', 'operator', 'h', true, now(), now())`,
			dsn:  func(t *testing.T) string { return testenv.Postgres(t) },
			open: func(t *testing.T, dsn string) store.Store { return openPostgres(t, dsn) },
		},
	} {
		t.Run(eng.name, func(t *testing.T) {
			t.Parallel()
			dsn := eng.dsn(t)
			db, err := sql.Open(eng.driver, dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			// The schema as medgate left it at version 5.
			files, err := filepath.Glob(filepath.Join("migrations", eng.name, "000[1-5]_*.sql"))
			if err != nil || len(files) != 5 {
				t.Fatalf("migrations 1-5 of %s: %v, %v", eng.name, files, err)
			}
			var recorded []string
			for i, f := range files {
				b, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := db.ExecContext(t.Context(), string(b)); err != nil {
					t.Fatalf("%s: %v", f, err)
				}
				v := fmt.Sprintf("(%d, '%s'", i+1, filepath.Base(f))
				if eng.name == "sqlite" {
					v += ", 0"
				}
				recorded = append(recorded, v+")")
			}
			if _, err := db.ExecContext(t.Context(), eng.migrations+strings.Join(recorded, ", ")); err != nil {
				t.Fatal(err)
			}
			if _, err := db.ExecContext(t.Context(), eng.user); err != nil {
				t.Fatal(err)
			}
			db.Close()

			s := eng.open(t, dsn)
			u, err := s.GetUser(t.Context(), "pharm01")
			if err != nil {
				t.Fatal(err)
			}
			if u.SessionGeneration != 0 || u.Role != "operator" || u.PasswordHash != "h" || !u.Disabled {
				t.Fatalf("user made at version 5, after the upgrade: %+v; want it unchanged with SessionGeneration 0", u)
			}
			u.Disabled = false
			if err := s.UpdateUser(t.Context(), *u); err != nil {
				t.Fatal(err)
			}
			if u, err = s.GetUser(t.Context(), "pharm01"); err != nil || u.SessionGeneration != 1 || u.Disabled {
				t.Fatalf("after enabling it: %+v, %v; want it enabled with SessionGeneration 1", u, err)
			}
		})
	}
}
