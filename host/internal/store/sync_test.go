package store

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// syncTest is a committer on a SQLite file whose sync the test holds:
// every sync waits for a value on release, and returns it.
type syncTest struct {
	c       *committer
	db      *sql.DB // a second connection, to see what is committed
	release chan error
	started chan struct{} // one value per sync begun
	syncs   atomic.Int64
}

func newSyncTest(t *testing.T) *syncTest {
	t.Helper()
	path := filepath.Join(t.TempDir(), "sync.db")
	w, err := sql.Open("sqlite", "file:"+path+"?_txlock=immediate&_busy_timeout=10000&_journal_mode=WAL&_synchronous=NORMAL")
	if err != nil {
		t.Fatal(err)
	}
	w.SetMaxOpenConns(1)
	if _, err := w.Exec(`CREATE TABLE t (n INTEGER NOT NULL PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	r, err := sql.Open("sqlite", "file:"+path+"?_busy_timeout=10000")
	if err != nil {
		t.Fatal(err)
	}
	st := &syncTest{db: r, release: make(chan error), started: make(chan struct{}, 100)}
	st.c = newCommitter(w, nil, func() error {
		st.syncs.Add(1)
		st.started <- struct{}{}
		return <-st.release
	})
	t.Cleanup(func() {
		close(st.release) // any sync still waiting returns nil
		st.c.close()
		_ = w.Close()
		_ = r.Close()
	})
	return st
}

// insert writes row n through the committer, in the background.
func (st *syncTest) insert(n int) <-chan error {
	done := make(chan error, 1)
	go func() {
		done <- st.c.write(context.Background(), nil, func(ctx context.Context, q querier) error {
			_, err := q.ExecContext(ctx, `INSERT INTO t (n) VALUES (?)`, n)
			return err
		})
	}()
	return done
}

// committed reports whether row n is committed (seen by another connection).
func (st *syncTest) committed(t *testing.T, n int) bool {
	t.Helper()
	var c int
	if err := st.db.QueryRow(`SELECT count(*) FROM t WHERE n = ?`, n).Scan(&c); err != nil {
		t.Fatal(err)
	}
	return c == 1
}

// count returns how many rows from n on are committed.
func (st *syncTest) count(t *testing.T, n int) int {
	t.Helper()
	var c int
	if err := st.db.QueryRow(`SELECT count(*) FROM t WHERE n >= ?`, n).Scan(&c); err != nil {
		t.Fatal(err)
	}
	return c
}

func waitSync(t *testing.T, st *syncTest) {
	t.Helper()
	select {
	case <-st.started:
	case <-time.After(10 * time.Second):
		t.Fatal("no sync began within 10s")
	}
}

// TestGroupCommitAnswersAfterSync: a committed write is answered only
// after a sync that began after its commit; a failed sync fails the
// writes it was for.
func TestGroupCommitAnswersAfterSync(t *testing.T) {
	st := newSyncTest(t)

	done := st.insert(1)
	waitSync(t, st)
	if !st.committed(t, 1) {
		t.Fatal("the sync began before the write was committed")
	}
	select {
	case err := <-done:
		t.Fatalf("the write was answered (%v) before its sync ended", err)
	case <-time.After(50 * time.Millisecond):
	}
	st.release <- nil
	if err := <-done; err != nil {
		t.Fatalf("write: %v", err)
	}

	done = st.insert(2)
	waitSync(t, st)
	st.release <- errors.New("EIO")
	if err := <-done; err == nil || !strings.Contains(err.Error(), "sync to disk") || !strings.Contains(err.Error(), "EIO") {
		t.Fatalf("write whose sync failed: %v, want the sync's error", err)
	}
}

// TestGroupCommitOverlapsSync: while one sync is on disk the next group
// commits, and the writes that came meanwhile share one sync.
func TestGroupCommitOverlapsSync(t *testing.T) {
	st := newSyncTest(t)
	first := st.insert(1)
	waitSync(t, st) // sync 1 holds

	const n = 20
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() { errs <- <-st.insert(100 + i) })
	}
	// A group of them commits while sync 1 is still on disk (the
	// others queue behind it until that group has its sync).
	deadline := time.Now().Add(10 * time.Second)
	for st.count(t, 100) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no write committed while a sync was on disk")
		}
		time.Sleep(5 * time.Millisecond)
	}
	// Let every sync through.
	go func() {
		for range st.started {
			st.release <- nil
		}
	}()
	st.release <- nil // sync 1
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if s := st.syncs.Load(); s >= n {
		t.Errorf("%d syncs for %d writes made while a sync was on disk: none shared one", s, n)
	}
}

// TestGroupCommitCloseWaitsForSync: closing the store answers the
// committed writes after their sync, not with errStoreClosed.
func TestGroupCommitCloseWaitsForSync(t *testing.T) {
	st := newSyncTest(t)
	done := st.insert(1)
	waitSync(t, st)
	closed := make(chan struct{})
	go func() {
		st.c.close()
		close(closed)
	}()
	select {
	case <-closed:
		t.Fatal("close returned while a committed write waited for its sync")
	case <-time.After(50 * time.Millisecond):
	}
	st.release <- nil
	<-closed
	if err := <-done; err != nil {
		t.Fatalf("write committed and synced before close: %v", err)
	}
}

// TestSQLiteGroupCommitSyncsTheWAL: the SQLite store's group commit
// commits with synchronous=NORMAL and syncs the WAL itself before it
// answers; its other writes keep synchronous=FULL.
func TestSQLiteGroupCommitSyncsTheWAL(t *testing.T) {
	s := openGroupTest(t)
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
	// With no WAL file (deleted when the last connection closed), the
	// sync is of the database file.
	dir := t.TempDir()
	db := filepath.Join(dir, "x.db")
	if err := syncWAL(db)(); err == nil || !strings.Contains(err.Error(), "x.db") {
		t.Errorf("sync without WAL or database: %v, want an error naming the file", err)
	}
}
