package adapter_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/tracecode/adapter"
)

// oldDraft is a draft as the versions before the confirmation mark stored
// it (draft/<id>): confirmed drafts carry their receipt number and, once
// their receipt event was acknowledged, "published": true.
func oldDraft(id, status, receiptNo string, published bool) []byte {
	d := map[string]any{"id": id, "status": status, "supplierBillNo": strings.Split(id, "@")[0], "supplierCode": "91350200MA31A0001X",
		"supplierName": "厦门示例医药有限公司", "billTime": "2026-11-20 09:30:00", "createdAt": "2026-11-20T10:00:00+08:00",
		"lines": []map[string]any{{"lineNo": 1, "itemCode": "YP0001", "itemName": "阿莫西林胶囊", "batchNo": "B2609", "expiryDate": "2028-09-14",
			"qty": "2", "unit": "盒", "codes": []string{"81000010000000771234", "81000010000000772345"}}},
		"adjustments": []any{}}
	if status == "confirmed" {
		d["confirmedAt"], d["confirmedBy"], d["confirmMessageId"], d["receiptNo"] = "2026-11-20T11:00:00+08:00", "pharm01", "c-"+id, receiptNo
	}
	if published {
		d["published"] = true
	}
	b, err := json.Marshal(d)
	if err != nil {
		panic(err)
	}
	return b
}

