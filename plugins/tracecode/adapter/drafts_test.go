package adapter_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/sdk/sdktest"
	"github.com/medgate/medgate/plugins/tracecode/adapter"
	"github.com/medgate/medgate/test/sim/tracecode"
)

type fetchReply struct {
	Pages, Bills, New, Changed, Unchanged, Codes int
	Drafts                                       []string
}

type draftView struct {
	ID          string `json:"id"`
	Status      string `json:"status"`
	Version     int64  `json:"version"`
	ReceiptNo   string `json:"receiptNo"`
	ConfirmedBy string `json:"confirmedBy"`
	Lines       []struct {
		LineNo    int      `json:"lineNo"`
		ItemCode  string   `json:"itemCode"`
		ItemName  string   `json:"itemName"`
		Qty       string   `json:"qty"`
		BatchNo   string   `json:"batchNo"`
		Codes     []string `json:"codes"`
		PackRatio string   `json:"packRatio"`
	} `json:"lines"`
	Adjustments []struct {
		At     time.Time `json:"at"`
		By     string    `json:"by"`
		Op     string    `json:"op"`
		LineNo int       `json:"lineNo"`
		Field  string    `json:"field"`
		From   string    `json:"from"`
		To     string    `json:"to"`
		Reason string    `json:"reason"`
	} `json:"adjustments"`
}

func TestFetchStoresDocumentsAndCreatesDrafts(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(s map[string]string) { s["pageSize"] = "2" })
	out := must[fetchReply](t, e.send(adapter.OpStockInFetch, map[string]string{"beginDate": "2026-11-25", "endDate": "2026-11-26"}), sdk.StatusOK)
	want := append(e.sim.StockIn(time.Date(2026, 11, 25, 0, 0, 0, 0, cst)), e.sim.StockIn(time.Date(2026, 11, 26, 0, 0, 0, 0, cst))...)
	codes := 0
	for _, b := range want {
		for _, l := range b.Lines {
			codes += len(l.Codes)
		}
	}
	if out.Bills != len(want) || out.New != len(want) || len(out.Drafts) != len(want) || out.Codes != codes || out.Pages != 3 {
		t.Fatalf("fetch %+v; the platform has %d documents with %d codes (3 pages of 2)", out, len(want), codes)
	}
	if n := len(e.events(adapter.EventStockIn)); n != len(want) {
		t.Errorf("%d stock-in events, want %d", n, len(want))
	}
	// Stored for reconciliation: each document with all its codes.
	for _, b := range want {
		n := 0
		for _, c := range e.state("codes/in/" + b.BillNo + "/") {
			var rows []map[string]any
			_ = json.Unmarshal(c.Value, &rows)
			n += len(rows)
		}
		bc := 0
		for _, l := range b.Lines {
			bc += len(l.Codes)
		}
		if n != bc {
			t.Errorf("%s: %d codes stored, platform lists %d", b.BillNo, n, bc)
		}
	}
	// Fetching again changes nothing.
	again := must[fetchReply](t, e.send(adapter.OpStockInFetch, map[string]string{"beginDate": "2026-11-25", "endDate": "2026-11-26"}), sdk.StatusOK)
	if again.New != 0 || again.Unchanged != len(want) || len(again.Drafts) != 0 {
		t.Errorf("second fetch %+v, want everything unchanged", again)
	}
	// The work list shows the open drafts.
	list := must[struct {
		Items []struct {
			ID               string
			Lines, Codes     int
			MissingItemCodes int
		}
	}](t, e.send(adapter.OpDraftsList, map[string]any{}), sdk.StatusOK)
	if len(list.Items) != len(want) {
		t.Fatalf("work list has %d items, want %d", len(list.Items), len(want))
	}
	// Bad ranges are refused before any call.
	for _, p := range []map[string]string{{"beginDate": "2026-11-26", "endDate": "2026-11-25"}, {"beginDate": "2026-10-01", "endDate": "2026-11-25"}, {"beginDate": "x", "endDate": "2026-11-25"}} {
		if r := e.send(adapter.OpStockInFetch, p); r.Status != sdk.StatusInvalid {
			t.Errorf("%v: %s", p, r.Status)
		}
	}
}

func TestStockInSyncJob(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	r, err := e.plugin.RunJob(t.Context(), &sdk.RunJobRequest{Site: site, Job: adapter.JobStockInSync, Now: e.clock.Now(), TraceID: "t1"})
	if err != nil {
		t.Fatal(err)
	}
	if r.Processed != 6 { // two days of 3 deliveries
		t.Errorf("job: %+v", r)
	}
	if _, err := e.plugin.RunJob(t.Context(), &sdk.RunJobRequest{Site: site, Job: "nope"}); err == nil {
		t.Error("an unknown job ran")
	}
}

// fetchOne fetches today's deliveries and returns the first draft id.
func fetchOne(t *testing.T, e *env) string {
	t.Helper()
	out := must[fetchReply](t, e.send(adapter.OpStockInFetch, map[string]string{"beginDate": "2026-11-26", "endDate": "2026-11-26"}), sdk.StatusOK)
	if len(out.Drafts) == 0 {
		t.Fatal("no draft created")
	}
	return out.Drafts[0]
}

func getDraft(t *testing.T, e *env, id string) draftView {
	t.Helper()
	return must[draftView](t, e.send(adapter.OpDraftGet, map[string]string{"draftId": id}), sdk.StatusOK)
}

