package adapter

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/sdk/sdktest"
)

// failingGetHost fails every Get with err.
type failingGetHost struct {
	sdk.Host
	err error
}

func (h failingGetHost) Get(context.Context, string) (sdk.Entry, error) { return sdk.Entry{}, h.err }

// TestGateVersion: the month and deduction gates read their version the
// same way: 0 for a gate never marked, the stored version once marked,
// and a store failure as an error naming the key, never as 0 (which would
// let a compare-and-set pass on a gate it did not read).
func TestGateVersion(t *testing.T) {
	t.Parallel()
	down := errors.New("store down")
	cases := map[string]struct {
		puts    int   // times the key is written before the read
		failGet error // Get fails with this
		want    int64
		wantErr string
	}{
		"never marked":  {want: 0},
		"marked once":   {puts: 1, want: 1},
		"marked twice":  {puts: 2, want: 2},
		"store failing": {failGet: down, wantErr: "read state deductgate/S1: store down"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			var h sdk.Host = hostFor(sdktest.NewMemoryHost(), testSite)
			key := deductGateKey("S1")
			for range tc.puts {
				if _, err := h.Put(ctx, key, []byte("{}")); err != nil {
					t.Fatal(err)
				}
			}
			if tc.failGet != nil {
				h = failingGetHost{Host: h, err: tc.failGet}
			}
			got, err := gateVersion(ctx, h, key)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !errors.Is(err, tc.failGet) {
					t.Fatalf("gateVersion = %d, %v; want an error wrapping %q", got, err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("gateVersion = %d, %v; want %d, nil", got, err, tc.want)
			}
		})
	}
}
