package adapter_test

import (
	"testing"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/tracecode/adapter"
)

// TestDraftAdjustRedeliveredAppliesOnce: an adjustment message delivered
// again (the host redelivers a message whose outcome it did not store:
// a crash after the draft was written) changes the draft once. Before, a
// redelivered addLine added the line a second time (a receipt with the
// quantity received twice), and a redelivered addCodes or removeLine was
// refused although it had been applied.
func TestDraftAdjustRedeliveredAppliesOnce(t *testing.T) {
	t.Parallel()
	testCases := map[string]struct {
		change func(d draftView) map[string]any
	}{
		"addLine": {func(draftView) map[string]any {
			return map[string]any{"op": "addLine", "line": map[string]any{"itemCode": "YP0009", "itemName": "补录药品", "batchNo": "B1", "expiryDate": "2028-01-01", "qty": "5", "codes": []string{}}}
		}},
		"addCodes": {func(d draftView) map[string]any {
			return map[string]any{"op": "addCodes", "lineNo": d.Lines[0].LineNo, "codes": []string{drugCode("8100009", 4242)}}
		}},
		"removeLine": {func(d draftView) map[string]any {
			return map[string]any{"op": "removeLine", "lineNo": d.Lines[len(d.Lines)-1].LineNo}
		}},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, nil)
			id := fetchOne(t, e)
			before := getDraft(t, e, id)
			msg := map[string]any{"draftId": id, "by": "pharm01", "changes": []any{tc.change(before)}}
			first := must[map[string]any](t, e.sendID("adj-1", adapter.OpDraftAdjust, msg, false), sdk.StatusOK)
			after := getDraft(t, e, id)
			again := must[map[string]any](t, e.sendID("adj-1", adapter.OpDraftAdjust, msg, true), sdk.StatusOK)
			now := getDraft(t, e, id)
			if now.Version != after.Version || len(now.Lines) != len(after.Lines) || len(now.Adjustments) != len(after.Adjustments) {
				t.Fatalf("the redelivered adjustment changed the draft again: version %d → %d, lines %d → %d, adjustments %d → %d",
					after.Version, now.Version, len(after.Lines), len(now.Lines), len(after.Adjustments), len(now.Adjustments))
			}
			if again["version"] != first["version"] {
				t.Errorf("reply of the redelivery %v, first reply %v", again, first)
			}
		})
	}
}
