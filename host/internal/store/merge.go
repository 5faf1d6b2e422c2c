package store

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
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

// insertMessages runs the inserts of rows (distinct ids) as one statement
// and reads back the rows that already existed.
func (s *sqlStore) insertMessages(ctx context.Context, tx *sql.Tx, rows []*beginRow) error {
	var b strings.Builder
	b.WriteString(`INSERT INTO messages
		(id, site, type, business_key, status, outcome, reply, attempts, occurred_at, received_at, updated_at, request) VALUES `)
	args := make([]any, 0, len(rows)*9)
	for i, row := range rows {
		if i > 0 {
			b.WriteString(", ")
		}
		n := len(args)
		fmt.Fprintf(&b, "($%d, $%d, $%d, $%d, 'pending', '', NULL, $%d, $%d, $%d, $%d, $%d)", n+1, n+2, n+3, n+4, n+5, n+6, n+7, n+8, n+9)
		args = append(args, row.args...)
	}
	b.WriteString(` ON CONFLICT (id) DO NOTHING RETURNING id`)
	created, err := queryIDs(ctx, tx, b.String(), args...)
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
	rs, err := tx.QueryContext(ctx, `SELECT `+messageCols+` FROM messages WHERE id = ANY($1)`, existing)
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
	var b strings.Builder
	b.WriteString(`UPDATE messages AS m SET status = 'done', outcome = v.outcome, reply = v.reply,
		attempts = v.attempts, updated_at = v.updated_at FROM (VALUES `)
	args := make([]any, 0, len(rows)*5)
	for i, row := range rows {
		if i > 0 {
			b.WriteString(", ")
		}
		n := len(args)
		fmt.Fprintf(&b, "($%d::text, $%d::bytea, $%d::integer, $%d::timestamptz, $%d::text)", n+1, n+2, n+3, n+4, n+5)
		args = append(args, row.args...)
	}
	b.WriteString(`) AS v (outcome, reply, attempts, updated_at, id) WHERE m.id = v.id RETURNING m.id`)
	done, err := queryIDs(ctx, tx, b.String(), args...)
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
