package adapter_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/tracecode/adapter"
)

// TestMIUploadOfAFetchedDocumentTakesTheHospitalItemCode: a fetched
// document whose products were not in productItemMap when it was fetched
// could never be uploaded to medical insurance (3502 requires the hospital
// item code, fixmedins_hilist_id): the upload read the item codes stored
// with the fetched document only, so neither the item codes staff set in
// its draft (required to confirm it) nor a productItemMap completed later
// (a refetch finds the document unchanged) ever reached it, while the
// refusal told staff to adjust the draft. The upload now sends the
// confirmed draft receipt (TestMIUploadOfAFetchedDocumentSendsTheConfirmedReceipt),
// whose item codes staff set, and refuses a document whose draft is open.
func TestMIUploadOfAFetchedDocumentTakesTheHospitalItemCode(t *testing.T) {
	t.Parallel()
	for _, how := range []string{"confirmed draft"} {
		t.Run(how, func(t *testing.T) {
			t.Parallel()
			unmapped := func(s map[string]string) { s["productItemMap"] = "" }
			e := newEnv(t, unmapped)
			id := fetchOne(t, e)
			no := billOf(id)
			mi := map[string]any{"billNo": no, "source": "platform"}
			r := e.send(adapter.OpMIUpload, mi)
			if r.Status != sdk.StatusInvalid {
				t.Fatalf("upload of lines without item codes: %s %s", r.Status, r.Diagnostics)
			}
			if text := r.Diagnostics.String(); !strings.Contains(text, "confirm") {
				t.Errorf("the refusal does not say how to give the lines item codes: %s", text)
			}
			if n := e.sim.Stats().Calls["hsa"]; n != 0 {
				t.Fatalf("%d national calls for an invalid document", n)
			}
			d := getDraft(t, e, id)
			want := map[int]string{}
			switch how {
			case "confirmed draft":
				var changes []any
				for _, l := range d.Lines {
					want[l.LineNo] = fmt.Sprintf("HIS%03d", l.LineNo)
					changes = append(changes, map[string]any{"op": "setField", "lineNo": l.LineNo, "field": "itemCode", "value": want[l.LineNo]})
				}
				adj := must[map[string]any](t, e.send(adapter.OpDraftAdjust, map[string]any{"draftId": id, "by": "pharm01", "expectedVersion": d.Version, "changes": changes}), sdk.StatusOK)
				// An open draft's item codes are not final: not used.
				if r := e.send(adapter.OpMIUpload, mi); r.Status != sdk.StatusInvalid {
					t.Fatalf("upload with the draft still open: %s %s", r.Status, r.Diagnostics)
				}
				must[map[string]any](t, e.send(adapter.OpDraftConfirm, map[string]any{"draftId": id, "by": "pharm02", "expectedVersion": adj["version"]}), sdk.StatusOK)
			}
			out := must[miReply](t, e.send(adapter.OpMIUpload, mi), sdk.StatusOK)
			if out.Status != "ok" || len(out.Lines) != len(d.Lines) {
				t.Fatalf("reply %+v", out)
			}
			recs := e.sim.HSARecords()
			for _, l := range d.Lines {
				r, ok := recs[out.bchno(l.LineNo)]
				if !ok || r.FixmedinsID == "" {
					t.Errorf("line %d: 3502 record %+v, want one with the hospital item code", l.LineNo, r)
					continue
				}
				if w := want[l.LineNo]; w != "" && r.FixmedinsID != w {
					t.Errorf("line %d sent with item code %s, want %s (set in the confirmed draft)", l.LineNo, r.FixmedinsID, w)
				}
				if w := want[l.LineNo]; w == "" && !strings.HasPrefix(r.FixmedinsID, "YP000") {
					t.Errorf("line %d sent with item code %s, want the productItemMap's", l.LineNo, r.FixmedinsID)
				}
			}
		})
	}
}
