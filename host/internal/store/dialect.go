package store

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// dialect is what differs between the engines under the one implementation
// (sqlStore). The statements themselves are shared: both engines speak
// INSERT … ON CONFLICT … RETURNING, so every operation that must be atomic
// across connections or processes is a single statement on both.
type dialect struct {
	// name is the engine name, as in "store: <name>: …" errors and the
	// migrations/<name> directory.
	name string
	// numbered is true when placeholders are $1, $2… rather than ?.
	numbered bool
	// encodeTime turns a time, already normalized (UTC, microseconds), into
	// the value stored. Decoding is scanTime's job.
	encodeTime func(time.Time) any

	// lockMigrations is run first in the migration transaction to keep other
	// processes out ("" when beginning the transaction already does).
	lockMigrations string
	// createMigrations creates schema_migrations if it does not exist.
	createMigrations string
	// recordMigration inserts a schema_migrations row from (version, name)
	// and, when stampMigrations is set, applied_at (else the column's default).
	recordMigration string
	stampMigrations bool

	// requestApart: a request whose stored (sealed) value is longer than
	// this many bytes is kept in message_requests instead of its message's
	// row; 0 keeps every request in the row. SQLite writes a whole row
	// again when an UPDATE changes its size (as storing the outcome does),
	// PostgreSQL does not rewrite a TOASTed value.
	requestApart int

	// detachReads: readRow does not hand the caller's context to the
	// driver once the context is checked (see readRow).
	detachReads bool

	// oneWriter: the database runs one write transaction at a time
	// (SQLite). A long write beside the group commit (Prune's batches)
	// then goes through the group commit's queue instead: a writer
	// waiting for the lock in SQLite's busy handler sleeps, then looks
	// again, and missed the moment between two batches taken back to
	// back. PostgreSQL runs such a write beside the group commit, which
	// it does not hold up.
	oneWriter bool

	// hintIndexes: the engine takes an index named in the statement
	// (SQLite's INDEXED BY; see indexedBy).
	hintIndexes bool

	// dbClock: lease expiries are set and compared on the database's
	// clock (clock_timestamp()), not on the instances' (AcquireLease's
	// now). Several instances share a PostgreSQL database, and their
	// clocks may disagree; a SQLite file has one host's clock.
	dbClock bool
}

// rebind returns q, written with ? placeholders, in the dialect's syntax.
// A ? inside a single-quoted string literal is not a placeholder.
func (d *dialect) rebind(q string) string {
	if !d.numbered || !strings.Contains(q, "?") {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + 16)
	n, quoted := 0, false
	for i := 0; i < len(q); i++ {
		switch c := q[i]; {
		case c == '\'':
			quoted = !quoted
		case c == '?' && !quoted:
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(q[i])
	}
	return b.String()
}

// indexedBy returns " INDEXED BY index" where the engine takes it
// (hintIndexes), to follow a table's name in a FROM clause, else "": a
// statement SQLite would otherwise run on the wrong index, which it
// picks without statistics (no ANALYZE).
func (d *dialect) indexedBy(index string) string {
	if !d.hintIndexes {
		return ""
	}
	return " INDEXED BY " + index
}

// nullTime encodes a time that may be unknown: the zero time is NULL.
func (d *dialect) nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return d.encodeTime(normTime(t))
}

// scanTime is a sql.Scanner for a stored time: SQLite keeps INTEGER unix
// microseconds, PostgreSQL a timestamptz. It sets *t in UTC, or to the zero
// time for NULL, and records in valid whether the value was not NULL.
type scanTime struct {
	t     *time.Time
	valid bool
}

// Scan implements [database/sql.Scanner].
func (s *scanTime) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*s.t, s.valid = time.Time{}, false
	case int64:
		*s.t, s.valid = time.UnixMicro(v).UTC(), true
	case time.Time:
		*s.t, s.valid = v.UTC(), true
	default:
		return fmt.Errorf("cannot scan %T into a time", src)
	}
	return nil
}
