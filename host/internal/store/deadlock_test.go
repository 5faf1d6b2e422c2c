package store

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/medgate/medgate/test/testenv"
)

// crossed runs first on one instance and second on another, each a
// transaction that writes a row the other writes later, and makes them
// cross: an outside transaction (hold, on the test's own connection) holds
// a row of the middle of each, so that first stops there holding its
// first row, second starts and stops there holding its own, and both go on
// when the outside transaction ends. Without more, each then waits for the
// row the other holds. It returns first's and second's errors and how long
// they took after the outside transaction ended.
func crossed(t *testing.T, dsn, hold string, holdArgs []any, first, second func() error) (errFirst, errSecond error, took time.Duration) {
	t.Helper()
	ctx := t.Context()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(context.Background()) }()
	if _, err := tx.Exec(ctx, hold, holdArgs...); err != nil {
		t.Fatalf("hold the middle rows: %v", err)
	}
	waiting := func(n int) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			var got int
			err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
				WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&got)
			if err != nil {
				t.Fatal(err)
			}
			if got >= n {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d transactions wait for a lock after 30s, want %d", got, n)
			}
			time.Sleep(time.Millisecond) // polling, not waiting for an outcome
		}
	}
	var wg sync.WaitGroup
	wg.Go(func() { errFirst = first() })
	waiting(1)
	wg.Go(func() { errSecond = second() })
	waiting(2)
	// A read in a transaction that holds locks: only its end releases them.
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	wg.Wait()
	return errFirst, errSecond, time.Since(began)
}

