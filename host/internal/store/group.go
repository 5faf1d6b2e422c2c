package store

import (
	"context"
	"database/sql"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"slices"
	"sync/atomic"
	"time"
)

// querier runs statements: a *sql.DB (each statement its own transaction)
// or the *sql.Tx of a group commit.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// maxGroup bounds the writes of one group commit.
const maxGroup = 256

// committer is the group commit of both engines. Every write of the hot
// path (messages, journal, plugin state, sequences) is handed to one
// goroutine, which runs the writes waiting at that moment in one
// transaction and commits them with one fsync (SQLite) or one WAL flush
// (PostgreSQL). While a commit is on disk the next writes queue, so under
// load a group grows by itself and with one writer it is a transaction
// per write as before: nothing waits for a timer. There is one goroutine,
// not one per connection: two groups of one instance are never open at
// once, so they cannot wait for each other's row locks.
//
// Each caller returns only after the transaction holding its write is
// committed (durable: SQLite's synchronous=FULL, PostgreSQL's
// synchronous_commit), so what a caller is told is on disk is on disk, as
// with a transaction of its own. A write that fails with an error makes
// the group roll back; its writes then run again one transaction each, so
// one bad write does not fail the others.
//
// A transaction PostgreSQL rolls back whole as a deadlock victim (two
// instances' transactions waiting for each other's rows) or a
// serialization failure committed nothing and is no write's fault: it
// runs again, the same writes together, after a wait that doubles from
// retryFirstWait up to retryMaxWait, each drawn at random between half
// and all of it so that the two sides do not come back in step, for as
// long as the waits add up to no more than retryBudget (see runAgain).
// A write whose caller has gone meanwhile is left out of the next run.
// Its callers see the deadlock only if it outlasts the budget.
//
// Such deadlocks are avoided where the rows are shared: a write of plugin
// state or a sequence names the rows it writes (writeReq.locks), and a
// transaction whose writes name two rows or more first takes the locks of
// all of them in one order (lock), so that of two instances' transactions
// on the same rows the later waits for the earlier to commit instead of
// both waiting deadlock_timeout for PostgreSQL to abort one. Message rows
// are not named: a message belongs to the instance that owns its
// partition, so two instances write the same message rows only while a
// partition moves, and such a deadlock is run again as above.
type committer struct {
	db *sql.DB
	// merge, when set, runs the writes of a group that it can run
	// together, several in one statement, and returns the others (see
	// mergeWrites). An error rolls the group back as a failed write does.
	merge func(ctx context.Context, tx *sql.Tx, group []*writeReq) (rest []*writeReq, err error)
	// whole, when set, runs a group of several writes as one statement
	// that commits by itself (PostgreSQL: no BEGIN and COMMIT, one round
	// trip for the group; see wholeGroup), or reports that it cannot
	// (ran false), and the group runs in a transaction. An error with ran
	// false means nothing was committed: the writes run again alone, as
	// after a failed write. With ran true, every write gets the error.
	// Set before the first write.
	whole func(ctx context.Context, group []*writeReq) (ran bool, err error)
	// lock, when set, takes the locks of rows (rowLock ids, sorted,
	// distinct, two or more) in tx, in that order; a transaction holding
	// them is the only one writing those rows among the transactions
	// that take them. Set before the first write.
	lock func(ctx context.Context, tx *sql.Tx, rows []int64) error
	// beginAgain, when set, says whether a BEGIN that failed with err is
	// to run once more: the session it ran on had been ended by the
	// server (PostgreSQL: sessionGone), and beginAgain has made the next
	// one a fresh session. Nothing of the transaction but its BEGIN was
	// sent, so running it again cannot write anything twice. Set before
	// the first write.
	beginAgain func(err error) bool
	reqs       chan *writeReq
	stop       chan struct{} // closed by close: no more writes are taken
	done       chan struct{} // closed when the loop has returned

	// sync, when set, makes durable what a committed transaction wrote:
	// db commits without waiting for the disk (SQLite: synchronous=NORMAL)
	// and sync runs after each commit, before its writes are answered
	// (SQLite: fdatasync of the WAL, see syncWAL).
	sync  func() error
	syncs atomic.Int64 // syncs made (for tests)

	// after, when set (tests), stands for time.After in the waits of
	// runAgain.
	after func(d time.Duration) <-chan time.Time

	groups    atomic.Int64 // transactions committed (for tests)
	deadlocks atomic.Int64 // transactions run again after a deadlock or serialization failure (for tests)
	merged    atomic.Int64 // writes run by merge in committed groups (for tests)
	// begunAgain counts the BEGINs run again after beginAgain (for tests).
	begunAgain atomic.Int64
}

