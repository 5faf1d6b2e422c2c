package store

import (
	"context"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestPruneLetsWritesIn: while a prune of many batches runs on SQLite,
// a write of the message path waits for the batch under way at most,
// never for a run of batches. SQLite takes one write transaction at a
// time, and the group commit, waiting for the lock in SQLite's busy
// handler (which sleeps, then looks again), missed the moment between
// two batches taken back to back on another connection: a write waited
// through 65 to 132 of these 200 batches, and through a dozen 2,000-row
// batches (over a second) of a 200,000-row prune. What is measured is
// how many batches were committed between a write's queueing and its
// transaction: no timing.
func TestPruneLetsWritesIn(t *testing.T) {
	t.Parallel()
	s := openGroupTest(t)
	ctx := t.Context()
	const rows, batch = 20000, 100
	old := normTime(time.Now().Add(-100 * 24 * time.Hour)).UnixMicro()
	if _, err := s.w.ExecContext(ctx, `WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < ?)
		INSERT INTO messages (id, site, type, business_key, status, outcome, reply, attempts, occurred_at, received_at, updated_at, request)
		SELECT printf('old-%08d', x), 's', 'p.op', 'k', 'done', 'ok', randomblob(200), 1, ?, ?, ?, randomblob(300) FROM c`,
		rows, old, old, old); err != nil {
		t.Fatal(err)
	}
	s.pruneBatch = batch
	var batches atomic.Int64
	s.pruned = func(string, int64) { batches.Add(1) }

	started, stop := make(chan struct{}), make(chan struct{})
	var (
		wg      sync.WaitGroup
		spans   []int64 // per write: the batches committed while it waited
		failed  []error
		pruning bool
	)
	// Each write is one of the message path's (a sequence, as a plugin
	// draws a number), which reads, in its transaction, how many batches
	// were committed since it was queued.
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			var during int64
			before := batches.Load()
			err := s.write(ctx, func(ctx context.Context, q querier) error {
				during = batches.Load()
				var v int64
				return s.rowOn(ctx, q, sqlNextSequence, "n").Scan(&v)
			})
			if err != nil {
				failed = append(failed, err)
			}
			if pruning {
				spans = append(spans, during-before)
			}
			if i == 0 {
				pruning = true
				close(started)
			}
		}
	})
	<-started
	nm, _, err := s.Prune(ctx, time.UnixMicro(old+1), time.Time{})
	close(stop)
	wg.Wait()
	if err != nil || nm != rows {
		t.Fatalf("Prune = %d messages, %v; want %d", nm, err, rows)
	}
	if len(failed) > 0 {
		t.Errorf("%d writes failed during the prune, the first: %v", len(failed), failed[0])
	}
	worst := int64(0)
	for _, n := range spans {
		worst = max(worst, n)
	}
	t.Logf("%d writes during a prune of %d batches; the longest wait spanned %d batches", len(spans), batches.Load(), worst)
	// The batch under way when the write was queued, and one committed
	// just before it was queued whose count came late (pruned runs once
	// Prune has its answer).
	if worst > 2 {
		t.Errorf("a write waited while %d prune batches were committed, want at most 2 (the batch under way, and one counted late)", worst)
	}
	if len(spans) < 10 {
		t.Errorf("%d writes during a prune of %d batches, want a write between most batches", len(spans), batches.Load())
	}
}

// TestPruneSearchesOnlyOldMessages: a batch of Prune on SQLite looks
// for the messages to delete among the old ones only (a range of an
// index), not among every finished message. It searched them all
// (messages_status_occurred_at, status = 'done'): with a million
// finished messages of which 4,000 were old enough, each batch held the
// write lock 1.6 to 2.8 s, and so did the last, empty one of every
// hourly prune, however little it deleted. The query plan is what is
// checked: no timing.
func TestPruneSearchesOnlyOldMessages(t *testing.T) {
	t.Parallel()
	s := openGroupTest(t)
	rows, err := s.w.QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+s.d.rebind(s.pruneMessagesSQL()), append(s.pruneMessagesArgs(time.Now()), 500)...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	ranged := regexp.MustCompile(`^SEARCH messages USING (COVERING )?INDEX \S+ \((received_at|updated_at)<\?\)`)
	found := false
	for _, line := range plan {
		found = found || ranged.MatchString(line)
	}
	if !found {
		t.Errorf("the messages Prune deletes are searched by\n\t%s\nwant a search of a range of times (received_at<? or updated_at<?)", strings.Join(plan, "\n\t"))
	}
}
