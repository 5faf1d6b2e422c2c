package adapter_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/tracecode/adapter"
)

// TestDraftWithARepeatedCodeIsNotConfirmed: a platform document listing a
// code twice (here on two lines) became a draft holding the code twice,
// and confirming it published a receipt that received one package twice.
// The fetch warns, confirmation is refused naming the code and its lines,
// and once staff remove the repeat the receipt lists every code once.
func TestDraftWithARepeatedCodeIsNotConfirmed(t *testing.T) {
	t.Parallel()
	var repeated string
	e := newListingEnv(t, func(body []byte) []byte {
		var ans map[string]any
		if err := json.Unmarshal(body, &ans); err != nil {
			t.Error(err)
			return body
		}
		data, _ := ans["data"].(map[string]any)
		bills, _ := data["bills"].([]any)
		if len(bills) == 0 {
			return body
		}
		b := bills[0].(map[string]any)
		lines := b["lines"].([]any)
		first := lines[0].(map[string]any)
		c := first["codes"].([]any)[0].(map[string]any)
		repeated = c["code"].(string)
		last := lines[len(lines)-1].(map[string]any)
		last["codes"] = append(last["codes"].([]any), map[string]any{"code": repeated, "codeLevel": c["codeLevel"]})
		out, _ := json.Marshal(ans)
		return out
	})
	r := e.send(adapter.OpStockInFetch, map[string]string{"beginDate": "2026-11-26", "endDate": "2026-11-26"})
	out := must[struct {
		Drafts   []string
		Warnings []string
	}](t, r, sdk.StatusOK)
	if repeated == "" || len(out.Drafts) == 0 {
		t.Fatalf("fetch %+v: no document was rewritten", out)
	}
	if !strings.Contains(strings.Join(out.Warnings, "\n"), repeated) {
		t.Errorf("fetch warnings %q do not name the repeated code %s", out.Warnings, repeated)
	}
	id := out.Drafts[0]
	d := getDraft(t, e, id)
	lastNo := d.Lines[len(d.Lines)-1].LineNo
	r = e.send(adapter.OpDraftConfirm, map[string]any{"draftId": id, "by": "pharm01"})
	if r.Status != sdk.StatusInvalid || !strings.Contains(r.Diagnostics.String(), repeated) {
		t.Fatalf("confirming a draft holding %s twice: %s %s", repeated, r.Status, r.Diagnostics)
	}
	if n := len(e.events(adapter.EventReceipt)); n != 0 {
		t.Fatalf("%d receipts published for a draft holding a code twice", n)
	}
	fix := map[string]any{"draftId": id, "by": "pharm01", "reason": "重复码", "expectedVersion": d.Version, "changes": []any{
		map[string]any{"op": "removeCodes", "lineNo": lastNo, "codes": []string{repeated}},
	}}
	must[map[string]any](t, e.send(adapter.OpDraftAdjust, fix), sdk.StatusOK)
	must[map[string]any](t, e.send(adapter.OpDraftConfirm, map[string]any{"draftId": id, "by": "pharm01"}), sdk.StatusOK)
	evs := e.events(adapter.EventReceipt)
	if len(evs) != 1 {
		t.Fatalf("%d receipts, want 1", len(evs))
	}
	var rc struct {
		Lines []struct{ Codes []string }
	}
	if err := json.Unmarshal(evs[0].Payload, &rc); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, l := range rc.Lines {
		for _, c := range l.Codes {
			if seen[c] {
				t.Errorf("receipt lists %s twice", c)
			}
			seen[c] = true
		}
	}
	if !seen[repeated] {
		t.Errorf("receipt lost %s", repeated)
	}
}
