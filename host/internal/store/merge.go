package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
)

// beginRow is a BeginMessage write as data: the arguments of
// sqlInsertMessage and its results.
type beginRow struct {
	args     []any  // id first
	apart    []byte // the sealed request, when it goes to message_requests (see dialect.requestApart)
	created  bool
	existing *Message
}

// finishRow is a FinishMessage write as data: the arguments of
// sqlFinishMessage (outcome, reply, attempts, updated_at, id) and the rows
// it changed.
type finishRow struct {
	args []any
	n    int64
}

// finishBeginRow is a FinishAndBegin write as data: the finish, then the
// begin of the next message, which a merge leaves out when the finish
// changed no row.
type finishBeginRow struct {
	f *finishRow
	b *beginRow
}

// mergeWrites is PostgreSQL's merge for the group commit: the
// BeginMessage writes of a group become one multi-row INSERT and its
// FinishMessage writes one UPDATE … FROM (VALUES …), instead of a
// statement and a network round trip each. The other writes are returned
// to run one by one. Every write still gets the result it would get
// alone; a message id that appears twice in one kind is left to run alone.
func (s *sqlStore) mergeWrites(ctx context.Context, tx *sql.Tx, group []*writeReq) ([]*writeReq, error) {
	var (
		begins   []*beginRow
		finishes []*finishRow
		pairs    []*finishBeginRow
		rest     []*writeReq
	)
	seenBegin := make(map[string]bool)
	seenFinish := make(map[string]bool)
	for _, r := range group {
		switch row := r.row.(type) {
		case *beginRow:
			if id := row.args[0].(string); !seenBegin[id] {
				seenBegin[id] = true
				begins = append(begins, row)
				continue
			}
		case *finishRow:
			if id := row.args[4].(string); !seenFinish[id] {
				seenFinish[id] = true
				finishes = append(finishes, row)
				continue
			}
		case *finishBeginRow:
			if fid, bid := row.f.args[4].(string), row.b.args[0].(string); !seenFinish[fid] && !seenBegin[bid] {
				seenFinish[fid], seenBegin[bid] = true, true
				pairs = append(pairs, row)
				finishes = append(finishes, row.f)
				continue
			}
		}
		rest = append(rest, r)
	}
	// The finishes first: a pair's begin follows its finish, and only if
	// the finish changed a row. In id order, so that two instances merging
	// the same ids (a partition moving between them) lock the rows in the
	// same order rather than deadlock.
	slices.SortFunc(finishes, func(a, b *finishRow) int { return strings.Compare(a.args[4].(string), b.args[4].(string)) })
	if len(finishes) > 1 || len(pairs) > 0 {
		if err := s.finishMessages(ctx, tx, finishes); err != nil {
			return nil, fmt.Errorf("%d merged FinishMessage writes: %w", len(finishes), err)
		}
	} else {
		rest = appendRows(rest, group, finishes)
	}
	for _, row := range pairs {
		if row.f.n == 1 {
			begins = append(begins, row.b)
		}
	}
	slices.SortFunc(begins, func(a, b *beginRow) int { return strings.Compare(a.args[0].(string), b.args[0].(string)) })
	if len(begins) > 1 || len(pairs) > 0 {
		if len(begins) > 0 {
			if err := s.insertMessages(ctx, tx, begins); err != nil {
				return nil, fmt.Errorf("%d merged BeginMessage writes: %w", len(begins), err)
			}
		}
	} else {
		rest = appendRows(rest, group, begins)
	}
	return rest, nil
}

// appendRows appends to rest the writes of group whose row is the single
// row in rows (a kind with one write runs alone, as its fn).
func appendRows[T any](rest, group []*writeReq, rows []*T) []*writeReq {
	if len(rows) != 1 {
		return rest
	}
	for _, r := range group {
		if row, ok := r.row.(*T); ok && row == rows[0] {
			return append(rest, r)
		}
	}
	return rest
}

