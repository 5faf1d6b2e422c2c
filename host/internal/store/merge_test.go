package store

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
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

// holdCommitter holds s's committer in a write until n more writes are
// queued, so that they form one group; release lets it go.
func holdCommitter(t *testing.T, s *Postgres) (queued func(n int), release func()) {
	t.Helper()
	rel, started := make(chan struct{}), make(chan struct{})
	held := make(chan error, 1)
	go func() {
		held <- s.write(t.Context(), func(context.Context, querier) error { close(started); <-rel; return nil })
	}()
	<-started
	return func(n int) {
			t.Helper()
			if err := waitQueued(s, n); err != nil {
				close(rel)
				t.Fatal(err)
			}
		}, func() {
			close(rel)
			if err := <-held; err != nil {
				t.Fatal(err)
			}
		}
}

// TestWholeGroupPostgres: a group of outcomes and new messages (the
// pass-through's) is written by one statement that commits by itself,
// and each write gets what it would get alone: a new message created, a
// known one read back, an unknown outcome ErrNotFound, the next message
// of an unknown one left out.
func TestWholeGroupPostgres(t *testing.T) {
	t.Parallel()
	s := postgresWith(t, "p1", "p2", "p3", "known")
	ctx := t.Context()
	if err := s.FinishMessage(ctx, "known", "ok", []byte(`{"was":"known"}`), 3); err != nil {
		t.Fatal(err)
	}
	queued, release := holdCommitter(t, s)
	type result struct {
		existing *Message
		created  bool
		err      error
	}
	var mu sync.Mutex
	res := map[string]result{}
	set := func(k string, r result) { mu.Lock(); res[k] = r; mu.Unlock() }
	var wg sync.WaitGroup
	for id, next := range map[string]string{"p1": "n1", "missing": "n2"} {
		wg.Go(func() {
			m, created, err := s.FinishAndBegin(ctx, id, "ok", []byte(`{}`), 1, Message{ID: next, Site: "s", Type: "p.op", Key: "k", Attempts: 1})
			set(id, result{m, created, err})
		})
	}
	for _, id := range []string{"p2", "gone"} {
		wg.Go(func() { set(id, result{err: s.FinishMessage(ctx, id, "rejected", nil, 2)}) })
	}
	for _, id := range []string{"new", "known"} {
		wg.Go(func() {
			m, created, err := s.BeginMessage(ctx, Message{ID: id, Site: "s", Type: "p.op", Key: "k-" + id, Request: []byte(`{"id":"` + id + `"}`), Attempts: 1})
			set("begin "+id, result{m, created, err})
		})
	}
	queued(6)
	release()
	wg.Wait()
	if n := s.wholes.Load(); n != 1 {
		t.Fatalf("%d groups written as one statement, want 1", n)
	}
	if r := res["p1"]; r.err != nil || !r.created {
		t.Errorf("FinishAndBegin(p1) = created %v, %v; want created", r.created, r.err)
	}
	if r := res["missing"]; !errors.Is(r.err, ErrNotFound) {
		t.Errorf("FinishAndBegin(missing): %v, want ErrNotFound", r.err)
	}
	if r := res["p2"]; r.err != nil {
		t.Errorf("FinishMessage(p2): %v", r.err)
	}
	if r := res["gone"]; !errors.Is(r.err, ErrNotFound) {
		t.Errorf("FinishMessage(gone): %v, want ErrNotFound", r.err)
	}
	if r := res["begin new"]; r.err != nil || !r.created {
		t.Errorf("BeginMessage(new) = created %v, %v; want created", r.created, r.err)
	}
	if r := res["begin known"]; r.err != nil || r.created || r.existing == nil || r.existing.Status != StatusDone || r.existing.Attempts != 3 {
		t.Errorf("BeginMessage(known) = %+v, created %v, %v; want the stored message, done", r.existing, r.created, r.err)
	}
	for id, want := range map[string]string{"p1": StatusDone, "p2": StatusDone, "n1": StatusPending, "new": StatusPending, "p3": StatusPending} {
		if m, err := s.GetMessage(ctx, id); err != nil || m.Status != want {
			t.Errorf("%s: %+v, %v; want %s", id, m, err, want)
		}
	}
	if _, err := s.GetMessage(ctx, "n2"); !errors.Is(err, ErrNotFound) {
		t.Errorf("n2, the next message of a missing one: %v, want ErrNotFound (left out)", err)
	}
}

// TestWholeGroupFallsBackPostgres: a group the single statement cannot
// write (an id twice, another kind of write) runs in a transaction, and a
// group whose statement PostgreSQL refuses runs again write by write, so
// that only the bad write fails.
func TestWholeGroupFallsBackPostgres(t *testing.T) {
	t.Parallel()
	s := postgresWith(t, "a", "b")
	ctx := t.Context()
	run := func(writes ...func() error) []error {
		queued, release := holdCommitter(t, s)
		errs := make([]error, len(writes))
		var wg sync.WaitGroup
		for i, w := range writes {
			wg.Go(func() { errs[i] = w() })
		}
		queued(len(writes))
		release()
		wg.Wait()
		return errs
	}
	begin := func(id string) func() error {
		return func() error {
			_, _, err := s.BeginMessage(ctx, Message{ID: id, Site: "s", Type: "p.op", Attempts: 1})
			return err
		}
	}
	var seq int64
	for _, errs := range [][]error{
		run(begin("c"), begin("c")),
		run(begin("d"), func() error { var err error; seq, err = s.NextSequence(ctx, "x"); return err }),
	} {
		for _, err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	if n := s.wholes.Load(); n != 0 {
		t.Errorf("%d groups written as one statement, want 0", n)
	}
	if seq != 1 {
		t.Errorf("NextSequence = %d, want 1", seq)
	}
	// A NUL byte is not valid text in PostgreSQL: that outcome fails.
	errs := run(
		func() error { return s.FinishMessage(ctx, "a", "ok", nil, 1) },
		func() error { return s.FinishMessage(ctx, "b", "o\x00k", nil, 1) },
		begin("e"),
	)
	if errs[0] != nil || errs[2] != nil || errs[1] == nil {
		t.Fatalf("errors %v, want only the second write (a NUL in its outcome) to fail", errs)
	}
	for id, want := range map[string]string{"a": StatusDone, "b": StatusPending, "c": StatusPending, "d": StatusPending, "e": StatusPending} {
		if m, err := s.GetMessage(ctx, id); err != nil || m.Status != want {
			t.Errorf("%s: %+v, %v; want %s", id, m, err, want)
		}
	}
}
