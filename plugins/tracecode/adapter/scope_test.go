package adapter_test

import (
	"encoding/json"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/tracecode/adapter"
)

// sameNumber rewrites a stock-in listing so that its first two documents
// have the same number from two different suppliers, as happens on the
// platform: a document number is the supplier's own, unique only among
// that supplier's documents.
func sameNumber(t *testing.T, body []byte) []byte {
	t.Helper()
	var ans map[string]any
	if err := json.Unmarshal(body, &ans); err != nil {
		t.Error(err)
		return body
	}
	bills := ans["data"].(map[string]any)["bills"].([]any)
	for i, sup := range [][2]string{{"91350200MA31A0001X", "厦门示例医药有限公司"}, {"91350200MA31B0002Y", "福建示例医药物流有限公司"}} {
		b := bills[i].(map[string]any)
		b["billNo"], b["fromOrgCode"], b["fromOrgName"] = "PS-0001", sup[0], sup[1]
	}
	out, _ := json.Marshal(ans)
	return out
}

// TestSameNumberFromTwoSuppliers: two suppliers' documents with the same
// number were stored, drafted and announced under the number alone: the
// second overwrote the first's record and codes, got no draft of its own
// (or the first's), and its stock-in event had the first's id. Each must
// be a document of its own, with its own draft, codes and event.
func TestSameNumberFromTwoSuppliers(t *testing.T) {
	t.Parallel()
	e := newListingEnv(t, func(body []byte) []byte { return sameNumber(t, body) })
	day := map[string]string{"beginDate": "2026-11-26", "endDate": "2026-11-26"}
	out := must[fetchReply](t, e.send(adapter.OpStockInFetch, day), sdk.StatusOK)
	if out.Bills != 3 || out.New != 3 || len(out.Drafts) != 3 {
		t.Fatalf("fetch %+v, want 3 new documents with 3 drafts", out)
	}
	again := must[fetchReply](t, e.send(adapter.OpStockInFetch, day), sdk.StatusOK)
	if again.Unchanged != 3 || again.Changed != 0 {
		t.Errorf("refetch %+v, want 3 unchanged", again)
	}
	ids := map[string]bool{}
	for _, ev := range e.events(adapter.EventStockIn) {
		if ids[ev.ID] {
			t.Errorf("two stock-in events with id %s", ev.ID)
		}
		ids[ev.ID] = true
	}
	if len(ids) != 3 {
		t.Errorf("%d stock-in events, want 3", len(ids))
	}
	// Each draft holds its own supplier's lines and codes.
	listed := sameNumber(t, mustListing(t, e))
	var ans struct {
		Data struct {
			Bills []struct {
				BillNo, FromOrgCode string
				Lines               []struct{ Codes []struct{ Code string } }
			}
		}
	}
	if err := json.Unmarshal(listed, &ans); err != nil {
		t.Fatal(err)
	}
	type dv struct {
		ID, SupplierCode, SupplierBillNo string
		Lines                            []struct{ Codes []string }
	}
	bySupplier := map[string]dv{}
	for _, id := range out.Drafts {
		d := must[dv](t, e.send(adapter.OpDraftGet, map[string]string{"draftId": id}), sdk.StatusOK)
		if d.SupplierBillNo == "PS-0001" {
			bySupplier[d.SupplierCode] = d
		}
	}
	if len(bySupplier) != 2 {
		t.Fatalf("drafts of PS-0001 by supplier: %+v, want one per supplier", bySupplier)
	}
	// The first keeps the number as its id (as every draft had before);
	// the second is qualified by its supplier.
	if a, b := bySupplier["91350200MA31A0001X"].ID, bySupplier["91350200MA31B0002Y"].ID; a != "PS-0001" || b != "PS-0001@91350200MA31B0002Y" {
		t.Errorf("draft ids %q and %q", a, b)
	}
	for _, b := range ans.Data.Bills[:2] {
		d := bySupplier[b.FromOrgCode]
		if len(d.Lines) != len(b.Lines) || d.Lines[0].Codes[0] != b.Lines[0].Codes[0].Code {
			t.Errorf("draft %s of %s does not hold its own document's lines: %+v", d.ID, b.FromOrgCode, d)
		}
	}
	// Both confirm, each into a receipt of its own supplier.
	for sup, d := range bySupplier {
		r := must[map[string]any](t, e.send(adapter.OpDraftConfirm, map[string]any{"draftId": d.ID, "by": "pharm02"}), sdk.StatusOK)
		if r["draftId"] != d.ID {
			t.Errorf("%s: confirmed %v", sup, r)
		}
	}
	got := map[string]bool{}
	for _, ev := range e.events(adapter.EventReceipt) {
		var rc struct{ Supplier map[string]string }
		_ = json.Unmarshal(ev.Payload, &rc)
		got[rc.Supplier["code"]] = true
	}
	if len(got) != 2 {
		t.Errorf("receipts for suppliers %v, want both", got)
	}
	// The medical-insurance upload needs to know which one is meant.
	r := e.send(adapter.OpMIUpload, map[string]any{"billNo": "PS-0001", "source": "platform"})
	if r.Status != sdk.StatusInvalid || !hasDiag(r.Diagnostics, "$.supplierCode", "required") {
		t.Errorf("medical-insurance upload of an ambiguous number: %s %s", r.Status, r.Diagnostics)
	}
}

