package store

import (
	"errors"
	"fmt"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
)

// ErrRefused is returned, wrapped, by a write the database refused for a
// cause that lasts until someone acts on it: its disk is full, its files
// or the server became read-only, or writing to the disk fails. Nothing of
// the write was stored; the same write succeeds once the cause is gone,
// without reopening the store. The error says the cause, where, and the
// fix (see Refusal).
var ErrRefused = errors.New("the store refuses writes")

// Kinds of refusal (Refusal), as metrics label them.
const (
	RefusedDiskFull = "disk_full" // no free space (SQLITE_FULL, ENOSPC, PostgreSQL 53100)
	RefusedReadOnly = "read_only" // the files or the server accept only reads (SQLITE_READONLY, EROFS, PostgreSQL 25006)
	RefusedIO       = "io_error"  // writing to the disk fails (SQLITE_IOERR, EIO, PostgreSQL 58030)
)

// refusedError is an error of a write the database refused (ErrRefused),
// with its kind, cause and fix in words an operator can act on.
type refusedError struct {
	err    error
	kind   string // RefusedDiskFull, RefusedReadOnly, RefusedIO
	reason string // e.g. "disk full at /var/lib/medgate"
	fix    string
}

func (e *refusedError) Error() string {
	return fmt.Sprintf("%v: %v: %s: %s", e.err, ErrRefused, e.reason, e.fix)
}

func (e *refusedError) Unwrap() error { return e.err }

func (e *refusedError) Is(target error) bool { return target == ErrRefused }

// Refusal returns the kind (RefusedDiskFull, RefusedReadOnly, RefusedIO)
// and the cause and fix of err, an error of a write the store refused
// (ErrRefused), or ok false for any other error.
func Refusal(err error) (kind, reason string, ok bool) {
	var re *refusedError
	if !errors.As(err, &re) {
		return "", "", false
	}
	return re.kind, re.reason + ": " + re.fix, true
}

// refusal classifies err, of the store's engine, as a refused write, or
// returns nil. dir is the SQLite database's directory ("" on PostgreSQL).
func refusal(err error, dir string) *refusedError {
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case 13: // SQLITE_FULL
			return sqliteFull(err, dir)
		case 8: // SQLITE_READONLY
			return sqliteReadOnly(err, dir)
		case 10: // SQLITE_IOERR, whatever the extended code
			return &refusedError{err: err, kind: RefusedIO, reason: "writing the database's files at " + dir + " failed (I/O error)",
				fix: "a full disk gives this too: check the free space (df -h " + dir + ") and the disk's errors in the kernel log (dmesg); medgate writes again by itself once it can"}
		}
		return nil
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "53100": // disk_full
			return &refusedError{err: err, kind: RefusedDiskFull, reason: "disk full on the PostgreSQL server",
				fix: "free space on the database server (its data and WAL directories; see its log); medgate writes again by itself once there is room"}
		case "25006": // read_only_sql_transaction
			return &refusedError{err: err, kind: RefusedReadOnly, reason: "the PostgreSQL server accepts only reads (a standby, a failover under way, or default_transaction_read_only on)",
				fix: "point store.dsn at the primary (target_session_attrs=read-write), or finish the failover; medgate writes again by itself once the server accepts writes"}
		case "58030": // io_error
			return &refusedError{err: err, kind: RefusedIO, reason: "the PostgreSQL server cannot write to its disk (I/O error)",
				fix: "check the database server's disk and its log; medgate writes again by itself once it can"}
		}
		return nil
	}
	if dir == "" {
		return nil
	}
	// The group commit's own fdatasync of the WAL (syncWAL).
	switch {
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
		return sqliteFull(err, dir)
	case errors.Is(err, syscall.EROFS):
		return sqliteReadOnly(err, dir)
	case errors.Is(err, syscall.EIO):
		return &refusedError{err: err, kind: RefusedIO, reason: "syncing the database's files at " + dir + " to disk failed (I/O error)",
			fix: "check the disk's errors in the kernel log (dmesg) and the free space (df -h " + dir + "); medgate writes again by itself once it can"}
	}
	return nil
}

func sqliteFull(err error, dir string) *refusedError {
	return &refusedError{err: err, kind: RefusedDiskFull, reason: "disk full at " + dir,
		fix: "free space on the filesystem holding it (df -h " + dir + "); medgate writes again by itself once there is room, no restart needed"}
}

func sqliteReadOnly(err error, dir string) *refusedError {
	return &refusedError{err: err, kind: RefusedReadOnly, reason: "the database's files at " + dir + " have become read-only",
		fix: "make the directory and its files writable again by medgate's user (mode 0700 and 0600), or remount the filesystem read-write (see the kernel log, dmesg, for why it went read-only); medgate writes again by itself"}
}

// refusalShown is how long Ping (and so /readyz) reports the last refused
// write when no write has succeeded since: long enough to outlast the
// retries of the messages waiting (the Kafka consumer's backoff reaches
// 10s), short enough that a store no one writes to is not reported
// refusing writes for ever.
const refusalShown = time.Minute

// refused is the last write the database refused, for Ping.
type refused struct {
	since time.Time // the first refusal with no write succeeding since
	at    time.Time
	err   *refusedError
}

// refusals tracks the writes the database refuses (see sqlStore.refusals).
type refusals struct {
	last atomic.Pointer[refused] // nil when the last write succeeded
	// hook, when set (WithRefusals), is told of each refused write, and
	// with nil of the first write that succeeds after one.
	hook func(err error)
}

// refuse records a write refused with e.
func (r *refusals) refuse(e *refusedError) {
	now := time.Now()
	since := now
	if prev := r.last.Load(); prev != nil && now.Sub(prev.at) <= refusalShown {
		since = prev.since
	}
	r.last.Store(&refused{since: since, at: now, err: e})
	if r.hook != nil {
		r.hook(e)
	}
}

// wrote records a write that succeeded.
func (r *refusals) wrote() {
	if r.last.Load() == nil {
		return
	}
	if r.last.Swap(nil) != nil && r.hook != nil {
		r.hook(nil)
	}
}

// current returns the last refusal if no write has succeeded since and it
// is recent (refusalShown), else nil.
func (r *refusals) current(now time.Time) *refused {
	last := r.last.Load()
	if last == nil || now.Sub(last.at) > refusalShown {
		return nil
	}
	return last
}

// WithRefusals has f told of every write the database refuses (an error
// holding ErrRefused; see Refusal), and, with nil, of the first write that
// succeeds after one. f must be quick and safe for concurrent use: it runs
// on the writer's goroutine.
func WithRefusals(f func(err error)) Option {
	return func(o *options) { o.refusals = f }
}
