package adapter_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/tracecode/adapter"
)

// TestChildIndexBackfilledBeforeConfirming: the one-time child index of
// relations kept before it existed read the hierarchy answers only, not
// the parents that stock-in listings give their codes (kept then as each
// code's parent alone), and it ran with the first stock-in sync after the
// upgrade, so until then no relation at all was walked down. A draft
// listing a case one of whose units another receipt had received on its
// own (the unit's parent known from that receipt's listing) was
// confirmed: the unit received twice. The backfill now reads the stored
// listings too, and a confirmation runs it (or waits for it) before it
// checks the draft.
func TestChildIndexBackfilledBeforeConfirming(t *testing.T) {
	t.Parallel()
	for name, sync := range map[string]bool{
		"before the first stock-in sync": false,
		"after a stock-in sync":          true,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			// The second document of the day lists, instead of its own
			// codes, a unit of the first document's first case, with that
			// case as its parent (a listing that ships units loose).
			var caseCode, unit atomic.Value
			var e *env
			e = newListingEnv(t, func(body []byte) []byte {
				var ans struct {
					Code    string `json:"code"`
					Message string `json:"message"`
					Data    struct {
						Total int              `json:"total"`
						Bills []map[string]any `json:"bills"`
					} `json:"data"`
				}
				if err := json.Unmarshal(body, &ans); err != nil || len(ans.Data.Bills) < 2 {
					t.Errorf("listing %s: %v", body, err)
					return body
				}
				first := ans.Data.Bills[0]["lines"].([]any)[0].(map[string]any)["codes"].([]any)[0].(map[string]any)["code"].(string)
				units := e.sim.SmallestOf(first)
				if len(units) < 2 {
					t.Errorf("the first code %s of the listing is not a case", first)
					return body
				}
				if !caseCode.CompareAndSwap(nil, first) && caseCode.Load() != first {
					return body // another day's listing (a sync fetches several)
				}
				unit.Store(units[len(units)-1])
				second := ans.Data.Bills[1]["lines"].([]any)
				second[0].(map[string]any)["codes"] = []any{map[string]any{"code": units[len(units)-1], "codeLevel": 3, "parentCode": first}}
				ans.Data.Bills[1]["lines"] = second[:1]
				ans.Data.Total = 2
				ans.Data.Bills = ans.Data.Bills[:2]
				b, _ := json.Marshal(ans)
				return b
			})
			out := must[fetchReply](t, e.send(adapter.OpStockInFetch, map[string]string{"beginDate": "2026-11-26", "endDate": "2026-11-26"}), sdk.StatusOK)
			if len(out.Drafts) != 2 {
				t.Fatalf("%d drafts, want 2", len(out.Drafts))
			}
			withCase, withUnit := out.Drafts[0], out.Drafts[1]
			// The unit's receipt first.
			rb := must[map[string]any](t, e.send(adapter.OpDraftConfirm, map[string]any{"draftId": withUnit, "by": "pharm01"}), sdk.StatusOK)
			receipt, _ := rb["receiptNo"].(string)
			// As versions before the child index kept the listing: the
			// unit's parent, not the case's children.
			e.asBeforeTheChildIndex()
			if sync {
				if _, err := e.plugin.RunJob(context.Background(), &sdk.RunJobRequest{Site: site, Job: adapter.JobStockInSync, Now: e.clock.Now(), TraceID: "sync"}); err != nil {
					t.Fatal(err)
				}
			}
			r := e.send(adapter.OpDraftConfirm, map[string]any{"draftId": withCase, "by": "pharm02"})
			if r.Status != sdk.StatusInvalid {
				t.Fatalf("confirming draft %s, whose case %s holds unit %s that receipt %s received: %s %s; want invalid", withCase, caseCode.Load(), unit.Load(), receipt, r.Status, r.Diagnostics)
			}
			for _, w := range []string{caseCode.Load().(string), unit.Load().(string), receipt} {
				if !strings.Contains(r.Diagnostics.String(), w) {
					t.Errorf("the refusal does not say %q: %s", w, r.Diagnostics)
				}
			}
		})
	}
}