// The merged statements take one array per column and have one text
// whatever the size of the group. They run as pgx's unnamed statements
// (QueryExecModeCacheDescribe), which PostgreSQL plans for the arguments
// of each execution. A named prepared statement would soon run a generic
// plan, made once for an array of unknown length and the table's size at
// that time: made while the table was small (a new database, the first
// groups), it joined by a sequential scan of messages, and kept doing so
// as the table grew (TestMergedWritesPlannedPerExecution).
const (
	sqlMergedInsert = `INSERT INTO messages
		(id, site, type, business_key, status, outcome, reply, attempts, occurred_at, received_at, updated_at, request)
		SELECT v.id, v.site, v.type, v.business_key, 'pending', '', NULL, v.attempts, v.occurred_at, v.received_at, v.updated_at, v.request
		FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::integer[], $6::timestamptz[], $7::timestamptz[], $8::timestamptz[], $9::bytea[])
			AS v (id, site, type, business_key, attempts, occurred_at, received_at, updated_at, request)
		ON CONFLICT (id) DO NOTHING RETURNING id`
	sqlMergedFinish = `UPDATE messages AS m SET status = 'done', outcome = v.outcome, reply = v.reply,
		attempts = v.attempts, updated_at = v.updated_at
		FROM unnest($1::text[], $2::bytea[], $3::integer[], $4::timestamptz[], $5::text[])
			AS v (outcome, reply, attempts, updated_at, id)
		WHERE m.id = v.id RETURNING m.id`
	sqlMergedExisting = `SELECT ` + messageCols + ` FROM messages WHERE id = ANY($1::text[])`
)

// mergedExecMode is how the merged statements run (see sqlMergedInsert).
const mergedExecMode = pgx.QueryExecModeCacheDescribe

// columns turns the argument lists of rows (one per write, the same
// length each) into one slice per column: cols[j][i] is rows[i][j].
func columns(rows [][]any) [][]any {
	if len(rows) == 0 {
		return nil
	}
	cols := make([][]any, len(rows[0]))
	for j := range cols {
		cols[j] = make([]any, len(rows))
		for i, r := range rows {
			cols[j][i] = r[j]
		}
	}
	return cols
}

// insertMessages runs the inserts of rows (distinct ids) as one statement
// and reads back the rows that already existed.
func (s *sqlStore) insertMessages(ctx context.Context, tx *sql.Tx, rows []*beginRow) error {
	args := make([][]any, len(rows))
	for i, row := range rows {
		args[i] = row.args
	}
	c := columns(args)
	// The arguments of sqlInsertMessage: id, site, type, business_key,
	// attempts, occurred_at (may be NULL), received_at, updated_at,
	// request (may be NULL).
	created, err := queryIDs(ctx, tx, sqlMergedInsert, mergedExecMode,
		textArray(c[0]), textArray(c[1]), textArray(c[2]), textArray(c[3]), intArray(c[4]),
		timeArray(c[5]), timeArray(c[6]), timeArray(c[7]), bytesArray(c[8]))
	if err != nil {
		return err
	}
	var existing []string
	for _, row := range rows {
		id := row.args[0].(string)
		row.created, row.existing = created[id], nil
		if !row.created {
			existing = append(existing, id)
		} else if row.apart != nil {
			if _, err := tx.ExecContext(ctx, s.d.rebind(sqlInsertRequest), id, row.apart); err != nil {
				return fmt.Errorf("request: %w", err)
			}
		}
	}
	if len(existing) == 0 {
		return nil
	}
	// As alone: ON CONFLICT DO NOTHING waited for the conflicting rows
	// to commit, so this statement sees them.
	found, err := s.messagesByID(ctx, tx, existing)
	if err != nil {
		return fmt.Errorf("existing: %w", err)
	}
	for _, row := range rows {
		if row.created {
			continue
		}
		id := row.args[0].(string)
		if row.existing = found[id]; row.existing == nil {
			return fmt.Errorf("existing: message %q neither inserted nor found", id)
		}
	}
	return nil
}

// finishMessages runs the updates of rows (distinct ids) as one statement.
func (s *sqlStore) finishMessages(ctx context.Context, tx *sql.Tx, rows []*finishRow) error {
	args := make([][]any, len(rows))
	for i, row := range rows {
		args[i] = row.args
	}
	// The arguments of sqlFinishMessage: outcome, reply (may be NULL),
	// attempts, updated_at, id.
	c := columns(args)
	done, err := queryIDs(ctx, tx, sqlMergedFinish, mergedExecMode,
		textArray(c[0]), bytesArray(c[1]), intArray(c[2]), timeArray(c[3]), textArray(c[4]))
	if err != nil {
		return err
	}
	for _, row := range rows {
		row.n = 0
		if done[row.args[4].(string)] {
			row.n = 1
		}
	}
	return nil
}

// textArray, intArray, timeArray and bytesArray turn a column of
// arguments into the array PostgreSQL receives: text[] of strings,
// integer[] of ints, timestamptz[] of times and bytea[] of byte slices,
// with a nil argument as NULL.
func textArray(col []any) []string {
	a := make([]string, len(col))
	for i, v := range col {
		a[i] = v.(string)
	}
	return a
}

