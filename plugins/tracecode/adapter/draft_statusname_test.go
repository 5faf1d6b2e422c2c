package adapter_test

import (
	"context"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/tracecode/adapter"
)

// TestDraftStatusNamedAlike: a draft's status is named in Chinese as
// staff read it everywhere: the console's draft page and work list
// (statusName), the export's 入库单草稿 sheet (状态) and the work list's
// title (待审核入库单). An open draft was 待确认 on the console and 待审核
// in the export and the work list's title, so the pharmacist comparing
// them saw two states.
func TestDraftStatusNamedAlike(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	fetched := must[fetchReply](t, e.send(adapter.OpStockInFetch, map[string]string{"beginDate": "2026-11-26", "endDate": "2026-11-26"}), sdk.StatusOK)
	if len(fetched.Drafts) < 2 {
		t.Fatalf("fetched drafts %v, want 2 or more", fetched.Drafts)
	}
	confirmed, open := fetched.Drafts[0], fetched.Drafts[1]
	must[map[string]any](t, e.send(adapter.OpDraftConfirm, map[string]any{"draftId": confirmed, "by": "pharm01"}), sdk.StatusOK)
	type named struct{ SupplierBillNo, StatusName string }
	names := map[string]string{} // supplier bill no → statusName
	for _, id := range []string{confirmed, open} {
		d := must[named](t, e.send(adapter.OpDraftGet, map[string]string{"draftId": id}), sdk.StatusOK)
		names[d.SupplierBillNo] = d.StatusName
	}
	rep := must[exportReply](t, e.send(adapter.OpExport, map[string]any{"from": "2026-11-26", "sheets": []string{"drafts"}}), sdk.StatusOK)
	f, err := excelize.OpenFile(rep.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := f.GetRows(f.GetSheetList()[0])
	if err != nil {
		t.Fatal(err)
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	checked := 0
	for _, r := range rows[1:] {
		name, ok := names[r[col["单据号"]]]
		if !ok {
			continue
		}
		checked++
		if state := r[col["状态"]]; !strings.HasPrefix(name, state+" ") {
			t.Errorf("draft %s: the export's 状态 is %q, the console's statusName %q", r[col["单据号"]], state, name)
		}
	}
	if checked < 2 {
		t.Fatalf("the drafts sheet lists %d of the two drafts: %v", checked, rows)
	}
	d, err := adapter.New().Describe(context.Background(), &sdk.DescribeRequest{})
	if err != nil {
		t.Fatal(err)
	}
	openName, _, _ := strings.Cut(names[open], " ")
	for _, wl := range d.WorkLists {
		if wl.Name == adapter.WorkListDrafts && !strings.HasPrefix(wl.Title, openName) {
			t.Errorf("work list %q: an open draft is %q", wl.Title, openName)
		}
	}
}
