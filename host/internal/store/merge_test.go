package store

import (
	"bytes"
	"database/sql"
	"fmt"
	"testing"
	"time"
)

// TestMergedWritesPlannedPerExecution: the merged statements of the
// PostgreSQL group commit find their rows by the primary key however
// much the table has grown since the first groups. With named prepared
// statements, PostgreSQL switched to a generic plan after five runs,
// planned while messages held a few rows: a hash join over a sequential
// scan of the table, which every later group then repeated on a table
// of tens of thousands of rows (30–90 ms a statement in the pass-through
// benchmark). Autovacuum is off for the table, as within the minute
// before its first ANALYZE, so nothing plans the statements again.
func TestMergedWritesPlannedPerExecution(t *testing.T) {
	t.Parallel()
	ids := []string{"m1", "m2", "m3"}
	s := postgresWith(t, ids...)
	ctx := t.Context()
	if _, err := s.w.ExecContext(ctx, `ALTER TABLE messages SET (autovacuum_enabled = false)`); err != nil {
		t.Fatal(err)
	}
	// One connection, as the committer's transactions mostly get.
	s.w.SetMaxIdleConns(1)
	s.w.SetMaxOpenConns(1)
	finishes := func() []*finishRow {
		rows := make([]*finishRow, len(ids))
		for i, id := range ids {
			rows[i] = &finishRow{args: []any{"ok", []byte("r"), 1, time.Now(), id}}
		}
		return rows
	}
	begins := func() []*beginRow { // all three exist: the rows are read back
		rows := make([]*beginRow, len(ids))
		for i, id := range ids {
			rows[i] = &beginRow{args: []any{id, "s", "p.op", "", 1, nil, time.Now(), time.Now(), nil}}
		}
		return rows
	}
	// seqScans runs the merged writes in one transaction and returns how
	// many sequential scans of messages that transaction made.
	seqScans := func() int64 {
		t.Helper()
		tx, err := s.w.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = tx.Rollback() }()
		// The view counts this backend's scans not yet reported to the
		// statistics, which may include earlier transactions'.
		scans := func() int64 {
			var n sql.NullInt64
			if err := tx.QueryRowContext(ctx, `SELECT seq_scan FROM pg_stat_xact_user_tables WHERE relname = 'messages'`).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n.Int64
		}
		before := scans()
		if err := s.finishMessages(ctx, tx, finishes()); err != nil {
			t.Fatal(err)
		}
		if err := s.insertMessages(ctx, tx, begins()); err != nil {
			t.Fatal(err)
		}
		n := scans() - before
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		return n
	}
	for range 10 { // a few rows: any plan will do
		seqScans()
	}
	if _, err := s.w.ExecContext(ctx, `INSERT INTO messages (id, site, type, status, attempts, received_at, updated_at)
		SELECT 'bulk-' || i, 's', 'p.op', 'done', 1, now(), now() FROM generate_series(1, 50000) AS i`); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if n := seqScans(); n != 0 {
			t.Fatalf("group %d after the table grew to 50,003 rows: the merged statements scanned messages sequentially %d times, want 0 (a plan made while the table was small)", i, n)
		}
	}
}

// TestMergedWritesKeepNulls: the merged statements store what the
// statements of one write store, NULLs (no request, no reply, no
// occurred_at) and empty values included.
func TestMergedWritesKeepNulls(t *testing.T) {
	t.Parallel()
	s := postgresWith(t, "f-null", "f-empty", "f-data")
	ctx := t.Context()
	occurred := time.Date(2026, 12, 3, 8, 0, 0, 123000, time.UTC)
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = s.finishMessages(ctx, tx, []*finishRow{
		{args: []any{"ok", nil, 1, time.Now(), "f-null"}},
		{args: []any{"failed", []byte{}, 2, time.Now(), "f-empty"}},
		{args: []any{"rejected", []byte("reply"), 3, time.Now(), "f-data"}},
	})
	if err == nil {
		err = s.insertMessages(ctx, tx, []*beginRow{
			{args: []any{"b-null", "s1", "p.op", "", 0, nil, time.Now(), time.Now(), nil}},
			{args: []any{"b-data", "s2", "p.other", "key", 4, occurred, occurred, time.Now(), []byte("request")}},
		})
	}
	if err != nil {
		_ = tx.Rollback()
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	type stored struct {
		status, outcome, site, typ, key string
		reply, request                  []byte
		attempts                        int
		occurred                        sql.NullTime
	}
	want := map[string]stored{
		"f-null":  {status: "done", outcome: "ok", site: "s", typ: "p.op", attempts: 1},
		"f-empty": {status: "done", outcome: "failed", site: "s", typ: "p.op", reply: []byte{}, attempts: 2},
		"f-data":  {status: "done", outcome: "rejected", site: "s", typ: "p.op", reply: []byte("reply"), attempts: 3},
		"b-null":  {status: "pending", site: "s1", typ: "p.op"},
		"b-data":  {status: "pending", site: "s2", typ: "p.other", key: "key", request: []byte("request"), attempts: 4, occurred: sql.NullTime{Time: occurred, Valid: true}},
	}
	for id, w := range want {
		var g stored
		err := s.w.QueryRowContext(ctx, `SELECT status, outcome, site, type, business_key, reply, request, attempts, occurred_at FROM messages WHERE id = $1`, id).
			Scan(&g.status, &g.outcome, &g.site, &g.typ, &g.key, &g.reply, &g.request, &g.attempts, &g.occurred)
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		if g.occurred.Valid {
			g.occurred.Time = g.occurred.Time.UTC()
		}
		same := g.status == w.status && g.outcome == w.outcome && g.site == w.site && g.typ == w.typ && g.key == w.key &&
			g.attempts == w.attempts && g.occurred == w.occurred &&
			bytes.Equal(g.reply, w.reply) && (g.reply == nil) == (w.reply == nil) &&
			bytes.Equal(g.request, w.request) && (g.request == nil) == (w.request == nil)
		if !same {
			t.Errorf("%s: stored %s, want %s", id, show(g), show(w))
		}
	}
}

func show(v any) string { return fmt.Sprintf("%+v", v) }
