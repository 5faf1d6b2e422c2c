package store

import (
	"os"
	"path/filepath"
	"testing"
)

// TestSyncWALFollowsTheFile: the WAL file kept open between syncs is
// the current one: a WAL deleted and created again (SQLite deletes it
// when its last connection closes) is synced as the new file, and with
// no WAL the database file is.
func TestSyncWALFollowsTheFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db := filepath.Join(dir, "x.db")
	write := func(name string) {
		t.Helper()
		if err := os.WriteFile(name, []byte("frames"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(db)
	w := newWALSync(db)
	defer w.close()
	steps := []struct {
		name   string
		before func()
		want   string // the file synced
	}{
		{"no WAL: the database file", func() {}, db},
		{"a WAL appears", func() { write(db + "-wal") }, db + "-wal"},
		{"the same WAL again", func() {}, db + "-wal"},
		{"the WAL replaced", func() {
			if err := os.Remove(db + "-wal"); err != nil {
				t.Fatal(err)
			}
			write(db + "-wal")
		}, db + "-wal"},
		{"the WAL deleted", func() {
			if err := os.Remove(db + "-wal"); err != nil {
				t.Fatal(err)
			}
		}, db},
	}
	for _, s := range steps {
		s.before()
		if err := w.sync(); err != nil {
			t.Fatalf("%s: sync: %v", s.name, err)
		}
		want, err := os.Stat(s.want)
		if err != nil {
			t.Fatal(err)
		}
		got, err := w.f.Stat()
		if err != nil {
			t.Fatal(err)
		}
		if !os.SameFile(got, want) {
			t.Fatalf("%s: synced %s, want the current %s", s.name, w.f.Name(), s.want)
		}
	}
	if err := os.Remove(db); err != nil {
		t.Fatal(err)
	}
	if err := w.sync(); err == nil {
		t.Fatal("sync with neither WAL nor database file: no error")
	}
}

// TestSyncWALOpensNothingPerCommit: once the WAL is open, a sync is a
// stat of its path and the fdatasync; it opened and closed the file
// every time (4 allocations and two more system calls per commit).
func TestSyncWALOpensNothingPerCommit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "medgate.db")
	s, err := OpenSQLite(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.NextSequence(t.Context(), "n"); err != nil {
		t.Fatal(err)
	}
	sync := syncWAL(path)
	if err := sync(); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(20, func() {
		if err := sync(); err != nil {
			t.Fatal(err)
		}
	}); n > 2 {
		t.Fatalf("a sync allocates %v times; want at most 2 (the stat of the WAL's path)", n)
	}
}
