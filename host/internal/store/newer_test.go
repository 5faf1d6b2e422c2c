package store_test

import (
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	"github.com/medgate/medgate/host/internal/store"
)

// TestNewerSchemaRefused: a store written by a newer medgate is refused,
// and the error names both ways out: upgrade medgate, or restore the
// backup taken before the upgrade.
func TestNewerSchemaRefused(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "medgate.db")
	s, err := store.OpenSQLite(t.Context(), path)
	if err != nil {
		t.Fatalf("OpenSQLite: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	// A newer medgate recorded a migration this binary does not know.
	if _, err := db.Exec(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, '9999_future.sql', 1)`); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = store.OpenSQLite(t.Context(), path)
	if err == nil {
		s.Close()
		t.Fatal("a store of schema version 9999 was opened")
	}
	for _, want := range []string{"schema version 9999 is newer", "upgrade medgate", "or restore the backup taken before the upgrade"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}