// deadlocks polls pg_stat_database until it counts at least want
// deadlocks in the database, or for a few seconds (a backend reports its
// counts when it goes idle), and returns the count.
func deadlocks(t *testing.T, dsn string, want int64) int64 {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	deadline := time.Now().Add(5 * time.Second)
	for {
		var n int64
		if err := conn.QueryRow(t.Context(), `SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n >= want || time.Now().After(deadline) {
			return n
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestDeadlockedWriteRunsAgainPostgres: two instances' transactions that
// write the same rows in opposite order (here rows no write declares, as
// two instances' message rows while a partition moves) deadlock, and
// PostgreSQL aborts one. The aborted transaction committed nothing: its
// write runs again and succeeds, and its caller never sees the deadlock.
// Before, a write alone in its transaction (a group of one, or a write of
// a failed group run again alone) returned "deadlock detected" to its
// caller: a message failed for another instance's timing.
func TestDeadlockedWriteRunsAgainPostgres(t *testing.T) {
	t.Parallel()
	dsn := testenv.Postgres(t)
	a, b := openPostgresT(t, dsn), openPostgresT(t, dsn)
	ctx := t.Context()
	for _, name := range []string{"a", "g1", "g2", "b"} {
		if _, err := a.NextSequence(ctx, name); err != nil {
			t.Fatal(err)
		}
	}
	// Undeclared rows: an increment of each named sequence, in order.
	incr := func(s *Postgres, names ...string) func() error {
		return func() error {
			return s.group.write(ctx, nil, func(ctx context.Context, q querier) error {
				for _, n := range names {
					if _, err := q.ExecContext(ctx, `UPDATE sequences SET value = value + 1 WHERE name = $1`, n); err != nil {
						return fmt.Errorf("sequence %q: %w", n, err)
					}
				}
				return nil
			})
		}
	}
	errA, errB, took := crossed(t, dsn, `SELECT 1 FROM sequences WHERE name IN ('g1', 'g2') FOR UPDATE`, nil,
		incr(a, "a", "g1", "b"), incr(b, "b", "g2", "a"))
	n := deadlocks(t, dsn, 1)
	t.Logf("crossed writes took %v after the outside transaction; deadlocks counted by PostgreSQL: %d", took, n)
	if errA != nil || errB != nil {
		t.Fatalf("writes = %v, %v; want both committed (a deadlock aborts a transaction whole: it must run again)", errA, errB)
	}
	// At least once: a victim run again can, despite its wait, take its first row
	// back before the winner, woken, takes it, and deadlock again.
	if got := a.group.deadlocks.Load() + b.group.deadlocks.Load(); got < 1 {
		t.Errorf("deadlocked transactions run again = %d, want at least 1", got)
	}
	for name, want := range map[string]int64{"a": 3, "b": 3, "g1": 2, "g2": 2} {
		var v int64
		if err := a.w.QueryRowContext(ctx, `SELECT value FROM sequences WHERE name = $1`, name).Scan(&v); err != nil || v != want {
			t.Errorf("sequence %q = %d, %v; want %d (each write exactly once)", name, v, err, want)
		}
	}
}

// openPostgresT opens an instance on dsn, closed at the test's end.
func openPostgresT(t *testing.T, dsn string) *Postgres {
	t.Helper()
	s, err := OpenPostgres(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// inGroup runs writes on s as one group commit, in this order, and
// returns their errors.
func inGroup(s *Postgres, writes ...func() error) error {
	rel, started := make(chan struct{}), make(chan struct{})
	held := make(chan error, 1)
	go func() {
		held <- s.write(context.Background(), func(context.Context, querier) error { close(started); <-rel; return nil })
	}()
	<-started
	errs := make([]error, len(writes))
	var wg sync.WaitGroup
	for i, w := range writes {
		wg.Go(func() { errs[i] = w() })
		if err := waitQueued(s, i+1); err != nil {
			close(rel)
			wg.Wait()
			return errors.Join(append(errs, err, <-held)...)
		}
	}
	close(rel)
	wg.Wait()
	return errors.Join(append(errs, <-held)...)
}

// TestCrossedStateWritesDoNotDeadlockPostgres: two instances whose
// transactions write the same plugin state keys and sequences in opposite
// order (a StateWrites each, or groups of single writes: per-operator
// msgid sequences, month marks) do not deadlock: each transaction takes
// the locks of the rows it declares in one order before it writes, so the
// later waits for the earlier instead of PostgreSQL aborting one after
// deadlock_timeout (1 s, a stall of both). Every write is made once.
func TestCrossedStateWritesDoNotDeadlockPostgres(t *testing.T) {
	t.Parallel()
	dsn := testenv.Postgres(t)
	a, b := openPostgresT(t, dsn), openPostgresT(t, dsn)
	ctx := t.Context()
	puts := func(keys ...string) []StateWrite {
		w := make([]StateWrite, len(keys))
		for i, k := range keys {
			w[i] = StateWrite{Key: k, Value: []byte("v"), Put: true}
		}
		return w
	}
	put := func(s *Postgres, ns, key string) func() error {
		return func() error { _, err := s.StatePut(ctx, ns, key, []byte("v")); return err }
	}
	next := func(s *Postgres, name string) func() error {
		return func() error { _, err := s.NextSequence(ctx, name); return err }
	}
	for _, tc := range []struct {
		name          string
		first, second func(ns string) error
		// want: the versions of the state keys and ("seq") the value
		// of the sequence ns+"/seq" after both.
		want map[string]int64
	}{{
		name:   "one StateWrites each",
		first:  func(ns string) error { _, err := a.StateWrites(ctx, ns, puts("a", "g1", "b")); return err },
		second: func(ns string) error { _, err := b.StateWrites(ctx, ns, puts("b", "g2", "a")); return err },
		want:   map[string]int64{"a": 3, "b": 3, "g1": 2, "g2": 2},
	}, {
		name:   "groups of single state writes",
		first:  func(ns string) error { return inGroup(a, put(a, ns, "a"), put(a, ns, "g1"), put(a, ns, "b")) },
		second: func(ns string) error { return inGroup(b, put(b, ns, "b"), put(b, ns, "g2"), put(b, ns, "a")) },
		want:   map[string]int64{"a": 3, "b": 3, "g1": 2, "g2": 2},
	}, {
		name:   "groups of a sequence and a state write",
		first:  func(ns string) error { return inGroup(a, next(a, ns+"/seq"), put(a, ns, "g1"), put(a, ns, "a")) },
		second: func(ns string) error { return inGroup(b, put(b, ns, "a"), put(b, ns, "g2"), next(b, ns+"/seq")) },
		want:   map[string]int64{"a": 3, "g1": 2, "g2": 2, "seq": 3},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			ns := "p/" + tc.name
			for k := range tc.want {
				if k == "seq" {
					if _, err := a.NextSequence(ctx, ns+"/seq"); err != nil {
						t.Fatal(err)
					}
					continue
				}
				if _, err := a.StatePut(ctx, ns, k, []byte("v")); err != nil {
					t.Fatal(err)
				}
			}
			before := a.group.deadlocks.Load() + b.group.deadlocks.Load()
			errA, errB, took := crossed(t, dsn, `SELECT 1 FROM plugin_state WHERE ns = $1 AND key IN ('g1', 'g2') FOR UPDATE`, []any{ns},
				func() error { return tc.first(ns) }, func() error { return tc.second(ns) })
			t.Logf("crossed writes took %v after the outside transaction", took)
			if errA != nil || errB != nil {
				t.Fatalf("writes = %v, %v; want both committed", errA, errB)
			}
			if n := a.group.deadlocks.Load() + b.group.deadlocks.Load() - before; n != 0 {
				t.Errorf("%d transactions were deadlock victims (each a stall of deadlock_timeout), want 0", n)
			}
			for k, want := range tc.want {
				var got int64
				var err error
				if k == "seq" {
					err = a.w.QueryRowContext(ctx, `SELECT value FROM sequences WHERE name = $1`, ns+"/seq").Scan(&got)
				} else {
					var e StateEntry
					e, err = a.StateGet(ctx, ns, k)
					got = e.Version
				}
				if err != nil || got != want {
					t.Errorf("%s = %d, %v; want %d (each write exactly once)", k, got, err, want)
				}
			}
		})
	}
	t.Logf("deadlocks counted by PostgreSQL: %d", deadlocks(t, dsn, 0))
}

// waitQueued polls until at least n writes wait in the queue of s's
// committer (held by a write of the test), and says how many did after
// 30 seconds if they do not.
func waitQueued(s *Postgres, n int) error {
	for deadline := time.Now().Add(30 * time.Second); len(s.group.reqs) < n; runtime.Gosched() {
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d writes queued for the held group commit after 30s", len(s.group.reqs), n)
		}
	}
	return nil
}
