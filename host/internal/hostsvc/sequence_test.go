package hostsvc

import (
	"context"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/medgate/medgate/host/internal/store"
	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/sdk/sdktest"
)

// drawer is a plugin that draws n values of sdk.NextSequenceGaps per
// Handle.
type drawer struct {
	n   int
	mu  sync.Mutex
	got []int64
}

func (d *drawer) Describe(context.Context, *sdk.DescribeRequest) (*sdk.DescribeResponse, error) {
	return &sdk.DescribeResponse{Name: "wi", Version: "1", Operations: []sdk.Operation{{Type: "wi.draw"}}}, nil
}
func (d *drawer) Configure(context.Context, *sdk.ConfigureRequest) (*sdk.ConfigureResponse, error) {
	return &sdk.ConfigureResponse{}, nil
}
func (d *drawer) RunJob(context.Context, *sdk.RunJobRequest) (*sdk.RunJobResponse, error) {
	return &sdk.RunJobResponse{}, nil
}
func (d *drawer) Handle(ctx context.Context, req *sdk.HandleRequest) (*sdk.HandleResponse, error) {
	for range d.n {
		v, err := sdk.NextSequenceGaps(ctx, req.Host, "serial")
		if err != nil {
			return nil, err
		}
		d.mu.Lock()
		d.got = append(d.got, v)
		d.mu.Unlock()
	}
	return &sdk.HandleResponse{Status: sdk.StatusOK}, nil
}

// TestNextSequenceGaps: over the real protocol, two plugin processes drawing
// from one store get unique values, increasing within each process; a
// block of SequenceBlock values costs one store write; a relaunched plugin
// process skips the rest of its block; counters are per plugin and site.
func TestNextSequenceGaps(t *testing.T) {
	t.Parallel()
	st, err := store.Open(t.Context(), "sqlite", filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ctx := t.Context()
	const draws = 250 // 3 blocks per process
	procs := []*drawer{{n: draws}, {n: draws}}
	var wg sync.WaitGroup
	for i, d := range procs {
		c := sdktest.Connect(t, d, New(st, "events").For("wi"))
		wg.Go(func() {
			if _, err := c.Handle(ctx, &sdk.HandleRequest{Site: "h1", Type: "wi.draw", MessageID: "m"}); err != nil {
				t.Errorf("process %d: Handle: %v", i, err)
			}
		})
	}
	wg.Wait()
	seen := map[int64]bool{}
	for i, d := range procs {
		if len(d.got) != draws || !slices.IsSorted(d.got) {
			t.Errorf("process %d drew %d values, sorted %v; want %d increasing", i, len(d.got), slices.IsSorted(d.got), draws)
		}
		for _, v := range d.got {
			if seen[v] {
				t.Errorf("value %d drawn twice", v)
			}
			seen[v] = true
		}
	}
	if next, err := st.NextSequence(ctx, "wi/h1/serial"); err != nil || next != 6*SequenceBlock+1 {
		t.Errorf("store counter after the draws = %d, %v; want %d (one reservation per block of %d)", next, err, 6*SequenceBlock+1, SequenceBlock)
	}

	// A relaunched plugin process starts a new block: the rest of the old
	// ones, and the value just drawn from the store, are skipped.
	d := &drawer{n: 1}
	c := sdktest.Connect(t, d, New(st, "events").For("wi"))
	for _, site := range []string{"h1", "h2"} {
		if _, err := c.Handle(ctx, &sdk.HandleRequest{Site: site, Type: "wi.draw", MessageID: "m"}); err != nil {
			t.Fatal(err)
		}
	}
	if want := []int64{6*SequenceBlock + 2, 1}; !slices.Equal(d.got, want) {
		t.Errorf("after a relaunch, sites h1 and h2 drew %v; want %v (h2 has a counter of its own)", d.got, want)
	}
	first, last, err := New(st, "events").For("other").(*hostServices).NextSequenceGaps(ctx, "h1", "serial")
	if err != nil || first != 1 || last != SequenceBlock {
		t.Errorf("plugin other's first block = %d…%d, %v; want 1…%d", first, last, err, SequenceBlock)
	}
}
