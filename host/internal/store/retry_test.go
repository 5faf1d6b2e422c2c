package store

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// rollbacks makes the writes of group fail, in the order they run, with
// the errors of seq (nil: run as written; past its end, with last) and
// counts the runs. It is the database's answer injected: a transaction
// PostgreSQL rolled back, as a statement of the write sees it.
type rollbacks struct {
	mu   sync.Mutex
	seq  []error
	last error
	runs int
}

func (rb *rollbacks) wrap(r *writeReq) *writeReq {
	fn := r.fn
	r.fn = func(ctx context.Context, q querier) error {
		rb.mu.Lock()
		err := rb.last
		if rb.runs < len(rb.seq) {
			err = rb.seq[rb.runs]
		}
		rb.runs++
		rb.mu.Unlock()
		if err != nil {
			return err
		}
		return fn(ctx, q)
	}
	return r
}

// waits makes c's waits between runs return at once and records them;
// each calls then first, when set.
func waits(c *committer, then func()) *[]time.Duration {
	var got []time.Duration
	c.after = func(d time.Duration) <-chan time.Time {
		got = append(got, d)
		if then != nil {
			then()
			return nil // only the caller's end or Close ends the wait
		}
		ch := make(chan time.Time, 1)
		ch <- time.Time{}
		return ch
	}
	return &got
}

func pgErr(code string) error { return &pgconn.PgError{Code: code, Message: "injected " + code} }

// TestRolledBackTransactionRunsAgain: a transaction PostgreSQL rolls back
// whole (deadlock victim 40P01, serialization failure 40001) runs again
// after waits that double from retryFirstWait, with jitter, until the
// waits reach retryBudget; then its writes fail with the database's error.
// Any other error is not run again. Before, a write deadlocked four times
// in a row failed (a fixed 3 runs more, at once).
func TestRolledBackTransactionRunsAgain(t *testing.T) {
	t.Parallel()
	deadlock, serialization, unique := pgErr("40P01"), pgErr("40001"), pgErr("23505")
	for name, tc := range map[string]struct {
		seq      []error
		last     error
		wantErr  error // nil: committed once
		wantRuns int   // 0: until the budget is spent
	}{
		"four deadlocks in a row":         {seq: []error{deadlock, deadlock, deadlock, deadlock}, wantRuns: 5},
		"serialization failures":          {seq: []error{serialization, deadlock, serialization}, wantRuns: 4},
		"deadlocked past the budget":      {last: deadlock, wantErr: deadlock},
		"another error is not run again":  {seq: []error{unique}, wantErr: unique, wantRuns: 1},
		"rolled back, then another error": {seq: []error{deadlock, unique}, wantErr: unique, wantRuns: 2},
		"serialization past the budget":   {last: serialization, wantErr: serialization},
		"no error":                        {wantRuns: 1},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := &openGroupTest(t).sqlStore
			got := waits(s.group, nil)
			rb := &rollbacks{seq: tc.seq, last: tc.last}
			var v int64
			r := rb.wrap(nextReq(t.Context(), s, "x", &v))
			s.group.commit([]*writeReq{r})
			err := <-r.err
			if tc.wantErr == nil {
				if err != nil || v != 1 {
					t.Fatalf("write = %v, value %d; want committed once (value 1)", err, v)
				}
			} else if !errors.Is(err, tc.wantErr) {
				t.Fatalf("write = %v, want %v", err, tc.wantErr)
			}
			if tc.wantRuns != 0 && rb.runs != tc.wantRuns {
				t.Errorf("runs = %d, want %d", rb.runs, tc.wantRuns)
			}
			if rb.runs != len(*got)+1 {
				t.Errorf("runs = %d after %d waits, want one wait before each run again", rb.runs, len(*got))
			}
			var sum time.Duration
			for i, d := range *got {
				sum += d
				full := min(retryFirstWait<<i, retryMaxWait)
				if sum < retryBudget && (d < full/2 || d > full) {
					t.Errorf("wait %d = %v, want between %v and %v", i+1, d, full/2, full)
				}
			}
			if tc.wantRuns == 0 {
				if sum != retryBudget {
					t.Errorf("waits add up to %v, want the whole budget %v", sum, retryBudget)
				}
				if !strings.Contains(err.Error(), "times in a row") {
					t.Errorf("error %q does not say the transaction kept being rolled back", err)
				}
			}
		})
	}
}

// TestRolledBackGroupRunsAgainTogether: a group of several writes rolled
// back runs again whole, each write committed exactly once.
func TestRolledBackGroupRunsAgainTogether(t *testing.T) {
	t.Parallel()
	s := &openGroupTest(t).sqlStore
	waits(s.group, nil)
	deadlock := pgErr("40P01")
	rb := &rollbacks{seq: []error{deadlock, deadlock}}
	var a, b, c int64
	group := []*writeReq{rb.wrap(nextReq(t.Context(), s, "a", &a)), nextReq(t.Context(), s, "b", &b), nextReq(t.Context(), s, "c", &c)}
	s.group.commit(group)
	for i, r := range group {
		if err := <-r.err; err != nil {
			t.Errorf("write %d = %v, want committed", i+1, err)
		}
	}
	if a != 1 || b != 1 || c != 1 || rb.runs != 3 {
		t.Errorf("values %d %d %d after %d runs of the first write; want 1 1 1 after 3", a, b, c, rb.runs)
	}
}

// TestRolledBackWaitEnds: the wait before a rolled-back transaction runs
// again ends when its caller goes (the write is not run again and gets
// its context's error) or the store closes (ErrClosed, nothing
// committed).
func TestRolledBackWaitEnds(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		end  func(s *sqlStore, cancel context.CancelFunc)
		want error
	}{
		"the caller goes":  {end: func(_ *sqlStore, cancel context.CancelFunc) { cancel() }, want: context.Canceled},
		"the store closes": {end: func(s *sqlStore, _ context.CancelFunc) { s.group.close() }, want: ErrClosed},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := &openGroupTest(t).sqlStore
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			waits(s.group, func() { tc.end(s, cancel) })
			rb := &rollbacks{last: pgErr("40P01")}
			var v int64
			r := rb.wrap(nextReq(ctx, s, "x", &v))
			s.group.commit([]*writeReq{r})
			if err := <-r.err; !errors.Is(err, tc.want) {
				t.Fatalf("write = %v, want %v", err, tc.want)
			}
			if rb.runs != 1 || v != 0 {
				t.Errorf("runs = %d, value %d; want 1 run, nothing committed", rb.runs, v)
			}
		})
	}
}
