package store_test

import (
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/medgate/medgate/host/internal/store"
	"github.com/medgate/medgate/host/internal/store/storetest"
)

func openSQLite(t *testing.T, path string, opts ...store.Option) *store.SQLite {
	t.Helper()
	s, err := store.OpenSQLite(t.Context(), path, opts...)
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

// TestSQLiteLeasesOnCallerClock: SQLite, one host's file, times leases by
// AcquireLease's now.
func TestSQLiteLeasesOnCallerClock(t *testing.T) {
	t.Parallel()
	storetest.LeasesOnCallerClock(t, openSQLite(t, filepath.Join(t.TempDir(), "medgate.db")))
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
	notDir := filepath.Join(t.TempDir(), "a-file")
	if err := os.WriteFile(notDir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(notDir, "medgate.db")
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

// TestSQLiteModes: medgate itself creates the data directory 0700 and the
// database files 0600, whatever the umask, tightens looser modes left
// behind, and refuses a directory others can write to.
func TestSQLiteModes(t *testing.T) {
	t.Parallel()
	type modes struct{ dir, db os.FileMode }
	cases := map[string]struct {
		before  *modes // nil: nothing exists yet
		want    modes
		errPart string
	}{
		"new":                 {want: modes{0o700, 0o600}},
		"loose, left by hand": {before: &modes{0o755, 0o644}, want: modes{0o700, 0o600}},
		"group readable":      {before: &modes{0o750, 0o640}, want: modes{0o700, 0o600}},
		"already tight":       {before: &modes{0o700, 0o600}, want: modes{0o700, 0o600}},
		"world-writable dir":  {before: &modes{0o777, 0o600}, errPart: "writable by group or others"},
		"group-writable dir":  {before: &modes{0o770, 0o600}, errPart: "mkdir -m 700"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join(t.TempDir(), "data", "store")
			path := filepath.Join(dir, "medgate.db")
			if tc.before != nil {
				if err := os.MkdirAll(dir, 0o700); err != nil {
					t.Fatal(err)
				}
				s := openSQLite(t, path)
				if _, err := s.NextSequence(t.Context(), "n"); err != nil {
					t.Fatal(err)
				}
				if err := s.Close(); err != nil {
					t.Fatal(err)
				}
				for p, m := range map[string]os.FileMode{dir: tc.before.dir, path: tc.before.db} {
					if err := os.Chmod(p, m); err != nil {
						t.Fatal(err)
					}
				}
			}
			s, err := store.OpenSQLite(t.Context(), path)
			if tc.errPart != "" {
				if err == nil {
					s.Close()
					t.Fatalf("opened; want an error saying %q", tc.errPart)
				}
				if !strings.Contains(err.Error(), tc.errPart) || !strings.Contains(err.Error(), dir) {
					t.Fatalf("err = %v, want it to name %s and say %q", err, dir, tc.errPart)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			// A write makes SQLite create its -wal and -shm files.
			if _, err := s.NextSequence(t.Context(), "n"); err != nil {
				t.Fatal(err)
			}
			check := func(p string, want os.FileMode) {
				st, err := os.Stat(p)
				if err != nil {
					t.Fatal(err)
				}
				if got := st.Mode().Perm(); got != want {
					t.Errorf("%s has mode %o, want %o", p, got, want)
				}
			}
			check(dir, tc.want.dir)
			for _, suffix := range []string{"", "-wal", "-shm"} {
				check(path+suffix, tc.want.db)
			}
		})
	}
}

// TestSQLiteAuditAppendOnly: the database itself refuses to change or
// delete an audit entry, whatever the statement.
func TestSQLiteAuditAppendOnly(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "medgate.db")
	s := openSQLite(t, path)
	if _, err := s.AppendAudit(t.Context(), store.AuditEntry{Actor: "amy", Action: "login", Outcome: "ok"}); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range []string{
		"UPDATE audit_log SET actor = 'mallory'",
		"DELETE FROM audit_log",
		"INSERT OR REPLACE INTO audit_log (id, at, actor, action, outcome) SELECT id, at, 'mallory', action, outcome FROM audit_log",
	} {
		if _, err := db.ExecContext(t.Context(), q); err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: err = %v, want the append-only refusal", q, err)
		}
	}
	got, err := s.ListAudit(t.Context(), store.AuditFilter{})
	if err != nil || len(got) != 1 || got[0].Actor != "amy" {
		t.Fatalf("audit after the attempts = %+v, %v; want amy's entry unchanged", got, err)
	}
}

// TestSQLiteOutcomeKeepsLargeRequest: storing the outcome of a message with
// a large request (a 500-line fee upload) does not write the request
// again. SQLite writes a whole row again when an UPDATE changes its size;
// the request is kept apart from the row, so the WAL grows by the outcome,
// not by the request once more.
func TestSQLiteOutcomeKeepsLargeRequest(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "medgate.db")
	s := openSQLite(t, path, store.WithKeys(key1))
	ctx := t.Context()
	// Hex of a pseudo-random sequence: it does not compress (see seal), so
	// the request is 300 KiB at rest too.
	request := []byte(`{"fee":"`)
	for i := range uint32(300 << 10 / 8) {
		request = fmt.Appendf(request, "%08x", i*2654435761)
	}
	request = append(request, `"}`...)
	walSize := func() int64 {
		t.Helper()
		st, err := os.Stat(path + "-wal")
		if err != nil {
			t.Fatal(err)
		}
		return st.Size()
	}
	for _, id := range []string{"m1", "m2"} {
		if _, _, err := s.BeginMessage(ctx, store.Message{ID: id, Site: "s1", Type: "workinjury.GYU102", Key: "k", Request: request}); err != nil {
			t.Fatal(err)
		}
		before := walSize()
		if err := s.FinishMessage(ctx, id, "ok", []byte(`{"status":"ok"}`), 1); err != nil {
			t.Fatal(err)
		}
		if grown := walSize() - before; grown > 64<<10 {
			t.Errorf("%s: storing the outcome grew the WAL by %d KiB, the request is %d KiB: it was written again", id, grown>>10, len(request)>>10)
		}
		m, err := s.GetMessage(ctx, id)
		if err != nil || string(m.Request) != string(request) {
			t.Fatalf("%s: request read back as %d bytes, %v", id, len(m.Request), err)
		}
	}
}
