package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// migrateLockKey is the pg_advisory_xact_lock key that serializes schema
// migrations between instances starting at once: "medgate" in ASCII.
const migrateLockKey int64 = 0x6d656467617465

// Postgres is the engine for several medgate instances sharing one
// PostgreSQL database. Every operation that must be atomic across
// instances (NextSequence, StateCAS, AcquireLease, BeginMessage) is a
// single INSERT … ON CONFLICT or UPDATE … RETURNING statement.
type Postgres struct {
	pool *pgxpool.Pool
}

// OpenPostgres connects to the database named by dsn (a libpq URL or
// keyword/value string) and brings its schema up to date.
func OpenPostgres(ctx context.Context, dsn string) (*Postgres, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("store: postgres: parse dsn: %w", err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("store: postgres: connect: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("store: postgres: connect to %s:%d database %q: %w",
			cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Database, err)
	}
	p := &Postgres{pool: pool}
	if err := p.migrate(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return p, nil
}

// migrate applies the pending migrations in one transaction holding the
// migration advisory lock, so concurrent starts apply each one once.
func (p *Postgres) migrate(ctx context.Context) error {
	all, err := loadMigrations("postgres")
	if err != nil {
		return err
	}
	tx, err := p.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("store: postgres: migrate: begin: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrateLockKey); err != nil {
		return fmt.Errorf("store: postgres: migrate: lock: %w", err)
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    bigint      NOT NULL PRIMARY KEY,
		name       text        NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now()
	)`); err != nil {
		return fmt.Errorf("store: postgres: migrate: create schema_migrations: %w", err)
	}
	rows, err := tx.Query(ctx, `SELECT version FROM schema_migrations`)
	if err != nil {
		return fmt.Errorf("store: postgres: migrate: read schema_migrations: %w", err)
	}
	versions, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return fmt.Errorf("store: postgres: migrate: read schema_migrations: %w", err)
	}
	applied := map[int64]bool{}
	for _, v := range versions {
		applied[v] = true
	}
	pending, err := pendingMigrations("postgres", all, applied)
	if err != nil {
		return err
	}
	for _, m := range pending {
		if _, err := tx.Exec(ctx, m.sql); err != nil {
			return fmt.Errorf("store: postgres: migration %q: %w", m.name, err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`,
			m.version, m.name); err != nil {
			return fmt.Errorf("store: postgres: migration %q: record: %w", m.name, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("store: postgres: migrate: commit: %w", err)
	}
	return nil
}

// nullTime encodes a time that may be unknown: the zero time is NULL.
func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return normTime(t)
}