func TestDraftAdjustAndConfirm(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	id := fetchOne(t, e)
	d := getDraft(t, e, id)
	if d.Status != "open" || len(d.Lines) == 0 || d.Lines[0].ItemCode == "" {
		t.Fatalf("draft %+v (item codes come from productItemMap)", d)
	}
	l := d.Lines[0]
	removed := l.Codes[len(l.Codes)-1]
	newQty := "7"
	adjust := map[string]any{"draftId": id, "by": "pharm01 王药师", "reason": "到货清点", "expectedVersion": d.Version, "changes": []any{
		map[string]any{"op": "setQty", "lineNo": l.LineNo, "qty": newQty},
		map[string]any{"op": "setField", "lineNo": l.LineNo, "field": "batchNo", "value": "B-CORRECTED"},
		map[string]any{"op": "removeCodes", "lineNo": l.LineNo, "codes": []string{removed}},
		map[string]any{"op": "addLine", "line": map[string]any{"itemCode": "YP9999", "itemName": "赠品", "batchNo": "Z1", "expiryDate": "2028-01-31", "qty": "1", "codes": []string{drugCode("8100009", 1)}}},
	}}
	e.clock.Add(3 * time.Minute)
	out := must[map[string]any](t, e.send(adapter.OpDraftAdjust, adjust), sdk.StatusOK)
	if out["applied"] != 4.0 {
		t.Fatalf("adjust reply %v", out)
	}
	d2 := getDraft(t, e, id)
	if d2.Lines[0].Qty != newQty || d2.Lines[0].BatchNo != "B-CORRECTED" || len(d2.Lines[0].Codes) != len(l.Codes)-1 || len(d2.Lines) != len(d.Lines)+1 {
		t.Fatalf("adjusted draft %+v", d2)
	}
	if len(d2.Adjustments) != 4 {
		t.Fatalf("%d adjustments recorded, want 4", len(d2.Adjustments))
	}
	for _, a := range d2.Adjustments {
		if a.By != "pharm01 王药师" || !a.At.Equal(e.clock.Now()) || a.Reason != "到货清点" {
			t.Errorf("adjustment %+v does not say who and when", a)
		}
	}
	if a := d2.Adjustments[0]; a.Op != "setQty" || a.From != l.Qty || a.To != newQty {
		t.Errorf("setQty recorded as %+v", a)
	}
	// A stale version is refused; so is a change without who.
	stale := map[string]any{"draftId": id, "by": "x", "expectedVersion": d.Version, "changes": []any{map[string]any{"op": "setQty", "lineNo": l.LineNo, "qty": "1"}}}
	if r := e.send(adapter.OpDraftAdjust, stale); r.Status != sdk.StatusInvalid || !hasDiag(r.Diagnostics, "$.expectedVersion", "state") {
		t.Errorf("stale adjustment: %s %s", r.Status, r.Diagnostics)
	}
	if r := e.send(adapter.OpDraftAdjust, map[string]any{"draftId": id, "changes": []any{map[string]any{"op": "setQty", "lineNo": 1, "qty": "1"}}}); !hasDiag(r.Diagnostics, "$.by", "required") {
		t.Errorf("adjustment without who: %s", r.Diagnostics)
	}
	// Every bad change is reported at once, and none is applied.
	bad := map[string]any{"draftId": id, "by": "x", "changes": []any{
		map[string]any{"op": "setQty", "lineNo": 99, "qty": "1"},
		map[string]any{"op": "setField", "lineNo": 1, "field": "colour", "value": "red"},
		map[string]any{"op": "addCodes", "lineNo": 1, "codes": []string{"123"}},
		map[string]any{"op": "addCodes", "lineNo": 1, "codes": []string{d2.Lines[0].Codes[0]}},
		map[string]any{"op": "teleport"},
	}}
	r := e.send(adapter.OpDraftAdjust, bad)
	for _, want := range []string{"$.changes[0].lineNo", "$.changes[1].field", "$.changes[2].codes[0]", "$.changes[3].codes[0]", "$.changes[4].op"} {
		found := false
		for _, d := range r.Diagnostics {
			found = found || d.Field == want
		}
		if !found {
			t.Errorf("no diagnostic at %s: %s", want, r.Diagnostics)
		}
	}
	if d3 := getDraft(t, e, id); d3.Version != d2.Version {
		t.Errorf("a refused adjustment changed the draft")
	}

	// Confirm: the formal purchase receipt is published once.
	conf := must[map[string]any](t, e.sendID("confirm-1", adapter.OpDraftConfirm, map[string]any{"draftId": id, "by": "pharm02 李主管"}, false), sdk.StatusOK)
	evs := e.events(adapter.EventReceipt)
	if len(evs) != 1 {
		t.Fatalf("%d receipt events, want 1", len(evs))
	}
	var rc struct {
		ReceiptNo, DraftID, ConfirmedBy, SupplierBillNo string
		Lines                                           []struct {
			ItemCode, Qty, BatchNo string
			Codes                  []string
		}
		Receiver    map[string]string
		Adjustments int
	}
	if err := json.Unmarshal(evs[0].Payload, &rc); err != nil {
		t.Fatal(err)
	}
	if rc.ReceiptNo != conf["receiptNo"] || rc.ConfirmedBy != "pharm02 李主管" || rc.Lines[0].Qty != newQty || rc.Lines[0].BatchNo != "B-CORRECTED" ||
		len(rc.Lines) != len(d2.Lines) || rc.Adjustments != 4 || rc.Receiver["orgCode"] != "H35020300001" || rc.SupplierBillNo != billOf(id) || rc.DraftID != id {
		t.Errorf("receipt event %s", evs[0].Payload)
	}
	if evs[0].ID != conf["eventId"] || evs[0].Key != billOf(id) {
		t.Errorf("event id %s key %s, reply %v", evs[0].ID, evs[0].Key, conf)
	}
	// A second confirmation fails and publishes nothing.
	r = e.sendID("confirm-2", adapter.OpDraftConfirm, map[string]any{"draftId": id, "by": "someone else"}, false)
	if r.Status != sdk.StatusInvalid || !hasDiag(r.Diagnostics, "$.draftId", "state") {
		t.Errorf("second confirmation: %s %s", r.Status, r.Diagnostics)
	}
	// The retry of the first confirmation message answers the same receipt.
	again := must[map[string]any](t, e.sendID("confirm-1", adapter.OpDraftConfirm, map[string]any{"draftId": id, "by": "pharm02 李主管"}, true), sdk.StatusOK)
	if again["receiptNo"] != conf["receiptNo"] {
		t.Errorf("retry answered %v, first %v", again, conf)
	}
	if n := len(e.events(adapter.EventReceipt)); n != 1 {
		t.Errorf("%d receipt events after the retries, want 1", n)
	}
	// A confirmed draft can no longer change, and leaves the work list.
	if r := e.send(adapter.OpDraftAdjust, stale); r.Status != sdk.StatusInvalid {
		t.Errorf("adjusting a confirmed draft: %s", r.Status)
	}
	list := must[struct{ Items []struct{ ID string } }](t, e.send(adapter.OpDraftsList, nil), sdk.StatusOK)
	for _, it := range list.Items {
		if it.ID == id {
			t.Errorf("confirmed draft %s still on the work list", id)
		}
	}
}

