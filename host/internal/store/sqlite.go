package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// sqliteBusyTimeout is how long a connection waits for a lock held by
// another connection (or process) before giving up with SQLITE_BUSY.
const sqliteBusyTimeout = 10 * time.Second

// SQLite is the embedded engine: one database file in WAL mode.
//
// Writes go through a pool of exactly one connection, so writers in this
// process queue in Go instead of contending for SQLite's lock, and its
// transactions start with BEGIN IMMEDIATE. Reads use a separate pool of
// read-only connections that WAL lets run beside the writer. busy_timeout
// covers the rare contention left (checkpoints, another process).
type SQLite struct {
	path string
	w    *sql.DB // single connection: every write
	r    *sql.DB // several query_only connections: every read
}

// OpenSQLite opens (creating if needed) the SQLite database at path and
// brings its schema up to date.
func OpenSQLite(ctx context.Context, path string) (*SQLite, error) {
	if path == "" {
		return nil, errors.New("store: sqlite: open: empty path")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("store: sqlite: open %q: %w", path, err)
	}
	// A file: URI, so that '?', '#' and '%' in the path are escaped rather
	// than taken as the start of the driver's parameters.
	uri := (&url.URL{Scheme: "file", Path: abs}).String()
	busy := fmt.Sprint(sqliteBusyTimeout.Milliseconds())

	s := &SQLite{path: path}
	s.w, err = sql.Open("sqlite", uri+"?_txlock=immediate&_busy_timeout="+busy+
		"&_journal_mode=WAL&_synchronous=FULL&_foreign_keys=1")
	if err != nil {
		return nil, fmt.Errorf("store: sqlite: open %q: %w", path, err)
	}
	s.w.SetMaxOpenConns(1)
	if err := s.w.PingContext(ctx); err != nil {
		s.w.Close()
		return nil, fmt.Errorf("store: sqlite: open %q: %w", path, err)
	}
	if err := s.migrate(ctx); err != nil {
		s.w.Close()
		return nil, err
	}
	// Opened after the writer has switched the file to WAL and created the schema.
	s.r, err = sql.Open("sqlite", uri+"?_busy_timeout="+busy+"&_foreign_keys=1&_query_only=1")
	if err != nil {
		s.w.Close()
		return nil, fmt.Errorf("store: sqlite: open %q for reading: %w", path, err)
	}
	s.r.SetMaxOpenConns(max(4, runtime.GOMAXPROCS(0)))
	if err := s.r.PingContext(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("store: sqlite: open %q for reading: %w", path, err)
	}
	return s, nil
}

