package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// sqlStore implements Store over database/sql for both engines; what
// differs between them is in d. Statements are written with ? placeholders
// (see dialect.rebind).
type sqlStore struct {
	d *dialect
	w *sql.DB // every write (SQLite: a single connection)
	r *sql.DB // every read (SQLite: query_only connections; PostgreSQL: w)
	// g runs the group commit's transactions when they need a connection
	// of their own (SQLite: one that commits without waiting for the disk,
	// see committer.sync); nil: w.
	g *sql.DB
	// db names the database in messages about it as a whole (migrate,
	// ping, close): the SQLite file, quoted; "" for PostgreSQL, whose DSN
	// may hold a password.
	db string
	// busy is how long a SQLite connection waits for another's lock
	// (sqliteBusyTimeout; 0 on PostgreSQL).
	busy time.Duration
	// seal encrypts personal data at rest (nil: stored plain).
	seal *sealer
	// group commits the hot writes of many callers together; nil runs
	// each write on w at once.
	group *committer
	// closeLast, when set, runs at the end of Close, after the
	// connections are closed (SQLite: the WAL file its sync keeps open).
	closeLast func() error
	// stmts are groupStmts prepared on w, by query (SQLite: its driver
	// parses an unprepared statement on every call; pgx caches them itself).
	stmts map[string]*sql.Stmt
	// rstmts are readStmts prepared on r, by query, on SQLite (see
	// prepareReads).
	rstmts map[string]*sql.Stmt
	// pruneBatch is how many rows one transaction of Prune deletes at
	// most (0: defaultPruneBatch); tests make it small.
	pruneBatch int
	// pruned, when set (tests), is called after each batch Prune
	// committed, with its table and row count.
	pruned func(table string, n int64)
	// rekeyRead, when set (tests), is called after Rekey read a batch of
	// table's rows and before it rewrites them.
	rekeyRead func(table string)
	// mergedStates counts the statements that ran every write of a
	// StateWrites at once (for tests).
	mergedStates atomic.Int64
	// closed is set by Close: every error from then on is ErrClosed
	// (see errorf).
	closed atomic.Bool
	// dir is the SQLite database's directory, named by the errors of
	// writes it refuses ("" on PostgreSQL).
	dir string
	// refusals tracks the writes the database refuses (ErrRefused), for
	// Ping, Refused and WithRefusals.
	refusals refusals
	// readOnly, when set, is called when the database refused a write
	// as read-only (PostgreSQL: the pool's sessions are dropped, see
	// Postgres.dropSessions).
	readOnly func()
	// readAgain, when set, says whether a read on r (a query outside a
	// transaction: readOne, readAll) that failed with err runs once more
	// (PostgreSQL: the server had ended its session, see
	// Postgres.beginAgain).
	readAgain func(err error) bool
}

// readStmts are the point reads of the message path: a pure query's
// GetMessage and a plugin's StateGet.
var readStmts = []string{sqlReadMessage, sqlStateGet}

// prepareReads prepares readStmts on the read pool: database/sql then
// prepares each once per connection and keeps it. Unprepared, modernc's
// driver parsed GetMessage's SELECT on every call: 6 % of the host's CPU
// per GYD051 (perf, ninth round).
func (s *sqlStore) prepareReads(ctx context.Context) error {
	s.rstmts = make(map[string]*sql.Stmt, len(readStmts))
	for _, q := range readStmts {
		st, err := s.r.PrepareContext(ctx, s.d.rebind(q))
		if err != nil {
			return s.errorf("prepare %.40q… for reading: %w", q, err)
		}
		s.rstmts[q] = st
	}
	return nil
}

// prepare prepares groupStmts on the group commit's connection (g, else
// w). It must run before the committer starts: that pool has a single
// connection, which a group transaction holds.
func (s *sqlStore) prepare(ctx context.Context) error {
	db := s.w
	if s.g != nil {
		db = s.g
	}
	s.stmts = make(map[string]*sql.Stmt, len(groupStmts))
	for _, q := range groupStmts {
		st, err := db.PrepareContext(ctx, s.d.rebind(q))
		if err != nil {
			return s.errorf("prepare %.40q…: %w", q, err)
		}
		s.stmts[q] = st
	}
	return nil
}

// stmtOn returns the prepared statement for query on q, or nil.
func (s *sqlStore) stmtOn(ctx context.Context, q querier, query string) *sql.Stmt {
	st := s.stmts[query]
	if st == nil {
		return nil
	}
	if tx, ok := q.(*sql.Tx); ok {
		return tx.StmtContext(ctx, st)
	}
	return st
}

// write runs fn, the statements of one write: in a group commit when the
// engine has one, else at once on w. It returns after they are committed.
func (s *sqlStore) write(ctx context.Context, fn func(ctx context.Context, q querier) error) error {
	return s.writeAs(ctx, nil, fn)
}

// writeAs is write for a write that a group commit may merge with others
// of its kind (row: *beginRow, *finishRow; see mergeWrites); fn does the
// same write alone.
func (s *sqlStore) writeAs(ctx context.Context, row any, fn func(ctx context.Context, q querier) error) error {
	if s.group == nil {
		return fn(ctx, s.w)
	}
	return s.group.write(ctx, row, fn)
}

// writeLocking is write for a write of rows of shared tables (plugin
// state, sequences), named by locks (see committer.lock). It may run in a
// transaction with others' writes.
func (s *sqlStore) writeLocking(ctx context.Context, locks []int64, fn func(ctx context.Context, q querier) error) error {
	if s.group == nil {
		return fn(ctx, s.w)
	}
	return s.group.writeLocking(ctx, nil, locks, fn)
}

// stateLock and sequenceLock are the rowLock ids of a plugin state entry
// and of a sequence.
func stateLock(ns, key string) int64 { return rowLock("plugin_state", ns, key) }

func sequenceLock(name string) int64 { return rowLock("sequences", name) }

// writeTx is write for statements that must commit together: the group
// commit's transaction when the engine has one, else a transaction of
// their own on w.
func (s *sqlStore) writeTx(ctx context.Context, fn func(ctx context.Context, q querier) error) error {
	return s.writeTxLocking(ctx, nil, fn)
}