func TestDraftConfirmPreconditions(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(s map[string]string) { s["productItemMap"] = "" })
	id := fetchOne(t, e)
	r := e.send(adapter.OpDraftConfirm, map[string]any{"draftId": id, "by": "x"})
	if r.Status != sdk.StatusInvalid || !hasDiag(r.Diagnostics, "$.lines[0].itemCode", "precondition") {
		t.Fatalf("confirming without item codes: %s %s", r.Status, r.Diagnostics)
	}
	if r := e.send(adapter.OpDraftConfirm, map[string]any{"draftId": "nope", "by": "x"}); r.Status != sdk.StatusInvalid {
		t.Errorf("unknown draft: %s", r.Status)
	}
	if len(e.events(adapter.EventReceipt)) != 0 {
		t.Error("a receipt was published")
	}
}

// TestDraftConfirmedOnceUnderConcurrency: many confirmations of one draft
// at once; exactly one wins (compare-and-set on the draft).
func TestDraftConfirmedOnceUnderConcurrency(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	id := fetchOne(t, e)
	const n = 8
	var wg sync.WaitGroup
	results := make([]*sdk.HandleResponse, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = e.sendID("c-"+strconv.Itoa(i), adapter.OpDraftConfirm, map[string]any{"draftId": id, "by": fmt.Sprintf("user%d", i)}, false)
		}()
	}
	wg.Wait()
	oks := 0
	for _, r := range results {
		switch {
		case r.Status == sdk.StatusOK:
			oks++
		case r.Status == sdk.StatusInvalid && hasDiag(r.Diagnostics, "$.draftId", "state"):
		default:
			t.Errorf("unexpected outcome %s %s", r.Status, r.Diagnostics)
		}
	}
	if oks != 1 || len(e.events(adapter.EventReceipt)) != 1 {
		t.Fatalf("%d confirmations succeeded and %d receipts published, want 1 and 1", oks, len(e.events(adapter.EventReceipt)))
	}
}

// TestDraftAddLineQtyNotANumber: a new line's quantity must be a finite
// positive number. "NaN" and "Inf" parse as floats and are not <= 0; once
// stored they made the work list and the receipt unencodable (JSON has no
// NaN), so the draft could be neither listed nor published.
func TestDraftAddLineQtyNotANumber(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	id := fetchOne(t, e)
	for i, qty := range []string{"NaN", "Inf", "+Inf", "-Inf", "infinity"} {
		r := e.send(adapter.OpDraftAdjust, map[string]any{"draftId": id, "by": "x", "changes": []any{
			map[string]any{"op": "addLine", "line": map[string]any{"itemCode": "YP9999", "itemName": "赠品", "batchNo": "Z1", "expiryDate": "2028-01-31",
				"qty": qty, "codes": []string{drugCode("8100009", i+1)}}},
		}})
		if r.Status != sdk.StatusInvalid || !hasDiag(r.Diagnostics, "$.changes[0].line.qty", "amount") {
			t.Errorf("addLine with qty %q: %s %s", qty, r.Status, r.Diagnostics)
		}
	}
	must[map[string]any](t, e.send(adapter.OpDraftsList, nil), sdk.StatusOK)
	must[map[string]any](t, e.send(adapter.OpDraftConfirm, map[string]any{"draftId": id, "by": "x"}), sdk.StatusOK)
}

// TestDraftAddCodesTwiceInOneChange: a code repeated within one addCodes
// (or one addLine) is refused like a code already on the draft; it was
// added twice, so the receipt listed one package as two.
func TestDraftAddCodesTwiceInOneChange(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	id := fetchOne(t, e)
	d := getDraft(t, e, id)
	c := drugCode("8100009", 7)
	r := e.send(adapter.OpDraftAdjust, map[string]any{"draftId": id, "by": "x", "changes": []any{
		map[string]any{"op": "addCodes", "lineNo": d.Lines[0].LineNo, "codes": []string{c, " " + c}},
	}})
	if r.Status != sdk.StatusInvalid || !hasDiag(r.Diagnostics, "$.changes[0].codes[1]", "precondition") {
		t.Errorf("addCodes with a repeated code: %s %s", r.Status, r.Diagnostics)
	}
	c2 := drugCode("8100009", 8)
	r = e.send(adapter.OpDraftAdjust, map[string]any{"draftId": id, "by": "x", "changes": []any{
		map[string]any{"op": "addLine", "line": map[string]any{"itemCode": "YP9999", "itemName": "赠品", "batchNo": "Z1", "expiryDate": "2028-01-31",
			"qty": "2", "codes": []string{c2, c2}}},
	}})
	if r.Status != sdk.StatusInvalid || !hasDiag(r.Diagnostics, "$.changes[0].line.codes[1]", "precondition") {
		t.Errorf("addLine with a repeated code: %s %s", r.Status, r.Diagnostics)
	}
	if d2 := getDraft(t, e, id); d2.Version != d.Version {
		t.Errorf("a refused adjustment changed the draft")
	}
}

