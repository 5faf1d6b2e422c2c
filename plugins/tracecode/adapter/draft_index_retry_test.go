package adapter_test

import (
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/tracecode/adapter"
)

// TestFetchRetryIndexesTheDraftForTheExport: a fetch that stored a
// draft receipt but stopped before adding it to the export's daily draft
// index (or after, before the document was marked done) is retried. The
// retry found the draft stored and returned early, so the draft never
// reached the export's draft sheets; nor may a retry list a draft twice.
func TestFetchRetryIndexesTheDraftForTheExport(t *testing.T) {
	t.Parallel()
	testCases := map[string]struct {
		put   string // key prefix whose Put fails once
		cas   string // key prefix whose CompareAndSet fails once
		event bool   // the stock-in event fails once
		// legacy: the drafts were indexed before their slots in the
		// index were reserved (draftidx/), by an earlier version.
		legacy bool
	}{
		"index record":    {put: "log/draft/"},
		"index counter":   {cas: "count/draft/"},
		"work list":       {put: "draftopen/"},
		"after the index": {event: true},
		"indexed earlier": {event: true, legacy: true},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e, host := newFaultEnv(t)
			want := e.sim.StockIn(time.Date(2026, 11, 26, 0, 0, 0, 0, cst))
			first := want[len(want)-1].BillNo
			var putOnce, casOnce, pubOnce sync.Once
			failed := false
			fail := func(once *sync.Once) bool {
				hit := false
				once.Do(func() { hit, failed = true, true })
				return hit
			}
			host.mu.Lock()
			if tc.put != "" {
				host.putFail = func(key string) bool { return strings.HasPrefix(key, tc.put) && fail(&putOnce) }
			}
			if tc.cas != "" {
				host.casFail = func(key string) bool { return strings.HasPrefix(key, tc.cas) && fail(&casOnce) }
			}
			if tc.event {
				host.pubFail = func(ev sdk.Event) bool { return ev.Type == adapter.EventStockIn && ev.Key == first && fail(&pubOnce) }
			}
			host.mu.Unlock()
			payload := []byte(`{"beginDate":"2026-11-26","endDate":"2026-11-26"}`)
			r, err := e.plugin.Handle(t.Context(), &sdk.HandleRequest{Site: site, Type: adapter.OpStockInFetch, MessageID: "f-1", Format: "json", Payload: payload, Attempt: 1})
			if !failed {
				t.Fatal("the fault was not hit")
			}
			if err == nil && r.Status == sdk.StatusOK {
				t.Fatalf("the fetch succeeded despite the fault: %s", r.Payload)
			}
			if tc.legacy {
				for _, en := range e.state("draftidx/") {
					if err := e.host.Delete(t.Context(), site, en.Key); err != nil {
						t.Fatal(err)
					}
				}
			}
			r, err = e.plugin.Handle(t.Context(), &sdk.HandleRequest{Site: site, Type: adapter.OpStockInFetch, MessageID: "f-1", Format: "json", Payload: payload, Attempt: 2})
			if err != nil || r.Status != sdk.StatusOK {
				t.Fatalf("retry: %v %v", err, r)
			}
			// Each draft is in the export's index exactly once.
			indexed := map[string]int{}
			for _, en := range e.state("log/draft/") {
				var ref struct{ DraftID string }
				if err := json.Unmarshal(en.Value, &ref); err != nil {
					t.Fatalf("decode %s: %v", en.Key, err)
				}
				indexed[ref.DraftID]++
			}
			lines := 0
			for _, b := range want {
				lines += max(len(b.Lines), 1)
				if indexed[b.BillNo] != 1 {
					t.Errorf("draft %s is in the export's draft index %d times, want 1", b.BillNo, indexed[b.BillNo])
				}
			}
			rep := must[exportReply](t, e.send(adapter.OpExport, map[string]any{"from": "2026-11-26", "to": "2026-11-26", "sheets": []string{"drafts"}}), sdk.StatusOK)
			if rep.Rows["drafts"] != int64(lines) {
				t.Errorf("the drafts sheet has %d rows, want %d (one per line of the %d drafts)", rep.Rows["drafts"], lines, len(want))
			}
		})
	}
}
