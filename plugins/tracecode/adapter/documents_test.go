package adapter

import (
	"slices"
	"testing"

	"github.com/medgate/medgate/plugins/sdk"
)

// TestDraftDocumentDeclared checks the console's draft page declaration:
// it is well-formed, reads and changes drafts with the plugin's own
// operations, and offers every change adjustDraft applies.
func TestDraftDocumentDeclared(t *testing.T) {
	t.Parallel()
	d, err := New().Describe(t.Context(), &sdk.DescribeRequest{})
	if err != nil {
		t.Fatal(err)
	}
	lists := map[string]bool{}
	for _, wl := range d.WorkLists {
		lists[wl.Name] = true
	}
	if len(d.Documents) != 1 {
		t.Fatalf("documents %+v, want the draft page", d.Documents)
	}
	v := d.Documents[0]
	for _, err := range v.Check(Name, lists) {
		t.Error(err)
	}
	if v.Get != OpDraftGet || v.Adjust.Operation != OpDraftAdjust || v.Confirm == nil || v.Confirm.Operation != OpDraftConfirm || v.List != WorkListDrafts {
		t.Errorf("draft page sends %s/%s/%v for list %s", v.Get, v.Adjust.Operation, v.Confirm, v.List)
	}
	var edits []string
	for _, e := range v.Edits {
		edits = append(edits, e.Name)
		if e.Name == "setField" && !slices.Equal(e.Fields[0].Enum, settable) {
			t.Errorf("setField offers %v, want the settable fields %v", e.Fields[0].Enum, settable)
		}
	}
	for _, op := range []string{"setQty", "setField", "addCodes", "removeCodes", "addLine", "removeLine"} {
		if !slices.Contains(edits, op) {
			t.Errorf("the draft page does not offer %s", op)
		}
	}
}