// faultHost is a memory host whose calls can be made to fail.
type faultHost struct {
	*sdktest.MemoryHost
	mu      sync.Mutex
	casFail func(key string) bool
	pubFail func(e sdk.Event) bool
	delFail func(key string) bool
	putFail func(key string) bool
}

func (h *faultHost) Put(ctx context.Context, site, key string, value []byte) (int64, error) {
	h.mu.Lock()
	f := h.putFail
	h.mu.Unlock()
	if f != nil && f(key) {
		return 0, errors.New("injected: state store unavailable")
	}
	return h.MemoryHost.Put(ctx, site, key, value)
}

func (h *faultHost) Delete(ctx context.Context, site, key string) error {
	h.mu.Lock()
	f := h.delFail
	h.mu.Unlock()
	if f != nil && f(key) {
		return errors.New("injected: state store unavailable")
	}
	return h.MemoryHost.Delete(ctx, site, key)
}

func (h *faultHost) CompareAndSet(ctx context.Context, site, key string, expect int64, value []byte) (int64, error) {
	h.mu.Lock()
	f := h.casFail
	h.mu.Unlock()
	if f != nil && f(key) {
		return 0, errors.New("injected: state store unavailable")
	}
	return h.MemoryHost.CompareAndSet(ctx, site, key, expect, value)
}

func (h *faultHost) Publish(ctx context.Context, site string, e sdk.Event) error {
	h.mu.Lock()
	f := h.pubFail
	h.mu.Unlock()
	if f != nil && f(e) {
		return errors.New("injected: events topic unavailable")
	}
	return h.MemoryHost.Publish(ctx, site, e)
}

// newFaultEnv is newEnv on a faultHost.
func newFaultEnv(t *testing.T) (*env, *faultHost) {
	t.Helper()
	clk := &clock{t: time.Date(2026, 11, 26, 10, 0, 0, 0, cst)}
	sim := tracecode.New(tracecode.Options{AppID: "app-1", AppSecret: appSecret, OrgCode: "H35020300001", TokenTTL: time.Hour, Seed: 42, Now: clk.Now})
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	host := &faultHost{MemoryHost: sdktest.NewMemoryHost()}
	a := adapter.New(adapter.WithClock(clk.Now), adapter.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	e := &env{t: t, sim: sim, url: srv.URL, host: host.MemoryHost, plugin: sdktest.Connect(t, a, host), clock: clk, dir: t.TempDir()}
	s := baseSettings(srv.URL, e.dir)
	s["fetchSmallest"] = "false"
	if ds := e.configure(s); ds.HasError() {
		t.Fatal(ds)
	}
	return e, host
}

// TestDraftConfirmRetryLeavesWorkList: a confirmation that stored the
// confirmed draft but failed to take it off the work list is redelivered;
// the retry must take it off (it published the receipt and left the
// confirmed draft on the work list for good).
func TestDraftConfirmRetryLeavesWorkList(t *testing.T) {
	t.Parallel()
	e, host := newFaultEnv(t)
	id := fetchOne(t, e)
	var once sync.Once
	host.mu.Lock()
	host.delFail = func(key string) bool {
		hit := false
		if strings.HasPrefix(key, "draftopen/") {
			once.Do(func() { hit = true })
		}
		return hit
	}
	host.mu.Unlock()
	payload := []byte(`{"draftId":"` + id + `","by":"pharm02"}`)
	r, err := e.plugin.Handle(t.Context(), &sdk.HandleRequest{Site: site, Type: adapter.OpDraftConfirm, MessageID: "c-1", Format: "json", Payload: payload, Attempt: 1})
	if err == nil && r.Status == sdk.StatusOK {
		t.Fatal("the confirmation succeeded despite the fault")
	}
	must[map[string]any](t, e.sendID("c-1", adapter.OpDraftConfirm, payload, true), sdk.StatusOK)
	list := must[struct{ Items []struct{ ID, Status string } }](t, e.send(adapter.OpDraftsList, nil), sdk.StatusOK)
	for _, it := range list.Items {
		if it.ID == id {
			t.Errorf("confirmed draft %s (%s) still on the work list", id, it.Status)
		}
	}
	if n := len(e.events(adapter.EventReceipt)); n != 1 {
		t.Errorf("%d receipt events, want 1", n)
	}
}

// TestFetchRetryCompletesDraftsAndEvents: a fetch that fails after a
// document was stored but before its draft was created or its stock-in
// event published is retried (the host redelivers the message, the job
// runs again). The retry must create the draft and publish the event; the
// document was stored unchanged, so it used to be skipped for good.
func TestFetchRetryCompletesDraftsAndEvents(t *testing.T) {
	t.Parallel()
	for _, fault := range []string{"draft", "event"} {
		t.Run(fault, func(t *testing.T) {
			t.Parallel()
			e, host := newFaultEnv(t)
			want := e.sim.StockIn(time.Date(2026, 11, 26, 0, 0, 0, 0, cst))
			first := want[len(want)-1].BillNo
			var once sync.Once
			failed := false
			fail := func() bool {
				hit := false
				once.Do(func() { hit, failed = true, true })
				return hit
			}
			host.mu.Lock()
			switch fault {
			case "draft":
				host.casFail = func(key string) bool { return strings.HasPrefix(key, "draft/"+first) && fail() }
			case "event":
				host.pubFail = func(ev sdk.Event) bool { return ev.Type == adapter.EventStockIn && ev.Key == first && fail() }
			}
			host.mu.Unlock()
			payload := []byte(`{"beginDate":"2026-11-26","endDate":"2026-11-26"}`)
			r, err := e.plugin.Handle(t.Context(), &sdk.HandleRequest{Site: site, Type: adapter.OpStockInFetch, MessageID: "f-1", Format: "json", Payload: payload, Attempt: 1})
			if !failed {
				t.Fatal("the fault was not hit")
			}
			if err == nil && r.Status == sdk.StatusOK {
				t.Fatalf("the fetch succeeded despite the fault: %s", r.Payload)
			}
			// Redelivery of the same message.
			r, err = e.plugin.Handle(t.Context(), &sdk.HandleRequest{Site: site, Type: adapter.OpStockInFetch, MessageID: "f-1", Format: "json", Payload: payload, Attempt: 2})
			if err != nil || r.Status != sdk.StatusOK {
				t.Fatalf("retry: %v %v", err, r)
			}
			if _, err := host.Get(t.Context(), site, "draft/"+first); err != nil {
				t.Errorf("the draft of %s was never created: %v", first, err)
			}
			list := must[struct{ Items []struct{ ID string } }](t, e.send(adapter.OpDraftsList, nil), sdk.StatusOK)
			if len(list.Items) != len(want) {
				t.Errorf("work list has %d drafts, want %d", len(list.Items), len(want))
			}
			got := map[string]int{}
			for _, ev := range e.events(adapter.EventStockIn) {
				got[ev.Key]++
			}
			for _, b := range want {
				if got[b.BillNo] != 1 {
					t.Errorf("%d stock-in events for %s, want 1", got[b.BillNo], b.BillNo)
				}
			}
		})
	}
}

// newListingEnv is newEnv (without fetching smallest sub-codes) on a
// platform whose stock-in listing answers pass through rewrite.
func newListingEnv(t *testing.T, rewrite func(body []byte) []byte) *env {
	t.Helper()
	clk := &clock{t: time.Date(2026, 11, 26, 10, 0, 0, 0, cst)}
	sim := tracecode.New(tracecode.Options{AppID: "app-1", AppSecret: appSecret, OrgCode: "H35020300001", TokenTTL: time.Hour, Seed: 42, Now: clk.Now})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, "/bill/stockin/list") {
			sim.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		sim.ServeHTTP(rec, r)
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rewrite(rec.Body.Bytes()))
	}))
	t.Cleanup(srv.Close)
	a := adapter.New(adapter.WithClock(clk.Now), adapter.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	host := sdktest.NewMemoryHost()
	e := &env{t: t, sim: sim, url: srv.URL, host: host, plugin: sdktest.Connect(t, a, host), clock: clk, dir: t.TempDir()}
	s := baseSettings(srv.URL, e.dir)
	s["fetchSmallest"] = "false"
	if ds := e.configure(s); ds.HasError() {
		t.Fatal(ds)
	}
	return e
}