func intArray(col []any) []int64 { // pgx refuses a value out of integer's range
	a := make([]int64, len(col))
	for i, v := range col {
		a[i] = int64(v.(int))
	}
	return a
}

func timeArray(col []any) []pgtype.Timestamptz {
	a := make([]pgtype.Timestamptz, len(col))
	for i, v := range col {
		if v != nil {
			a[i] = pgtype.Timestamptz{Time: v.(time.Time), Valid: true}
		}
	}
	return a
}

func bytesArray(col []any) [][]byte {
	a := make([][]byte, len(col))
	for i, v := range col {
		if v != nil {
			a[i] = v.([]byte)
		}
	}
	return a
}

// queryIDs runs a statement that returns ids and collects them.
func queryIDs(ctx context.Context, tx *sql.Tx, query string, args ...any) (map[string]bool, error) {
	rs, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	ids := make(map[string]bool)
	for rs.Next() {
		var id string
		if err := rs.Scan(&id); err != nil {
			return nil, err
		}
		ids[id] = true
	}
	return ids, rs.Err()
}

// sqlWholeGroup is a group of FinishMessage, BeginMessage and
// FinishAndBegin writes in one statement: the finishes (as
// sqlMergedFinish), then the begins (as sqlMergedInsert), a pair's begin
// only if its finish changed a row ($15: the id of the pair's finish, ”
// for a BeginMessage). It returns the ids finished ('f') and created
// ('b').
const sqlWholeGroup = `WITH f AS (
		UPDATE messages AS m SET status = 'done', outcome = v.outcome, reply = v.reply,
			attempts = v.attempts, updated_at = v.updated_at
		FROM unnest($1::text[], $2::bytea[], $3::integer[], $4::timestamptz[], $5::text[])
			AS v (outcome, reply, attempts, updated_at, id)
		WHERE m.id = v.id RETURNING m.id
	), b AS (
		INSERT INTO messages
			(id, site, type, business_key, status, outcome, reply, attempts, occurred_at, received_at, updated_at, request)
		SELECT v.id, v.site, v.type, v.business_key, 'pending', '', NULL, v.attempts, v.occurred_at, v.received_at, v.updated_at, v.request
		FROM unnest($6::text[], $7::text[], $8::text[], $9::text[], $10::integer[], $11::timestamptz[], $12::timestamptz[], $13::timestamptz[], $14::bytea[], $15::text[])
			AS v (id, site, type, business_key, attempts, occurred_at, received_at, updated_at, request, after)
		WHERE v.after = '' OR v.after IN (SELECT id FROM f)
		ON CONFLICT (id) DO NOTHING RETURNING id
	)
	SELECT 'f', id FROM f UNION ALL SELECT 'b', id FROM b`

