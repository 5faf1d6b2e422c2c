package store

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSQLiteLockedSaysWhy: a write that finds the database locked by
// another process for the whole busy timeout (a second medgate on the
// same file, a sqlite3 shell with a transaction open) fails with an error
// that names the file, says what held it and how to fix it, rather than
// SQLite's bare "database is locked".
func TestSQLiteLockedSaysWhy(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "medgate.db")
	s, err := OpenSQLite(ctx, path, withBusyTimeout(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	other, err := sql.Open("sqlite", "file:"+path+"?_busy_timeout=1000")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	conn, err := other.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `BEGIN IMMEDIATE`); err != nil {
		t.Fatal(err)
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), `ROLLBACK`)

	for name, write := range map[string]func() error{
		"group commit": func() error { _, err := s.StatePut(ctx, "p/s", "k", []byte("v")); return err },
		"other writes": func() error {
			return s.PutBatch(ctx, Batch{Plugin: "p", Site: "s", Job: "j", BatchID: "b", Step: "fetched"})
		},
	} {
		err := write()
		if err == nil {
			t.Fatalf("%s: written while another connection holds the write lock", name)
		}
		for _, want := range []string{path, "locked", "another process", "50ms", "PostgreSQL"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%s: error %q does not say %q", name, err, want)
			}
		}
	}
}