// TestFetchStopsAtAnEmptyPage: a listing whose total is larger than what
// it lists (a total of lines or codes, not documents) returned empty pages
// after the last document, and the fetch asked for every page up to the
// total (up to 10,000 calls for one fetch). An empty page ends it.
func TestFetchStopsAtAnEmptyPage(t *testing.T) {
	t.Parallel()
	e := newListingEnv(t, func(body []byte) []byte {
		var ans map[string]any
		if err := json.Unmarshal(body, &ans); err != nil {
			t.Error(err)
		}
		if data, ok := ans["data"].(map[string]any); ok {
			data["total"] = 100000
		}
		b, _ := json.Marshal(ans)
		return b
	})
	sim := e.sim
	out := must[fetchReply](t, e.send(adapter.OpStockInFetch, map[string]string{"beginDate": "2026-11-26", "endDate": "2026-11-26"}), sdk.StatusOK)
	if want := len(sim.StockIn(time.Date(2026, 11, 26, 0, 0, 0, 0, cst))); out.Bills != want {
		t.Errorf("fetched %d documents, want %d", out.Bills, want)
	}
	if n := sim.Stats().Calls["stockin"]; n > 2 {
		t.Errorf("%d listing calls (%d pages), want at most 2", n, out.Pages)
	}
}

// TestFetchWarningsBounded: every code of a fetched document that the site
// does not accept was a warning of its own, in the reply's warnings and
// again in its diagnostics: a day of deliveries with thousands of such
// codes made a reply far over what a Kafka record holds. One warning per
// document says how many.
func TestFetchWarningsBounded(t *testing.T) {
	t.Parallel()
	e := newListingEnv(t, func(body []byte) []byte {
		// Codes of another code system: 20 digits, not starting with 8.
		return bytes.ReplaceAll(body, []byte(`"code":"8`), []byte(`"code":"6`))
	})
	sim := e.sim
	r := e.send(adapter.OpStockInFetch, map[string]string{"beginDate": "2026-11-26", "endDate": "2026-11-26"})
	out := must[struct {
		Bills    int
		Warnings []string
	}](t, r, sdk.StatusOK)
	codes := 0
	for _, b := range sim.StockIn(time.Date(2026, 11, 26, 0, 0, 0, 0, cst)) {
		for _, l := range b.Lines {
			codes += len(l.Codes)
		}
	}
	if codes <= 3*out.Bills {
		t.Fatalf("the day has %d codes in %d documents; the test needs more", codes, out.Bills)
	}
	if len(out.Warnings) > out.Bills || len(r.Diagnostics) > out.Bills {
		t.Errorf("%d warnings and %d diagnostics for %d documents with %d refused codes, want one per document", len(out.Warnings), len(r.Diagnostics), out.Bills, codes)
	}
	if len(out.Warnings) == 0 || !strings.Contains(out.Warnings[0], "more") {
		t.Errorf("warnings %q do not say how many codes were refused", out.Warnings)
	}
}

