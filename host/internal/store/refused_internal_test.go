package store

import (
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// capPages caps the database at its current size on the store's writing
// connections (PRAGMA max_page_count is per connection), or lifts the
// cap: SQLite then answers SQLITE_FULL to a write that needs a new page,
// as when the disk is full.
func capPages(t *testing.T, s *SQLite, capped bool) {
	t.Helper()
	for _, db := range []*sql.DB{s.w, s.g} {
		n := int64(1 << 30)
		if capped {
			if err := db.QueryRowContext(t.Context(), "PRAGMA page_count").Scan(&n); err != nil {
				t.Fatal(err)
			}
		}
		var got int64
		if err := db.QueryRowContext(t.Context(), fmt.Sprintf("PRAGMA max_page_count = %d", n)).Scan(&got); err != nil {
			t.Fatal(err)
		}
	}
}

// queryOnly makes the store's writing connections refuse every write
// with SQLITE_READONLY, or lets them write again.
func queryOnly(t *testing.T, s *SQLite, on bool) {
	t.Helper()
	for _, db := range []*sql.DB{s.w, s.g} {
		if _, err := db.ExecContext(t.Context(), fmt.Sprintf("PRAGMA query_only = %t", on)); err != nil {
			t.Fatal(err)
		}
	}
}

// incompressible is a request of about n bytes that the store's
// compression cannot shrink.
func incompressible(n int) []byte {
	b := make([]byte, n/2)
	rand.Read(b)
	return fmt.Appendf(nil, `{"blob":"%x"}`, b)
}

// refusalLog collects what WithRefusals reports.
type refusalLog struct {
	mu   sync.Mutex
	errs []error
}

func (l *refusalLog) add(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.errs = append(l.errs, err)
}

func (l *refusalLog) all() []error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]error(nil), l.errs...)
}

// TestSQLiteRefusesWrites: a write SQLite refuses because the database
// cannot grow (SQLITE_FULL, as on a full disk) or has become read-only
// (SQLITE_READONLY) fails with an error holding ErrRefused that says the
// cause, where, and the fix; Ping (/readyz) and Refused report it,
// WithRefusals hears of it; once the cause is gone the same write
// succeeds without reopening the store, and Ping is nil again once no
// write was refused for RefusalWindow.
func TestSQLiteRefusesWrites(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		refuse func(t *testing.T, s *SQLite, on bool)
		kind   string
		want   []string // in the write's error and in Ping's
	}{
		"disk full": {refuse: capPages, kind: RefusedDiskFull, want: []string{"disk full at", "free space", "no restart needed"}},
		"read-only": {refuse: queryOnly, kind: RefusedReadOnly, want: []string{"read-only", "writable again"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			var heard refusalLog
			s, err := OpenSQLite(t.Context(), filepath.Join(dir, "medgate.db"), WithRefusals(heard.add))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			ctx := t.Context()
			if err := s.Ping(ctx); err != nil {
				t.Fatalf("Ping before any refusal: %v", err)
			}
			tc.refuse(t, s, true)
			m := Message{ID: "m-1", Site: "s", Type: "p.op", Key: "k", Request: incompressible(64 << 10)}
			_, _, err = s.BeginMessage(ctx, m)
			if !errors.Is(err, ErrRefused) {
				t.Fatalf("BeginMessage refused by the database: %v, want ErrRefused", err)
			}
			if kind, _, ok := Refusal(err); !ok || kind != tc.kind {
				t.Errorf("Refusal(%v) = %q, %v; want %q", err, kind, ok, tc.kind)
			}
			perr := s.Ping(ctx)
			if perr == nil {
				t.Fatal("Ping while the database refuses writes: nil")
			}
			if at, rerr := s.Refused(); !errors.Is(rerr, ErrRefused) || at.IsZero() {
				t.Errorf("Refused while the database refuses writes: %v, %v", at, rerr)
			}
			for _, want := range append(tc.want, dir) {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("BeginMessage's error %q does not say %q", err, want)
				}
				if !strings.Contains(perr.Error(), want) {
					t.Errorf("Ping's error %q does not say %q", perr, want)
				}
			}
			if got := heard.all(); len(got) == 0 || !errors.Is(got[len(got)-1], ErrRefused) {
				t.Errorf("WithRefusals heard %v, want the refusal", got)
			}
			if _, err := s.GetMessage(ctx, m.ID); !errors.Is(err, ErrNotFound) {
				t.Errorf("GetMessage of the refused message: %v, want ErrNotFound", err)
			}

			tc.refuse(t, s, false)
			if _, created, err := s.BeginMessage(ctx, m); err != nil || !created {
				t.Fatalf("BeginMessage once the database takes writes again: created %v, %v", created, err)
			}
			if err := s.FinishMessage(ctx, m.ID, "ok", []byte(`{}`), 1); err != nil {
				t.Fatalf("FinishMessage once the database takes writes again: %v", err)
			}
			if n := len(heard.all()); n != 1 {
				t.Errorf("WithRefusals heard %d refusals, want 1", n)
			}
			if err := s.Ping(ctx); !errors.Is(err, ErrRefused) {
				t.Errorf("Ping within RefusalWindow of the refusal: %v, want it reported still", err)
			}
			s.refusals.now = func() time.Time { return time.Now().Add(RefusalWindow + time.Second) }
			if err := s.Ping(ctx); err != nil {
				t.Errorf("Ping once no write was refused for RefusalWindow: %v", err)
			}
			if at, err := s.Refused(); err != nil || !at.IsZero() {
				t.Errorf("Refused once no write was refused for RefusalWindow: %v, %v", at, err)
			}
		})
	}
}
