package hostsvc

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/medgate/medgate/host/internal/store"
	"github.com/medgate/medgate/plugins/sdk"
)

// TestSitesDoNotSeeEachOther attacks the namespaces of the host services:
// plugin p at site h1 writes a key and draws sequences, then every state
// read, write and sequence call is made for the same plugin at h2 (and a
// site code that is a prefix of h1's, "h"), and for another plugin at h1,
// with the same key and prefixes. None of them may see, change or share
// what p wrote at h1; each store path is tried (keys listed without
// values, scans after a key, a whole scan).
func TestSitesDoNotSeeEachOther(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	sq, err := store.OpenSQLite(ctx, filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sq.Close() })
	for name, st := range map[string]store.Store{"sqlite": sq, "scan only": scanOnly{sq}} {
		s := New(st, "events")
		own := s.For("p").(*hostServices)
		if _, err := own.Put(ctx, "h1", "k/"+name, []byte("h1 secret")); err != nil {
			t.Fatal(err)
		}
		seq, err := own.NextSequence(ctx, "h1", "serial-"+name)
		if err != nil {
			t.Fatal(err)
		}
		_, gap, err := own.NextSequenceGaps(ctx, "h1", "gaps-"+name)
		if err != nil {
			t.Fatal(err)
		}
		for _, other := range []struct {
			plugin, site string
		}{{"p", "h2"}, {"p", "h"}, {"q", "h1"}} {
			h := s.For(other.plugin).(*hostServices)
			who := name + ": plugin " + other.plugin + " at " + other.site
			key := "k/" + name
			if _, err := h.Get(ctx, other.site, key); !errors.Is(err, sdk.ErrNotFound) {
				t.Errorf("%s: Get of h1's key = %v; want sdk.ErrNotFound", who, err)
			}
			for _, prefix := range []string{"", "k/"} {
				if es, err := h.Scan(ctx, other.site, prefix, 0); err != nil || len(es) != 0 {
					t.Errorf("%s: Scan %q = %v, %v; want nothing", who, prefix, es, err)
				}
				if es, _, err := h.ScanPage(ctx, other.site, prefix, "", 0, nil); err != nil || len(es) != 0 {
					t.Errorf("%s: ScanPage %q = %v, %v; want nothing", who, prefix, es, err)
				}
				if es, err := h.ScanKnown(ctx, other.site, prefix, 0, map[string]int64{key: 1}); err != nil || len(es) != 0 {
					t.Errorf("%s: ScanKnown %q = %v, %v; want nothing", who, prefix, es, err)
				}
			}
			if _, err := h.CompareAndSet(ctx, other.site, key, 1, []byte("overwritten")); !errors.Is(err, sdk.ErrConflict) {
				t.Errorf("%s: CompareAndSet of h1's key at its version = %v; want sdk.ErrConflict", who, err)
			}
			if _, err := h.WriteState(ctx, other.site, []sdk.StateWrite{{Key: key, Expect: 1, Value: []byte("overwritten")}}); err == nil {
				t.Errorf("%s: WriteState expecting h1's version succeeded; want a conflict", who)
			}
			if err := h.Delete(ctx, other.site, key); err != nil && !errors.Is(err, sdk.ErrNotFound) {
				t.Errorf("%s: Delete: %v", who, err)
			}
			if v, err := h.NextSequence(ctx, other.site, "serial-"+name); err != nil || v != 1 {
				t.Errorf("%s: NextSequence = %d, %v; want its own counter's 1 (h1's is at %d)", who, v, err, seq)
			}
			if first, _, err := h.NextSequenceGaps(ctx, other.site, "gaps-"+name); err != nil || first != 1 {
				t.Errorf("%s: NextSequenceGaps starts at %d, %v; want its own counter's 1 (h1's reached %d)", who, first, err, gap)
			}
		}
		if e, err := own.Get(ctx, "h1", "k/"+name); err != nil || string(e.Value) != "h1 secret" || e.Version != 1 {
			t.Errorf("%s: h1's key after the other sites' calls = %+v, %v; want it untouched", name, e, err)
		}
		if v, err := own.NextSequence(ctx, "h1", "serial-"+name); err != nil || v != seq+1 {
			t.Errorf("%s: h1's sequence after the other sites' calls = %d, %v; want %d", name, v, err, seq+1)
		}
	}
}
