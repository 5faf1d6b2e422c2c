package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync/atomic"
)

// querier runs statements: a *sql.DB (each statement its own transaction)
// or the *sql.Tx of a group commit.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// maxGroup bounds the writes of one group commit.
const maxGroup = 256

// errStoreClosed is returned by writes after Close.
var errStoreClosed = errors.New("the store is closed")

// committer is SQLite's group commit. Every write of the hot path
// (messages, journal, plugin state, sequences) is handed to one goroutine,
// which runs the writes waiting at that moment in one transaction and
// commits them with one fsync. While a commit is on disk the next writes
// queue, so under load a group grows by itself and with one writer it is
// a transaction per write as before: nothing waits for a timer.
//
// Each caller returns only after the transaction holding its write is
// committed (durable: synchronous=FULL), so what a caller is told is on
// disk is on disk, as with a transaction of its own. A write that fails
// with an error makes the group roll back; its writes then run again one
// transaction each, so one bad write does not fail the others.
type committer struct {
	db   *sql.DB
	reqs chan *writeReq
	stop chan struct{} // closed by close: no more writes are taken
	done chan struct{} // closed when the loop has returned

	groups atomic.Int64 // transactions committed (for tests)
}

// writeReq is one write: fn runs its statements on q and keeps its results
// in the caller's variables, which the caller reads once err has said the
// transaction is committed. fn may run twice (see committer); it must only
// set its results, never add to them.
type writeReq struct {
	ctx context.Context
	fn  func(ctx context.Context, q querier) error
	err chan error // capacity 1
}

func newCommitter(db *sql.DB) *committer {
	c := &committer{db: db, reqs: make(chan *writeReq, maxGroup), stop: make(chan struct{}), done: make(chan struct{})}
	go c.loop()
	return c
}

// write runs fn in a group commit and returns once it is committed (or
// failed). If ctx ends first write returns its error; fn then runs only if
// it had started, and its outcome is unknown.
func (c *committer) write(ctx context.Context, fn func(ctx context.Context, q querier) error) error {
	select {
	case <-c.stop:
		return errStoreClosed
	default:
	}
	r := &writeReq{ctx: ctx, fn: fn, err: make(chan error, 1)}
	select {
	case c.reqs <- r:
	case <-c.stop:
		return errStoreClosed
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
			return errStoreClosed
		}
	}
}

// close stops taking writes and waits for the group being committed.
// Writes still queued fail with errStoreClosed.
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
			r.err <- errStoreClosed
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
	live := make([]*writeReq, 0, len(group))
	for _, r := range group {
		if err := r.ctx.Err(); err != nil {
			r.err <- err
			continue
		}
		live = append(live, r)
	}
	if len(live) == 0 {
		return
	}
	byWrite, err := c.run(live)
	if err == nil || len(live) == 1 || !byWrite {
		for _, r := range live {
			r.err <- err
		}
		return
	}
	for _, r := range live {
		_, err := c.run([]*writeReq{r})
		r.err <- err
	}
}

// run executes the writes of group in one transaction and commits it.
// byWrite says that a write failed (rather than the transaction).
// The statements run under a context of their own: a caller giving up
// must not interrupt a transaction that holds the writes of others.
func (c *committer) run(group []*writeReq) (byWrite bool, err error) {
	ctx := context.Background()
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("begin transaction: %w", err)
	}
	for _, r := range group {
		if err := r.fn(ctx, tx); err != nil {
			_ = tx.Rollback()
			return true, err
		}
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("commit: %w", err)
	}
	c.groups.Add(1)
	return false, nil
}