// TestDraftReceiptPublishedAfterHostGaveUp: the receipt event of a
// confirmed draft failed to publish and the host gave up on the confirming
// message (its deadline passed, it went to the dead-letter queue). The
// draft was confirmed and already off the work list, so the receipt was
// never published and nobody could see it. The draft must stay on the work
// list marked as not published, and the stock-in sync publishes it from
// the stored draft, once.
func TestDraftReceiptPublishedAfterHostGaveUp(t *testing.T) {
	t.Parallel()
	e, host := newFaultEnv(t)
	id := fetchOne(t, e)
	host.mu.Lock()
	host.pubFail = func(ev sdk.Event) bool { return ev.Type == adapter.EventReceipt }
	host.mu.Unlock()
	payload := []byte(`{"draftId":"` + id + `","by":"pharm02"}`)
	for attempt := 1; attempt <= 3; attempt++ {
		r, err := e.plugin.Handle(t.Context(), &sdk.HandleRequest{Site: site, Type: adapter.OpDraftConfirm, MessageID: "c-1", Format: "json", Payload: payload, Attempt: attempt, Recovering: attempt > 1})
		if err == nil && r.Status == sdk.StatusOK {
			t.Fatal("the confirmation succeeded although its receipt was not published")
		}
	}
	// The host gives up on c-1; the events topic is back.
	host.mu.Lock()
	host.pubFail = nil
	host.mu.Unlock()
	type item struct {
		ID, Status, ReceiptNo string
		ReceiptPending        bool
	}
	list := must[struct{ Items []item }](t, e.send(adapter.OpDraftsList, nil), sdk.StatusOK)
	var found *item
	for i := range list.Items {
		if list.Items[i].ID == id {
			found = &list.Items[i]
		}
	}
	if found == nil || found.Status != "confirmed" || !found.ReceiptPending || found.ReceiptNo == "" {
		t.Fatalf("the confirmed draft whose receipt is unpublished is not on the work list as such: %+v", list.Items)
	}
	if n := len(e.events(adapter.EventReceipt)); n != 0 {
		t.Fatalf("%d receipt events before the sync", n)
	}
	for run := 1; run <= 2; run++ {
		if _, err := e.plugin.RunJob(t.Context(), &sdk.RunJobRequest{Site: site, Job: adapter.JobStockInSync, Now: e.clock.Now(), TraceID: fmt.Sprintf("run-%d", run)}); err != nil {
			t.Fatal(err)
		}
		evs := e.events(adapter.EventReceipt)
		if len(evs) != 1 {
			t.Fatalf("run %d: %d receipt events, want 1", run, len(evs))
		}
		var rc struct{ ReceiptNo, DraftID, ConfirmedBy string }
		if err := json.Unmarshal(evs[0].Payload, &rc); err != nil {
			t.Fatal(err)
		}
		if rc.ReceiptNo != found.ReceiptNo || rc.DraftID != id || rc.ConfirmedBy != "pharm02" {
			t.Errorf("run %d: republished receipt %s", run, evs[0].Payload)
		}
	}
	list = must[struct{ Items []item }](t, e.send(adapter.OpDraftsList, nil), sdk.StatusOK)
	for _, it := range list.Items {
		if it.ID == id {
			t.Errorf("draft %s still on the work list after its receipt was published: %+v", id, it)
		}
	}
	if left := e.state("receiptpending/"); len(left) != 0 {
		t.Errorf("confirmation marks left after publishing: %v", left)
	}
}

// TestDraftFlaggedWhenDocumentChanges: a document whose draft waits for
// review changes on the platform (a code taken off a line). The refetch
// only warned; the draft kept the old lines and could be confirmed as it
// was, so HIS got a receipt of what the supplier no longer declares. The
// draft must be flagged (draft, work list), confirmation refused until
// staff acknowledge the change, and an unchanged refetch must not flag it
// again.
func TestDraftFlaggedWhenDocumentChanges(t *testing.T) {
	t.Parallel()
	var changed atomic.Bool
	e := newListingEnv(t, func(body []byte) []byte {
		if !changed.Load() {
			return body
		}
		var ans map[string]any
		if err := json.Unmarshal(body, &ans); err != nil {
			t.Error(err)
			return body
		}
		bills := ans["data"].(map[string]any)["bills"].([]any)
		l0 := bills[0].(map[string]any)["lines"].([]any)[0].(map[string]any)
		codes := l0["codes"].([]any)
		l0["codes"] = codes[:len(codes)-1]
		b, _ := json.Marshal(ans)
		return b
	})
	day := map[string]string{"beginDate": "2026-11-26", "endDate": "2026-11-26"}
	first := must[fetchReply](t, e.send(adapter.OpStockInFetch, day), sdk.StatusOK)
	id := first.Drafts[0]
	changed.Store(true)
	out := must[struct {
		Changed  int
		Warnings []string
	}](t, e.send(adapter.OpStockInFetch, day), sdk.StatusOK)
	if out.Changed != 1 {
		t.Fatalf("refetch %+v, want one changed document", out)
	}
	type flagged struct {
		ID              string
		PlatformChanged string
		Version         int64
	}
	d := must[flagged](t, e.send(adapter.OpDraftGet, map[string]string{"draftId": id}), sdk.StatusOK)
	if !strings.Contains(d.PlatformChanged, "line 1") {
		t.Errorf("draft %s not flagged with what changed: %+v", id, d)
	}
	list := must[struct{ Items []flagged }](t, e.send(adapter.OpDraftsList, nil), sdk.StatusOK)
	for _, it := range list.Items {
		if (it.ID == id) != (it.PlatformChanged != "") {
			t.Errorf("work list item %+v: only %s changed", it, id)
		}
	}
	r := e.send(adapter.OpDraftConfirm, map[string]any{"draftId": id, "by": "pharm02"})
	if r.Status != sdk.StatusInvalid || !hasDiag(r.Diagnostics, "$.draftId", "state") || !strings.Contains(r.Diagnostics.String(), "ackPlatformChange") {
		t.Fatalf("confirming a draft of a changed document: %s %s", r.Status, r.Diagnostics)
	}
	if n := len(e.events(adapter.EventReceipt)); n != 0 {
		t.Fatalf("%d receipts published for a stale draft", n)
	}
	must[map[string]any](t, e.send(adapter.OpDraftAdjust, map[string]any{"draftId": id, "by": "pharm01", "reason": "与平台核对", "expectedVersion": d.Version, "changes": []any{
		map[string]any{"op": "ackPlatformChange"}}}), sdk.StatusOK)
	dv := getDraft(t, e, id)
	if a := dv.Adjustments[len(dv.Adjustments)-1]; a.Op != "ackPlatformChange" || a.By != "pharm01" {
		t.Errorf("acknowledgement recorded as %+v", a)
	}
	if d := must[flagged](t, e.send(adapter.OpDraftGet, map[string]string{"draftId": id}), sdk.StatusOK); d.PlatformChanged != "" {
		t.Errorf("still flagged after the acknowledgement: %+v", d)
	}
	// The same version again changes nothing; nothing to acknowledge.
	again := must[fetchReply](t, e.send(adapter.OpStockInFetch, day), sdk.StatusOK)
	if again.Changed != 0 {
		t.Errorf("third fetch %+v", again)
	}
	if d := must[flagged](t, e.send(adapter.OpDraftGet, map[string]string{"draftId": id}), sdk.StatusOK); d.PlatformChanged != "" {
		t.Errorf("flagged again by an unchanged fetch: %+v", d)
	}
	if r := e.send(adapter.OpDraftAdjust, map[string]any{"draftId": id, "by": "x", "changes": []any{map[string]any{"op": "ackPlatformChange"}}}); !hasDiag(r.Diagnostics, "$.changes[0].op", "precondition") {
		t.Errorf("acknowledging without a change: %s %s", r.Status, r.Diagnostics)
	}
	must[map[string]any](t, e.send(adapter.OpDraftConfirm, map[string]any{"draftId": id, "by": "pharm02"}), sdk.StatusOK)
}

