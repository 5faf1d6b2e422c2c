package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/medgate/medgate/test/testenv"
)

// openGroupTest opens a SQLite store in a temporary directory, closed
// when tb ends.
func openGroupTest(tb testing.TB) *SQLite {
	tb.Helper()
	s, err := OpenSQLite(tb.Context(), filepath.Join(tb.TempDir(), "medgate.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = s.Close() })
	return s
}

// nextReq is a write that increments the sequence name and keeps the value.
func nextReq(ctx context.Context, s *sqlStore, name string, v *int64) *writeReq {
	return &writeReq{ctx: ctx, err: make(chan error, 1), fn: func(ctx context.Context, q querier) error {
		return s.rowOn(ctx, q, `INSERT INTO sequences (name, value) VALUES (?, 1)
			ON CONFLICT (name) DO UPDATE SET value = sequences.value + 1 RETURNING value`, name).Scan(v)
	}}
}

// TestGroupCommitIsolatesAFailedWrite: a write that fails rolls its group
// back, and the other writes of the group are committed one by one, each
// exactly once; a write whose caller has gone is left out.
func TestGroupCommitIsolatesAFailedWrite(t *testing.T) {
	testGroupCommitIsolatesAFailedWrite(t, &openGroupTest(t).sqlStore)
}

// TestGroupCommitIsolatesAFailedWritePostgres: the same on PostgreSQL,
// where the failed statement aborts the whole transaction.
func TestGroupCommitIsolatesAFailedWritePostgres(t *testing.T) {
	t.Parallel()
	s, err := OpenPostgres(t.Context(), testenv.Postgres(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	testGroupCommitIsolatesAFailedWrite(t, &s.sqlStore)
}

func testGroupCommitIsolatesAFailedWrite(t *testing.T, s *sqlStore) {
	ctx := t.Context()
	gone, cancel := context.WithCancel(ctx)
	cancel()
	var a, b, c int64
	boom := errors.New("boom")
	group := []*writeReq{
		nextReq(ctx, s, "a", &a),
		{ctx: ctx, err: make(chan error, 1), fn: func(ctx context.Context, q querier) error {
			if err := nextReq(ctx, s, "b", &b).fn(ctx, q); err != nil {
				return err
			}
			// A statement that fails in the database, as a bad write
			// would: PostgreSQL then refuses every later statement of
			// the transaction.
			if _, err := q.ExecContext(ctx, `UPDATE no_such_table SET x = 1`); err == nil {
				return errors.New("the statement on a missing table did not fail")
			}
			return boom
		}},
		nextReq(gone, s, "c", &c),
		nextReq(ctx, s, "a", &a),
	}
	s.group.commit(group)
	want := []error{nil, boom, context.Canceled, nil}
	for i, r := range group {
		if err := <-r.err; !errors.Is(err, want[i]) {
			t.Errorf("write %d: error %v, want %v", i, err, want[i])
		}
	}
	if a != 2 {
		t.Errorf("the last write of sequence a got %d, want 2 (each write of the rolled-back group once)", a)
	}
	for name, want := range map[string]int64{"a": 3, "b": 1, "c": 1} {
		got, err := s.NextSequence(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("NextSequence(%q) after the group = %d, want %d", name, got, want)
		}
	}
}

// TestGroupCommitConcurrent: many writers at once each get their own
// committed result, and the writes share transactions.
func TestGroupCommitConcurrent(t *testing.T) {
	testGroupCommitConcurrent(t, &openGroupTest(t).sqlStore)
}

// TestGroupCommitConcurrentPostgres: the same on PostgreSQL.
func TestGroupCommitConcurrentPostgres(t *testing.T) {
	t.Parallel()
	s, err := OpenPostgres(t.Context(), testenv.Postgres(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	testGroupCommitConcurrent(t, &s.sqlStore)
}

func testGroupCommitConcurrent(t *testing.T, s *sqlStore) {
	const writers, each = 32, 20
	var wg sync.WaitGroup
	got := make([][]int64, writers)
	for w := range writers {
		wg.Go(func() {
			for range each {
				v, err := s.NextSequence(t.Context(), "shared")
				if err != nil {
					t.Error(err)
					return
				}
				got[w] = append(got[w], v)
				id := fmt.Sprintf("m-%d-%d", w, v)
				if _, created, err := s.BeginMessage(t.Context(), Message{ID: id, Site: "s", Type: "p.op", Attempts: 1}); err != nil || !created {
					t.Errorf("BeginMessage(%q) = %v, %v", id, created, err)
					return
				}
				if err := s.FinishMessage(t.Context(), id, "ok", []byte(`{}`), 1); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	seen := map[int64]bool{}
	for _, vs := range got {
		for _, v := range vs {
			if seen[v] {
				t.Fatalf("sequence value %d handed out twice", v)
			}
			seen[v] = true
		}
	}
	if len(seen) != writers*each {
		t.Fatalf("%d sequence values, want %d", len(seen), writers*each)
	}
	counts, err := s.CountMessages(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if counts["ok"] != writers*each {
		t.Errorf("%d messages done, want %d", counts["ok"], writers*each)
	}
	if n := s.group.groups.Load(); n >= int64(3*writers*each) {
		t.Errorf("%d transactions for %d writes from %d writers at once: none was grouped", n, 3*writers*each, writers)
	}
}

// TestGroupCommitAfterClose: writes after Close fail.
func TestGroupCommitAfterClose(t *testing.T) {
	s, err := OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "medgate.db"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.NextSequence(t.Context(), "x"); !errors.Is(err, ErrClosed) {
		t.Errorf("NextSequence after Close: %v, want %v", err, ErrClosed)
	}
}

// TestGroupCommitTransactionFails: when the transaction itself cannot
// begin, every write of the group gets the error and none runs.
func TestGroupCommitTransactionFails(t *testing.T) {
	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "closed.db"))
	if err != nil {
		t.Fatal(err)
	}
	_ = db.Close()
	c := &committer{db: db}
	ran := 0
	group := make([]*writeReq, 3)
	for i := range group {
		group[i] = &writeReq{ctx: t.Context(), err: make(chan error, 1), fn: func(context.Context, querier) error { ran++; return nil }}
	}
	c.commit(group)
	for i, r := range group {
		if err := <-r.err; err == nil || !strings.Contains(err.Error(), "begin transaction") {
			t.Errorf("write %d: error %v, want the failed begin", i, err)
		}
	}
	if ran != 0 {
		t.Errorf("%d writes ran without a transaction", ran)
	}
}

// TestGroupCommitMergesPostgres: on PostgreSQL the BeginMessage and
// FinishMessage writes of one group run as one statement per kind, and
// each caller gets what it would get alone: a new message is created
// once, a known one comes back as it is stored, a repeated id in the
// group sees the first, an unknown id is not found.
func TestGroupCommitMergesPostgres(t *testing.T) {
	t.Parallel()
	s := postgresWith(t, "done", "p1", "p2")
	ctx := t.Context()
	if err := s.FinishMessage(ctx, "done", "ok", []byte(`{"was":"done"}`), 1); err != nil {
		t.Fatal(err)
	}

	// Hold the committer in a write until every write below is queued,
	// so that they form one group.
	release, started := make(chan struct{}), make(chan struct{})
	held := make(chan error, 1)
	go func() {
		held <- s.write(ctx, func(context.Context, querier) error { close(started); <-release; return nil })
	}()
	<-started
	type begun struct {
		id       string
		existing *Message
		created  bool
		err      error
	}
	begins := []string{"a", "b", "done", "a"}
	finishes := map[string]string{"p1": "ok", "p2": "rejected", "missing": "ok"}
	var wg sync.WaitGroup
	bres := make([]begun, len(begins))
	fres := make(map[string]error)
	var mu sync.Mutex
	for i, id := range begins {
		wg.Go(func() {
			m, created, err := s.BeginMessage(ctx, Message{ID: id, Site: "s", Type: "p.op", Key: "k-" + id, Request: []byte(`{"id":"` + id + `"}`), Attempts: 1})
			bres[i] = begun{id, m, created, err}
		})
	}
	for id, outcome := range finishes {
		wg.Go(func() {
			err := s.FinishMessage(ctx, id, outcome, []byte(`{"id":"`+id+`"}`), 2)
			mu.Lock()
			fres[id] = err
			mu.Unlock()
		})
	}
	if err := waitQueued(s, len(begins)+len(finishes)); err != nil {
		close(release)
		t.Fatal(err)
	}
	close(release)
	wg.Wait()
	if err := <-held; err != nil {
		t.Fatal(err)
	}

	createdA := 0
	for _, b := range bres {
		if b.err != nil {
			t.Fatalf("BeginMessage(%q): %v", b.id, b.err)
		}
		switch b.id {
		case "a":
			if b.created {
				createdA++
			} else if b.existing == nil || b.existing.Status != StatusPending || b.existing.Key != "k-a" {
				t.Errorf("BeginMessage(a) again in the same group: existing %+v, want the pending a", b.existing)
			}
		case "b":
			if !b.created || b.existing != nil {
				t.Errorf("BeginMessage(b) = %+v, %v, want created", b.existing, b.created)
			}
		case "done":
			if b.created || b.existing == nil || b.existing.Status != StatusDone || string(b.existing.Reply) != `{"was":"done"}` {
				t.Errorf("BeginMessage(done) = %+v, %v, want the stored done message", b.existing, b.created)
			}
		}
	}
	if createdA != 1 {
		t.Errorf("message a created %d times in one group, want once", createdA)
	}
	for id, err := range fres {
		if id == "missing" {
			if !errors.Is(err, ErrNotFound) {
				t.Errorf("FinishMessage(missing): %v, want ErrNotFound", err)
			}
			continue
		}
		if err != nil {
			t.Errorf("FinishMessage(%q): %v", id, err)
			continue
		}
		m, err := s.GetMessage(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if m.Status != StatusDone || m.Outcome != finishes[id] || m.Attempts != 2 || string(m.Reply) != `{"id":"`+id+`"}` {
			t.Errorf("message %s after FinishMessage: %+v", id, m)
		}
	}
	// a, b and done: one INSERT; p1, p2 and missing: one UPDATE; the
	// second a runs alone.
	if n := s.group.merged.Load(); n != 6 {
		t.Errorf("%d writes merged, want 6", n)
	}
}

// TestGroupCommitMergesFinishAndBeginPostgres: FinishAndBegin writes are
// merged with the other writes of their group, the finish first; the next
// message of a finish that found no message is left out.
func TestGroupCommitMergesFinishAndBeginPostgres(t *testing.T) {
	t.Parallel()
	s := postgresWith(t, "p1", "p2", "p3")
	ctx := t.Context()
	release, started := make(chan struct{}), make(chan struct{})
	held := make(chan error, 1)
	go func() {
		held <- s.write(ctx, func(context.Context, querier) error { close(started); <-release; return nil })
	}()
	<-started
	type result struct {
		created bool
		err     error
	}
	pairs := map[string]string{"p1": "n1", "p2": "n2", "missing": "n3"}
	res := make(map[string]result)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for id, next := range pairs {
		wg.Go(func() {
			_, created, err := s.FinishAndBegin(ctx, id, "ok", []byte(`{"id":"`+id+`"}`), 1, Message{ID: next, Site: "s", Type: "p.op", Key: "k", Attempts: 1})
			mu.Lock()
			res[id] = result{created, err}
			mu.Unlock()
		})
	}
	var plainErr error
	wg.Go(func() { plainErr = s.FinishMessage(ctx, "p3", "ok", []byte(`{}`), 1) })
	if err := waitQueued(s, len(pairs)+1); err != nil {
		close(release)
		t.Fatal(err)
	}
	close(release)
	wg.Wait()
	if err := <-held; err != nil {
		t.Fatal(err)
	}
	if plainErr != nil {
		t.Errorf("FinishMessage(p3): %v", plainErr)
	}
	for _, id := range []string{"p1", "p2"} {
		if r := res[id]; r.err != nil || !r.created {
			t.Errorf("FinishAndBegin(%s) = created %v, %v; want created", id, r.created, r.err)
		}
		if m, err := s.GetMessage(ctx, id); err != nil || m.Status != StatusDone {
			t.Errorf("%s after FinishAndBegin: %+v, %v; want done", id, m, err)
		}
		if m, err := s.GetMessage(ctx, pairs[id]); err != nil || m.Status != StatusPending || m.Attempts != 1 {
			t.Errorf("%s after FinishAndBegin: %+v, %v; want pending", pairs[id], m, err)
		}
	}
	if r := res["missing"]; !errors.Is(r.err, ErrNotFound) {
		t.Errorf("FinishAndBegin(missing): %v, want ErrNotFound", r.err)
	}
	if _, err := s.GetMessage(ctx, "n3"); !errors.Is(err, ErrNotFound) {
		t.Errorf("n3, the next message of a missing one: %v, want ErrNotFound (left out)", err)
	}
	// Four finishes in one UPDATE, two begins in one INSERT.
	if n := s.group.merged.Load(); n != 4 {
		t.Errorf("%d writes merged, want 4", n)
	}
}

// postgresWith opens a store on a fresh PostgreSQL database, closed when
// the test ends, holding new pending messages with the given ids.
func postgresWith(t *testing.T, ids ...string) *Postgres {
	t.Helper()
	s, err := OpenPostgres(t.Context(), testenv.Postgres(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	for _, id := range ids {
		if _, _, err := s.BeginMessage(t.Context(), Message{ID: id, Site: "s", Type: "p.op", Attempts: 1}); err != nil {
			t.Fatal(err)
		}
	}
	return s
}