// fromNullTime decodes a time that may be NULL (the zero time).
func fromNullTime(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

const pgMessageCols = `id, site, type, business_key, status, outcome, reply, attempts, occurred_at, received_at, updated_at`

// scanPostgresMessage reads one row of pgMessageCols.
func scanPostgresMessage(row pgx.Row) (*Message, error) {
	var m Message
	var occurred *time.Time
	if err := row.Scan(&m.ID, &m.Site, &m.Type, &m.Key, &m.Status, &m.Outcome, &m.Reply,
		&m.Attempts, &occurred, &m.ReceivedAt, &m.UpdatedAt); err != nil {
		return nil, err
	}
	m.OccurredAt = fromNullTime(occurred)
	m.ReceivedAt, m.UpdatedAt = m.ReceivedAt.UTC(), m.UpdatedAt.UTC()
	return &m, nil
}

// BeginMessage implements [Store.BeginMessage].
func (p *Postgres) BeginMessage(ctx context.Context, m Message) (*Message, bool, error) {
	if m.ID == "" {
		return nil, false, errors.New("store: postgres: begin message: empty id")
	}
	t := now()
	received := t
	if !m.ReceivedAt.IsZero() {
		received = normTime(m.ReceivedAt)
	}
	tag, err := p.pool.Exec(ctx, `INSERT INTO messages
		(id, site, type, business_key, status, outcome, reply, attempts, occurred_at, received_at, updated_at)
		VALUES ($1, $2, $3, $4, 'pending', '', NULL, 0, $5, $6, $7)
		ON CONFLICT (id) DO NOTHING`,
		m.ID, m.Site, m.Type, m.Key, nullTime(m.OccurredAt), received, t)
	if err != nil {
		return nil, false, fmt.Errorf("store: postgres: begin message %q: %w", m.ID, err)
	}
	if tag.RowsAffected() == 1 {
		return nil, true, nil
	}
	// ON CONFLICT DO NOTHING waited for the conflicting row to commit.
	existing, err := p.GetMessage(ctx, m.ID)
	if err != nil {
		return nil, false, fmt.Errorf("store: postgres: begin message %q: existing: %w", m.ID, err)
	}
	return existing, false, nil
}

// GetMessage implements [Store.GetMessage].
func (p *Postgres) GetMessage(ctx context.Context, id string) (*Message, error) {
	m, err := scanPostgresMessage(p.pool.QueryRow(ctx, `SELECT `+pgMessageCols+` FROM messages WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("store: postgres: message %q: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("store: postgres: get message %q: %w", id, err)
	}
	return m, nil
}

// AddAttempt implements [Store.AddAttempt]. It returns ErrNotFound for an
// unknown id and ErrConflict if the message is already done.
func (p *Postgres) AddAttempt(ctx context.Context, id string) (int, error) {
	var n int
	err := p.pool.QueryRow(ctx, `UPDATE messages SET attempts = attempts + 1, updated_at = $1
		WHERE id = $2 AND status = 'pending' RETURNING attempts`, now(), id).Scan(&n)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, p.notPending(ctx, id, "add attempt")
	}
	if err != nil {
		return 0, fmt.Errorf("store: postgres: add attempt %q: %w", id, err)
	}
	return n, nil
}

// notPending explains why a pending message could not be updated.
func (p *Postgres) notPending(ctx context.Context, id, op string) error {
	var status string
	err := p.pool.QueryRow(ctx, `SELECT status FROM messages WHERE id = $1`, id).Scan(&status)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("store: postgres: %s %q: %w", op, id, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("store: postgres: %s %q: %w", op, id, err)
	}
	return fmt.Errorf("store: postgres: %s %q: message is %s: %w", op, id, status, ErrConflict)
}

// FinishMessage implements [Store.FinishMessage]. Finishing a done message
// again overwrites its outcome.
func (p *Postgres) FinishMessage(ctx context.Context, id, outcome string, reply []byte, attempts int) error {
	if outcome == "" {
		return fmt.Errorf("store: postgres: finish message %q: empty outcome", id)
	}
	tag, err := p.pool.Exec(ctx, `UPDATE messages
		SET status = 'done', outcome = $1, reply = $2, attempts = $3, updated_at = $4
		WHERE id = $5`, outcome, nullBytes(reply), attempts, now(), id)
	if err != nil {
		return fmt.Errorf("store: postgres: finish message %q: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("store: postgres: finish message %q: %w", id, ErrNotFound)
	}
	return nil
}

// OldestPending implements [Store.OldestPending].
func (p *Postgres) OldestPending(ctx context.Context) (time.Time, bool, error) {
	var oldest *time.Time
	err := p.pool.QueryRow(ctx, `SELECT MIN(COALESCE(occurred_at, received_at))
		FROM messages WHERE status = 'pending'`).Scan(&oldest)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("store: postgres: oldest pending: %w", err)
	}
	if oldest == nil {
		return time.Time{}, false, nil
	}
	return oldest.UTC(), true, nil
}

// args collects query arguments and numbers their placeholders.
type args []any

// add appends v and returns its placeholder ($n).
func (a *args) add(v any) string {
	*a = append(*a, v)
	return "$" + strconv.Itoa(len(*a))
}

// ListMessages implements [Store.ListMessages]. typePrefix is a literal
// prefix; empty filters do not filter.
func (p *Postgres) ListMessages(ctx context.Context, site, typePrefix, outcome string, limit int) ([]Message, error) {
	var where []string
	var a args
	if site != "" {
		where = append(where, "site = "+a.add(site))
	}
	if typePrefix != "" {
		where = append(where, "type >= "+a.add(typePrefix))
		if end, ok := prefixEnd(typePrefix); ok {
			where = append(where, "type < "+a.add(end))
		}
	}
	if outcome != "" {
		where = append(where, "outcome = "+a.add(outcome))
	}
	q := `SELECT ` + pgMessageCols + ` FROM messages`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY received_at DESC, id DESC LIMIT " + a.add(listLimit(limit))
	rows, err := p.pool.Query(ctx, q, a...)
	if err != nil {
		return nil, fmt.Errorf("store: postgres: list messages: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Message, error) {
		m, err := scanPostgresMessage(row)
		if err != nil {
			return Message{}, err
		}
		return *m, nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: postgres: list messages: %w", err)
	}
	return out, nil
}

// CountMessages implements [Store.CountMessages].
func (p *Postgres) CountMessages(ctx context.Context) (map[string]int, error) {
	rows, err := p.pool.Query(ctx, `SELECT outcome, COUNT(*) FROM messages GROUP BY outcome`)
	if err != nil {
		return nil, fmt.Errorf("store: postgres: count messages: %w", err)
	}
	defer rows.Close()
	counts := map[string]int{}
	for rows.Next() {
		var outcome string
		var n int
		if err := rows.Scan(&outcome, &n); err != nil {
			return nil, fmt.Errorf("store: postgres: count messages: %w", err)
		}
		counts[outcome] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: postgres: count messages: %w", err)
	}
	return counts, nil
}

// AppendExchange implements [Store.AppendExchange]. A zero At is set to now.
func (p *Postgres) AppendExchange(ctx context.Context, e Exchange) (int64, error) {
	at := now()
	if !e.At.IsZero() {
		at = normTime(e.At)
	}
	var id int64
	err := p.pool.QueryRow(ctx, `INSERT INTO exchanges
		(message_id, plugin, site, system, code, serial, request, response, status, error, duration_ms, at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id`,
		e.MessageID, e.Plugin, e.Site, e.System, e.Code, e.Serial, nullBytes(e.Request), nullBytes(e.Response),
		e.Status, e.Error, e.DurationMS, at).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("store: postgres: append exchange (message %q, code %q): %w", e.MessageID, e.Code, err)
	}
	return id, nil
}

// ListExchanges implements [Store.ListExchanges]. From is inclusive and To
// exclusive.
func (p *Postgres) ListExchanges(ctx context.Context, f ExchangeFilter) ([]Exchange, error) {
	var where []string
	var a args
	for _, c := range []struct{ col, val string }{
		{"plugin", f.Plugin}, {"site", f.Site}, {"code", f.Code}, {"serial", f.Serial}, {"message_id", f.MessageID},
	} {
		if c.val != "" {
			where = append(where, c.col+" = "+a.add(c.val))
		}
	}
	if !f.From.IsZero() {
		where = append(where, "at >= "+a.add(normTime(f.From)))
	}
	if !f.To.IsZero() {
		where = append(where, "at < "+a.add(normTime(f.To)))
	}
	q := `SELECT id, message_id, plugin, site, system, code, serial, request, response, status, error, duration_ms, at
		FROM exchanges`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY at DESC, id DESC LIMIT " + a.add(listLimit(f.Limit))
	rows, err := p.pool.Query(ctx, q, a...)
	if err != nil {
		return nil, fmt.Errorf("store: postgres: list exchanges: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Exchange, error) {
		var e Exchange
		err := row.Scan(&e.ID, &e.MessageID, &e.Plugin, &e.Site, &e.System, &e.Code, &e.Serial,
			&e.Request, &e.Response, &e.Status, &e.Error, &e.DurationMS, &e.At)
		e.At = e.At.UTC()
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("store: postgres: list exchanges: %w", err)
	}
	return out, nil
}

// StateGet implements [Store.StateGet].
func (p *Postgres) StateGet(ctx context.Context, ns, key string) (StateEntry, error) {
	e := StateEntry{Key: key}
	err := p.pool.QueryRow(ctx, `SELECT value, version FROM plugin_state WHERE ns = $1 AND key = $2`,
		ns, key).Scan(&e.Value, &e.Version)
	if errors.Is(err, pgx.ErrNoRows) {
		return StateEntry{}, fmt.Errorf("store: postgres: state %q key %q: %w", ns, key, ErrNotFound)
	}
	if err != nil {
		return StateEntry{}, fmt.Errorf("store: postgres: state %q get %q: %w", ns, key, err)
	}
	return e, nil
}

// StatePut implements [Store.StatePut].
func (p *Postgres) StatePut(ctx context.Context, ns, key string, value []byte) (int64, error) {
	var v int64
	err := p.pool.QueryRow(ctx, `INSERT INTO plugin_state (ns, key, value, version, updated_at)
		VALUES ($1, $2, $3, 1, $4)
		ON CONFLICT (ns, key) DO UPDATE SET value = excluded.value,
			version = plugin_state.version + 1, updated_at = excluded.updated_at
		RETURNING version`, ns, key, nullBytes(value), now()).Scan(&v)
	if err != nil {
		return 0, fmt.Errorf("store: postgres: state %q put %q: %w", ns, key, err)
	}
	return v, nil
}

// StateCAS implements [Store.StateCAS].
func (p *Postgres) StateCAS(ctx context.Context, ns, key string, expect int64, value []byte) (int64, error) {
	if expect < 0 {
		return 0, fmt.Errorf("store: postgres: state %q cas %q: negative expected version %d", ns, key, expect)
	}
	var v int64
	var err error
	if expect == 0 {
		err = p.pool.QueryRow(ctx, `INSERT INTO plugin_state (ns, key, value, version, updated_at)
			VALUES ($1, $2, $3, 1, $4) ON CONFLICT (ns, key) DO NOTHING RETURNING version`,
			ns, key, nullBytes(value), now()).Scan(&v)
	} else {
		// Under READ COMMITTED a concurrent writer of the same row makes
		// this wait, then re-check version against the committed row.
		err = p.pool.QueryRow(ctx, `UPDATE plugin_state SET value = $1, version = version + 1, updated_at = $2
			WHERE ns = $3 AND key = $4 AND version = $5 RETURNING version`,
			nullBytes(value), now(), ns, key, expect).Scan(&v)
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, fmt.Errorf("store: postgres: state %q cas %q: expected version %d: %w", ns, key, expect, ErrConflict)
	}
	if err != nil {
		return 0, fmt.Errorf("store: postgres: state %q cas %q: %w", ns, key, err)
	}
	return v, nil
}

// StateScan implements [Store.StateScan]. prefix is literal.
func (p *Postgres) StateScan(ctx context.Context, ns, prefix string, limit int) ([]StateEntry, error) {
	var a args
	q := `SELECT key, value, version FROM plugin_state WHERE ns = ` + a.add(ns) + ` AND key >= ` + a.add(prefix)
	if end, ok := prefixEnd(prefix); ok {
		q += ` AND key < ` + a.add(end)
	}
	q += ` ORDER BY key`
	if limit > 0 {
		q += ` LIMIT ` + a.add(limit)
	}
	rows, err := p.pool.Query(ctx, q, a...)
	if err != nil {
		return nil, fmt.Errorf("store: postgres: state %q scan %q: %w", ns, prefix, err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (StateEntry, error) {
		var e StateEntry
		err := row.Scan(&e.Key, &e.Value, &e.Version)
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("store: postgres: state %q scan %q: %w", ns, prefix, err)
	}
	return out, nil
}

// StateDelete implements [Store.StateDelete].
func (p *Postgres) StateDelete(ctx context.Context, ns, key string) error {
	if _, err := p.pool.Exec(ctx, `DELETE FROM plugin_state WHERE ns = $1 AND key = $2`, ns, key); err != nil {
		return fmt.Errorf("store: postgres: state %q delete %q: %w", ns, key, err)
	}
	return nil
}

// PutBatch implements [Store.PutBatch]. CreatedAt is taken from b when the
// batch is new (now if zero) and kept on updates; UpdatedAt is set to now.
func (p *Postgres) PutBatch(ctx context.Context, b Batch) error {
	t := now()
	created := t
	if !b.CreatedAt.IsZero() {
		created = normTime(b.CreatedAt)
	}
	_, err := p.pool.Exec(ctx, `INSERT INTO batches
		(plugin, site, job, batch_id, step, payload, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
		ON CONFLICT (plugin, site, job, batch_id) DO UPDATE SET
			step = excluded.step, payload = excluded.payload, updated_at = excluded.updated_at`,
		b.Plugin, b.Site, b.Job, b.BatchID, b.Step, nullBytes(b.Payload), created, t)
	if err != nil {
		return fmt.Errorf("store: postgres: put batch %s/%s/%s %q: %w", b.Plugin, b.Site, b.Job, b.BatchID, err)
	}
	return nil
}

// OpenBatches implements [Store.OpenBatches].
func (p *Postgres) OpenBatches(ctx context.Context, plugin, site, job string) ([]Batch, error) {
	rows, err := p.pool.Query(ctx, `SELECT batch_id, step, payload, created_at, updated_at FROM batches
		WHERE plugin = $1 AND site = $2 AND job = $3 AND step <> 'done'
		ORDER BY created_at, batch_id`, plugin, site, job)
	if err != nil {
		return nil, fmt.Errorf("store: postgres: open batches %s/%s/%s: %w", plugin, site, job, err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Batch, error) {
		b := Batch{Plugin: plugin, Site: site, Job: job}
		err := row.Scan(&b.BatchID, &b.Step, &b.Payload, &b.CreatedAt, &b.UpdatedAt)
		b.CreatedAt, b.UpdatedAt = b.CreatedAt.UTC(), b.UpdatedAt.UTC()
		return b, err
	})
	if err != nil {
		return nil, fmt.Errorf("store: postgres: open batches %s/%s/%s: %w", plugin, site, job, err)
	}
	return out, nil
}

// AcquireLease implements [Store.AcquireLease]. A lease whose expiry is at
// or before now is free.
func (p *Postgres) AcquireLease(ctx context.Context, name, holder string, ttl time.Duration, now time.Time) (bool, error) {
	if holder == "" || ttl <= 0 {
		return false, fmt.Errorf("store: postgres: acquire lease %q: need a holder and a positive ttl (holder %q, ttl %v)", name, holder, ttl)
	}
	t := normTime(now)
	var got string
	err := p.pool.QueryRow(ctx, `INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, $3)
		ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
		WHERE leases.holder = excluded.holder OR leases.expires_at <= $4
		RETURNING holder`, name, holder, t.Add(ttl), t).Scan(&got)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("store: postgres: acquire lease %q for %q: %w", name, holder, err)
	}
	return true, nil
}

// ReleaseLease implements [Store.ReleaseLease].
func (p *Postgres) ReleaseLease(ctx context.Context, name, holder string) error {
	if _, err := p.pool.Exec(ctx, `DELETE FROM leases WHERE name = $1 AND holder = $2`, name, holder); err != nil {
		return fmt.Errorf("store: postgres: release lease %q for %q: %w", name, holder, err)
	}
	return nil
}

// NextSequence implements [Store.NextSequence].
func (p *Postgres) NextSequence(ctx context.Context, name string) (int64, error) {
	var v int64
	err := p.pool.QueryRow(ctx, `INSERT INTO sequences (name, value) VALUES ($1, 1)
		ON CONFLICT (name) DO UPDATE SET value = sequences.value + 1 RETURNING value`, name).Scan(&v)
	if err != nil {
		return 0, fmt.Errorf("store: postgres: next sequence %q: %w", name, err)
	}
	return v, nil
}

// Ping implements [Store.Ping].
func (p *Postgres) Ping(ctx context.Context) error {
	if err := p.pool.Ping(ctx); err != nil {
		return fmt.Errorf("store: postgres: ping: %w", err)
	}
	return nil
}

// Close implements [Store.Close]. It waits for connections in use to be
// returned to the pool.
func (p *Postgres) Close() error {
	p.pool.Close()
	return nil
}

var _ Store = (*Postgres)(nil)