// writeTxLocking is writeTx for statements that write the rows locks of
// shared tables (see committer.lock).
func (s *sqlStore) writeTxLocking(ctx context.Context, locks []int64, fn func(ctx context.Context, q querier) error) error {
	if s.group != nil {
		return s.group.writeLocking(ctx, nil, locks, fn)
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	if err := fn(ctx, tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// execOn runs a write statement on q.
func (s *sqlStore) execOn(ctx context.Context, q querier, query string, args ...any) (sql.Result, error) {
	if st := s.stmtOn(ctx, q, query); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return q.ExecContext(ctx, s.d.rebind(query), args...)
}

// rowOn runs a statement that returns at most one row on q.
func (s *sqlStore) rowOn(ctx context.Context, q querier, query string, args ...any) *sql.Row {
	if st := s.stmtOn(ctx, q, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return q.QueryRowContext(ctx, s.d.rebind(query), args...)
}

// errorf returns the error "store: <engine>: <format>", wrapping what
// format wraps. A SQLite error saying the database stayed locked gets
// its cause and fix (see lockedError). Once the store is closed, the
// error is ErrClosed too: every method's failure then comes of the close
// (database/sql's "database is closed", a closed statement), and says so
// in a way callers can test.
func (s *sqlStore) errorf(format string, args ...any) error {
	err := fmt.Errorf(format, args...)
	if s.closed.Load() && !errors.Is(err, ErrClosed) {
		err = fmt.Errorf("%w (%w)", err, ErrClosed)
	}
	var le *lockedError
	if s.busy > 0 && sqliteLocked(err) && !errors.As(err, &le) {
		err = &lockedError{err: err, db: s.db, busy: s.busy}
	}
	if !s.closed.Load() && !errors.Is(err, ErrRefused) {
		if re := refusal(err, s.dir); re != nil {
			s.refusals.refuse(re)
			if re.kind == RefusedReadOnly && s.readOnly != nil {
				s.readOnly()
			}
			err = re
		}
	}
	return fmt.Errorf("store: %s: %w", s.d.name, err)
}

// notFound is s.errorf(what+" %q: %w", id, ErrNotFound), its text
// formatted only when it is read: every pure query reads its id before
// its call and finds none (GetMessage), and the caller only asks
// errors.Is(err, ErrNotFound). errorf's two fmt.Errorf and its look for a
// SQLite or PostgreSQL error in the chain (none in ErrNotFound) were 0.5 %
// of the host's CPU per GYD051.
func (s *sqlStore) notFound(what, id string) error {
	if s.closed.Load() {
		return s.errorf("%s %q: %w", what, id, ErrNotFound)
	}
	return &notFoundError{engine: s.d.name, what: what, id: id}
}

// notFoundError is what notFound returns: "store: <engine>: <what>
// "<id>": not found", wrapping ErrNotFound.
type notFoundError struct{ engine, what, id string }

func (e *notFoundError) Error() string {
	return "store: " + e.engine + ": " + e.what + " " + strconv.Quote(e.id) + ": " + ErrNotFound.Error()
}

func (e *notFoundError) Unwrap() error { return ErrNotFound }

// lockedError is a SQLite error of a database that stayed locked by
// another connection for the whole busy timeout, with its likely cause and
// fix. The store's own connections queue in Go (see SQLite), so the lock
// was another process's.
type lockedError struct {
	err  error
	db   string        // the file, quoted
	busy time.Duration // the busy timeout waited
}

func (e *lockedError) Error() string {
	return fmt.Sprintf("%v (the database %s stayed locked for the whole busy timeout, %v: most likely another process is writing it, such as a second medgate on the same file or a sqlite3 shell with a transaction open; stop it, and run several instances on PostgreSQL rather than on one SQLite file)", e.err, e.db, e.busy)
}

func (e *lockedError) Unwrap() error { return e.err }

// exec runs a write statement.
func (s *sqlStore) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return s.w.ExecContext(ctx, s.d.rebind(q), args...)
}

// writeRow runs a write statement that returns a row (RETURNING).
func (s *sqlStore) writeRow(ctx context.Context, q string, args ...any) *sql.Row {
	return s.w.QueryRowContext(ctx, s.d.rebind(q), args...)
}

// readRow runs a query for at most one row. Read with readOne, which
// runs it once more when the server had ended its session.
//
// On SQLite (dialect.detachReads) a context that has not ended is not
// handed to the driver: modernc.org/sqlite starts a goroutine per
// statement run under a cancellable context, to interrupt the statement
// when the context ends (7 of a point read's 60 allocations and a
// goroutine wake-up per read, BenchmarkPointRead). Every readRow query is a lookup by key or index,
// over in microseconds; a WAL reader does not wait for the writer, and
// at worst waits out the busy timeout. A context that has ended still
// fails the read.
func (s *sqlStore) readRow(ctx context.Context, q string, args ...any) *sql.Row {
	if s.d.detachReads && ctx.Err() == nil {
		ctx = context.WithoutCancel(ctx)
	}
	if st := s.rstmts[q]; st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return s.r.QueryRowContext(ctx, s.d.rebind(q), args...)
}

// again says whether a read that failed with err runs once more: the
// engine says so (readAgain: PostgreSQL's session ended by the server
// before it answered), the caller has not given up and the store is not
// closed. Every statement on r is a SELECT, which changes nothing, so
// the read runs again whether or not the server had begun it; no write
// is ever run again this way.
func (s *sqlStore) again(ctx context.Context, err error) bool {
	return s.readAgain != nil && ctx.Err() == nil && !s.closed.Load() && s.readAgain(err)
}

// readOne runs a query for at most one row and reads it with scan
// (whose error, sql.ErrNoRows among them, it returns). A read whose
// session the server had ended runs once more (see again).
func readOne[T any](ctx context.Context, s *sqlStore, scan func(rowScanner) (T, error), q string, args ...any) (T, error) {
	v, err := scan(s.readRow(ctx, q, args...))
	if err != nil && s.again(ctx, err) {
		v, err = scan(s.readRow(ctx, q, args...))
	}
	return v, err
}

// readAll runs a query and returns its rows, each read by scan. A read
// whose session the server had ended runs once more, whole (see again).
func readAll[T any](ctx context.Context, s *sqlStore, scan func(rowScanner) (T, error), q string, args ...any) ([]T, error) {
	out, err := readRows(ctx, s, scan, q, args...)
	if err != nil && s.again(ctx, err) {
		out, err = readRows(ctx, s, scan, q, args...)
	}
	return out, err
}

// readRows is one run of readAll.
func readRows[T any](ctx context.Context, s *sqlStore, scan func(rowScanner) (T, error), q string, args ...any) ([]T, error) {
	rows, err := s.r.QueryContext(ctx, s.d.rebind(q), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// rowScanner is a *sql.Row or *sql.Rows.
type rowScanner interface{ Scan(...any) error }

// filter collects the conditions of a WHERE clause and their arguments.
type filter struct {
	conds []string
	args  []any
}

// add appends a condition with one ? placeholder and its argument.
func (f *filter) add(cond string, arg any) {
	f.conds = append(f.conds, cond)
	f.args = append(f.args, arg)
}

// where returns the WHERE clause ("" when there are no conditions).
func (f *filter) where() string {
	if len(f.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(f.conds, " AND ")
}

// messageCols are the columns of a message read from messages (not
// aliased): the request is in its row or, when large, in message_requests
// (see dialect.requestApart).
const messageCols = `id, site, type, business_key, status, outcome, reply, attempts, occurred_at, received_at, updated_at,
	COALESCE(request, (SELECT r.request FROM message_requests r WHERE r.id = messages.id))`

// scanMessage reads one row of messageCols, decrypting reply and request.
func (s *sqlStore) scanMessage(row rowScanner) (Message, error) {
	var m Message
	err := row.Scan(&m.ID, &m.Site, &m.Type, &m.Key, &m.Status, &m.Outcome, &m.Reply, &m.Attempts,
		&scanTime{t: &m.OccurredAt}, &scanTime{t: &m.ReceivedAt}, &scanTime{t: &m.UpdatedAt}, &m.Request)
	if err != nil {
		return m, err
	}
	if m.Reply, err = s.seal.open(aad("messages.reply", m.ID), m.Reply); err != nil {
		return m, fmt.Errorf("message %q: reply: %w", m.ID, err)
	}
	if m.Request, err = s.seal.open(aad("messages.request", m.ID), m.Request); err != nil {
		return m, fmt.Errorf("message %q: request: %w", m.ID, err)
	}
	return m, nil
}

// The statements of the writes that go through write, prepared once per
// engine (see sqlStore.prepare).
const (
	sqlGetMessage    = `SELECT ` + messageCols + ` FROM messages WHERE id = ?`
	sqlInsertMessage = `INSERT INTO messages
		(id, site, type, business_key, status, outcome, reply, attempts, occurred_at, received_at, updated_at, request)
		VALUES (?, ?, ?, ?, 'pending', '', NULL, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO NOTHING`
	sqlAddAttempt = `UPDATE messages SET attempts = attempts + 1, updated_at = ?
		WHERE id = ? AND status = 'pending' RETURNING attempts`
	sqlMessageStatus = `SELECT status FROM messages WHERE id = ?`
	sqlFinishMessage = `UPDATE messages
		SET status = 'done', outcome = ?, reply = ?, attempts = ?, updated_at = ?
		WHERE id = ?`
	sqlInsertExchange = `INSERT INTO exchanges
		(message_id, plugin, site, system, code, serial, request, response, status, error, duration_ms, at, seal_id)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`
	// sqlJournalExchange is sqlInsertExchange for a caller that does not
	// need the entry's id (the entries written with an outcome): no row
	// comes back to read.
	sqlJournalExchange = `INSERT INTO exchanges
		(message_id, plugin, site, system, code, serial, request, response, status, error, duration_ms, at, seal_id)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	sqlStatePut = `INSERT INTO plugin_state (ns, key, value, version, updated_at)
		VALUES (?, ?, ?, 1, ?)
		ON CONFLICT (ns, key) DO UPDATE SET value = excluded.value,
			version = plugin_state.version + 1, updated_at = excluded.updated_at
		RETURNING version`
	sqlStateCreate = `INSERT INTO plugin_state (ns, key, value, version, updated_at)
			VALUES (?, ?, ?, 1, ?) ON CONFLICT (ns, key) DO NOTHING RETURNING version`
	sqlStateCAS = `UPDATE plugin_state SET value = ?, version = version + 1, updated_at = ?
			WHERE ns = ? AND key = ? AND version = ? RETURNING version`
	sqlStateDelete  = `DELETE FROM plugin_state WHERE ns = ? AND key = ?`
	sqlNextSequence = `INSERT INTO sequences (name, value) VALUES (?, 1)
		ON CONFLICT (name) DO UPDATE SET value = sequences.value + 1 RETURNING value`
	sqlReserveSequence = `INSERT INTO sequences (name, value) VALUES (?, ?)
		ON CONFLICT (name) DO UPDATE SET value = sequences.value + excluded.value RETURNING value`
)

// groupStmts are the statements prepared for write.
var groupStmts = []string{sqlInsertMessage, sqlInsertRequest, sqlGetMessage, sqlAddAttempt, sqlMessageStatus, sqlFinishMessage,
	sqlInsertExchange, sqlJournalExchange, sqlStatePut, sqlStateCreate, sqlStateCAS, sqlStateDelete, sqlNextSequence, sqlReserveSequence}

// BeginMessage implements [Store.BeginMessage].
func (s *sqlStore) BeginMessage(ctx context.Context, m Message) (*Message, bool, error) {
	row, err := s.beginRow(m)
	if err != nil {
		return nil, false, err
	}
	err = s.writeAs(ctx, row, func(ctx context.Context, q querier) error { return s.begin(ctx, q, row) })
	if err != nil {
		return nil, false, s.errorf("begin message %q: %w", m.ID, err)
	}
	return row.existing, row.created, nil
}

// beginRow prepares the write of BeginMessage(m).
func (s *sqlStore) beginRow(m Message) (*beginRow, error) {
	if m.ID == "" {
		return nil, s.errorf("begin message: empty id")
	}
	t := now()
	received := t
	if !m.ReceivedAt.IsZero() {
		received = normTime(m.ReceivedAt)
	}
	request, err := s.seal.seal(aad("messages.request", m.ID), m.Request)
	if err != nil {
		return nil, s.errorf("begin message %q: %w", m.ID, err)
	}
	row := &beginRow{args: []any{m.ID, m.Site, m.Type, m.Key, max(m.Attempts, 0), s.d.nullTime(m.OccurredAt), s.d.encodeTime(received), s.d.encodeTime(t), nullBytes(request)}}
	if s.d.requestApart > 0 && len(request) > s.d.requestApart {
		row.args[len(row.args)-1], row.apart = nil, request
	}
	return row, nil
}

// sqlInsertRequest keeps a large request apart from its message's row.
const sqlInsertRequest = `INSERT INTO message_requests (id, request) VALUES (?, ?)`

// begin runs the write of row on q and sets its results.
func (s *sqlStore) begin(ctx context.Context, q querier, row *beginRow) error {
	res, err := s.execOn(ctx, q, sqlInsertMessage, row.args...)
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if row.created = n == 1; row.created {
		row.existing = nil
		if row.apart != nil {
			if _, err := s.execOn(ctx, q, sqlInsertRequest, row.args[0], row.apart); err != nil {
				return fmt.Errorf("request: %w", err)
			}
		}
		return nil
	}
	// The conflicting row is committed or in this transaction
	// (SQLite: written by the single writer; PostgreSQL: ON CONFLICT
	// DO NOTHING waited for it to commit), so a read on q sees it.
	e, err := s.scanMessage(s.rowOn(ctx, q, sqlGetMessage, row.args[0]))
	if err != nil {
		return fmt.Errorf("existing: %w", err)
	}
	row.existing = &e
	return nil
}

// FinishAndBegin implements [Store.FinishAndBegin].
func (s *sqlStore) FinishAndBegin(ctx context.Context, id, outcome string, reply []byte, attempts int, next Message) (*Message, bool, error) {
	if outcome == "" {
		return nil, false, s.errorf("finish message %q: empty outcome", id)
	}
	if next.ID == id {
		return nil, false, s.errorf("finish message %q and begin the next: the next message has the same id; finish it, then begin it", id)
	}
	reply, err := s.seal.seal(aad("messages.reply", id), reply)
	if err != nil {
		return nil, false, s.errorf("finish message %q: %w", id, err)
	}
	b, err := s.beginRow(next)
	if err != nil {
		return nil, false, err
	}
	row := &finishBeginRow{f: &finishRow{args: []any{outcome, nullBytes(reply), attempts, s.d.encodeTime(now()), id}}, b: b}
	err = s.writeAs(ctx, row, func(ctx context.Context, q querier) error {
		res, err := s.execOn(ctx, q, sqlFinishMessage, row.f.args...)
		if err != nil {
			return err
		}
		if row.f.n, err = res.RowsAffected(); err != nil {
			return err
		}
		if row.f.n == 0 {
			return ErrNotFound // and leave the next message out
		}
		return s.begin(ctx, q, row.b)
	})
	if err == nil && row.f.n == 0 {
		err = ErrNotFound // merged: the next message was left out too
	}
	if err != nil {
		return nil, false, s.errorf("finish message %q and begin %q: %w", id, next.ID, err)
	}
	return row.b.existing, row.b.created, nil
}

const sqlReadMessage = `SELECT ` + messageCols + ` FROM messages WHERE id = ?`

// GetMessage implements [Store.GetMessage].
func (s *sqlStore) GetMessage(ctx context.Context, id string) (*Message, error) {
	m, err := readOne(ctx, s, s.scanMessage, sqlReadMessage, id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, s.notFound("message", id)
	}
	if err != nil {
		return nil, s.errorf("get message %q: %w", id, err)
	}
	return &m, nil
}

// AddAttempt implements [Store.AddAttempt]. It returns ErrNotFound for an
// unknown id and ErrConflict if the message is already done.
func (s *sqlStore) AddAttempt(ctx context.Context, id string) (int, error) {
	var (
		n      int
		status string // of a message that is not pending ("" if there is none)
	)
	err := s.write(ctx, func(ctx context.Context, q querier) error {
		n, status = 0, ""
		err := s.rowOn(ctx, q, sqlAddAttempt, s.d.encodeTime(now()), id).Scan(&n)
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		err = s.rowOn(ctx, q, sqlMessageStatus, id).Scan(&status)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		return err
	})
	switch {
	case err != nil:
		return 0, s.errorf("add attempt %q: %w", id, err)
	case n > 0:
		return n, nil
	case status == "":
		return 0, s.errorf("add attempt %q: %w", id, ErrNotFound)
	default:
		return 0, s.errorf("add attempt %q: message is %s: %w", id, status, ErrConflict)
	}
}

// FinishMessage implements [Store.FinishMessage]. Finishing a done message
// again overwrites its outcome. The journal entries are inserted in the
// transaction of the outcome (SQLite: the same group commit).
func (s *sqlStore) FinishMessage(ctx context.Context, id, outcome string, reply []byte, attempts int, journal ...Exchange) error {
	if outcome == "" {
		return s.errorf("finish message %q: empty outcome", id)
	}
	reply, err := s.seal.seal(aad("messages.reply", id), reply)
	if err != nil {
		return s.errorf("finish message %q: %w", id, err)
	}
	rows := make([]exchangeRow, len(journal))
	for i, e := range journal {
		if rows[i], err = s.exchangeRow(e); err != nil {
			return s.errorf("finish message %q: %w", id, err)
		}
	}
	row := &finishRow{args: []any{outcome, nullBytes(reply), attempts, s.d.encodeTime(now()), id}}
	if len(rows) == 0 {
		// Alone, the outcome is a write the group commit may merge with
		// the outcomes of other messages.
		err = s.writeAs(ctx, row, func(ctx context.Context, q querier) error {
			res, err := s.execOn(ctx, q, sqlFinishMessage, row.args...)
			if err != nil {
				return err
			}
			row.n, err = res.RowsAffected()
			return err
		})
	} else {
		// With journal entries, outcome and entries commit together.
		err = s.writeTx(ctx, func(ctx context.Context, q querier) error {
			res, err := s.execOn(ctx, q, sqlFinishMessage, row.args...)
			if err != nil {
				return err
			}
			if row.n, err = res.RowsAffected(); err != nil {
				return err
			}
			if row.n == 0 {
				return ErrNotFound // roll the journal entries back too
			}
			for _, r := range rows {
				if err := s.journalExchange(ctx, q, r); err != nil {
					return fmt.Errorf("journal entry (code %q, serial %q): %w", r.e.Code, r.e.Serial, err)
				}
			}
			return nil
		})
	}
	if err != nil {
		return s.errorf("finish message %q: %w", id, err)
	}
	if row.n == 0 {
		return s.errorf("finish message %q: %w", id, ErrNotFound)
	}
	return nil
}

// sqlReopenMessage makes a failed message with a stored request pending
// again; its reply is kept (see RestoreFailed).
const sqlReopenMessage = `UPDATE messages SET status = 'pending', outcome = '', updated_at = ?
		WHERE id = ? AND status = 'done' AND outcome = 'failed'
		AND (request IS NOT NULL OR EXISTS (SELECT 1 FROM message_requests r WHERE r.id = messages.id))`

// ReopenMessage implements [Store.ReopenMessage]. The message returned is
// read in the transaction of the reopen: it is the message exactly as the
// reopen left it, which RestoreFailed compares with.
func (s *sqlStore) ReopenMessage(ctx context.Context, id string) (*Message, error) {
	var (
		m      Message
		n      int64
		exists bool
	)
	at := s.d.encodeTime(now())
	err := s.writeTx(ctx, func(ctx context.Context, q querier) error {
		res, err := s.execOn(ctx, q, sqlReopenMessage, at, id)
		if err != nil {
			return err
		}
		if n, err = res.RowsAffected(); err != nil {
			return err
		}
		m, err = s.scanMessage(s.rowOn(ctx, q, sqlGetMessage, id))
		if exists = err == nil; errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		return err
	})
	switch {
	case err != nil:
		return nil, s.errorf("reopen message %q: %w", id, err)
	case !exists:
		return nil, s.errorf("reopen message %q: %w", id, ErrNotFound)
	case n == 0:
		why := "its outcome is " + m.Outcome
		switch {
		case m.Status != StatusDone:
			why = "it is still being processed"
		case m.Request == nil:
			why = "its request was not kept (received before schema version 2)"
		}
		return nil, s.errorf("reopen message %q: %w: only failed messages can be replayed, and %s", id, ErrConflict, why)
	}
	return &m, nil
}

// sqlRestoreFailed puts back the failed outcome of a reopened message
// that is still as the reopen left it; its reply was kept by the reopen.
const sqlRestoreFailed = `UPDATE messages SET status = 'done', outcome = 'failed', updated_at = ?
		WHERE id = ? AND status = 'pending' AND outcome = '' AND attempts = ? AND updated_at = ?`

// RestoreFailed implements [Store.RestoreFailed].
func (s *sqlStore) RestoreFailed(ctx context.Context, reopened *Message) (bool, error) {
	if reopened == nil || reopened.ID == "" || reopened.UpdatedAt.IsZero() {
		return false, s.errorf("restore the failed outcome: the message given has no id or update time; pass the message ReopenMessage returned, whose state is what the restore compares with")
	}
	res, err := s.exec(ctx, sqlRestoreFailed, s.d.encodeTime(now()), reopened.ID, reopened.Attempts, s.d.encodeTime(normTime(reopened.UpdatedAt)))
	if err != nil {
		return false, s.errorf("restore the failed outcome of message %q: %w", reopened.ID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, s.errorf("restore the failed outcome of message %q: %w", reopened.ID, err)
	}
	return n == 1, nil
}

// defaultPruneBatch is how many rows one transaction of Prune deletes at
// most. On SQLite a batch holds the database's only write lock, and the
// message path's writes queued behind it wait for it: a batch of 2,000
// messages (a request and a reply each, four indexes) held it 70 ms at
// the median and up to 600 ms on a busy 2-core host, one of 500 a
// quarter of that.
const defaultPruneBatch = 500

// Prune implements [Store.Prune]. It deletes in batches of pruneBatch
// rows, each its own transaction, so that the first prune of months of
// rows does not hold the write lock (SQLite) or one huge transaction
// (PostgreSQL) for as long as it takes; it stops between batches when ctx
// ends, with what it deleted so far. On SQLite (dialect.oneWriter) each
// batch is a write of the group commit, queued with the message path's
// writes, which so get in between two batches.
func (s *sqlStore) Prune(ctx context.Context, messagesBefore, exchangesBefore time.Time) (int64, int64, error) {
	var nm, nx int64
	var err error
	if !messagesBefore.IsZero() {
		before := s.d.encodeTime(normTime(messagesBefore))
		nm, err = s.pruneBatches(ctx, "messages", s.pruneMessagesSQL(), s.pruneMessagesArgs(messagesBefore)...)
		if err != nil {
			return nm, 0, err
		}
		if _, err = s.pruneBatches(ctx, "batches", sqlPruneBatches, before, before); err != nil {
			return nm, 0, err
		}
	}
	if !exchangesBefore.IsZero() {
		nx, err = s.pruneBatches(ctx, "exchanges", `DELETE FROM exchanges WHERE id IN (SELECT id FROM exchanges
			WHERE at < ? ORDER BY at LIMIT ?)`, s.d.encodeTime(normTime(exchangesBefore)))
	}
	return nm, nx, err
}

// pruneMessagesSQL deletes at most its last argument's finished messages
// whose outcome may go (ok, invalid, rejected) and that were last updated
// before its first argument (see pruneMessagesArgs). It looks for them
// among the messages received before that time (messages_received_at: a
// message is received before it is last updated), oldest first, not among
// every finished message: with a million finished messages of which a few
// thousand were old enough, SQLite, which took the index on status, read
// them all for each batch, holding the write lock seconds, and so did the
// last, empty batch of every prune. SQLite is told the index (INDEXED BY):
// without statistics it prefers the equality on status. Each batch still
// reads the old messages that stay (pending or failed ones, those updated
// since) before the ones it deletes. A message whose receipt time, set by
// another instance's clock, is after its update goes a prune later.
func (s *sqlStore) pruneMessagesSQL() string {
	return `DELETE FROM messages WHERE id IN (SELECT id FROM messages` + s.d.indexedBy("messages_received_at") + `
			WHERE received_at < ? AND updated_at < ? AND status = 'done' AND outcome IN ('ok', 'invalid', 'rejected') LIMIT ?)`
}

// pruneMessagesArgs are the arguments of pruneMessagesSQL but the last
// (the batch's size), for the messages last updated before before.
func (s *sqlStore) pruneMessagesArgs(before time.Time) []any {
	t := s.d.encodeTime(normTime(before))
	return []any{t, t}
}

// sqlPruneBatches deletes at most its last argument's download batches
// that are done (the step OpenBatches leaves out: no resume needs them)
// and were last updated before its first two arguments (the same time).
// The outer WHERE repeats the subquery's condition so that a batch put
// again meanwhile is kept: PostgreSQL checks a row changed after the
// subquery read it against the outer condition only.
const sqlPruneBatches = `DELETE FROM batches WHERE step = 'done' AND updated_at < ?
		AND (plugin, site, job, batch_id) IN (SELECT plugin, site, job, batch_id FROM batches
			WHERE step = 'done' AND updated_at < ? LIMIT ?)`

// pruneBatches runs del, a DELETE of at most its last argument's rows
// older than before (its other arguments), until it deletes fewer than a
// batch, and returns how many rows went from table.
func (s *sqlStore) pruneBatches(ctx context.Context, table, del string, before ...any) (int64, error) {
	batch := s.pruneBatch
	if batch <= 0 {
		batch = defaultPruneBatch
	}
	var total int64
	for {
		if err := ctx.Err(); err != nil {
			return total, s.errorf("prune %s: stopped after %d rows: %w", table, total, err)
		}
		var n int64
		run := func(ctx context.Context, q querier) error {
			res, err := q.ExecContext(ctx, s.d.rebind(del), append(before[:len(before):len(before)], batch)...)
			if err != nil {
				return err
			}
			n, err = res.RowsAffected()
			return err
		}
		var err error
		if s.d.oneWriter {
			// In the queue of the message path's writes, not beside it.
			err = s.write(ctx, run)
		} else {
			err = run(ctx, s.w)
		}
		if err != nil {
			return total, s.errorf("prune %s (after %d rows): %w", table, total, err)
		}
		total += n
		if s.pruned != nil {
			s.pruned(table, n)
		}
		if n < int64(batch) {
			return total, nil
		}
	}
}

// OldestPending implements [Store.OldestPending].
func (s *sqlStore) OldestPending(ctx context.Context) (time.Time, bool, error) {
	var oldest time.Time
	col := scanTime{t: &oldest}
	_, err := readOne(ctx, s, func(r rowScanner) (struct{}, error) { return struct{}{}, r.Scan(&col) },
		`SELECT MIN(COALESCE(occurred_at, received_at)) FROM messages WHERE status = 'pending'`)
	if err != nil {
		return time.Time{}, false, s.errorf("oldest pending: %w", err)
	}
	return oldest, col.valid, nil
}

// ListMessages implements [Store.ListMessages]. typePrefix is a literal
// prefix; empty filters do not filter.
func (s *sqlStore) ListMessages(ctx context.Context, site, typePrefix, outcome string, limit int) ([]Message, error) {
	var f filter
	if site != "" {
		f.add("site = ?", site)
	}
	if typePrefix != "" {
		f.add("type >= ?", typePrefix)
		if end, ok := prefixEnd(typePrefix); ok {
			f.add("type < ?", end)
		}
	}
	// outcome is "pending" (the messages not finished, as in
	// SearchMessages: no message has that outcome) or an outcome of a
	// finished one.
	switch outcome {
	case "":
	case StatusPending:
		f.add("status = ?", StatusPending)
	default:
		f.add("status = ?", StatusDone)
		f.add("outcome = ?", outcome)
	}
	out, err := readAll(ctx, s, s.scanMessage,
		`SELECT `+messageCols+` FROM messages`+f.where()+` ORDER BY received_at DESC, id DESC LIMIT ?`,
		append(f.args, listLimit(limit))...)
	if err != nil {
		return nil, s.errorf("list messages: %w", err)
	}
	return out, nil
}

// SearchMessages implements [Store.SearchMessages]. Pages are keyset
// pages: the cursor is the (received time, id) of the page's last
// message, so a page is as fast as the first whatever its depth.
func (s *sqlStore) SearchMessages(ctx context.Context, q MessageQuery) ([]Message, string, error) {
	var f filter
	if q.IDPrefix != "" {
		f.add("id >= ?", q.IDPrefix)
		if end, ok := prefixEnd(q.IDPrefix); ok {
			f.add("id < ?", end)
		}
	}
	if q.Key != "" {
		f.add("business_key = ?", q.Key)
	}
	if q.TypePrefix != "" {
		f.add("type >= ?", q.TypePrefix)
		if end, ok := prefixEnd(q.TypePrefix); ok {
			f.add("type < ?", end)
		}
	}
	if q.Site != "" {
		f.add("site = ?", q.Site)
	}
	if len(q.Sites) > 0 {
		f.conds = append(f.conds, "site IN ("+strings.TrimSuffix(strings.Repeat("?, ", len(q.Sites)), ", ")+")")
		for _, site := range q.Sites {
			f.args = append(f.args, site)
		}
	}
	switch q.Status {
	case "":
	case StatusPending:
		f.add("status = ?", StatusPending)
	default:
		f.add("status = ?", StatusDone)
		f.add("outcome = ?", q.Status)
	}
	if !q.From.IsZero() {
		f.add("received_at >= ?", s.d.encodeTime(normTime(q.From)))
	}
	if !q.To.IsZero() {
		f.add("received_at < ?", s.d.encodeTime(normTime(q.To)))
	}
	if q.After != "" {
		at, id, err := parseCursor(q.After)
		if err != nil {
			return nil, "", s.errorf("search messages: %w", err)
		}
		f.conds = append(f.conds, "(received_at < ? OR (received_at = ? AND id < ?))")
		f.args = append(f.args, s.d.encodeTime(at), s.d.encodeTime(at), id)
	}
	limit := listLimit(q.Limit)
	out, err := readAll(ctx, s, s.scanMessage,
		`SELECT `+messageCols+` FROM messages`+f.where()+` ORDER BY received_at DESC, id DESC LIMIT ?`,
		append(f.args, limit+1)...)
	if err != nil {
		return nil, "", s.errorf("search messages: %w", err)
	}
	if len(out) <= limit {
		return out, "", nil
	}
	out = out[:limit]
	last := out[limit-1]
	return out, cursor(last.ReceivedAt, last.ID), nil
}

// CountMessages implements [Store.CountMessages].
func (s *sqlStore) CountMessages(ctx context.Context) (map[string]int, error) {
	type count struct {
		outcome string
		n       int
	}
	rows, err := readAll(ctx, s, func(row rowScanner) (count, error) {
		var c count
		err := row.Scan(&c.outcome, &c.n)
		return c, err
	}, `SELECT outcome, COUNT(*) FROM messages GROUP BY outcome`)
	if err != nil {
		return nil, s.errorf("count messages: %w", err)
	}
	counts := map[string]int{}
	for _, c := range rows {
		counts[c.outcome] = c.n
	}
	return counts, nil
}

// AppendExchange implements [Store.AppendExchange]. A zero At is set to now.
func (s *sqlStore) AppendExchange(ctx context.Context, e Exchange) (int64, error) {
	r, err := s.exchangeRow(e)
	if err != nil {
		return 0, s.errorf("append exchange (message %q, code %q): %w", e.MessageID, e.Code, err)
	}
	var id int64
	err = s.write(ctx, func(ctx context.Context, q querier) (err error) {
		id, err = s.insertExchange(ctx, q, r)
		return err
	})
	if err != nil {
		return 0, s.errorf("append exchange (message %q, code %q): %w", e.MessageID, e.Code, err)
	}
	return id, nil
}

// exchangeRow is a journal entry ready to insert: its bodies sealed, bound
// to its seal id ("" without a key) and its columns, its time set.
type exchangeRow struct {
	e                 Exchange
	request, response []byte
	at                time.Time
	sealID            string
}

// exchangeRow seals e's bodies and sets its time (a zero At is now).
func (s *sqlStore) exchangeRow(e Exchange) (exchangeRow, error) {
	r := exchangeRow{e: e, at: now()}
	if !e.At.IsZero() {
		r.at = normTime(e.At)
	}
	e.At = r.at
	var err error
	if r.sealID, err = s.seal.newSealID(); err != nil {
		return r, err
	}
	if r.request, err = s.seal.seal(exchangeAAD("request", r.sealID, e), e.Request); err != nil {
		return r, err
	}
	if r.response, err = s.seal.seal(exchangeAAD("response", r.sealID, e), e.Response); err != nil {
		return r, err
	}
	return r, nil
}

// nullString is s, or NULL when it is empty.
func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// insertExchange inserts r on q and returns its id.
func (s *sqlStore) insertExchange(ctx context.Context, q querier, r exchangeRow) (int64, error) {
	var id int64
	e := r.e
	err := s.rowOn(ctx, q, sqlInsertExchange,
		e.MessageID, e.Plugin, e.Site, e.System, e.Code, e.Serial, nullBytes(r.request), nullBytes(r.response),
		e.Status, e.Error, e.DurationMS, s.d.encodeTime(r.at), nullString(r.sealID)).Scan(&id)
	return id, err
}

// journalExchange is insertExchange without the id: for the entries
// written with their message's outcome, which no one asks the id of.
func (s *sqlStore) journalExchange(ctx context.Context, q querier, r exchangeRow) error {
	e := r.e
	_, err := s.execOn(ctx, q, sqlJournalExchange,
		e.MessageID, e.Plugin, e.Site, e.System, e.Code, e.Serial, nullBytes(r.request), nullBytes(r.response),
		e.Status, e.Error, e.DurationMS, s.d.encodeTime(r.at), nullString(r.sealID))
	return err
}

// ListExchanges implements [Store.ListExchanges]. From is inclusive and To
// exclusive.
func (s *sqlStore) ListExchanges(ctx context.Context, ef ExchangeFilter) ([]Exchange, error) {
	var f filter
	for _, c := range []struct{ col, val string }{
		{"plugin", ef.Plugin}, {"site", ef.Site}, {"code", ef.Code}, {"serial", ef.Serial}, {"message_id", ef.MessageID},
	} {
		if c.val != "" {
			f.add(c.col+" = ?", c.val)
		}
	}
	if !ef.From.IsZero() {
		f.add("at >= ?", s.d.encodeTime(normTime(ef.From)))
	}
	if !ef.To.IsZero() {
		f.add("at < ?", s.d.encodeTime(normTime(ef.To)))
	}
	out, err := readAll(ctx, s, func(row rowScanner) (Exchange, error) {
		var e Exchange
		var sealID sql.NullString
		err := row.Scan(&e.ID, &e.MessageID, &e.Plugin, &e.Site, &e.System, &e.Code, &e.Serial,
			&e.Request, &e.Response, &e.Status, &e.Error, &e.DurationMS, &scanTime{t: &e.At}, &sealID)
		if err != nil {
			return e, err
		}
		if e.Request, err = s.seal.openExchange("request", sealID.String, e, e.Request); err != nil {
			return e, fmt.Errorf("exchange %d: request: %w", e.ID, err)
		}
		if e.Response, err = s.seal.openExchange("response", sealID.String, e, e.Response); err != nil {
			return e, fmt.Errorf("exchange %d: response: %w", e.ID, err)
		}
		return e, nil
	}, `SELECT id, message_id, plugin, site, system, code, serial, request, response, status, error, duration_ms, at, seal_id
		FROM exchanges`+f.where()+` ORDER BY at DESC, id DESC LIMIT ?`,
		append(f.args, listLimit(ef.Limit))...)
	if err != nil {
		return nil, s.errorf("list exchanges: %w", err)
	}
	return out, nil
}

const sqlStateGet = `SELECT value, version FROM plugin_state WHERE ns = ? AND key = ?`

// StateGet implements [Store.StateGet].
func (s *sqlStore) StateGet(ctx context.Context, ns, key string) (StateEntry, error) {
	e := StateEntry{Key: key}
	_, err := readOne(ctx, s, func(r rowScanner) (struct{}, error) { return struct{}{}, r.Scan(&e.Value, &e.Version) }, sqlStateGet, ns, key)
	if errors.Is(err, sql.ErrNoRows) {
		return StateEntry{}, s.errorf("state %q key %q: %w", ns, key, ErrNotFound)
	}
	if err == nil {
		e.Value, err = s.seal.open(aad("plugin_state", ns, key), e.Value)
	}
	if err != nil {
		return StateEntry{}, s.errorf("state %q get %q: %w", ns, key, err)
	}
	return e, nil
}

// StatePut implements [Store.StatePut].
func (s *sqlStore) StatePut(ctx context.Context, ns, key string, value []byte) (int64, error) {
	value, err := s.seal.seal(aad("plugin_state", ns, key), value)
	if err != nil {
		return 0, s.errorf("state %q put %q: %w", ns, key, err)
	}
	var v int64
	err = s.writeLocking(ctx, []int64{stateLock(ns, key)}, func(ctx context.Context, q querier) error {
		return s.rowOn(ctx, q, sqlStatePut, ns, key, nullBytes(value), s.d.encodeTime(now())).Scan(&v)
	})
	if err != nil {
		return 0, s.errorf("state %q put %q: %w", ns, key, err)
	}
	return v, nil
}

// StateCAS implements [Store.StateCAS].
func (s *sqlStore) StateCAS(ctx context.Context, ns, key string, expect int64, value []byte) (int64, error) {
	if expect < 0 {
		return 0, s.errorf("state %q cas %q: negative expected version %d", ns, key, expect)
	}
	value, err := s.seal.seal(aad("plugin_state", ns, key), value)
	if err != nil {
		return 0, s.errorf("state %q cas %q: %w", ns, key, err)
	}
	var v int64
	conflict := false
	err = s.writeLocking(ctx, []int64{stateLock(ns, key)}, func(ctx context.Context, q querier) error {
		var err error
		if expect == 0 {
			err = s.rowOn(ctx, q, sqlStateCreate,
				ns, key, nullBytes(value), s.d.encodeTime(now())).Scan(&v)
		} else {
			// On PostgreSQL (READ COMMITTED) a concurrent writer of the same row
			// makes this wait, then re-check version against the committed row.
			err = s.rowOn(ctx, q, sqlStateCAS,
				nullBytes(value), s.d.encodeTime(now()), ns, key, expect).Scan(&v)
		}
		if conflict = errors.Is(err, sql.ErrNoRows); conflict {
			return nil
		}
		return err
	})
	if err != nil {
		return 0, s.errorf("state %q cas %q: %w", ns, key, err)
	}
	if conflict {
		return 0, s.errorf("state %q cas %q: expected version %d: %w", ns, key, expect, ErrConflict)
	}
	return v, nil
}

// stateScanAfterQuery selects cols of the state entries of ns whose key
// starts with prefix (literal) and comes after after ("": from the first),
// in key order, at most limit (0: all).
func stateScanAfterQuery(cols, ns, prefix, after string, limit int) (string, []any) {
	q := `SELECT ` + cols + ` FROM plugin_state WHERE ns = ? AND key >= ?`
	args := []any{ns, prefix}
	if after >= prefix && after != "" {
		q = `SELECT ` + cols + ` FROM plugin_state WHERE ns = ? AND key > ?`
		args = []any{ns, after}
	}
	if end, ok := prefixEnd(prefix); ok {
		q += ` AND key < ?`
		args = append(args, end)
	}
	q += ` ORDER BY key`
	if limit > 0 {
		q += ` LIMIT ?`
		args = append(args, limit)
	}
	return q, args
}

// StateScan implements [Store.StateScan]. prefix is literal.
func (s *sqlStore) StateScan(ctx context.Context, ns, prefix string, limit int) ([]StateEntry, error) {
	return s.StateScanAfter(ctx, ns, prefix, "", limit)
}

// StateScanAfter is StateScan of the keys after after only, in key order
// ("": StateScan): a read of a prefix page by page, each page a query of
// its own, so that whoever reads a large prefix never holds it whole
// (hostsvc pages a plugin's scans with it). It is not part of Store:
// hostsvc asks for it by interface.
func (s *sqlStore) StateScanAfter(ctx context.Context, ns, prefix, after string, limit int) ([]StateEntry, error) {
	q, args := stateScanAfterQuery("key, value, version", ns, prefix, after, limit)
	out, err := readAll(ctx, s, func(row rowScanner) (StateEntry, error) {
		var e StateEntry
		if err := row.Scan(&e.Key, &e.Value, &e.Version); err != nil {
			return e, err
		}
		var err error
		if e.Value, err = s.seal.open(aad("plugin_state", ns, e.Key), e.Value); err != nil {
			return e, fmt.Errorf("key %q: %w", e.Key, err)
		}
		return e, nil
	}, q, args...)
	if err != nil {
		return nil, s.errorf("state %q scan %q: %w", ns, prefix, err)
	}
	return out, nil
}

// StateDelete implements [Store.StateDelete].
func (s *sqlStore) StateDelete(ctx context.Context, ns, key string) error {
	err := s.writeLocking(ctx, []int64{stateLock(ns, key)}, func(ctx context.Context, q querier) error {
		_, err := s.execOn(ctx, q, sqlStateDelete, ns, key)
		return err
	})
	if err != nil {
		return s.errorf("state %q delete %q: %w", ns, key, err)
	}
	return nil
}

// PutBatch implements [Store.PutBatch]. CreatedAt is taken from b when the
// batch is new (now if zero) and kept on updates; UpdatedAt is set to now.
func (s *sqlStore) PutBatch(ctx context.Context, b Batch) error {
	t := now()
	created := t
	if !b.CreatedAt.IsZero() {
		created = normTime(b.CreatedAt)
	}
	payload, err := s.seal.seal(aad("batches", b.Plugin, b.Site, b.Job, b.BatchID), b.Payload)
	if err != nil {
		return s.errorf("put batch %s/%s/%s %q: %w", b.Plugin, b.Site, b.Job, b.BatchID, err)
	}
	_, err = s.exec(ctx, `INSERT INTO batches
		(plugin, site, job, batch_id, step, payload, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (plugin, site, job, batch_id) DO UPDATE SET
			step = excluded.step, payload = excluded.payload, updated_at = excluded.updated_at`,
		b.Plugin, b.Site, b.Job, b.BatchID, b.Step, nullBytes(payload), s.d.encodeTime(created), s.d.encodeTime(t))
	if err != nil {
		return s.errorf("put batch %s/%s/%s %q: %w", b.Plugin, b.Site, b.Job, b.BatchID, err)
	}
	return nil
}

// OpenBatches implements [Store.OpenBatches].
func (s *sqlStore) OpenBatches(ctx context.Context, plugin, site, job string) ([]Batch, error) {
	out, err := readAll(ctx, s, func(row rowScanner) (Batch, error) {
		b := Batch{Plugin: plugin, Site: site, Job: job}
		err := row.Scan(&b.BatchID, &b.Step, &b.Payload, &scanTime{t: &b.CreatedAt}, &scanTime{t: &b.UpdatedAt})
		if err != nil {
			return b, err
		}
		if b.Payload, err = s.seal.open(aad("batches", plugin, site, job, b.BatchID), b.Payload); err != nil {
			return b, fmt.Errorf("batch %q: %w", b.BatchID, err)
		}
		return b, nil
	}, `SELECT batch_id, step, payload, created_at, updated_at FROM batches
		WHERE plugin = ? AND site = ? AND job = ? AND step <> 'done'
		ORDER BY created_at, batch_id`, plugin, site, job)
	if err != nil {
		return nil, s.errorf("open batches %s/%s/%s: %w", plugin, site, job, err)
	}
	return out, nil
}

// sqlAcquireLease takes the lease (name, holder, expiry) if it is free,
// held by holder, or expired at the caller's now (the last argument).
const sqlAcquireLease = `INSERT INTO leases (name, holder, expires_at) VALUES (?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
		WHERE leases.holder = excluded.holder OR leases.expires_at <= ?
		RETURNING holder`

// sqlAcquireLeaseDB is sqlAcquireLease on the database's clock (dbClock):
// (name, holder, ttl in microseconds). clock_timestamp() is the moment the
// statement runs, not its transaction's start.
const sqlAcquireLeaseDB = `INSERT INTO leases (name, holder, expires_at) VALUES (?, ?, clock_timestamp() + ?::bigint * interval '1 microsecond')
		ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
		WHERE leases.holder = excluded.holder OR leases.expires_at <= clock_timestamp()
		RETURNING holder`

// sqlLeaseLeftDB is how many microseconds the lease has left on the
// database's clock (dbClock).
const sqlLeaseLeftDB = `SELECT CAST(EXTRACT(EPOCH FROM expires_at - clock_timestamp()) * 1000000 AS bigint) FROM leases WHERE name = ?`

// AcquireLease implements [Store.AcquireLease]. A lease whose expiry is at
// or before now is free. When another holder has it, its expiry is read
// after the failed write: a renewal or release in between shows.
//
// On PostgreSQL (dbClock) now is only the caller's clock, in which the
// expiry is reported: the statements set and compare expiries on the
// database's clock, so that instances whose clocks disagree still see
// one expiry. The expiry reported for a lease taken is now+ttl, at or
// before the one set (the statement runs after now); for another
// holder's lease it is now plus the time the lease has left, which is
// the moment it expires on the caller's clock (less the store's latency).
func (s *sqlStore) AcquireLease(ctx context.Context, name, holder string, ttl time.Duration, now time.Time) (bool, time.Time, error) {
	if holder == "" || ttl <= 0 {
		return false, time.Time{}, s.errorf("acquire lease %q: need a holder and a positive ttl (holder %q, ttl %v)", name, holder, ttl)
	}
	t := normTime(now)
	var got string
	until := normTime(t.Add(ttl))
	var err error
	if s.d.dbClock {
		// ttl rounded up to the microsecond: the expiry set is never
		// before the one reported.
		err = s.writeRow(ctx, sqlAcquireLeaseDB, name, holder, int64((ttl+time.Microsecond-1)/time.Microsecond)).Scan(&got)
	} else {
		err = s.writeRow(ctx, sqlAcquireLease, name, holder, s.d.encodeTime(until), s.d.encodeTime(t)).Scan(&got)
	}
	if err == nil {
		return true, until, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return false, time.Time{}, s.errorf("acquire lease %q for %q: %w", name, holder, err)
	}
	var expires time.Time
	if s.d.dbClock {
		var left int64
		_, err = readOne(ctx, s, func(r rowScanner) (struct{}, error) { return struct{}{}, r.Scan(&left) }, sqlLeaseLeftDB, name)
		expires = t.Add(time.Duration(max(left, 0)) * time.Microsecond) // 0: expired since
	} else {
		_, err = readOne(ctx, s, func(r rowScanner) (struct{}, error) { return struct{}{}, r.Scan(&scanTime{t: &expires}) },
			`SELECT expires_at FROM leases WHERE name = ?`, name)
	}
	if errors.Is(err, sql.ErrNoRows) {
		return false, time.Time{}, nil // released since
	}
	if err != nil {
		return false, time.Time{}, s.errorf("acquire lease %q for %q: read the current holder's expiry: %w", name, holder, err)
	}
	return false, expires, nil
}

// ReleaseLease implements [Store.ReleaseLease].
func (s *sqlStore) ReleaseLease(ctx context.Context, name, holder string) error {
	if _, err := s.exec(ctx, `DELETE FROM leases WHERE name = ? AND holder = ?`, name, holder); err != nil {
		return s.errorf("release lease %q for %q: %w", name, holder, err)
	}
	return nil
}

// NextSequence implements [Store.NextSequence].
func (s *sqlStore) NextSequence(ctx context.Context, name string) (int64, error) {
	var v int64
	err := s.writeLocking(ctx, []int64{sequenceLock(name)}, func(ctx context.Context, q querier) error {
		return s.rowOn(ctx, q, sqlNextSequence, name).Scan(&v)
	})
	if err != nil {
		return 0, s.errorf("next sequence %q: %w", name, err)
	}
	return v, nil
}

// ReserveSequence implements [Store.ReserveSequence].
func (s *sqlStore) ReserveSequence(ctx context.Context, name string, n int64) (int64, error) {
	if n < 1 {
		return 0, s.errorf("reserve %d values of sequence %q: reserve at least 1", n, name)
	}
	var v int64
	err := s.writeLocking(ctx, []int64{sequenceLock(name)}, func(ctx context.Context, q querier) error {
		return s.rowOn(ctx, q, sqlReserveSequence, name, n).Scan(&v)
	})
	if err != nil {
		return 0, s.errorf("reserve %d values of sequence %q: %w", n, name, err)
	}
	return v, nil
}

// whole names an operation on the database as a whole for errors:
// `ping "/path/medgate.db"` on SQLite, "ping" on PostgreSQL.
func (s *sqlStore) whole(op string) string {
	if s.db == "" {
		return op
	}
	return op + " " + s.db
}

// Ping implements [Store.Ping]. Besides the connections, it reports a
// write the database refused (ErrRefused: disk full, read-only, I/O
// error) within the last RefusalWindow, with its cause and fix.
func (s *sqlStore) Ping(ctx context.Context) error {
	if r := s.refusals.current(); r != nil {
		return fmt.Errorf("store: %s: %w since %s (the last refused write was at %s): %s: %s (%v)", s.d.name, ErrRefused,
			r.since.UTC().Format(time.RFC3339), r.at.UTC().Format(time.RFC3339), r.err.reason, r.err.fix, r.err.err)
	}
	if err := s.w.PingContext(ctx); err != nil {
		return s.errorf("%s: %w", s.whole("ping"), err)
	}
	if s.r != s.w {
		if err := s.r.PingContext(ctx); err != nil {
			return s.errorf("%s: %w", s.whole("ping"), err)
		}
	}
	return nil
}

// Close implements [Store.Close]. It waits for the queries that have
// started to finish. Every method called after it fails with ErrClosed;
// calling it again does nothing.
func (s *sqlStore) Close() error {
	if !s.closed.CompareAndSwap(false, true) {
		return nil
	}
	if s.group != nil {
		s.group.close()
	}
	var errs []error
	for _, st := range s.stmts {
		errs = append(errs, st.Close())
	}
	for _, st := range s.rstmts {
		errs = append(errs, st.Close())
	}
	if s.r != nil && s.r != s.w {
		errs = append(errs, s.r.Close())
	}
	if s.g != nil {
		errs = append(errs, s.g.Close())
	}
	if s.w != nil {
		errs = append(errs, s.w.Close())
	}
	if s.closeLast != nil {
		errs = append(errs, s.closeLast())
	}
	if err := errors.Join(errs...); err != nil {
		return s.errorf("%s: %w", s.whole("close"), err)
	}
	return nil
}
