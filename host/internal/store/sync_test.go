package store

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestGroupCommitAnswersAfterSync: a committed write is answered only
// after the sync that follows its commit; a failed sync fails the writes
// it was for.
func TestGroupCommitAnswersAfterSync(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sync.db")
	w, err := sql.Open("sqlite", "file:"+path+"?_txlock=immediate&_busy_timeout=10000&_journal_mode=WAL&_synchronous=NORMAL")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	w.SetMaxOpenConns(1)
	if _, err := w.Exec(`CREATE TABLE t (n INTEGER NOT NULL PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	r, err := sql.Open("sqlite", "file:"+path+"?_busy_timeout=10000")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	started, release := make(chan struct{}, 1), make(chan error)
	c := newCommitter(w, nil, func() error {
		started <- struct{}{}
		return <-release
	})
	defer c.close()
	insert := func(n int) <-chan error {
		done := make(chan error, 1)
		go func() {
			done <- c.write(t.Context(), nil, func(ctx context.Context, q querier) error {
				_, err := q.ExecContext(ctx, `INSERT INTO t (n) VALUES (?)`, n)
				return err
			})
		}()
		return done
	}
	waitSync := func() {
		select {
		case <-started:
		case <-time.After(10 * time.Second):
			t.Fatal("no sync began within 10s")
		}
	}

	done := insert(1)
	waitSync()
	var committed int
	if err := r.QueryRow(`SELECT count(*) FROM t WHERE n = 1`).Scan(&committed); err != nil {
		t.Fatal(err)
	}
	if committed != 1 {
		t.Fatal("the sync began before the write was committed")
	}
	select {
	case err := <-done:
		t.Fatalf("the write was answered (%v) before its sync ended", err)
	case <-time.After(50 * time.Millisecond):
	}
	release <- nil
	if err := <-done; err != nil {
		t.Fatalf("write: %v", err)
	}

	done = insert(2)
	waitSync()
	release <- errors.New("EIO")
	if err := <-done; err == nil || !strings.Contains(err.Error(), "sync to disk") || !strings.Contains(err.Error(), "EIO") {
		t.Fatalf("write whose sync failed: %v, want the sync's error", err)
	}
}

// TestSQLiteGroupCommitSyncsTheWAL: the SQLite store's group commit
// commits with synchronous=NORMAL and syncs the WAL itself before it
// answers; its other writes keep synchronous=FULL.
func TestSQLiteGroupCommitSyncsTheWAL(t *testing.T) {
	path := filepath.Join(t.TempDir(), "medgate.db")
	s, err := OpenSQLite(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.NextSequence(t.Context(), "n"); err != nil {
		t.Fatal(err)
	}
	if n := s.group.syncs.Load(); n < 1 {
		t.Fatalf("%d syncs after a write: the group commit did not sync", n)
	}
	for _, c := range []struct {
		name string
		db   *sql.DB
		want int // 1 NORMAL, 2 FULL
	}{{"group commit", s.g, 1}, {"other writes", s.w, 2}} {
		var got int
		if err := c.db.QueryRow(`PRAGMA synchronous`).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != c.want {
			t.Errorf("%s: synchronous = %d, want %d", c.name, got, c.want)
		}
	}
	if err := syncWAL(path)(); err != nil {
		t.Errorf("sync of an open store: %v", err)
	}
	// With no WAL file (deleted when the last connection closed), the
	// sync is of the database file; with neither, it fails naming it.
	db := filepath.Join(t.TempDir(), "x.db")
	if err := syncWAL(db)(); err == nil || !strings.Contains(err.Error(), "x.db") {
		t.Errorf("sync without WAL or database: %v, want an error naming the file", err)
	}
}
