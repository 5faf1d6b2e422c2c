package adapter_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/tracecode/adapter"
)

// asBeforeTheChildIndex deletes every child index entry (codechild/), as
// versions before 6a1c3c2 left the hierarchy answers they kept: nodes and
// each code's parent (codeparent/), no package's children; nor had they
// recovered any (recovery/codechild…).
func (e *env) asBeforeTheChildIndex() {
	e.t.Helper()
	es := e.state("codechild/")
	if len(es) == 0 {
		e.t.Fatal("no child index entries to remove: the hierarchy answers were not kept")
	}
	for _, s := range append(es, e.state("recovery/codechild")...) {
		if err := e.host.Delete(context.Background(), site, s.Key); err != nil {
			e.t.Fatal(err)
		}
	}
}

// TestChildIndexBackfilledFromOldAnswers: hierarchy answers kept before
// the child index existed indexed no package's children, so a draft
// listing a case one of whose units another receipt had received on its
// own was confirmed (the unit received twice) until someone asked the
// platform about the case again. The stock-in sync now indexes the
// children of every answer kept (once per site, resumable, also with the
// sync disabled), and the confirmation is refused.
func TestChildIndexBackfilledFromOldAnswers(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		// byCode: the case's hierarchy was kept from a codes.smallest
		// query of it (the fetch not asking); else from the fetch's.
		byCode bool
	}{
		"answer of the fetch (billsmallest)": {},
		"answer of codes.smallest":           {byCode: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, func(s map[string]string) {
				s["syncEnabled"] = "false"
				s["fetchSmallest"] = fmt.Sprint(!tc.byCode)
			})
			out := must[fetchReply](t, e.send(adapter.OpStockInFetch, map[string]string{"beginDate": "2026-11-26", "endDate": "2026-11-26"}), sdk.StatusOK)
			if len(out.Drafts) < 2 {
				t.Fatalf("%d drafts, want at least 2", len(out.Drafts))
			}
			da, db := getDraft(t, e, out.Drafts[0]), getDraft(t, e, out.Drafts[1])
			caseCode := db.Lines[0].Codes[0]
			units := e.sim.SmallestOf(caseCode)
			if len(units) < 2 {
				t.Fatalf("draft %s's first code %s is not a case", db.ID, caseCode)
			}
			if tc.byCode {
				must[map[string]any](t, e.send(adapter.OpCodeSmallest, map[string]string{"code": caseCode}), sdk.StatusOK)
			}
			e.asBeforeTheChildIndex()
			unit := units[len(units)-1]
			last := da.Lines[len(da.Lines)-1].LineNo
			must[map[string]any](t, e.send(adapter.OpDraftAdjust, map[string]any{"draftId": da.ID, "by": "pharm01", "reason": "补录", "changes": []any{
				map[string]any{"op": "addCodes", "lineNo": last, "codes": []string{unit}},
			}}), sdk.StatusOK)
			ra := must[map[string]any](t, e.send(adapter.OpDraftConfirm, map[string]any{"draftId": da.ID, "by": "pharm01"}), sdk.StatusOK)
			receiptA, _ := ra["receiptNo"].(string)

			run := func() *sdk.RunJobResponse {
				t.Helper()
				r, err := e.plugin.RunJob(context.Background(), &sdk.RunJobRequest{Site: site, Job: adapter.JobStockInSync, Now: e.clock.Now(), TraceID: "sync"})
				if err != nil {
					t.Fatalf("run %s: %v", adapter.JobStockInSync, err)
				}
				return r
			}
			// The confirmation of draft a built the index (a confirmation
			// does not check a draft before it is built), so the sync has
			// nothing left to do.
			if len(e.state("codechild/")) == 0 {
				t.Errorf("no child index after the confirmation")
			}
			if r := run(); strings.Contains(r.Summary, "child index") {
				t.Errorf("the sync ran the child index recovery again: %s", r.Summary)
			}
			before := fmt.Sprint(e.state("codechild/"))
			run()
			if after := fmt.Sprint(e.state("codechild/")); after != before {
				t.Errorf("a second run changed the child index")
			}
			r := e.send(adapter.OpDraftConfirm, map[string]any{"draftId": db.ID, "by": "pharm01"})
			if r.Status != sdk.StatusInvalid {
				t.Fatalf("confirming draft %s, whose case %s holds unit %s that receipt %s received: %s %s; want invalid", db.ID, caseCode, unit, receiptA, r.Status, r.Diagnostics)
			}
			for _, w := range []string{caseCode, unit, receiptA} {
				if !strings.Contains(r.Diagnostics.String(), w) {
					t.Errorf("the refusal does not say %q: %s", w, r.Diagnostics)
				}
			}
			if n := len(e.events(adapter.EventReceipt)); n != 1 {
				t.Errorf("%d receipts published, want 1 (draft a's)", n)
			}
		})
	}
}
