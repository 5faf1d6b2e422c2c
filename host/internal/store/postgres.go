package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
)

// migrateLockKey is the pg_advisory_xact_lock key that serializes schema
// migrations between instances starting at once: "medgate" in ASCII.
const migrateLockKey int64 = 0x6d656467617465

// postgresDialect: $n placeholders and times as timestamptz. Migrations
// hold an advisory lock for their transaction. Leases are timed by the
// database's clock, which every instance shares.
var postgresDialect = &dialect{
	name:           DriverPostgres,
	numbered:       true,
	encodeTime:     func(t time.Time) any { return t },
	lockMigrations: fmt.Sprintf(`SELECT pg_advisory_xact_lock(%d)`, migrateLockKey),
	createMigrations: `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    bigint      NOT NULL PRIMARY KEY,
		name       text        NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now()
	)`,
	recordMigration: `INSERT INTO schema_migrations (version, name) VALUES (?, ?)`,
	dbClock:         true,
}

// Postgres is the engine for several medgate instances sharing one
// PostgreSQL database. Every operation that must be atomic across
// instances (NextSequence, StateCAS, AcquireLease, BeginMessage) is a
// single INSERT … ON CONFLICT or UPDATE … RETURNING statement.
//
// The writes of the message path are committed in groups, as on SQLite
// (see committer): one transaction, one WAL flush and one round trip to
// begin and commit for all the writes waiting at that moment, instead of
// one each. A group of outcomes and new messages only, as the
// pass-through makes, is one statement and one round trip (wholeGroup).
// Rows a group writes stay locked until it commits, so a write of another
// instance to the same row (a sequence, a plugin state key) waits for
// that commit. A transaction whose writes name two such rows or more
// first takes their advisory locks in one order (lockRows, one statement
// more for that transaction only), so two instances' transactions on the
// same rows never wait for each other; if others do (message rows while a
// partition moves between instances), PostgreSQL aborts one of them
// (deadlock detected, after deadlock_timeout) and it runs again after a
// short random wait (see committer): no write fails for it.
//
// Connections come from a pgxpool.Pool (so the DSN's pool_* settings
// apply), used through database/sql (pgx's stdlib driver). A session the
// server ended (a restart, a failover, pg_terminate_backend, its
// idle_session_timeout, a pooler's idle timeout) is dropped before the
// pool hands it out (sessionEnded looks at its socket, no round trip),
// and a BEGIN, or a read outside a transaction, that fails on one ended
// in between or while it ran runs once more on a new session
// (beginAgain), so no write and no read fails once the server is back.
// A statement of a transaction already begun, or a write outside one,
// never runs again this way: it may have been done. A write the
// server refuses as read-only drops the pool's sessions (dropSessions):
// a session keeps the default_transaction_read_only it started with, so
// those opened while the database was read-only (an admin's ALTER
// DATABASE … SET default_transaction_read_only, a standby during a
// failover) would refuse every write for their lifetime, up to the
// pool's pool_max_conn_lifetime (an hour), after the database took
// writes again; new sessions take its setting, or, with several hosts
// and target_session_attrs=read-write in the DSN, the new primary.
type Postgres struct {
	sqlStore
	pool   *pgxpool.Pool
	wholes atomic.Int64 // groups written as one statement (for tests)
	// dropped is when dropSessions last dropped the pool's sessions
	// (unix nanoseconds).
	dropped atomic.Int64
}

// dropEvery is how often, at most, dropSessions drops the pool's
// sessions: while the server stays read-only every write is refused,
// and each would have the store connect again.
const dropEvery = time.Second

// dropSessions closes the pool's idle sessions, and each session in use
// once it is returned, so that the next writes connect again (see
// Postgres), at most once every dropEvery.
func (p *Postgres) dropSessions() {
	now := time.Now().UnixNano()
	last := p.dropped.Load()
	if now-last < int64(dropEvery) || !p.dropped.CompareAndSwap(last, now) {
		return
	}
	p.pool.Reset()
}

