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
)

// openGroupTest opens a SQLite store in a temporary directory.
func openGroupTest(t *testing.T) *SQLite {
	t.Helper()
	s, err := OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "medgate.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// nextReq is a write that increments the sequence name and keeps the value.
func nextReq(ctx context.Context, s *SQLite, name string, v *int64) *writeReq {
	return &writeReq{ctx: ctx, err: make(chan error, 1), fn: func(ctx context.Context, q querier) error {
		return s.rowOn(ctx, q, `INSERT INTO sequences (name, value) VALUES (?, 1)
			ON CONFLICT (name) DO UPDATE SET value = sequences.value + 1 RETURNING value`, name).Scan(v)
	}}
}

// TestGroupCommitIsolatesAFailedWrite: a write that fails rolls its group
// back, and the other writes of the group are committed one by one, each
// exactly once; a write whose caller has gone is left out.
func TestGroupCommitIsolatesAFailedWrite(t *testing.T) {
	s := openGroupTest(t)
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
	s := openGroupTest(t)
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
	if _, err := s.NextSequence(t.Context(), "x"); !errors.Is(err, errStoreClosed) {
		t.Errorf("NextSequence after Close: %v, want %v", err, errStoreClosed)
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