// TestStockInSyncNotBlockedByAnUnpublishableReceipt: a confirmed draft
// whose receipt cannot be published (the events topic refuses it, e.g. a
// record above the broker's size limit) made every stock-in sync run fail
// before it fetched anything: no new document became a draft for as long
// as that one receipt failed. The sync must report the receipt (an error
// naming it and what to do) and fetch anyway, and publish it once it can.
func TestStockInSyncNotBlockedByAnUnpublishableReceipt(t *testing.T) {
	t.Parallel()
	e, host := newFaultEnv(t)
	id := fetchOne(t, e)
	host.mu.Lock()
	host.pubFail = func(ev sdk.Event) bool { return ev.Type == adapter.EventReceipt }
	host.mu.Unlock()
	payload := []byte(`{"draftId":"` + id + `","by":"pharm02"}`)
	for attempt := 1; attempt <= 3; attempt++ {
		r, err := e.plugin.Handle(t.Context(), &sdk.HandleRequest{Site: site, Type: adapter.OpDraftConfirm, MessageID: "c-1", Format: "json", Payload: payload, Attempt: attempt, Recovering: attempt > 1})
		if err == nil && r.Status == sdk.StatusOK {
			t.Fatal("the confirmation succeeded although its receipt was not published")
		}
	}
	before := len(e.events(adapter.EventStockIn))
	// The receipt still cannot be published: the sync reports it and
	// fetches all the same (yesterday's three deliveries are new).
	r, err := e.plugin.RunJob(t.Context(), &sdk.RunJobRequest{Site: site, Job: adapter.JobStockInSync, Now: e.clock.Now(), TraceID: "run-1"})
	if err != nil {
		t.Fatalf("one unpublishable receipt failed the whole stock-in sync: %v", err)
	}
	if r.Processed != 6 || len(e.events(adapter.EventStockIn)) != before+3 {
		t.Errorf("sync with an unpublishable receipt: %+v, %d stock-in events, want 6 documents and %d events", r, len(e.events(adapter.EventStockIn)), before+3)
	}
	if !r.Diagnostics.HasError() || !strings.Contains(r.Diagnostics.String(), id) || !strings.Contains(r.Diagnostics.String(), "message.max.bytes") {
		t.Errorf("the unpublished receipt of draft %s is not reported with what to do: %s", id, r.Diagnostics)
	}
	if n := len(e.events(adapter.EventReceipt)); n != 0 {
		t.Fatalf("%d receipt events although publishing fails", n)
	}
	host.mu.Lock()
	host.pubFail = nil
	host.mu.Unlock()
	r, err = e.plugin.RunJob(t.Context(), &sdk.RunJobRequest{Site: site, Job: adapter.JobStockInSync, Now: e.clock.Now(), TraceID: "run-2"})
	if err != nil || r.Diagnostics.HasError() {
		t.Fatalf("sync once the topic is back: %v %+v", err, r)
	}
	if n := len(e.events(adapter.EventReceipt)); n != 1 {
		t.Errorf("%d receipt events once the topic is back, want 1", n)
	}
}