// writeReq is one write: fn runs its statements on q and keeps its results
// in the caller's variables, which the caller reads once err has said the
// transaction is committed. fn may run twice (see committer); it must only
// set its results, never add to them.
type writeReq struct {
	ctx context.Context
	fn  func(ctx context.Context, q querier) error
	// row is the same write as data, for a merge of several writes of
	// its kind in one statement (nil: fn only).
	row any
	// locks are the rows of shared tables (plugin state, sequences) that
	// fn writes, as rowLock ids (nil: none named).
	locks []int64
	err   chan error // capacity 1
}

// rowLock is the id of the lock of a row of table with key parts, for
// committer.lock: a 64-bit FNV-1a hash. Two rows with the same id only
// make their transactions wait for each other.
func rowLock(table string, key ...string) int64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(table))
	for _, k := range key {
		_, _ = h.Write([]byte{0})
		_, _ = h.Write([]byte(k))
	}
	return int64(h.Sum64()) //nolint:gosec // an id, wrapping is fine
}

// newCommitter starts the group commit of db; merge and sync may be nil
// (sync nil: db's commits are durable when they return).
func newCommitter(db *sql.DB, merge func(ctx context.Context, tx *sql.Tx, group []*writeReq) ([]*writeReq, error), sync func() error) *committer {
	c := &committer{db: db, merge: merge, sync: sync, reqs: make(chan *writeReq, maxGroup), stop: make(chan struct{}), done: make(chan struct{})}
	go c.loop()
	return c
}

// write runs fn in a group commit and returns once it is committed (or
// failed). If ctx ends first write returns its error; fn then runs only if
// it had started, and its outcome is unknown.
func (c *committer) write(ctx context.Context, row any, fn func(ctx context.Context, q querier) error) error {
	return c.writeLocking(ctx, row, nil, fn)
}

// writeLocking is write for a write that writes the rows locks of shared
// tables (see committer.lock).
func (c *committer) writeLocking(ctx context.Context, row any, locks []int64, fn func(ctx context.Context, q querier) error) error {
	select {
	case <-c.stop:
		return ErrClosed
	default:
	}
	r := &writeReq{ctx: ctx, fn: fn, row: row, locks: locks, err: make(chan error, 1)}
	select {
	case c.reqs <- r:
	case <-c.stop:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-r.err:
		return err
	case <-ctx.Done():
		return ctx.Err()
	case <-c.done:
		// The loop has stopped: r was answered or will never be.
		select {
		case err := <-r.err:
			return err
		default:
			return ErrClosed
		}
	}
}

// close stops taking writes and waits for the group being committed.
// Writes still queued fail with ErrClosed.
func (c *committer) close() {
	select {
	case <-c.stop:
	default:
		close(c.stop)
	}
	<-c.done
}

func (c *committer) loop() {
	defer close(c.done)
	group := make([]*writeReq, 0, maxGroup)
	for {
		var first *writeReq
		select {
		case first = <-c.reqs:
		case <-c.stop:
			c.drain()
			return
		}
		group = append(group[:0], first)
	more:
		for len(group) < maxGroup {
			select {
			case r := <-c.reqs:
				group = append(group, r)
			default:
				break more
			}
		}
		c.commit(group)
		clear(group)
	}
}

// drain fails the writes left in the queue after close.
func (c *committer) drain() {
	for {
		select {
		case r := <-c.reqs:
			r.err <- ErrClosed
		default:
			return
		}
	}
}

// commit runs group in one transaction. Writes whose caller has gone are
// left out. If a write fails, the transaction is rolled back and each
// write runs again in a transaction of its own; if the transaction itself
// cannot begin or commit, every write of the group gets that error (one
// by one they would only fail the same way, each after the busy timeout).
func (c *committer) commit(group []*writeReq) {
	live := c.leaveGone(group)
	if len(live) == 0 {
		return
	}
	live, byWrite, err := c.runAgain(live)
	if err == nil || len(live) <= 1 || !byWrite {
		for _, r := range live {
			r.err <- err
		}
		return
	}
	for _, r := range live {
		if ran, _, err := c.runAgain([]*writeReq{r}); len(ran) == 1 {
			r.err <- err
		}
	}
}

// leaveGone answers the writes of group whose caller has gone (its
// context ended) with that context's error and returns the others.
func (c *committer) leaveGone(group []*writeReq) []*writeReq {
	live := make([]*writeReq, 0, len(group))
	for _, r := range group {
		if err := r.ctx.Err(); err != nil {
			r.err <- err
			continue
		}
		live = append(live, r)
	}
	return live
}

// The waits between the runs of a transaction the database rolled back
// whole (see runAgain). A deadlock victim that ran again at once could
// retake its first row before the winner, woken, took it, and deadlock
// again; a few milliseconds let the winner commit.
const (
	retryFirstWait = 5 * time.Millisecond
	retryMaxWait   = 250 * time.Millisecond
	// retryBudget bounds the waits of one transaction in all. The runs
	// are not counted: a deadlock victim has already waited PostgreSQL's
	// deadlock_timeout (1 s by default) in each, and counting them would
	// make this a limit of two or three runs again.
	retryBudget = 2 * time.Second
)