// migrate applies the pending migrations in one IMMEDIATE transaction.
func (s *SQLite) migrate(ctx context.Context) error {
	all, err := loadMigrations("sqlite")
	if err != nil {
		return err
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: sqlite: %q: migrate: begin: %w", s.path, err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER NOT NULL PRIMARY KEY,
		name       TEXT    NOT NULL,
		applied_at INTEGER NOT NULL
	) STRICT`); err != nil {
		return fmt.Errorf("store: sqlite: %q: migrate: create schema_migrations: %w", s.path, err)
	}
	rows, err := tx.QueryContext(ctx, `SELECT version FROM schema_migrations`)
	if err != nil {
		return fmt.Errorf("store: sqlite: %q: migrate: read schema_migrations: %w", s.path, err)
	}
	applied := map[int64]bool{}
	for rows.Next() {
		var v int64
		if err := rows.Scan(&v); err != nil {
			rows.Close()
			return fmt.Errorf("store: sqlite: %q: migrate: read schema_migrations: %w", s.path, err)
		}
		applied[v] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("store: sqlite: %q: migrate: read schema_migrations: %w", s.path, err)
	}
	pending, err := pendingMigrations("sqlite", all, applied)
	if err != nil {
		return fmt.Errorf("%w (file %q)", err, s.path)
	}
	for _, m := range pending {
		if _, err := tx.ExecContext(ctx, m.sql); err != nil {
			return fmt.Errorf("store: sqlite: %q: migration %q: %w", s.path, m.name, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
			m.version, m.name, now().UnixMicro()); err != nil {
			return fmt.Errorf("store: sqlite: %q: migration %q: record: %w", s.path, m.name, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: sqlite: %q: migrate: commit: %w", s.path, err)
	}
	return nil
}

// micros encodes a time as stored: unix microseconds.
func micros(t time.Time) int64 { return t.UnixMicro() }

// nullMicros encodes a time that may be unknown: the zero time is NULL.
func nullMicros(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMicro()
}

// fromMicros decodes a stored time.
func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

// fromNullMicros decodes a stored time that may be NULL (the zero time).
func fromNullMicros(us sql.NullInt64) time.Time {
	if !us.Valid {
		return time.Time{}
	}
	return fromMicros(us.Int64)
}

const sqliteMessageCols = `id, site, type, business_key, status, outcome, reply, attempts, occurred_at, received_at, updated_at`

// scanSQLiteMessage reads one row of sqliteMessageCols.
func scanSQLiteMessage(row interface{ Scan(...any) error }) (*Message, error) {
	var m Message
	var occurred sql.NullInt64
	var received, updated int64
	if err := row.Scan(&m.ID, &m.Site, &m.Type, &m.Key, &m.Status, &m.Outcome, &m.Reply,
		&m.Attempts, &occurred, &received, &updated); err != nil {
		return nil, err
	}
	m.OccurredAt = fromNullMicros(occurred)
	m.ReceivedAt = fromMicros(received)
	m.UpdatedAt = fromMicros(updated)
	return &m, nil
}

// BeginMessage implements [Store.BeginMessage].
func (s *SQLite) BeginMessage(ctx context.Context, m Message) (*Message, bool, error) {
	if m.ID == "" {
		return nil, false, errors.New("store: sqlite: begin message: empty id")
	}
	t := now()
	received := t
	if !m.ReceivedAt.IsZero() {
		received = normTime(m.ReceivedAt)
	}
	res, err := s.w.ExecContext(ctx, `INSERT INTO messages
		(id, site, type, business_key, status, outcome, reply, attempts, occurred_at, received_at, updated_at)
		VALUES (?, ?, ?, ?, 'pending', '', NULL, 0, ?, ?, ?)
		ON CONFLICT (id) DO NOTHING`,
		m.ID, m.Site, m.Type, m.Key, nullMicros(normTime(m.OccurredAt)), micros(received), micros(t))
	if err != nil {
		return nil, false, fmt.Errorf("store: sqlite: begin message %q: %w", m.ID, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return nil, false, fmt.Errorf("store: sqlite: begin message %q: %w", m.ID, err)
	} else if n == 1 {
		return nil, true, nil
	}
	// The conflicting row is committed, so a fresh read sees it.
	existing, err := s.GetMessage(ctx, m.ID)
	if err != nil {
		return nil, false, fmt.Errorf("store: sqlite: begin message %q: existing: %w", m.ID, err)
	}
	return existing, false, nil
}

// GetMessage implements [Store.GetMessage].
func (s *SQLite) GetMessage(ctx context.Context, id string) (*Message, error) {
	m, err := scanSQLiteMessage(s.r.QueryRowContext(ctx,
		`SELECT `+sqliteMessageCols+` FROM messages WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("store: sqlite: message %q: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("store: sqlite: get message %q: %w", id, err)
	}
	return m, nil
}

// AddAttempt implements [Store.AddAttempt]. It returns ErrNotFound for an
// unknown id and ErrConflict if the message is already done.
func (s *SQLite) AddAttempt(ctx context.Context, id string) (int, error) {
	var n int
	err := s.w.QueryRowContext(ctx, `UPDATE messages SET attempts = attempts + 1, updated_at = ?
		WHERE id = ? AND status = 'pending' RETURNING attempts`, micros(now()), id).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, s.notPending(ctx, id, "add attempt")
	}
	if err != nil {
		return 0, fmt.Errorf("store: sqlite: add attempt %q: %w", id, err)
	}
	return n, nil
}

// notPending explains why a pending message could not be updated.
func (s *SQLite) notPending(ctx context.Context, id, op string) error {
	var status string
	err := s.r.QueryRowContext(ctx, `SELECT status FROM messages WHERE id = ?`, id).Scan(&status)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("store: sqlite: %s %q: %w", op, id, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("store: sqlite: %s %q: %w", op, id, err)
	}
	return fmt.Errorf("store: sqlite: %s %q: message is %s: %w", op, id, status, ErrConflict)
}