// TestDraftAckNamesTheReviewedVersion: staff review a flagged draft while
// a later fetch sees the document change again. An acknowledgement sent
// without the version it was made against cleared that later change too,
// which nobody had reviewed, and the draft could be confirmed stale. An
// acknowledgement must name the reviewed version (expectedVersion), and
// one made against an older version is refused.
func TestDraftAckNamesTheReviewedVersion(t *testing.T) {
	t.Parallel()
	var drop atomic.Int32 // codes taken off line 1 on the platform
	e := newListingEnv(t, func(body []byte) []byte {
		n := int(drop.Load())
		if n == 0 {
			return body
		}
		var ans map[string]any
		if err := json.Unmarshal(body, &ans); err != nil {
			t.Error(err)
			return body
		}
		bills := ans["data"].(map[string]any)["bills"].([]any)
		l0 := bills[0].(map[string]any)["lines"].([]any)[0].(map[string]any)
		codes := l0["codes"].([]any)
		l0["codes"] = codes[:len(codes)-n]
		b, _ := json.Marshal(ans)
		return b
	})
	day := map[string]string{"beginDate": "2026-11-26", "endDate": "2026-11-26"}
	id := must[fetchReply](t, e.send(adapter.OpStockInFetch, day), sdk.StatusOK).Drafts[0]
	type flagged struct {
		PlatformChanged string
		Version         int64
	}
	drop.Store(1)
	must[fetchReply](t, e.send(adapter.OpStockInFetch, day), sdk.StatusOK)
	reviewed := must[flagged](t, e.send(adapter.OpDraftGet, map[string]string{"draftId": id}), sdk.StatusOK)
	if reviewed.PlatformChanged == "" {
		t.Fatalf("draft %s not flagged by the first change", id)
	}
	// While staff review that version, the document changes again.
	drop.Store(2)
	must[fetchReply](t, e.send(adapter.OpStockInFetch, day), sdk.StatusOK)
	cur := must[flagged](t, e.send(adapter.OpDraftGet, map[string]string{"draftId": id}), sdk.StatusOK)
	if cur.Version == reviewed.Version {
		t.Fatalf("the second change did not change the draft: %+v", cur)
	}
	ack := func(version int64) *sdk.HandleResponse {
		p := map[string]any{"draftId": id, "by": "pharm01", "changes": []any{map[string]any{"op": "ackPlatformChange"}}}
		if version != 0 {
			p["expectedVersion"] = version
		}
		return e.send(adapter.OpDraftAdjust, p)
	}
	cases := map[string]struct {
		version     int64
		field, rule string
	}{
		"without a version":       {0, "$.expectedVersion", "required"},
		"of the reviewed version": {reviewed.Version, "$.expectedVersion", "state"},
	}
	for name, c := range cases {
		r := ack(c.version)
		if r.Status == sdk.StatusOK || !hasDiag(r.Diagnostics, c.field, c.rule) {
			t.Errorf("acknowledgement %s: %s %s, want refused at %s (%s)", name, r.Status, r.Diagnostics, c.field, c.rule)
		}
	}
	if r := e.send(adapter.OpDraftConfirm, map[string]any{"draftId": id, "by": "pharm02"}); r.Status == sdk.StatusOK {
		t.Fatalf("draft %s confirmed with an unreviewed change on the platform", id)
	}
	must[map[string]any](t, ack(cur.Version), sdk.StatusOK)
	must[map[string]any](t, e.send(adapter.OpDraftConfirm, map[string]any{"draftId": id, "by": "pharm02"}), sdk.StatusOK)
}

// TestDraftFlaggedAfterAFetchStoppedMidway: a fetch stored the changed
// document and stopped before it flagged the draft (the host failed
// there). The next fetch found the stored document equal to the platform's,
// "unchanged", and the draft made from the earlier version was never
// flagged: it could be confirmed stale. The draft must be flagged whatever
// step the first fetch stopped at.
func TestDraftFlaggedAfterAFetchStoppedMidway(t *testing.T) {
	t.Parallel()
	var changed atomic.Bool
	clk := &clock{t: time.Date(2026, 11, 26, 10, 0, 0, 0, cst)}
	sim := tracecode.New(tracecode.Options{AppID: "app-1", AppSecret: appSecret, OrgCode: "H35020300001", TokenTTL: time.Hour, Seed: 42, Now: clk.Now})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		sim.ServeHTTP(rec, r)
		body := rec.Body.Bytes()
		if strings.HasSuffix(r.URL.Path, "/bill/stockin/list") && changed.Load() {
			var ans map[string]any
			if err := json.Unmarshal(body, &ans); err != nil {
				t.Error(err)
			} else {
				bills := ans["data"].(map[string]any)["bills"].([]any)
				l0 := bills[0].(map[string]any)["lines"].([]any)[0].(map[string]any)
				codes := l0["codes"].([]any)
				l0["codes"] = codes[:len(codes)-1]
				body, _ = json.Marshal(ans)
			}
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(body)
	}))
	t.Cleanup(srv.Close)
	host := &faultHost{MemoryHost: sdktest.NewMemoryHost()}
	a := adapter.New(adapter.WithClock(clk.Now), adapter.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	e := &env{t: t, sim: sim, url: srv.URL, host: host.MemoryHost, plugin: sdktest.Connect(t, a, host), clock: clk, dir: t.TempDir()}
	s := baseSettings(srv.URL, e.dir)
	s["fetchSmallest"] = "false"
	if ds := e.configure(s); ds.HasError() {
		t.Fatal(ds)
	}
	day := map[string]string{"beginDate": "2026-11-26", "endDate": "2026-11-26"}
	id := must[fetchReply](t, e.send(adapter.OpStockInFetch, day), sdk.StatusOK).Drafts[0]

	// The document changes; the fetch that sees it fails at its first
	// write of a draft (the flag), as a host that dies there.
	changed.Store(true)
	host.mu.Lock()
	host.casFail = func(key string) bool { return strings.HasPrefix(key, "draft/") }
	host.mu.Unlock()
	body, _ := json.Marshal(day)
	r, err := e.plugin.Handle(t.Context(), &sdk.HandleRequest{Site: site, Type: adapter.OpStockInFetch, MessageID: "f-2", Format: "json", Payload: body, Attempt: 1})
	if err == nil && r.Status == sdk.StatusOK {
		t.Fatal("the fetch succeeded although the draft could not be flagged")
	}
	host.mu.Lock()
	host.casFail = nil
	host.mu.Unlock()

	must[fetchReply](t, e.sendID("f-2", adapter.OpStockInFetch, day, true), sdk.StatusOK)
	d := must[struct{ PlatformChanged string }](t, e.send(adapter.OpDraftGet, map[string]string{"draftId": id}), sdk.StatusOK)
	if !strings.Contains(d.PlatformChanged, "line 1") {
		t.Errorf("draft %s not flagged after the fetch that saw the change stopped midway: %+v", id, d)
	}
	if r := e.send(adapter.OpDraftConfirm, map[string]any{"draftId": id, "by": "pharm02"}); r.Status == sdk.StatusOK {
		t.Errorf("draft %s confirmed although its document changed on the platform", id)
	}
}