// TestReceiptsConfirmedBeforeTheMarkAreRecovered: drafts confirmed before
// confirmations were marked (receiptpending/) whose receipt event was
// lost are confirmed in the store, off the work list, unmarked, and the
// stock-in sync publishes only marked ones, so their receipts never
// reached HIS. The sync must read every stored draft once (in pages, and
// resuming after an interruption), publish each such receipt exactly once
// with its receipt's event id, leave published and open drafts alone,
// report the counts, and not run again once done.
func TestReceiptsConfirmedBeforeTheMarkAreRecovered(t *testing.T) {
	t.Parallel()
	e, host := newFaultEnv(t)
	ctx := t.Context()
	// A receipt published through the normal path whose draft then lost
	// its "published" (the earliest versions ignored a failed write of
	// it): published again, with the same event id.
	reissued := fetchOne(t, e)
	first := must[struct{ EventID, ReceiptNo string }](t, e.send(adapter.OpDraftConfirm, map[string]any{"draftId": reissued, "by": "pharm02"}), sdk.StatusOK)
	if _, err := host.Put(ctx, site, "draft/"+url.PathEscape(reissued), oldDraft(reissued, "confirmed", first.ReceiptNo, false)); err != nil {
		t.Fatal(err)
	}
	s := baseSettings(e.url, e.dir)
	s["fetchSmallest"], s["syncEnabled"] = "false", "false"
	if ds := e.configure(s); ds.HasError() {
		t.Fatal(ds)
	}
	lost := map[string]string{reissued: first.ReceiptNo} // draft id → receipt number
	put := func(id string, value []byte) {
		t.Helper()
		if _, err := host.Put(ctx, site, "draft/"+url.PathEscape(id), value); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 30 {
		id := []string{fmt.Sprintf("RK20261120%04d", i), fmt.Sprintf("送货单-%03d", i), fmt.Sprintf("RK20261121%04d@91350200MA31A0002X", i)}[i%3]
		lost[id] = fmt.Sprintf("CG20261120%06d", 100+i)
		put(id, oldDraft(id, "confirmed", lost[id], false))
	}
	// The version that marked a confirmation on the work list.
	lost["RK202611220001"] = "CG20261122000001"
	put("RK202611220001", oldDraft("RK202611220001", "confirmed", lost["RK202611220001"], false))
	if _, err := host.Put(ctx, site, "draftopen/RK202611220001", []byte(`{"confirming":true}`)); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		put(fmt.Sprintf("RK2026111900%02d", i), oldDraft(fmt.Sprintf("RK2026111900%02d", i), "confirmed", fmt.Sprintf("CG20261119%06d", i), true))
		open := fmt.Sprintf("RK2026112300%02d", i)
		put(open, oldDraft(open, "open", "", false))
		if _, err := host.Put(ctx, site, "draftopen/"+open, []byte("{}")); err != nil {
			t.Fatal(err)
		}
	}
	drafts, confirmed := 0, 0
	for _, en := range e.state("draft/") {
		drafts++
		if strings.Contains(string(en.Value), `"status":"confirmed"`) {
			confirmed++
		}
	}
	before := len(e.events(adapter.EventReceipt))

	// The first run stops after two pages (its progress cannot be stored).
	var saves atomic.Int32
	host.mu.Lock()
	host.casFail = func(key string) bool { return key == "recovery/receipts" && saves.Add(1) > 2 }
	host.mu.Unlock()
	run := func(n int) *sdk.RunJobResponse {
		t.Helper()
		r, err := e.plugin.RunJob(ctx, &sdk.RunJobRequest{Site: site, Job: adapter.JobStockInSync, Now: e.clock.Now(), TraceID: fmt.Sprintf("run-%d", n)})
		if err != nil {
			t.Fatalf("run %d: %v", n, err)
		}
		return r
	}
	r1 := run(1)
	if !r1.Diagnostics.HasError() || !strings.Contains(r1.Diagnostics.String(), "recovery") {
		t.Errorf("the interrupted recovery is not reported: %s", r1.Diagnostics)
	}
	host.mu.Lock()
	host.casFail = nil
	host.mu.Unlock()
	r2 := run(2)
	if r2.Diagnostics.HasError() {
		t.Fatalf("run 2: %s", r2.Diagnostics)
	}
	if want := fmt.Sprintf("done after 2 run(s): %d draft(s) read, %d confirmed", drafts, confirmed); !strings.Contains(r2.Summary, want) {
		t.Errorf("run 2 summary %q does not say %q", r2.Summary, want)
	}
	r3 := run(3)
	if strings.Contains(r3.Summary, "recovery") || r3.Diagnostics.HasError() {
		t.Errorf("the recovery ran again after it was done: %q %s", r3.Summary, r3.Diagnostics)
	}

	evs := e.events(adapter.EventReceipt)[before:]
	byDraft := map[string][]sdk.Event{}
	for _, ev := range evs {
		var rc struct{ DraftID, ReceiptNo, ConfirmedBy string }
		if err := json.Unmarshal(ev.Payload, &rc); err != nil {
			t.Fatal(err)
		}
		byDraft[rc.DraftID] = append(byDraft[rc.DraftID], ev)
		if lost[rc.DraftID] != rc.ReceiptNo || ev.ID != "tracecode-receipt-"+site+"-"+rc.ReceiptNo {
			t.Errorf("receipt %s (event %s) of draft %s: not a lost receipt or not its event id", rc.ReceiptNo, ev.ID, rc.DraftID)
		}
	}
	for id := range lost {
		if n := len(byDraft[id]); n != 1 {
			t.Errorf("the lost receipt of draft %s was published %d times, want once", id, n)
		}
	}
	if len(evs) != len(lost) {
		t.Errorf("%d receipts published, want the %d lost ones", len(evs), len(lost))
	}
	if got := byDraft[reissued]; len(got) == 1 && got[0].ID != first.EventID {
		t.Errorf("the receipt published again has event id %s, first published as %s: HIS cannot tell it is the same", got[0].ID, first.EventID)
	}
	if left := e.state("receiptpending/"); len(left) != 0 {
		t.Errorf("marks left: %v", left)
	}
	list := must[struct{ Items []struct{ ID, Status string } }](t, e.send(adapter.OpDraftsList, nil), sdk.StatusOK)
	opened := 0
	for _, it := range list.Items {
		if it.Status != "open" {
			t.Errorf("the work list holds %+v after its receipt was published", it)
		}
		if strings.HasPrefix(it.ID, "RK2026112300") {
			opened++
		}
	}
	if opened != 3 {
		t.Errorf("work list %+v, want the 3 open drafts stored before", list.Items)
	}
}
