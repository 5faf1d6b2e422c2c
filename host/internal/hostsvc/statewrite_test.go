package hostsvc

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/medgate/medgate/host/internal/store"
	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/sdk/sdkhost"
	"github.com/medgate/medgate/test/testenv"
)

// writeCounter is a store that counts the transactions of state writes.
type writeCounter struct {
	store.Store
	puts, cas int
}

func (s *writeCounter) StatePut(ctx context.Context, ns, key string, value []byte) (int64, error) {
	s.puts++
	return s.Store.StatePut(ctx, ns, key, value)
}

func (s *writeCounter) StateCAS(ctx context.Context, ns, key string, expect int64, value []byte) (int64, error) {
	s.cas++
	return s.Store.StateCAS(ctx, ns, key, expect, value)
}

// TestWriteState: the writes of one sdk.WriteState are made in one
// transaction of the store, not a StatePut or StateCAS each: every write
// with its new version, or, when an expectation fails, none, with the
// index of the write that failed; on the plugin's site only. A store
// without StateWrites gets them one by one and reports how far they went.
func TestWriteState(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	sq, err := store.OpenSQLite(ctx, filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sq.Close() })
	stores := map[string]store.Store{"sqlite": sq}
	if !testing.Short() {
		pg, err := store.OpenPostgres(ctx, testenv.Postgres(t))
		if err == nil {
			t.Cleanup(func() { pg.Close() })
			stores["postgres"] = pg
		} else if !errors.Is(err, context.Canceled) {
			t.Logf("PostgreSQL: %v", err)
		}
	}
	for name, st := range stores {
		t.Run(name, func(t *testing.T) {
			wc := &writeCounter{Store: st}
			svc := New(sq, "events")
			svc.store = struct {
				*writeCounter
				stateWriter
			}{wc, st.(stateWriter)}
			h := svc.For("p")
			w := h.(sdkhost.StateWriteServer)
			if _, err := h.Put(ctx, "h1", "a", []byte("a1")); err != nil {
				t.Fatal(err)
			}
			wc.puts = 0
			vs, err := w.WriteState(ctx, "h1", []sdk.StateWrite{
				{Key: "a", Value: []byte("a2"), Expect: 1},
				{Key: "b", Value: []byte("b1")},
				{Key: "c", Value: []byte("c1"), Put: true},
				{Key: "c", Value: []byte("c2"), Put: true},
			})
			if err != nil || len(vs) != 4 || vs[0] != 2 || vs[1] != 1 || vs[2] != 1 || vs[3] != 2 {
				t.Fatalf("versions %v, %v; want [2 1 1 2]", vs, err)
			}
			if wc.puts != 0 || wc.cas != 0 {
				t.Fatalf("%d StatePut and %d StateCAS calls; want one transaction", wc.puts, wc.cas)
			}
			for k, want := range map[string]string{"a": "a2", "b": "b1", "c": "c2"} {
				if e, err := h.Get(ctx, "h1", k); err != nil || string(e.Value) != want {
					t.Fatalf("%s = %q (%v), want %q", k, e.Value, err, want)
				}
			}
			if _, err := h.Get(ctx, "h2", "a"); !errors.Is(err, sdk.ErrNotFound) {
				t.Fatalf("site h2 sees a: %v", err)
			}
			// The second write expects an old version: nothing is made.
			_, err = w.WriteState(ctx, "h1", []sdk.StateWrite{
				{Key: "d", Value: []byte("d1"), Put: true},
				{Key: "a", Value: []byte("a3"), Expect: 1},
			})
			var we *sdk.WriteError
			if !errors.As(err, &we) || we.Index != 1 || we.Applied != 0 || !errors.Is(err, sdk.ErrConflict) {
				t.Fatalf("stale write: %v (%+v), want a conflict at write 2 with nothing made", err, we)
			}
			if _, err := h.Get(ctx, "h1", "d"); !errors.Is(err, sdk.ErrNotFound) {
				t.Fatalf("d was written by a WriteState that failed: %v", err)
			}
			if e, _ := h.Get(ctx, "h1", "a"); string(e.Value) != "a2" || e.Version != 2 {
				t.Fatalf("a = %q v%d after the failed WriteState, want a2 v2", e.Value, e.Version)
			}
		})
	}
	t.Run("one by one", func(t *testing.T) {
		wc := &writeCounter{Store: sq}
		h := New(wc, "events").For("p")
		w := h.(sdkhost.StateWriteServer)
		_, err := w.WriteState(ctx, "h3", []sdk.StateWrite{
			{Key: "x", Value: []byte("x1"), Put: true},
			{Key: "y", Value: []byte("y1"), Expect: 4},
		})
		var we *sdk.WriteError
		if !errors.As(err, &we) || we.Index != 1 || we.Applied != 1 || !errors.Is(err, sdk.ErrConflict) {
			t.Fatalf("%v (%+v), want a conflict at write 2 after one made", err, we)
		}
		if wc.puts != 1 || wc.cas != 1 {
			t.Fatalf("%d StatePut and %d StateCAS calls, want 1 and 1", wc.puts, wc.cas)
		}
	})
}
