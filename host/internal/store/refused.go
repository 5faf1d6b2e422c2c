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

// RefusalWindow is how long a refused write is reported (Ping, and so
// /readyz; Refused) after it: the database refuses writes as long as
// writes keep being refused within it. It is longer than the Kafka
// consumer's longest backoff (10s), so that a message waiting for the
// store renews the report before it lapses, and short enough that the
// report ends soon after the cause is gone. A write succeeding does not
// end it at once: a database may refuse some writes and not others (a
// table that must grow, another that need not), and the report would
// come and go with each.
const RefusalWindow = 15 * time.Second

// refused is the last write the database refused.
type refused struct {
	since time.Time // the first refusal of those within RefusalWindow of each other
	at    time.Time
	err   *refusedError
}

// refusals tracks the writes the database refuses (see sqlStore.refusals).
type refusals struct {
	last atomic.Pointer[refused]
	// hook, when set (WithRefusals), is told of each refused write.
	hook func(err error)
	// now is the clock (nil: time.Now; tests).
	now func() time.Time
}

func (r *refusals) clock() time.Time {
	if r.now != nil {
		return r.now()
	}
	return time.Now()
}

// refuse records a write refused with e.
func (r *refusals) refuse(e *refusedError) {
	now := r.clock()
	since := now
	if prev := r.last.Load(); prev != nil && now.Sub(prev.at) <= RefusalWindow {
		since = prev.since
	}
	r.last.Store(&refused{since: since, at: now, err: e})
	if r.hook != nil {
		r.hook(e)
	}
}

// current returns the last refusal if it is within RefusalWindow, else nil.
func (r *refusals) current() *refused {
	last := r.last.Load()
	if last == nil || r.clock().Sub(last.at) > RefusalWindow {
		return nil
	}
	return last
}

// WithRefusals has f told of every write the database refuses (an error
// holding ErrRefused; see Refusal). f must be quick and safe for
// concurrent use: it runs on the writer's goroutine.
func WithRefusals(f func(err error)) Option {
	return func(o *options) { o.refusals = f }
}

// Refuser is implemented by both engines: Refused tells whether the
// database refuses writes now, as Ping does, without asking the database.
type Refuser interface {
	// Refused returns when the database last refused a write, and that
	// write's error (holding ErrRefused), if that was within
	// RefusalWindow (as Ping reports it); else a zero time and nil.
	Refused() (at time.Time, err error)
}

// Refused implements [Refuser].
func (s *sqlStore) Refused() (time.Time, error) {
	r := s.refusals.current()
	if r == nil {
		return time.Time{}, nil
	}
	return r.at, fmt.Errorf("store: %s: %w", s.d.name, r.err)
}

var (
	_ Refuser = (*SQLite)(nil)
	_ Refuser = (*Postgres)(nil)
)
