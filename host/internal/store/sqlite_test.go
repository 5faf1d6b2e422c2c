package store_test

import (
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/medgate/medgate/host/internal/store"
	"github.com/medgate/medgate/host/internal/store/storetest"
)

func openSQLite(t *testing.T, path string) *store.SQLite {
	t.Helper()
	s, err := store.OpenSQLite(t.Context(), path)
	if err != nil {
		t.Fatalf("OpenSQLite: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestSQLite(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) store.Store {
		return openSQLite(t, filepath.Join(t.TempDir(), "medgate.db"))
	})
}

// TestSQLiteReopen checks that data survives a reopen and that migrations
// already applied are not applied again.
func TestSQLiteReopen(t *testing.T) {
	t.Parallel()
	// Characters that mean something in a URI or DSN must stay part of the name.
	path := filepath.Join(t.TempDir(), "a dir?x=1#frag%20", "medgate.db")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	s := openSQLite(t, path)
	if _, err := s.NextSequence(t.Context(), "n"); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("database file not at the given path: %v", err)
	}

	s2, err := store.Open(t.Context(), "sqlite", path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s2.Close()
	if v, err := s2.NextSequence(t.Context(), "n"); err != nil || v != 2 {
		t.Errorf("NextSequence after reopen = %d, %v; want 2, nil", v, err)
	}
}

func TestOpenUnknownDriver(t *testing.T) {
	t.Parallel()
	_, err := store.Open(t.Context(), "mysql", "x")
	if err == nil || !strings.Contains(err.Error(), `"mysql"`) ||
		!strings.Contains(err.Error(), `"sqlite"`) || !strings.Contains(err.Error(), `"postgres"`) {
		t.Errorf("Open(mysql) error = %v, want one naming the driver and the valid ones", err)
	}
}

func TestOpenSQLiteBadPath(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "missing-dir", "medgate.db")
	_, err := store.OpenSQLite(t.Context(), path)
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("OpenSQLite(%q) error = %v, want one naming the path", path, err)
	}
	if errors.Is(err, store.ErrNotFound) {
		t.Errorf("OpenSQLite error is ErrNotFound: %v", err)
	}
}

// TestSQLiteNewerSchema refuses a database migrated by a newer medgate.
func TestSQLiteNewerSchema(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "medgate.db")
	s := openSQLite(t, path)
	s.Close()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(t.Context(), "INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, '0999_future.sql', 0)"); err != nil {
		t.Fatal(err)
	}
	_, err = store.OpenSQLite(t.Context(), path)
	if err == nil || !strings.Contains(err.Error(), "999") {
		t.Errorf("OpenSQLite on a newer schema error = %v, want one naming version 999", err)
	}
}