// FinishMessage implements [Store.FinishMessage]. Finishing a done message
// again overwrites its outcome.
func (s *SQLite) FinishMessage(ctx context.Context, id, outcome string, reply []byte, attempts int) error {
	if outcome == "" {
		return fmt.Errorf("store: sqlite: finish message %q: empty outcome", id)
	}
	res, err := s.w.ExecContext(ctx, `UPDATE messages
		SET status = 'done', outcome = ?, reply = ?, attempts = ?, updated_at = ?
		WHERE id = ?`, outcome, nullBytes(reply), attempts, micros(now()), id)
	if err != nil {
		return fmt.Errorf("store: sqlite: finish message %q: %w", id, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("store: sqlite: finish message %q: %w", id, err)
	} else if n == 0 {
		return fmt.Errorf("store: sqlite: finish message %q: %w", id, ErrNotFound)
	}
	return nil
}

// OldestPending implements [Store.OldestPending].
func (s *SQLite) OldestPending(ctx context.Context) (time.Time, bool, error) {
	var oldest sql.NullInt64
	err := s.r.QueryRowContext(ctx, `SELECT MIN(COALESCE(occurred_at, received_at))
		FROM messages WHERE status = 'pending'`).Scan(&oldest)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("store: sqlite: oldest pending: %w", err)
	}
	if !oldest.Valid {
		return time.Time{}, false, nil
	}
	return fromMicros(oldest.Int64), true, nil
}

// ListMessages implements [Store.ListMessages]. typePrefix is a literal
// prefix; empty filters do not filter.
func (s *SQLite) ListMessages(ctx context.Context, site, typePrefix, outcome string, limit int) ([]Message, error) {
	var where []string
	var args []any
	if site != "" {
		where = append(where, "site = ?")
		args = append(args, site)
	}
	if typePrefix != "" {
		where = append(where, "type >= ?")
		args = append(args, typePrefix)
		if end, ok := prefixEnd(typePrefix); ok {
			where = append(where, "type < ?")
			args = append(args, end)
		}
	}
	if outcome != "" {
		where = append(where, "outcome = ?")
		args = append(args, outcome)
	}
	q := `SELECT ` + sqliteMessageCols + ` FROM messages`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY received_at DESC, id DESC LIMIT ?"
	args = append(args, listLimit(limit))
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: sqlite: list messages: %w", err)
	}
	defer rows.Close()
	var out []Message
	for rows.Next() {
		m, err := scanSQLiteMessage(rows)
		if err != nil {
			return nil, fmt.Errorf("store: sqlite: list messages: %w", err)
		}
		out = append(out, *m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: sqlite: list messages: %w", err)
	}
	return out, nil
}

// CountMessages implements [Store.CountMessages].
func (s *SQLite) CountMessages(ctx context.Context) (map[string]int, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT outcome, COUNT(*) FROM messages GROUP BY outcome`)
	if err != nil {
		return nil, fmt.Errorf("store: sqlite: count messages: %w", err)
	}
	defer rows.Close()
	counts := map[string]int{}
	for rows.Next() {
		var outcome string
		var n int
		if err := rows.Scan(&outcome, &n); err != nil {
			return nil, fmt.Errorf("store: sqlite: count messages: %w", err)
		}
		counts[outcome] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: sqlite: count messages: %w", err)
	}
	return counts, nil
}

// AppendExchange implements [Store.AppendExchange]. A zero At is set to now.
func (s *SQLite) AppendExchange(ctx context.Context, e Exchange) (int64, error) {
	at := now()
	if !e.At.IsZero() {
		at = normTime(e.At)
	}
	var id int64
	err := s.w.QueryRowContext(ctx, `INSERT INTO exchanges
		(message_id, plugin, site, system, code, serial, request, response, status, error, duration_ms, at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		e.MessageID, e.Plugin, e.Site, e.System, e.Code, e.Serial, nullBytes(e.Request), nullBytes(e.Response),
		e.Status, e.Error, e.DurationMS, micros(at)).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("store: sqlite: append exchange (message %q, code %q): %w", e.MessageID, e.Code, err)
	}
	return id, nil
}

// ListExchanges implements [Store.ListExchanges]. From is inclusive and To
// exclusive.
func (s *SQLite) ListExchanges(ctx context.Context, f ExchangeFilter) ([]Exchange, error) {
	var where []string
	var args []any
	for _, c := range []struct{ col, val string }{
		{"plugin", f.Plugin}, {"site", f.Site}, {"code", f.Code}, {"serial", f.Serial}, {"message_id", f.MessageID},
	} {
		if c.val != "" {
			where = append(where, c.col+" = ?")
			args = append(args, c.val)
		}
	}
	if !f.From.IsZero() {
		where = append(where, "at >= ?")
		args = append(args, micros(normTime(f.From)))
	}
	if !f.To.IsZero() {
		where = append(where, "at < ?")
		args = append(args, micros(normTime(f.To)))
	}
	q := `SELECT id, message_id, plugin, site, system, code, serial, request, response, status, error, duration_ms, at
		FROM exchanges`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY at DESC, id DESC LIMIT ?"
	args = append(args, listLimit(f.Limit))
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: sqlite: list exchanges: %w", err)
	}
	defer rows.Close()
	var out []Exchange
	for rows.Next() {
		var e Exchange
		var at int64
		if err := rows.Scan(&e.ID, &e.MessageID, &e.Plugin, &e.Site, &e.System, &e.Code, &e.Serial,
			&e.Request, &e.Response, &e.Status, &e.Error, &e.DurationMS, &at); err != nil {
			return nil, fmt.Errorf("store: sqlite: list exchanges: %w", err)
		}
		e.At = fromMicros(at)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: sqlite: list exchanges: %w", err)
	}
	return out, nil
}