// wholeGroup is PostgreSQL's whole-group write for the group commit (see
// committer.whole): a group made only of FinishMessage, BeginMessage and
// FinishAndBegin writes runs as one statement, which commits by itself,
// instead of BEGIN, a merged UPDATE, a merged INSERT and COMMIT: one
// round trip instead of four. It is the pass-through's every group.
// Each write gets what mergeWrites would give it. Any other group (a
// write of another kind, a message id twice in one kind or in a finish
// and a begin, a request kept apart) is left to the transaction (ran
// false). If the statement fails, nothing is committed.
//
// A begin whose id already existed reads that message back after the
// statement, as mergeWrites does within its transaction: ON CONFLICT DO
// NOTHING waited for the row to be committed, so the read sees it (or a
// later version of it, as a BeginMessage a moment later would). If it has
// been deleted meanwhile (pruned), that begin runs again alone.
func (p *Postgres) wholeGroup(ctx context.Context, group []*writeReq) (ran bool, err error) {
	s := &p.sqlStore
	var (
		finishes [][]any
		begins   []*beginRow
		after    []any // per begin: the id of its pair's finish, or ""
	)
	finished := make(map[string]bool)
	begun := make(map[string]bool)
	addBegin := func(b *beginRow, f string) bool {
		id := b.args[0].(string)
		if begun[id] || b.apart != nil {
			return false
		}
		begun[id] = true
		begins, after = append(begins, b), append(after, f)
		return true
	}
	addFinish := func(f *finishRow) bool {
		id := f.args[4].(string)
		if finished[id] {
			return false
		}
		finished[id] = true
		finishes = append(finishes, f.args)
		return true
	}
	for _, r := range group {
		ok := false
		switch row := r.row.(type) {
		case *beginRow:
			ok = addBegin(row, "")
		case *finishRow:
			ok = addFinish(row)
		case *finishBeginRow:
			ok = addFinish(row.f) && addBegin(row.b, row.f.args[4].(string))
		}
		if !ok {
			return false, nil
		}
	}
	for id := range begun {
		if finished[id] {
			return false, nil
		}
	}
	// Sorted by id, so that two instances lock the rows in the same order
	// (as mergeWrites).
	slices.SortFunc(finishes, func(a, b []any) int { return strings.Compare(a[4].(string), b[4].(string)) })
	order := make([]int, len(begins))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int {
		return strings.Compare(begins[a].args[0].(string), begins[b].args[0].(string))
	})
	bargs := make([][]any, len(begins))
	bafter := make([]any, len(begins))
	for i, k := range order {
		bargs[i], bafter[i] = begins[k].args, after[k]
	}
	f, b := columns(finishes), columns(bargs)
	if f == nil {
		f = make([][]any, 5)
	}
	if b == nil {
		b = make([][]any, 9)
	}
	failed := func(err error) (bool, error) {
		err = fmt.Errorf("%d writes in one statement: %w", len(group), err)
		// A statement PostgreSQL refused committed nothing: its writes
		// run again alone. Any other error (the connection lost) leaves
		// the outcome unknown, as a failed COMMIT does: every write gets
		// it.
		var pgErr *pgconn.PgError
		return !errors.As(err, &pgErr), err
	}
	rs, err := s.w.QueryContext(ctx, sqlWholeGroup, mergedExecMode,
		textArray(f[0]), bytesArray(f[1]), intArray(f[2]), timeArray(f[3]), textArray(f[4]),
		textArray(b[0]), textArray(b[1]), textArray(b[2]), textArray(b[3]), intArray(b[4]),
		timeArray(b[5]), timeArray(b[6]), timeArray(b[7]), bytesArray(b[8]), textArray(bafter))
	if err != nil {
		return failed(err)
	}
	done, created := make(map[string]bool), make(map[string]bool)
	for rs.Next() {
		var kind, id string
		if err := rs.Scan(&kind, &id); err != nil {
			rs.Close()
			return failed(err)
		}
		if kind == "f" {
			done[id] = true
		} else {
			created[id] = true
		}
	}
	rs.Close()
	if err := rs.Err(); err != nil {
		return failed(err)
	}
	p.wholes.Add(1)
	var existing []*beginRow
	for _, r := range group {
		switch row := r.row.(type) {
		case *finishRow:
			row.n = 0
			if done[row.args[4].(string)] {
				row.n = 1
			}
		case *finishBeginRow:
			row.f.n = 0
			if done[row.f.args[4].(string)] {
				row.f.n = 1
			}
		}
	}
	for i, row := range begins {
		if after[i] != "" && !done[after[i].(string)] {
			continue // the pair's finish found no message: left out
		}
		row.created, row.existing = created[row.args[0].(string)], nil
		if !row.created {
			existing = append(existing, row)
		}
	}
	if len(existing) == 0 {
		return true, nil
	}
	return true, s.readExisting(ctx, existing)
}

// messagesByID reads the messages of ids (PostgreSQL's merged writes),
// by id; an id without a message is not in the map.
func (s *sqlStore) messagesByID(ctx context.Context, q interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}, ids []string) (map[string]*Message, error) {
	found := make(map[string]*Message, len(ids))
	rs, err := q.QueryContext(ctx, sqlMergedExisting, mergedExecMode, ids)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	for rs.Next() {
		m, err := s.scanMessage(rs)
		if err != nil {
			return nil, err
		}
		found[m.ID] = &m
	}
	return found, rs.Err()
}

// readExisting sets the message each of rows (begins that found their id
// taken) found, read after their statement committed; a begin whose
// message is gone by then runs again alone.
func (s *sqlStore) readExisting(ctx context.Context, rows []*beginRow) error {
	ids := make([]string, len(rows))
	for i, row := range rows {
		ids[i] = row.args[0].(string)
	}
	found, err := s.messagesByID(ctx, s.w, ids)
	if err != nil {
		return fmt.Errorf("existing: %w", err)
	}
	for _, row := range rows {
		if row.existing = found[row.args[0].(string)]; row.existing == nil {
			if err := s.begin(ctx, s.w, row); err != nil {
				return fmt.Errorf("begin message %q again: %w", row.args[0], err)
			}
		}
	}
	return nil
}