// mustListing returns the platform's raw stock-in listing of 2026-11-26.
func mustListing(t *testing.T, e *env) []byte {
	t.Helper()
	var bills []any
	for _, b := range e.sim.StockIn(time.Date(2026, 11, 26, 0, 0, 0, 0, cst)) {
		bills = append(bills, b)
	}
	out, err := json.Marshal(map[string]any{"code": "0", "data": map[string]any{"bills": bills}})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// unscope moves a fetched document to the keys it had before documents
// were scoped by supplier (number alone) and drops what records of that
// version lacked, as a site upgraded from that version holds them.
func unscope(t *testing.T, e *env, no, supplier string) {
	t.Helper()
	ctx := t.Context()
	move := func(from, to string, fix func(map[string]any)) {
		t.Helper()
		got, err := e.host.Get(ctx, site, from)
		if err != nil {
			t.Fatalf("%s: %v", from, err)
		}
		v := got.Value
		if fix != nil {
			var m map[string]any
			if err := json.Unmarshal(v, &m); err != nil {
				t.Fatal(err)
			}
			fix(m)
			v, _ = json.Marshal(m)
		}
		if _, err := e.host.Put(ctx, site, to, v); err != nil {
			t.Fatal(err)
		}
		if from != to {
			if err := e.host.Delete(ctx, site, from); err != nil {
				t.Fatal(err)
			}
		}
	}
	idx, err := e.host.Get(ctx, site, "docidx/in/"+no+"/"+supplier)
	if err != nil {
		t.Fatal(err)
	}
	var ref struct{ Key string }
	_ = json.Unmarshal(idx.Value, &ref)
	move(ref.Key, ref.Key, func(m map[string]any) { delete(m, "scoped"); delete(m, "draftId") })
	move("docidx/in/"+no+"/"+supplier, "docidx/in/"+no, nil)
	for _, c := range e.state("codes/in/" + no + "/" + supplier + "/") {
		move(c.Key, "codes/in/"+no+"/"+strings.TrimPrefix(c.Key, "codes/in/"+no+"/"+supplier+"/"), nil)
	}
	move("draft/"+no, "draft/"+no, func(m map[string]any) { delete(m, "sourceHash") })
}

// TestUnscopedStateStaysReadable: documents and drafts stored before
// documents were scoped by supplier are read under their old keys (no
// migration): a refetch finds them unchanged, their drafts keep their ids
// and confirm, the medical-insurance upload finds them, and another
// supplier's document of the same number is stored beside them.
func TestUnscopedStateStaysReadable(t *testing.T) {
	t.Parallel()
	var clash atomic.Bool
	var no string
	e := newListingEnv(t, func(body []byte) []byte {
		if !clash.Load() {
			return body
		}
		var ans map[string]any
		if err := json.Unmarshal(body, &ans); err != nil {
			t.Error(err)
			return body
		}
		b := ans["data"].(map[string]any)["bills"].([]any)[1].(map[string]any)
		b["billNo"], b["fromOrgCode"] = no, "91350200MA31Z9999Q"
		out, _ := json.Marshal(ans)
		return out
	})
	day := map[string]string{"beginDate": "2026-11-26", "endDate": "2026-11-26"}
	first := must[fetchReply](t, e.send(adapter.OpStockInFetch, day), sdk.StatusOK)
	bills := e.sim.StockIn(time.Date(2026, 11, 26, 0, 0, 0, 0, cst))
	no = bills[0].BillNo
	unscope(t, e, no, bills[0].FromOrgCode)

	again := must[fetchReply](t, e.send(adapter.OpStockInFetch, day), sdk.StatusOK)
	if again.Unchanged != len(bills) || again.New != 0 || len(again.Drafts) != 0 {
		t.Fatalf("refetch after the upgrade %+v, want all %d unchanged", again, len(bills))
	}
	if n := len(e.events(adapter.EventStockIn)); n != len(first.Drafts) {
		t.Errorf("%d stock-in events, want %d", n, len(first.Drafts))
	}
	list := must[struct{ Items []struct{ ID string } }](t, e.send(adapter.OpDraftsList, nil), sdk.StatusOK)
	ids := map[string]int{}
	for _, it := range list.Items {
		ids[billOf(it.ID)]++
	}
	if ids[no] != 1 || len(list.Items) != len(bills) {
		t.Errorf("work list %+v, want the old draft %s once among %d", list.Items, no, len(bills))
	}
	must[map[string]any](t, e.send(adapter.OpDraftConfirm, map[string]any{"draftId": no, "by": "pharm02"}), sdk.StatusOK)
	must[map[string]any](t, e.send(adapter.OpMIUpload, map[string]any{"billNo": no, "source": "platform"}), sdk.StatusOK)

	// Another supplier's document with that number.
	clash.Store(true)
	third := must[fetchReply](t, e.send(adapter.OpStockInFetch, day), sdk.StatusOK)
	if third.New != 1 || len(third.Drafts) != 1 || third.Drafts[0] != no+"@91350200MA31Z9999Q" {
		t.Fatalf("fetch with a second %s: %+v", no, third)
	}
	old := getDraft(t, e, no)
	if old.Status != "confirmed" || len(old.Lines) != len(bills[0].Lines) {
		t.Errorf("the old draft changed: %+v", old)
	}
	r := e.send(adapter.OpMIUpload, map[string]any{"billNo": no, "source": "platform"})
	if !hasDiag(r.Diagnostics, "$.supplierCode", "required") {
		t.Errorf("medical-insurance upload of %s from two suppliers: %s %s", no, r.Status, r.Diagnostics)
	}
	must[map[string]any](t, e.send(adapter.OpMIUpload, map[string]any{"billNo": no, "supplierCode": bills[0].FromOrgCode}), sdk.StatusOK)
}