// StateGet implements [Store.StateGet].
func (s *SQLite) StateGet(ctx context.Context, ns, key string) (StateEntry, error) {
	e := StateEntry{Key: key}
	err := s.r.QueryRowContext(ctx, `SELECT value, version FROM plugin_state WHERE ns = ? AND key = ?`,
		ns, key).Scan(&e.Value, &e.Version)
	if errors.Is(err, sql.ErrNoRows) {
		return StateEntry{}, fmt.Errorf("store: sqlite: state %q key %q: %w", ns, key, ErrNotFound)
	}
	if err != nil {
		return StateEntry{}, fmt.Errorf("store: sqlite: state %q get %q: %w", ns, key, err)
	}
	return e, nil
}

// StatePut implements [Store.StatePut].
func (s *SQLite) StatePut(ctx context.Context, ns, key string, value []byte) (int64, error) {
	var v int64
	err := s.w.QueryRowContext(ctx, `INSERT INTO plugin_state (ns, key, value, version, updated_at)
		VALUES (?, ?, ?, 1, ?)
		ON CONFLICT (ns, key) DO UPDATE SET value = excluded.value,
			version = plugin_state.version + 1, updated_at = excluded.updated_at
		RETURNING version`, ns, key, nullBytes(value), micros(now())).Scan(&v)
	if err != nil {
		return 0, fmt.Errorf("store: sqlite: state %q put %q: %w", ns, key, err)
	}
	return v, nil
}

// StateCAS implements [Store.StateCAS].
func (s *SQLite) StateCAS(ctx context.Context, ns, key string, expect int64, value []byte) (int64, error) {
	if expect < 0 {
		return 0, fmt.Errorf("store: sqlite: state %q cas %q: negative expected version %d", ns, key, expect)
	}
	var v int64
	var err error
	if expect == 0 {
		err = s.w.QueryRowContext(ctx, `INSERT INTO plugin_state (ns, key, value, version, updated_at)
			VALUES (?, ?, ?, 1, ?) ON CONFLICT (ns, key) DO NOTHING RETURNING version`,
			ns, key, nullBytes(value), micros(now())).Scan(&v)
	} else {
		err = s.w.QueryRowContext(ctx, `UPDATE plugin_state SET value = ?, version = version + 1, updated_at = ?
			WHERE ns = ? AND key = ? AND version = ? RETURNING version`,
			nullBytes(value), micros(now()), ns, key, expect).Scan(&v)
	}
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("store: sqlite: state %q cas %q: expected version %d: %w", ns, key, expect, ErrConflict)
	}
	if err != nil {
		return 0, fmt.Errorf("store: sqlite: state %q cas %q: %w", ns, key, err)
	}
	return v, nil
}

