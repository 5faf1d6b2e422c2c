package store

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
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
	found := make(map[string]*Message, len(existing))
	rs, err := tx.QueryContext(ctx, sqlMergedExisting, mergedExecMode, existing)
	if err != nil {
		return fmt.Errorf("existing: %w", err)
	}
	defer rs.Close()
	for rs.Next() {
		m, err := s.scanMessage(rs)
		if err != nil {
			return fmt.Errorf("existing: %w", err)
		}
		found[m.ID] = &m
	}
	if err := rs.Err(); err != nil {
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
