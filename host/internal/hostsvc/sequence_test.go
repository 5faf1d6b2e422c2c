package hostsvc

import (
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/medgate/medgate/host/internal/store"
	"github.com/medgate/medgate/plugins/sdk/sdkhost"
)

// TestNextSequenceGaps: values drawn from blocks are unique across two
// instances sharing a store and increase within each; a block costs one
// store write; a restarted instance skips the rest of its block; the
// counters are per plugin and site as NextSequence's.
func TestNextSequenceGaps(t *testing.T) {
	t.Parallel()
	st, err := store.Open(t.Context(), "sqlite", filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ctx := t.Context()
	a := New(st, "events").For("wi").(sdkhost.GapSequenceServer)
	b := New(st, "events").For("wi").(sdkhost.GapSequenceServer)

	// 250 draws on each instance, concurrently: 3 blocks each.
	const draws = 250
	got := make([][]int64, 2)
	var wg sync.WaitGroup
	for i, inst := range []sdkhost.GapSequenceServer{a, b} {
		wg.Go(func() {
			for range draws {
				v, err := inst.NextSequenceGaps(ctx, "h1", "serial")
				if err != nil {
					t.Errorf("instance %d: NextSequenceGaps: %v", i, err)
					return
				}
				got[i] = append(got[i], v)
			}
		})
	}
	wg.Wait()
	seen := map[int64]bool{}
	for i, vs := range got {
		if !slices.IsSorted(vs) {
			t.Errorf("instance %d: values not increasing: %v", i, vs)
		}
		for _, v := range vs {
			if seen[v] {
				t.Errorf("value %d drawn twice", v)
			}
			seen[v] = true
		}
	}
	// Two instances × 3 blocks of SequenceBlock: the store counter moved
	// by exactly 6 blocks, one write each.
	if next, err := st.NextSequence(ctx, "wi/h1/serial"); err != nil || next != 6*SequenceBlock+1 {
		t.Errorf("store counter after the draws = %d, %v; want %d (one reservation per block)", next, err, 6*SequenceBlock+1)
	}

	// A restarted instance (new Services) starts a new block: the rest of
	// the old one, and the value just taken from the store, are skipped.
	c := New(st, "events").For("wi").(sdkhost.GapSequenceServer)
	if v, err := c.NextSequenceGaps(ctx, "h1", "serial"); err != nil || v != 6*SequenceBlock+2 {
		t.Errorf("first value after a restart = %d, %v; want %d", v, err, 6*SequenceBlock+2)
	}
	// Another site or plugin has its own counter.
	if v, err := c.NextSequenceGaps(ctx, "h2", "serial"); err != nil || v != 1 {
		t.Errorf("site h2's first value = %d, %v; want 1", v, err)
	}
	if v, err := New(st, "events").For("other").(sdkhost.GapSequenceServer).NextSequenceGaps(ctx, "h1", "serial"); err != nil || v != 1 {
		t.Errorf("plugin other's first value = %d, %v; want 1", v, err)
	}
}