// StateScan implements [Store.StateScan]. prefix is literal.
func (s *SQLite) StateScan(ctx context.Context, ns, prefix string, limit int) ([]StateEntry, error) {
	q := `SELECT key, value, version FROM plugin_state WHERE ns = ? AND key >= ?`
	args := []any{ns, prefix}
	if end, ok := prefixEnd(prefix); ok {
		q += ` AND key < ?`
		args = append(args, end)
	}
	q += ` ORDER BY key`
	if limit > 0 {
		q += ` LIMIT ?`
		args = append(args, limit)
	}
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: sqlite: state %q scan %q: %w", ns, prefix, err)
	}
	defer rows.Close()
	var out []StateEntry
	for rows.Next() {
		var e StateEntry
		if err := rows.Scan(&e.Key, &e.Value, &e.Version); err != nil {
			return nil, fmt.Errorf("store: sqlite: state %q scan %q: %w", ns, prefix, err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: sqlite: state %q scan %q: %w", ns, prefix, err)
	}
	return out, nil
}

// StateDelete implements [Store.StateDelete].
func (s *SQLite) StateDelete(ctx context.Context, ns, key string) error {
	if _, err := s.w.ExecContext(ctx, `DELETE FROM plugin_state WHERE ns = ? AND key = ?`, ns, key); err != nil {
		return fmt.Errorf("store: sqlite: state %q delete %q: %w", ns, key, err)
	}
	return nil
}

// PutBatch implements [Store.PutBatch]. CreatedAt is taken from b when the
// batch is new (now if zero) and kept on updates; UpdatedAt is set to now.
func (s *SQLite) PutBatch(ctx context.Context, b Batch) error {
	t := now()
	created := t
	if !b.CreatedAt.IsZero() {
		created = normTime(b.CreatedAt)
	}
	_, err := s.w.ExecContext(ctx, `INSERT INTO batches
		(plugin, site, job, batch_id, step, payload, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (plugin, site, job, batch_id) DO UPDATE SET
			step = excluded.step, payload = excluded.payload, updated_at = excluded.updated_at`,
		b.Plugin, b.Site, b.Job, b.BatchID, b.Step, nullBytes(b.Payload), micros(created), micros(t))
	if err != nil {
		return fmt.Errorf("store: sqlite: put batch %s/%s/%s %q: %w", b.Plugin, b.Site, b.Job, b.BatchID, err)
	}
	return nil
}

// OpenBatches implements [Store.OpenBatches].
func (s *SQLite) OpenBatches(ctx context.Context, plugin, site, job string) ([]Batch, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT batch_id, step, payload, created_at, updated_at FROM batches
		WHERE plugin = ? AND site = ? AND job = ? AND step <> 'done'
		ORDER BY created_at, batch_id`, plugin, site, job)
	if err != nil {
		return nil, fmt.Errorf("store: sqlite: open batches %s/%s/%s: %w", plugin, site, job, err)
	}
	defer rows.Close()
	var out []Batch
	for rows.Next() {
		b := Batch{Plugin: plugin, Site: site, Job: job}
		var created, updated int64
		if err := rows.Scan(&b.BatchID, &b.Step, &b.Payload, &created, &updated); err != nil {
			return nil, fmt.Errorf("store: sqlite: open batches %s/%s/%s: %w", plugin, site, job, err)
		}
		b.CreatedAt, b.UpdatedAt = fromMicros(created), fromMicros(updated)
		out = append(out, b)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: sqlite: open batches %s/%s/%s: %w", plugin, site, job, err)
	}
	return out, nil
}

// AcquireLease implements [Store.AcquireLease]. A lease whose expiry is at
// or before now is free.
func (s *SQLite) AcquireLease(ctx context.Context, name, holder string, ttl time.Duration, now time.Time) (bool, error) {
	if holder == "" || ttl <= 0 {
		return false, fmt.Errorf("store: sqlite: acquire lease %q: need a holder and a positive ttl (holder %q, ttl %v)", name, holder, ttl)
	}
	t := normTime(now)
	var got string
	err := s.w.QueryRowContext(ctx, `INSERT INTO leases (name, holder, expires_at) VALUES (?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
		WHERE leases.holder = excluded.holder OR leases.expires_at <= ?
		RETURNING holder`, name, holder, micros(t.Add(ttl)), micros(t)).Scan(&got)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("store: sqlite: acquire lease %q for %q: %w", name, holder, err)
	}
	return true, nil
}

// ReleaseLease implements [Store.ReleaseLease].
func (s *SQLite) ReleaseLease(ctx context.Context, name, holder string) error {
	if _, err := s.w.ExecContext(ctx, `DELETE FROM leases WHERE name = ? AND holder = ?`, name, holder); err != nil {
		return fmt.Errorf("store: sqlite: release lease %q for %q: %w", name, holder, err)
	}
	return nil
}

// NextSequence implements [Store.NextSequence].
func (s *SQLite) NextSequence(ctx context.Context, name string) (int64, error) {
	var v int64
	err := s.w.QueryRowContext(ctx, `INSERT INTO sequences (name, value) VALUES (?, 1)
		ON CONFLICT (name) DO UPDATE SET value = sequences.value + 1 RETURNING value`, name).Scan(&v)
	if err != nil {
		return 0, fmt.Errorf("store: sqlite: next sequence %q: %w", name, err)
	}
	return v, nil
}

// Ping implements [Store.Ping].
func (s *SQLite) Ping(ctx context.Context) error {
	if err := s.w.PingContext(ctx); err != nil {
		return fmt.Errorf("store: sqlite: ping %q: %w", s.path, err)
	}
	if err := s.r.PingContext(ctx); err != nil {
		return fmt.Errorf("store: sqlite: ping %q: %w", s.path, err)
	}
	return nil
}

// Close implements [Store.Close].
func (s *SQLite) Close() error {
	var errs []error
	if s.r != nil {
		errs = append(errs, s.r.Close())
	}
	errs = append(errs, s.w.Close())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("store: sqlite: close %q: %w", s.path, err)
	}
	return nil
}

var _ Store = (*SQLite)(nil)
