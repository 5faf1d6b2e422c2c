package adapter_test

import (
	"strings"
	"testing"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/tracecode/adapter"
)

// TestDraftConfirmDoesNotReceiveACodeTwice: a package is received once.
// Confirming a draft that lists a code another confirmed receipt already
// received (and that has not left since), a unit inside a case the same
// draft lists, or a unit of a case another receipt received, would put it
// in HIS's stock twice; before, only a code listed twice within the draft
// was refused, and each of these was confirmed and published.
func TestDraftConfirmDoesNotReceiveACodeTwice(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		// pick returns the code added to draft b and the words the refusal
		// must hold, given the first code of drafts a (confirmed) and b.
		pick func(e *env, a, b string) (string, []string)
	}{
		"a code another receipt received": {pick: func(_ *env, a, _ string) (string, []string) { return a, []string{a, "receipt"} }},
		"a unit of a case on the same draft": {pick: func(e *env, _, b string) (string, []string) {
			return e.sim.SmallestOf(b)[0], []string{b}
		}},
		"a unit of a case another receipt received": {pick: func(e *env, a, _ string) (string, []string) {
			return e.sim.SmallestOf(a)[0], []string{a, "receipt"}
		}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, nil)
			out := must[fetchReply](t, e.send(adapter.OpStockInFetch, map[string]string{"beginDate": "2026-11-26", "endDate": "2026-11-26"}), sdk.StatusOK)
			if len(out.Drafts) < 2 {
				t.Fatalf("%d drafts, want at least 2", len(out.Drafts))
			}
			da, db := getDraft(t, e, out.Drafts[0]), getDraft(t, e, out.Drafts[1])
			a, b := da.Lines[0].Codes[0], db.Lines[0].Codes[0]
			if len(e.sim.SmallestOf(a)) < 2 || len(e.sim.SmallestOf(b)) < 2 {
				t.Fatalf("the drafts' first codes %s and %s are not cases", a, b)
			}
			must[map[string]any](t, e.send(adapter.OpDraftConfirm, map[string]any{"draftId": da.ID, "by": "pharm01"}), sdk.StatusOK)
			c, words := tc.pick(e, a, b)
			last := db.Lines[len(db.Lines)-1].LineNo
			must[map[string]any](t, e.send(adapter.OpDraftAdjust, map[string]any{"draftId": db.ID, "by": "pharm01", "reason": "补录", "changes": []any{
				map[string]any{"op": "addCodes", "lineNo": last, "codes": []string{c}},
			}}), sdk.StatusOK)
			r := e.send(adapter.OpDraftConfirm, map[string]any{"draftId": db.ID, "by": "pharm01"})
			if r.Status != sdk.StatusInvalid || !strings.Contains(r.Diagnostics.String(), c) {
				t.Fatalf("confirming a draft that receives %s again: %s %s; want invalid naming it", c, r.Status, r.Diagnostics)
			}
			for _, w := range words {
				if !strings.Contains(r.Diagnostics.String(), w) {
					t.Errorf("the refusal does not say %q: %s", w, r.Diagnostics)
				}
			}
			if n := len(e.events(adapter.EventReceipt)); n != 1 {
				t.Errorf("%d receipts published, want 1 (the first draft's)", n)
			}
			// Removing the code makes it confirmable.
			must[map[string]any](t, e.send(adapter.OpDraftAdjust, map[string]any{"draftId": db.ID, "by": "pharm01", "reason": "重复", "changes": []any{
				map[string]any{"op": "removeCodes", "lineNo": last, "codes": []string{c}},
			}}), sdk.StatusOK)
			must[map[string]any](t, e.send(adapter.OpDraftConfirm, map[string]any{"draftId": db.ID, "by": "pharm01"}), sdk.StatusOK)
		})
	}
}