// retryWait is the wait before the run after the n-th (from 0) in a row
// that was rolled back: retryFirstWait doubled n times, at most
// retryMaxWait, drawn at random between half of it and all of it.
func retryWait(n int) time.Duration {
	d := retryMaxWait
	if n < 16 {
		d = min(retryFirstWait<<n, retryMaxWait)
	}
	return d/2 + rand.N(d/2+1) //nolint:gosec // jitter, not a secret
}

// runAgain is run, run again while the database rolls the transaction
// back whole as a deadlock victim or a serialization failure (rolledBack:
// it committed nothing), after a wait (retryWait) each time, until the
// waits add up to retryBudget. Before each run it leaves out the writes
// whose caller has gone (answered with their context's error), and it
// stops waiting once every caller has gone, or with ErrClosed when the
// store closes. It returns the writes of the last run, which its result
// is for (none if every caller went). A transaction still rolled back
// when the budget is spent fails with that error (byWrite false: run
// alone, its writes would only wait again).
func (c *committer) runAgain(group []*writeReq) (ran []*writeReq, byWrite bool, err error) {
	var waited time.Duration
	for n := 0; ; n++ {
		byWrite, err = c.run(group)
		if err == nil || !rolledBack(err) {
			return group, byWrite, err
		}
		d := min(retryWait(n), retryBudget-waited)
		if d <= 0 {
			return group, false, fmt.Errorf("rolled back by the database %d times in a row, waited %v in all between runs: %w "+
				"(another instance or client keeps writing the same rows in another order: see pg_stat_activity and the server log)", n+1, waited, err)
		}
		c.deadlocks.Add(1)
		if err := c.pause(group, d); err != nil {
			return group, false, err
		}
		waited += d
		if group = c.leaveGone(group); len(group) == 0 {
			return nil, false, nil
		}
	}
}

// pause waits d before group runs again. It returns early, with nil, once
// the caller of every write of group has gone, and with ErrClosed when
// the store closes (the group was not committed).
func (c *committer) pause(group []*writeReq, d time.Duration) error {
	gone := make(chan struct{})
	var left atomic.Int64
	left.Store(int64(len(group)))
	for _, r := range group {
		stop := context.AfterFunc(r.ctx, func() {
			if left.Add(-1) == 0 {
				close(gone)
			}
		})
		defer stop()
	}
	after := time.After
	if c.after != nil {
		after = c.after
	}
	select {
	case <-after(d):
	case <-gone:
	case <-c.stop:
		return ErrClosed
	}
	return nil
}

// run executes the writes of group in one transaction and commits it; a
// write alone runs its fn, never a merged statement.
// byWrite says that a write failed (rather than the transaction).
// The statements run under a context of their own: a caller giving up
// must not interrupt a transaction that holds the writes of others.
func (c *committer) run(group []*writeReq) (byWrite bool, err error) {
	ctx := context.Background()
	if c.whole != nil && len(group) > 1 {
		ran, err := c.whole(ctx, group)
		if ran && err == nil {
			c.groups.Add(1)
			c.merged.Add(int64(len(group)))
		}
		if ran || err != nil {
			return !ran, err
		}
	}
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil && c.beginAgain != nil && c.beginAgain(err) {
		c.begunAgain.Add(1)
		tx, err = c.db.BeginTx(ctx, nil)
	}
	if err != nil {
		return false, fmt.Errorf("begin transaction: %w", err)
	}
	if c.lock != nil {
		if rows := groupLocks(group); len(rows) > 1 {
			if err := c.lock(ctx, tx, rows); err != nil {
				_ = tx.Rollback()
				return false, fmt.Errorf("lock the %d shared rows of %d writes: %w", len(rows), len(group), err)
			}
		}
	}
	rest := group
	if c.merge != nil && len(group) > 1 {
		if rest, err = c.merge(ctx, tx, group); err != nil {
			_ = tx.Rollback()
			return true, err
		}
	}
	for _, r := range rest {
		if err := r.fn(ctx, tx); err != nil {
			_ = tx.Rollback()
			return true, err
		}
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("commit: %w", err)
	}
	if c.sync != nil {
		err := c.sync()
		c.syncs.Add(1)
		if err != nil {
			// Committed, maybe not on disk: its callers must not act on
			// it (a message is then processed again; its writes are
			// idempotent).
			return false, fmt.Errorf("commit: sync to disk: %w", err)
		}
	}
	c.groups.Add(1)
	c.merged.Add(int64(len(group) - len(rest)))
	return false, nil
}

// groupLocks returns the rows the writes of group name, sorted and
// distinct.
func groupLocks(group []*writeReq) []int64 {
	var rows []int64
	for _, r := range group {
		rows = append(rows, r.locks...)
	}
	slices.Sort(rows)
	return slices.Compact(rows)
}
