package store

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// TestSQLiteWALShrinksAfterALongReader: an admin's sqlite3 shell (or a
// backup) holding a read transaction open does not hold up medgate's
// writes (WAL: no SQLITE_BUSY), but SQLite cannot restart its WAL under
// the reader, so the WAL grows by everything written meanwhile. Once the
// reader is gone, the WAL is cut back to the store's limit when SQLite
// restarts it: it kept the size it had grown to for good (a long backup
// on a busy day left gigabytes on the disk that held the database).
func TestSQLiteWALShrinksAfterALongReader(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "medgate.db")
	const limit = 1 << 20
	s, err := OpenSQLite(ctx, path, withWALLimit(limit))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	walSize := func() int64 {
		t.Helper()
		fi, err := os.Stat(path + "-wal")
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}

	other, err := sql.Open("sqlite", "file:"+path+"?_busy_timeout=1000&_query_only=1")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	reader, err := other.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	if _, err := reader.ExecContext(ctx, `BEGIN`); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := reader.QueryRowContext(ctx, `SELECT count(*) FROM messages`).Scan(&n); err != nil {
		t.Fatal(err)
	}

	write := func(id string) {
		t.Helper()
		if _, _, err := s.BeginMessage(ctx, Message{ID: id, Site: "s", Type: "p.op", Key: "k", Request: incompressible(16 << 10)}); err != nil {
			t.Fatalf("BeginMessage %s: %v", id, err)
		}
	}
	for i := range 300 {
		write(fmt.Sprintf("during-%d", i))
	}
	grown := walSize()
	if grown <= 3*limit {
		t.Fatalf("the WAL is %d bytes after 300 writes of 16 KiB under a reader, want it over %d", grown, 3*limit)
	}
	if _, err := reader.ExecContext(context.WithoutCancel(ctx), `ROLLBACK`); err != nil {
		t.Fatal(err)
	}

	// SQLite checkpoints at a commit, then restarts the WAL at the next
	// write transaction.
	size := grown
	for i := 0; i < 100 && size > limit; i++ {
		write(fmt.Sprintf("after-%d", i))
		size = walSize()
	}
	if size > limit {
		t.Errorf("the WAL is %d bytes 100 writes after the reader ended (%d under it), want it cut back to %d", size, grown, limit)
	}
}
