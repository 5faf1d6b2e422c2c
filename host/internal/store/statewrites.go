package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// StateWrite is one write of StateWrites: a compare-and-set on Expect
// (0: the key must not exist), as StateCAS, or with Put an unconditional
// write, as StatePut.
type StateWrite struct {
	Key    string
	Value  []byte
	Expect int64
	Put    bool
}

// StateWriteConflict is the error of a StateWrites whose write Index did
// not find its expected version; it wraps ErrConflict. Nothing was
// written.
type StateWriteConflict struct {
	Index  int
	Key    string
	Expect int64
}

func (e *StateWriteConflict) Error() string {
	return fmt.Sprintf("write %d, key %q: expected version %d: %v", e.Index+1, e.Key, e.Expect, ErrConflict)
}

func (e *StateWriteConflict) Unwrap() error { return ErrConflict }

// StateWrites makes several plugin state writes of ns in one transaction
// (the group commit's): every write or none, and returns their new
// versions in order. On PostgreSQL, writes that are all creates or all
// puts, of distinct keys, are one statement (mergedStateWrites) rather
// than one statement, and one round trip, each. The host answers sdk.WriteState with it (hostsvc):
// the writes a plugin makes one after another on the way to an external
// call cost one round trip and one commit instead of one each. It is not
// part of Store: hostsvc asks for it by interface and writes one by one
// without it.
func (s *sqlStore) StateWrites(ctx context.Context, ns string, writes []StateWrite) ([]int64, error) {
	sealed := make([][]byte, len(writes))
	for i, w := range writes {
		if !w.Put && w.Expect < 0 {
			return nil, s.errorf("state %q writes: key %q: negative expected version %d", ns, w.Key, w.Expect)
		}
		v, err := s.seal.seal(aad("plugin_state", ns, w.Key), w.Value)
		if err != nil {
			return nil, s.errorf("state %q writes: key %q: %w", ns, w.Key, err)
		}
		sealed[i] = v
	}
	locks := make([]int64, len(writes))
	for i, w := range writes {
		locks[i] = stateLock(ns, w.Key)
	}
	out := make([]int64, len(writes))
	merged := ""
	if s.d.name == DriverPostgres {
		merged = mergedStateWrites(writes)
	}
	err := s.writeTxLocking(ctx, locks, func(ctx context.Context, q querier) error {
		t := s.d.encodeTime(now())
		if merged != "" {
			return s.stateWritesMerged(ctx, q, merged, ns, writes, sealed, t, out)
		}
		for i, w := range writes {
			var err error
			switch {
			case w.Put:
				err = s.rowOn(ctx, q, sqlStatePut, ns, w.Key, nullBytes(sealed[i]), t).Scan(&out[i])
			case w.Expect == 0:
				err = s.rowOn(ctx, q, sqlStateCreate, ns, w.Key, nullBytes(sealed[i]), t).Scan(&out[i])
			default:
				err = s.rowOn(ctx, q, sqlStateCAS, nullBytes(sealed[i]), t, ns, w.Key, w.Expect).Scan(&out[i])
			}
			if errors.Is(err, sql.ErrNoRows) {
				// Rolls the transaction back (and, in a group commit,
				// runs the others' writes again without this one).
				return &StateWriteConflict{Index: i, Key: w.Key, Expect: w.Expect}
			}
			if err != nil {
				return fmt.Errorf("key %q: %w", w.Key, err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, s.errorf("state %q writes: %w", ns, err)
	}
	return out, nil
}

// The StateWrites of PostgreSQL in one statement (see mergedStateWrites):
// ns, the keys (text[]), the sealed values (bytea[], NULL for nil) and
// the time. Each returns the key and new version of every row it wrote.
// The rows are written in the order of the arrays (unnest keeps it);
// their advisory locks, taken first (committer.lock), order the
// transactions of several instances writing them.
const (
	sqlMergedStateCreate = `INSERT INTO plugin_state (ns, key, value, version, updated_at)
		SELECT $1, v.key, v.value, 1, $4 FROM unnest($2::text[], $3::bytea[]) AS v (key, value)
		ON CONFLICT (ns, key) DO NOTHING RETURNING key, version`
	sqlMergedStatePut = `INSERT INTO plugin_state (ns, key, value, version, updated_at)
		SELECT $1, v.key, v.value, 1, $4 FROM unnest($2::text[], $3::bytea[]) AS v (key, value)
		ON CONFLICT (ns, key) DO UPDATE SET value = excluded.value,
			version = plugin_state.version + 1, updated_at = excluded.updated_at
		RETURNING key, version`
)

// mergedStateWrites returns the statement that makes every write of
// writes at once: sqlMergedStateCreate when all are creates (Expect 0),
// sqlMergedStatePut when all are puts, their keys distinct and two or
// more; "" when there is none (a compare-and-set, a mix of kinds, a key
// twice: such writes run one by one, each seeing the one before).
func mergedStateWrites(writes []StateWrite) string {
	if len(writes) < 2 {
		return ""
	}
	put := writes[0].Put
	keys := make(map[string]bool, len(writes))
	for _, w := range writes {
		if w.Put != put || (!w.Put && w.Expect != 0) || keys[w.Key] {
			return ""
		}
		keys[w.Key] = true
	}
	if put {
		return sqlMergedStatePut
	}
	return sqlMergedStateCreate
}

// stateWritesMerged runs writes, of ns, as query (mergedStateWrites) on
// q and sets their versions in out. A create whose key exists returns no
// row: it is the StateWrites' conflict, which rolls the transaction back.
func (s *sqlStore) stateWritesMerged(ctx context.Context, q querier, query, ns string, writes []StateWrite, sealed [][]byte, t any, out []int64) error {
	tx, ok := q.(interface {
		QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	})
	if !ok {
		return fmt.Errorf("%d merged state writes: %T cannot query rows", len(writes), q)
	}
	keys := make([]string, len(writes))
	for i, w := range writes {
		keys[i] = w.Key
	}
	rs, err := tx.QueryContext(ctx, query, mergedExecMode, ns, keys, sealed, t)
	if err != nil {
		return fmt.Errorf("%d merged state writes: %w", len(writes), err)
	}
	defer rs.Close()
	versions := make(map[string]int64, len(writes))
	for rs.Next() {
		var k string
		var v int64
		if err := rs.Scan(&k, &v); err != nil {
			return fmt.Errorf("%d merged state writes: %w", len(writes), err)
		}
		versions[k] = v
	}
	if err := rs.Err(); err != nil {
		return fmt.Errorf("%d merged state writes: %w", len(writes), err)
	}
	s.mergedStates.Add(1)
	for i, w := range writes {
		v, ok := versions[w.Key]
		if !ok {
			return &StateWriteConflict{Index: i, Key: w.Key, Expect: w.Expect}
		}
		out[i] = v
	}
	return nil
}
