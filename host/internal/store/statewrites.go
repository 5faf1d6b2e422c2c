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
// versions in order. The host answers sdk.WriteState with it (hostsvc):
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
	err := s.writeTxLocking(ctx, locks, func(ctx context.Context, q querier) error {
		t := s.d.encodeTime(now())
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
