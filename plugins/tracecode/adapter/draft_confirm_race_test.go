package adapter_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/sdk/sdkhost"
	"github.com/medgate/medgate/plugins/sdk/sdktest"
	"github.com/medgate/medgate/plugins/tracecode/adapter"
)

// writeHookHost runs during once, just before the first write (a batch
// write, WriteState, by its first entry, or a compare-and-set) that match
// accepts: as another message acting at that moment, on another
// instance.
type writeHookHost struct {
	*sdktest.MemoryHost
	mu     sync.Mutex
	match  func(key string, value []byte) bool
	during func()
}

func (h *writeHookHost) hook(key string, value []byte) {
	h.mu.Lock()
	var during func()
	if h.during != nil && h.match(key, value) {
		during, h.during = h.during, nil
	}
	h.mu.Unlock()
	if during != nil {
		during()
	}
}

func (h *writeHookHost) WriteState(ctx context.Context, site string, writes []sdk.StateWrite) ([]int64, error) {
	if len(writes) > 0 {
		h.hook(writes[0].Key, writes[0].Value)
	}
	return h.MemoryHost.WriteState(ctx, site, writes)
}

func (h *writeHookHost) CompareAndSet(ctx context.Context, site, key string, expect int64, value []byte) (int64, error) {
	h.hook(key, value)
	return h.MemoryHost.CompareAndSet(ctx, site, key, expect, value)
}

// TestTwoConfirmationsOfOneDraftKeepItsCodesInStock: two confirmations of
// one draft at once (two staff, two instances) share the receipt number
// the first reserved on the draft, so both write the draft's codes in the
// stock ledger as the same receipt's. The one that lost, taking back what
// it had claimed, took back the other's claims with its own (a claim was
// known by draft and receipt number only), so the draft ended confirmed
// with none of its codes in stock: a second receipt of the same packages
// was then confirmed, and they were received twice. Whichever
// confirmation wins, every code of the confirmed draft stays in stock as
// its receipt's.
func TestTwoConfirmationsOfOneDraftKeepItsCodesInStock(t *testing.T) {
	t.Parallel()
	testCases := map[string]struct {
		// the other confirmation runs before the first write of the first
		// confirmation that this accepts
		before func(key string, value []byte) bool
	}{
		"the other runs before the first claims the codes": {before: func(k string, _ []byte) bool { return strings.HasPrefix(k, "stock/") }},
		"the other runs after the first claimed the codes, before it confirms the draft": {before: func(k string, v []byte) bool {
			return strings.HasPrefix(k, "draft/") && bytes.Contains(v, []byte(`"status":"confirmed"`))
		}},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var hh *writeHookHost
			e := newEnvOn(t, func(s map[string]string) { s["fetchSmallest"] = "false" }, func(m *sdktest.MemoryHost) sdkhost.HostServer {
				hh = &writeHookHost{MemoryHost: m}
				return hh
			})
			id := fetchOne(t, e)
			d := getDraft(t, e, id)
			var other *sdk.HandleResponse
			hh.mu.Lock()
			hh.match, hh.during = tc.before, func() {
				other = e.send(adapter.OpDraftConfirm, map[string]any{"draftId": id, "by": "pharm02"})
			}
			hh.mu.Unlock()
			first := e.send(adapter.OpDraftConfirm, map[string]any{"draftId": id, "by": "pharm01"})
			if other == nil {
				t.Fatal("the second confirmation did not run during the first: the test does not test")
			}
			oks := 0
			for _, r := range []*sdk.HandleResponse{first, other} {
				if r.Status == sdk.StatusOK {
					oks++
				} else if r.Status != sdk.StatusInvalid {
					t.Errorf("a confirmation answered %s %s, want ok or invalid (already confirmed)", r.Status, r.Diagnostics)
				}
			}
			if oks != 1 {
				t.Fatalf("%d confirmations succeeded, want 1: %s %s / %s %s", oks, first.Status, first.Diagnostics, other.Status, other.Diagnostics)
			}
			now := getDraft(t, e, id)
			if now.Status != "confirmed" || now.ReceiptNo == "" {
				t.Fatalf("the draft is %s, receipt %q, want confirmed", now.Status, now.ReceiptNo)
			}
			var missing []string
			for _, l := range d.Lines {
				for _, c := range l.Codes {
					es := e.state("stock/" + c)
					var se struct {
						State string `json:"s"`
						Doc   string `json:"d"`
						Draft string `json:"r"`
					}
					if len(es) == 1 {
						_ = json.Unmarshal(es[0].Value, &se)
					}
					if se.State != "in" || se.Doc != now.ReceiptNo || se.Draft != id {
						missing = append(missing, c+" ("+se.State+" "+se.Doc+")")
					}
				}
			}
			if len(missing) > 0 {
				t.Errorf("draft %s is confirmed as receipt %s, but %d of its codes are not in stock as that receipt's: %s", id, now.ReceiptNo, len(missing), strings.Join(missing[:min(3, len(missing))], ", "))
			}
		})
	}
}
