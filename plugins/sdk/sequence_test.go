package sdk_test

import (
	"context"
	"sync"
	"testing"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/sdk/sdktest"
)

// drawer draws three values with sdk.NextSequenceGaps and one with
// NextSequence on every call.
type drawer struct {
	probe
	got []int64
}

func (d *drawer) Handle(ctx context.Context, req *sdk.HandleRequest) (*sdk.HandleResponse, error) {
	for range 3 {
		v, err := sdk.NextSequenceGaps(ctx, req.Host, "serial")
		if err != nil {
			return nil, err
		}
		d.got = append(d.got, v)
	}
	v, err := req.Host.NextSequence(ctx, "card")
	if err != nil {
		return nil, err
	}
	d.got = append(d.got, v)
	return &sdk.HandleResponse{Status: sdk.StatusOK}, nil
}

// blockHost is a MemoryHost that answers NextSequenceGaps itself.
type blockHost struct {
	*sdktest.MemoryHost
	mu    sync.Mutex
	names []string
}

// NextSequenceGaps gives blocks of 2 values from 1001.
func (h *blockHost) NextSequenceGaps(_ context.Context, site, name string) (first, last int64, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.names = append(h.names, site+"/"+name)
	first = 1001 + 2*int64(len(h.names)-1)
	return first, first + 1, nil
}

// TestNextSequenceGaps: over the real protocol, NextSequenceGaps asks a
// host that gives blocks for one, hands out its values and asks again when
// it is used up, while NextSequence asks every time; a host without blocks
// answers both with NextSequence.
func TestNextSequenceGaps(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		blocks bool
		want   []int64
	}{
		{"host with blocks", true, []int64{1001, 1002, 1003, 1}},
		{"host without", false, []int64{1, 2, 3, 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := &drawer{}
			mem := sdktest.NewMemoryHost()
			bh := &blockHost{MemoryHost: mem}
			c := sdktest.Connect(t, d, mem)
			if tc.blocks {
				c = sdktest.Connect(t, d, bh)
			}
			if _, err := c.Handle(t.Context(), &sdk.HandleRequest{Site: "s1", Type: "probe.do", MessageID: "m1"}); err != nil {
				t.Fatal(err)
			}
			if len(d.got) != len(tc.want) {
				t.Fatalf("values = %v; want %v", d.got, tc.want)
			}
			for i := range tc.want {
				if d.got[i] != tc.want[i] {
					t.Errorf("values = %v; want %v", d.got, tc.want)
					break
				}
			}
			if tc.blocks && (len(bh.names) != 2 || bh.names[0] != "s1/serial") {
				t.Errorf("blocks asked of the host = %v; want two for s1/serial (3 values from blocks of 2)", bh.names)
			}
		})
	}
}
