package store

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"testing"

	"github.com/medgate/medgate/test/testenv"
)

// TestStateWrites pins StateWrites down on both engines: every write or
// none, the versions in order, a conflict naming its write. On
// PostgreSQL, a batch of creates or of puts of distinct keys (a
// trace-code stock-in's 64 codes) is one statement rather than one per
// key (mergedStates counts them); other batches run write by write as before.
func TestStateWrites(t *testing.T) {
	t.Parallel()
	engines := map[string]func(t *testing.T) *sqlStore{
		"sqlite": func(t *testing.T) *sqlStore {
			s, err := OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "medgate.db"), WithKeys(bindKey))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = s.Close() })
			return &s.sqlStore
		},
		"postgres": func(t *testing.T) *sqlStore {
			s, err := OpenPostgres(t.Context(), testenv.Postgres(t), WithKeys(bindKey))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = s.Close() })
			return &s.sqlStore
		},
	}
	create := func(k string) StateWrite { return StateWrite{Key: k, Value: []byte("new " + k)} }
	put := func(k string) StateWrite { return StateWrite{Key: k, Value: []byte("put " + k), Put: true} }
	cas := func(k string, v int64) StateWrite { return StateWrite{Key: k, Value: []byte("cas " + k), Expect: v} }
	many := make([]StateWrite, 64)
	for i := range many {
		many[i] = create(fmt.Sprintf("stock/8%019d", i))
	}
	cases := map[string]struct {
		writes   []StateWrite
		want     []int64 // nil: a conflict
		conflict int     // the index of the write that conflicts
		merged   bool    // one statement on PostgreSQL
	}{
		"64 creates":                      {writes: many, want: slices.Repeat([]int64{1}, 64), merged: true},
		"puts":                            {writes: []StateWrite{put("old"), put("a"), put("b")}, want: []int64{2, 1, 1}, merged: true},
		"a create of an existing key":     {writes: []StateWrite{create("a"), create("old"), create("b")}, conflict: 1, merged: true},
		"a create of a key twice":         {writes: []StateWrite{create("a"), create("b"), create("a")}, conflict: 2},
		"a put of a key twice":            {writes: []StateWrite{put("a"), put("a")}, want: []int64{1, 2}},
		"creates, puts and a CAS":         {writes: []StateWrite{create("a"), put("old"), cas("old", 2)}, want: []int64{1, 2, 3}},
		"a stale compare-and-set":         {writes: []StateWrite{put("a"), cas("old", 5)}, conflict: 1},
		"one create":                      {writes: []StateWrite{create("a")}, want: []int64{1}},
		"a put, then a create of its key": {writes: []StateWrite{put("a"), create("a")}, conflict: 1},
	}
	for engine, open := range engines {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			s := open(t)
			ctx := t.Context()
			for name, tc := range cases {
				t.Run(name, func(t *testing.T) {
					ns := "tracecode/" + name
					if _, err := s.StatePut(ctx, ns, "old", []byte("old")); err != nil {
						t.Fatal(err)
					}
					before := s.mergedStates.Load()
					got, err := s.StateWrites(ctx, ns, tc.writes)
					if merged := s.mergedStates.Load() - before; engine == "postgres" && (merged >= 1) != tc.merged {
						t.Errorf("statements merging every write: %d, want merged %v", merged, tc.merged)
					}
					if tc.want == nil {
						var c *StateWriteConflict
						if !errors.As(err, &c) || c.Index != tc.conflict || c.Key != tc.writes[tc.conflict].Key || !errors.Is(err, ErrConflict) {
							t.Fatalf("StateWrites = %v, %v; want a conflict of write %d", got, err, tc.conflict)
						}
						entries, err := s.StateScan(ctx, ns, "", 0)
						if err != nil {
							t.Fatal(err)
						}
						if len(entries) != 1 || entries[0].Key != "old" || entries[0].Version != 1 || string(entries[0].Value) != "old" {
							t.Errorf("after a conflict the state is %+v, want only old, untouched (nothing written)", entries)
						}
						return
					}
					if err != nil || !slices.Equal(got, tc.want) {
						t.Fatalf("StateWrites = %v, %v; want %v", got, err, tc.want)
					}
					last := map[string]StateWrite{}
					for _, w := range tc.writes {
						last[w.Key] = w
					}
					for k, w := range last {
						e, err := s.StateGet(ctx, ns, k)
						if err != nil || !bytes.Equal(e.Value, w.Value) {
							t.Errorf("%s = %q, %v; want %q", k, e.Value, err, w.Value)
						}
					}
				})
			}
		})
	}
}
