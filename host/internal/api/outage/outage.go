// Package outage tells a transient outage of the store (its database
// server down or unreachable, the connection lost, the database locked or
// too slow to answer, refusing writes because its disk is full or it has
// become read-only, the store closed at shutdown) or of Kafka (the brokers unreachable, a partition
// without a leader for now, a request timed out, the producer closed at
// shutdown: Kafka) from medgate's own failures, for the admin API, the
// HTTP ingress and the console: an outage is answered 503 with
// Retry-After (RetryAfter seconds) and words saying which dependency is
// down and that the request can be sent again; anything else stays a
// 500, a fault to look into.
//
// The words name the dependency and the kind of outage only, never the
// error's text: a driver's error names the database host, address,
// account or file, which an answer must not show (the caller logs the
// error itself).
package outage

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"

	"github.com/medgate/medgate/host/internal/store"
)

// RetryAfter is the Retry-After, in seconds, of every answer to an outage:
// the store reconnects within a few seconds of its server coming back, so
// a client asks again soon, but not at once and not in a loop.
const RetryAfter = 5

// Outage is a transient outage of a dependency, in words an answer may show.
type Outage struct {
	// Dependency names what is down: "the store (PostgreSQL)", "the
	// store (SQLite)", or "the store" when the error does not say which
	// engine.
	Dependency string
	// Reason says how it is down, e.g. "the database server cannot be
	// reached".
	Reason string
}

// String is the outage in one phrase: "the store (PostgreSQL) is
// unavailable: the database server cannot be reached".
func (o Outage) String() string { return o.Dependency + " is unavailable: " + o.Reason }

// Dependencies, as answers name them.
const (
	storeAny      = "the store"
	storePostgres = "the store (PostgreSQL)"
	storeSQLite   = "the store (SQLite)"
)

// Reasons, as answers give them.
const (
	reasonUnreachable = "the database server cannot be reached or the connection to it was lost"
	reasonLocked      = "the database is locked by another connection or process"
	reasonSlow        = "the database did not answer in time"
	reasonRestarting  = "the database server is shutting down, starting up or read-only (a failover)"
	reasonFull        = "the database server has no free connection"
	reasonConflict    = "a transaction conflicted with another one (deadlock or serialization failure)"
	reasonStoreClosed = "the instance is shutting down and has closed it"
	// The database refuses writes (store.ErrRefused) until an operator
	// acts; the messages waiting are processed once it takes them again.
	reasonDiskFull = "it refuses writes: its disk is full"
	reasonReadOnly = "it refuses writes: it has become read-only"
	reasonWriteIO  = "it refuses writes: writing to its disk fails"
	reasonRefused  = "it refuses writes"
)

// transientStates are the PostgreSQL SQLSTATEs (and classes, two
// characters) of a transient outage.
var transientStates = map[string]string{
	"08":    reasonUnreachable, // connection exception
	"57P01": reasonRestarting,  // admin_shutdown
	"57P02": reasonRestarting,  // crash_shutdown
	"57P03": reasonRestarting,  // cannot_connect_now
	"25006": reasonRestarting,  // read_only_sql_transaction: a standby, as during a failover
	"53300": reasonFull,        // too_many_connections
	"40001": reasonConflict,    // serialization_failure
	"40P01": reasonConflict,    // deadlock_detected
	"55P03": reasonLocked,      // lock_not_available
	"57014": reasonSlow,        // query_canceled: statement_timeout
	"53100": reasonDiskFull,    // disk_full
	"58030": reasonWriteIO,     // io_error
}

// Database reports whether err holds an error a database driver marks as
// its own and transient: SQLite's SQLITE_BUSY or SQLITE_LOCKED, a
// PostgreSQL error of a transient SQLSTATE (connection exception,
// shutdown, failover, too many connections, deadlock, serialization
// failure, lock not available, statement timeout), or a PostgreSQL
// connection that failed or was lost; a write the database refuses
// until an operator acts (SQLITE_FULL, SQLITE_READONLY, SQLITE_IOERR,
// PostgreSQL disk_full and io_error, store.ErrRefused): the request can
// be sent again, and succeeds once space is freed; or store.ErrClosed, the store's
// own error once it is closed at shutdown (a client sends the request
// again, to this instance once it is back or to another). It suits
// errors that may come from several dependencies (the store and Kafka):
// it counts no bare network error or deadline, which could be another
// dependency's.
func Database(err error) (Outage, bool) {
	if err == nil {
		return Outage{}, false
	}
	if errors.Is(err, store.ErrClosed) {
		return Outage{storeAny, reasonStoreClosed}, true
	}
	if se, ok := errors.AsType[*sqlite.Error](err); ok {
		switch se.Code() & 0xff {
		case 5, 6: // SQLITE_BUSY, SQLITE_LOCKED, whatever the extended code
			return Outage{storeSQLite, reasonLocked}, true
		case 13: // SQLITE_FULL
			return Outage{storeSQLite, reasonDiskFull}, true
		case 8: // SQLITE_READONLY
			return Outage{storeSQLite, reasonReadOnly}, true
		case 10: // SQLITE_IOERR, whatever the extended code
			return Outage{storeSQLite, reasonWriteIO}, true
		}
		return Outage{}, false
	}
	if pe, ok := errors.AsType[*pgconn.PgError](err); ok {
		// Checked first: a connection the server refused (wrong
		// password, no such database) is a ConnectError holding the
		// server's answer, which says whether waiting helps.
		if r, ok := transientStates[pe.Code]; ok {
			return Outage{storePostgres, r}, true
		}
		if r, ok := transientStates[pe.Code[:min(2, len(pe.Code))]]; ok {
			return Outage{storePostgres, r}, true
		}
		return Outage{}, false
	}
	if errors.Is(err, store.ErrRefused) {
		// The store's own sync of its files failed (disk full, read-only).
		return Outage{storeAny, reasonRefused}, true
	}
	if _, ok := errors.AsType[*pgconn.ConnectError](err); ok {
		return Outage{storePostgres, reasonUnreachable}, true
	}
	if pgconn.Timeout(err) {
		return Outage{storePostgres, reasonSlow}, true
	}
	if errors.Is(err, pgconn.ErrConnClosed) {
		return Outage{storePostgres, reasonUnreachable}, true
	}
	return Outage{}, false
}

// Store reports whether err, returned by a call to the store and to
// nothing else, is a transient outage of the store: one Database counts,
// or a connection database/sql found bad, a connection cut short (an
// unexpected EOF: pgx reports a PostgreSQL connection lost mid-query so),
// a network failure (refused, reset, unreachable) or a deadline, which
// can only be the store's here.
// A store closed at shutdown (store.ErrClosed) is one too. Anything
// else, such as a row that cannot be decoded or decrypted, is not an
// outage.
func Store(err error) (Outage, bool) {
	if o, ok := Database(err); ok {
		return o, true
	}
	if err == nil {
		return Outage{}, false
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return Outage{storeAny, reasonSlow}, true
	case errors.Is(err, driver.ErrBadConn), errors.Is(err, sql.ErrConnDone), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE),
		errors.Is(err, syscall.ETIMEDOUT), errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return Outage{storeAny, reasonUnreachable}, true
	}
	if ne, ok := errors.AsType[net.Error](err); ok {
		if ne.Timeout() {
			return Outage{storeAny, reasonSlow}, true
		}
		return Outage{storeAny, reasonUnreachable}, true
	}
	return Outage{}, false
}