// OpenPostgres connects to the database named by dsn (a libpq URL or
// keyword/value string) and brings its schema up to date.
func OpenPostgres(ctx context.Context, dsn string, opts ...Option) (*Postgres, error) {
	seal, err := sealerFrom(opts)
	if err != nil {
		return nil, fmt.Errorf("store: postgres: %w", err)
	}
	// pgx leaves the password out of its parse and connect errors.
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("store: postgres: parse dsn: %w", err)
	}
	cfg.PrepareConn = func(_ context.Context, c *pgx.Conn) (bool, error) {
		// false: the pool drops the session and hands out another.
		return !sessionEnded(c.PgConn().Conn()), nil
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("store: postgres: connect: %w", err)
	}
	db := stdlib.OpenDBFromPool(pool)
	p := &Postgres{sqlStore: sqlStore{d: postgresDialect, w: db, r: db, seal: seal}, pool: pool}
	p.refusals.hook = optionsFrom(opts).refusals
	p.readOnly = p.dropSessions
	p.readAgain = p.beginAgain
	if err := db.PingContext(ctx); err != nil {
		p.Close()
		return nil, fmt.Errorf("store: postgres: connect to %s:%d database %q: %w",
			cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Database, err)
	}
	if err := p.migrate(ctx); err != nil {
		p.Close()
		return nil, err
	}
	p.group = newCommitter(db, p.mergeWrites, nil)
	p.group.whole = p.wholeGroup // before any write: none can be queued yet
	p.group.lock = lockRows
	p.group.beginAgain = p.beginAgain
	return p, nil
}

// Close implements [Store.Close]. It waits for the queries that have
// started to finish and for connections in use to be returned to the pool.
// Every method called after it fails with ErrClosed; calling it again
// does nothing.
func (p *Postgres) Close() error {
	err := p.sqlStore.Close()
	p.pool.Close()
	return err
}

var _ Store = (*Postgres)(nil)

// rolledBack says whether err is an error for which PostgreSQL rolls a
// transaction back whole and that running it again may not meet: a
// deadlock victim (SQLSTATE 40P01, "deadlock detected") or a
// serialization failure (SQLSTATE 40001,
// which the store's READ COMMITTED transactions do not meet unless the
// database's default_transaction_isolation is set higher). Such a
// transaction committed nothing and can run again (see committer).
func rolledBack(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "40P01" || pgErr.Code == "40001")
}

// beginAgain is PostgreSQL's committer.beginAgain and sqlStore.readAgain.
// A BEGIN, or a read outside a transaction (a SELECT: it changes nothing,
// whether or not the server had begun it), that failed because the
// session it was sent on had been ended by the server, before or while
// it ran (a restart, pg_terminate_backend, a failover, an idle timeout:
// sessionGone) runs once more.
// The pool hands out an idle session without asking the server whether it
// is still there when it was used less than a second ago (pgxpool's
// ShouldPing), so after a restart each session the pool held would fail
// the first write sent on it; beginAgain drops them all (the server ended
// them all, or the one that failed is the first of more) so that the
// BEGIN (or the read) runs again on a new session. A BEGIN that fails
// again, or one that failed because no session could be opened (the
// server is down), fails the write: the ingress answers 503 (see
// outage.Store), and the host sends it again later; so does such a read.
func (p *Postgres) beginAgain(err error) bool {
	if !sessionGone(err) {
		return false
	}
	p.pool.Reset()
	return true
}

// sessionGone says whether err, from a statement sent on an open session,
// says the session is gone: the server ended it (a FATAL or PANIC error,
// such as 57P01 "terminating connection due to administrator command" on
// a fast shutdown or pg_terminate_backend, or 57P02 on an immediate
// one), the connection broke (SQLSTATE class 08, an unexpected end of
// the stream, a reset), or pgx had already closed it. An error opening
// a new session (pgconn.ConnectError: the server is down or refuses
// connections) is none of these.
func sessionGone(err error) bool {
	if err == nil {
		return false
	}
	if _, ok := errors.AsType[*pgconn.ConnectError](err); ok {
		return false
	}
	if pgErr, ok := errors.AsType[*pgconn.PgError](err); ok {
		sev := pgErr.SeverityUnlocalized
		if sev == "" {
			sev = pgErr.Severity
		}
		return sev == "FATAL" || sev == "PANIC" || strings.HasPrefix(pgErr.Code, "08")
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	if errors.Is(err, pgconn.ErrConnClosed) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) {
		return true
	}
	ne, ok := errors.AsType[net.Error](err)
	return ok && !ne.Timeout()
}

// sqlLockRows takes the transaction-scoped advisory locks of its ids in
// the order of the array (unnest returns its elements in order). Advisory
// locks need no row, so they also order the writes that create one.
const sqlLockRows = `SELECT pg_advisory_xact_lock(k) FROM unnest($1::bigint[]) AS k`

// lockRows is PostgreSQL's committer.lock: one statement, and one round
// trip, for a transaction whose writes name two rows or more.
func lockRows(ctx context.Context, tx *sql.Tx, rows []int64) error {
	_, err := tx.ExecContext(ctx, sqlLockRows, rows)
	return err
}
