package adapter_test

import (
	"bytes"
	"context"
	"encoding/json"
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

	"github.com/xuri/excelize/v2"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/sdk/sdkhost"
	"github.com/medgate/medgate/plugins/sdk/sdktest"
	"github.com/medgate/medgate/plugins/tracecode/adapter"
)

// hasDiagText reports whether a diagnostic of severity sev at field with
// rule mentions every one of words.
func hasDiagText(ds sdk.Diagnostics, sev sdk.Severity, field, rule string, words ...string) bool {
	for _, d := range ds {
		if d.Severity != sev || d.Field != field || d.Rule != rule {
			continue
		}
		all := true
		for _, w := range words {
			all = all && strings.Contains(d.Summary+" "+d.Detail, w)
		}
		if all {
			return true
		}
	}
	return false
}

// warnings returns the warnings of a response.
func warnings(r *sdk.HandleResponse) sdk.Diagnostics {
	var out sdk.Diagnostics
	for _, d := range r.Diagnostics {
		if d.Severity == sdk.SeverityWarning {
			out = append(out, d)
		}
	}
	return out
}

// TestStockOutTwiceIsRefused: a package leaves stock once. A second
// stock-out of a code, by another document, is refused before anything
// is sent, naming the code and the document that stocked it out; a return
// (stock-in) brings it back.
func TestStockOutTwiceIsRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	c1, c2, c3 := drugCode("8100001", 101), drugCode("8100001", 102), drugCode("8100001", 103)
	must[uploadReply](t, e.send(adapter.OpStockInUpload, bill("RK-1", "102", line(1, "3", c1, c2, c3))), sdk.StatusOK)

	r := e.send(adapter.OpStockOutUpload, bill("CK-1", "202", line(1, "1", c1)))
	must[uploadReply](t, r, sdk.StatusOK)
	if w := warnings(r); len(w) > 0 {
		t.Errorf("a code stocked in by RK-1 was stocked out with warnings: %s", w)
	}
	uploads := e.sim.Stats().Uploads

	r = e.send(adapter.OpStockOutUpload, bill("CK-2", "209", line(1, "2", c2, c1)))
	if r.Status != sdk.StatusInvalid || !hasDiagText(r.Diagnostics, sdk.SeverityError, "$.lines[0].traceCodes[1].code", "state", c1, "CK-1") {
		t.Fatalf("second stock-out of %s: status %s, diagnostics:\n%s\nwant invalid at $.lines[0].traceCodes[1].code (rule state) naming the code and CK-1", c1, r.Status, r.Diagnostics)
	}
	if hasDiag(r.Diagnostics, "$.lines[0].traceCodes[0].code", "state") {
		t.Errorf("%s (in stock) was reported: %s", c2, r.Diagnostics)
	}
	if got := e.sim.Stats().Uploads; got != uploads {
		t.Errorf("the refused document reached the platform (%d uploads, want %d)", got, uploads)
	}
	// The refused document took nothing out of stock.
	must[uploadReply](t, e.send(adapter.OpStockOutUpload, bill("CK-3", "202", line(1, "1", c2))), sdk.StatusOK)

	// The same document sent again is its own stock-out, not a second one.
	must[uploadReply](t, e.send(adapter.OpStockOutUpload, bill("CK-1", "202", line(1, "1", c1))), sdk.StatusOK)

	// A return brings the package back; it can then leave again.
	must[uploadReply](t, e.send(adapter.OpStockInUpload, bill("RK-2", "103", line(1, "1", c1))), sdk.StatusOK)
	must[uploadReply](t, e.send(adapter.OpStockOutUpload, bill("CK-4", "202", line(1, "1", c1))), sdk.StatusOK)
}

// TestStockOutNeverStockedInIsFlagged: a code no stock-in of this hospital
// holds is sent (stock may predate medgate) but flagged, in the reply and
// on the stored document for the export; leaving twice is still refused.
func TestStockOutNeverStockedInIsFlagged(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	c := drugCode("8100002", 7)
	r := e.send(adapter.OpStockOutUpload, bill("CK-9", "202", line(1, "1", c)))
	must[uploadReply](t, r, sdk.StatusOK)
	if !hasDiagText(r.Diagnostics, sdk.SeverityWarning, "$.lines[0].traceCodes[0].code", "state", c, "never stocked in") {
		t.Fatalf("no warning naming %s as never stocked in: %s", c, r.Diagnostics)
	}
	var rec struct {
		StockNote string `json:"stockNote"`
	}
	found := false
	for _, s := range e.state("log/doc/") {
		if err := json.Unmarshal(s.Value, &rec); err == nil && strings.Contains(rec.StockNote, c) {
			found = true
		}
	}
	if !found {
		t.Errorf("the stored document CK-9 is not flagged (stockNote naming %s)", c)
	}
	// The export shows the flag in the document's 状态说明 (column 24).
	rep := must[exportReply](t, e.send(adapter.OpExport, map[string]any{"from": "2026-11-26", "sheets": []string{"bills"}}), sdk.StatusOK)
	f, err := excelize.OpenFile(rep.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := f.GetRows("出入库数据")
	if err != nil || len(rows) != 2 || len(rows[1]) < 24 || rows[1][2] != "CK-9" || !strings.Contains(rows[1][23], c) {
		t.Errorf("export rows %q (%v): want CK-9 with 状态说明 naming %s", rows, err, c)
	}
	r = e.send(adapter.OpStockOutUpload, bill("CK-10", "202", line(1, "1", c)))
	if r.Status != sdk.StatusInvalid || !hasDiagText(r.Diagnostics, sdk.SeverityError, "$.lines[0].traceCodes[0].code", "state", c, "CK-9") {
		t.Fatalf("second stock-out: status %s, %s; want invalid naming CK-9", r.Status, r.Diagnostics)
	}
}

// TestStockOutRefusedByPlatformReleasesCodes: a stock-out the platform
// refuses took nothing out of stock; its codes can leave with the
// corrected document.
func TestStockOutRefusedByPlatformReleasesCodes(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(s map[string]string) { s["consumableCodes"] = "any" })
	c := drugCode("8100001", 201)
	must[uploadReply](t, e.send(adapter.OpStockInUpload, bill("RK-5", "102", line(1, "1", c))), sdk.StatusOK)
	// The simulated platform refuses a code that is neither a drug code nor GS1.
	if r := e.send(adapter.OpStockOutUpload, bill("CK-5", "202", line(1, "2", c, "UDI-0001"))); r.Status != sdk.StatusRejected {
		t.Fatalf("status %s, want rejected: %s", r.Status, r.Diagnostics)
	}
	r := e.send(adapter.OpStockOutUpload, bill("CK-6", "202", line(1, "1", c)))
	must[uploadReply](t, r, sdk.StatusOK)
	if w := warnings(r); len(w) > 0 {
		t.Errorf("warnings: %s", w)
	}
}

// TestStockOutOfSubCodes: a case stocked in (a confirmed receipt of a
// fetched document) holds its smallest sub-codes, known from the hierarchy
// the fetch kept: each may leave once; a sub-code of a case that left
// whole may not leave again.
func TestStockOutOfSubCodes(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(s map[string]string) { s["consumableCodes"] = "any" })
	day := time.Date(2026, 11, 26, 0, 0, 0, 0, cst)
	out := must[fetchReply](t, e.send(adapter.OpStockInFetch, map[string]string{"beginDate": "2026-11-26", "endDate": "2026-11-26"}), sdk.StatusOK)
	if len(out.Drafts) == 0 {
		t.Fatal("no drafts")
	}
	var top1, top2, billNo string
	for _, b := range e.sim.StockIn(day) {
		var tops []string
		for _, l := range b.Lines {
			for _, c := range l.Codes {
				if len(e.sim.SmallestOf(c.Code)) >= 2 {
					tops = append(tops, c.Code)
				}
			}
		}
		if len(tops) >= 2 {
			top1, top2, billNo = tops[0], tops[1], b.BillNo
			break
		}
	}
	if billNo == "" {
		t.Fatal("the simulator's day has no document with two packages of two or more units")
	}
	must[map[string]any](t, e.send(adapter.OpDraftConfirm, map[string]any{"draftId": billNo, "by": "pharm01"}), sdk.StatusOK)
	subs1, subs2 := e.sim.SmallestOf(top1), e.sim.SmallestOf(top2)

	// A unit of a stock-out the platform refuses did not leave: its case
	// is not opened.
	if r := e.send(adapter.OpStockOutUpload, bill("CK-R", "202", line(1, "2", subs1[0], "UDI-0001"))); r.Status != sdk.StatusRejected {
		t.Fatalf("status %s, want rejected: %s", r.Status, r.Diagnostics)
	}
	for _, s := range e.state("stock/" + top1) {
		if strings.Contains(string(s.Value), subs1[0]) {
			t.Fatalf("case %s is still marked opened by the refused CK-R: %s", top1, s.Value)
		}
	}
	// A case and one of its units in one document: the unit would leave
	// twice.
	r := e.send(adapter.OpStockOutUpload, bill("CK-B", "202", line(1, "2", top1, subs1[1])))
	if r.Status != sdk.StatusInvalid || !hasDiagText(r.Diagnostics, sdk.SeverityError, "$.lines[0].traceCodes[1].code", "state", subs1[1], top1, "this document") {
		t.Fatalf("case %s with its unit %s in one document: status %s, %s", top1, subs1[1], r.Status, r.Diagnostics)
	}
	r = e.send(adapter.OpStockOutUpload, bill("CK-S1", "202", line(1, "1", subs1[0])))
	must[uploadReply](t, r, sdk.StatusOK)
	if w := warnings(r); len(w) > 0 {
		t.Errorf("a unit of a case received by %s was stocked out with warnings: %s", billNo, w)
	}
	r = e.send(adapter.OpStockOutUpload, bill("CK-S2", "202", line(1, "2", subs1[1], subs1[0])))
	if r.Status != sdk.StatusInvalid || !hasDiagText(r.Diagnostics, sdk.SeverityError, "$.lines[0].traceCodes[1].code", "state", subs1[0], "CK-S1") {
		t.Fatalf("unit %s stocked out twice: status %s, %s", subs1[0], r.Status, r.Diagnostics)
	}
	// A case one of whose units left may not leave whole: that unit would
	// leave twice.
	r = e.send(adapter.OpStockOutUpload, bill("CK-S5", "209", line(1, "1", top1)))
	if r.Status != sdk.StatusInvalid || !hasDiagText(r.Diagnostics, sdk.SeverityError, "$.lines[0].traceCodes[0].code", "state", top1, subs1[0], "CK-S1") {
		t.Fatalf("case %s stocked out whole after its unit %s left with CK-S1: status %s, %s", top1, subs1[0], r.Status, r.Diagnostics)
	}
	// A unit that came back (a return) is a loose unit: the case stays
	// opened, and the unit can leave again on its own.
	must[uploadReply](t, e.send(adapter.OpStockInUpload, bill("RK-S6", "103", line(1, "1", subs1[0]))), sdk.StatusOK)
	if r := e.send(adapter.OpStockOutUpload, bill("CK-S7", "209", line(1, "1", top1))); r.Status != sdk.StatusInvalid {
		t.Fatalf("opened case %s stocked out whole: status %s", top1, r.Status)
	}
	must[uploadReply](t, e.send(adapter.OpStockOutUpload, bill("CK-S8", "202", line(1, "1", subs1[0]))), sdk.StatusOK)
	// A case that leaves whole takes its units with it.
	must[uploadReply](t, e.send(adapter.OpStockOutUpload, bill("CK-S3", "209", line(1, "1", top2))), sdk.StatusOK)
	r = e.send(adapter.OpStockOutUpload, bill("CK-S4", "202", line(1, "1", subs2[0])))
	if r.Status != sdk.StatusInvalid || !hasDiagText(r.Diagnostics, sdk.SeverityError, "$.lines[0].traceCodes[0].code", "state", subs2[0], top2, "CK-S3") {
		t.Fatalf("unit %s of case %s stocked out by CK-S3: status %s, %s", subs2[0], top2, r.Status, r.Diagnostics)
	}
}

// TestStockOutAcrossInstances: two plugin processes sharing the host's
// state (two medgate instances) stock out the same code at once in two
// documents: exactly one succeeds.
func TestStockOutAcrossInstances(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	second := secondInstance(t, e, e.host)
	for round := range 5 {
		c := drugCode("8100003", 300+round)
		must[uploadReply](t, e.send(adapter.OpStockInUpload, bill("RK-X"+string(rune('0'+round)), "102", line(1, "1", c))), sdk.StatusOK)
		var wg sync.WaitGroup
		statuses := make([]sdk.Status, 2)
		for i, p := range []sdk.Plugin{e.plugin, second} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				body, _ := json.Marshal(bill("CK-X"+string(rune('0'+round))+string(rune('a'+i)), "202", line(1, "1", c)))
				r, err := p.Handle(context.Background(), &sdk.HandleRequest{Site: site, Type: adapter.OpStockOutUpload, MessageID: "x" + string(rune('0'+round)) + string(rune('a'+i)),
					Format: "json", Payload: body, Attempt: 1})
				if err != nil {
					t.Error(err)
					return
				}
				statuses[i] = r.Status
			}()
		}
		wg.Wait()
		oks := 0
		for _, st := range statuses {
			if st == sdk.StatusOK {
				oks++
			}
		}
		if oks != 1 {
			t.Fatalf("round %d: code %s stocked out by two documents at once: statuses %v, want exactly one ok", round, c, statuses)
		}
	}
}

// secondInstance is a second plugin process on host, which serves the
// state of e's (a second medgate instance), configured like e's.
func secondInstance(t *testing.T, e *env, host sdkhost.HostServer) sdk.Plugin {
	t.Helper()
	second := sdktest.Connect(t, adapter.New(adapter.WithClock(e.clock.Now), adapter.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))), host)
	d, err := second.Describe(context.Background(), &sdk.DescribeRequest{})
	if err != nil {
		t.Fatal(err)
	}
	all := map[string]string{}
	for _, decl := range d.Settings {
		all[decl.Name] = decl.Default
	}
	for k, v := range baseSettings(e.url, e.dir) {
		all[k] = v
	}
	if cr, err := second.Configure(context.Background(), &sdk.ConfigureRequest{Site: site, Settings: all}); err != nil || cr.Diagnostics.HasError() {
		t.Fatalf("configure the second instance: %v %s", err, cr.Diagnostics)
	}
	return second
}

// oneByOneHost serves a MemoryHost without its WriteState, so the plugin's
// batched writes are made one by one, stopping at the first that fails
// (an older host): a batch can be half made.
type oneByOneHost struct{ sdkhost.HostServer }

// TestStockOutConflictInALaterBatch: two instances stock out documents of
// 151 codes at once that share one code, the last (its batch is the
// third): exactly one succeeds, and the other puts back every code it had
// taken in the batches before, which then leave with another document
// as codes in stock; with a host that makes each batch in one transaction
// and with one that makes the writes one by one.
func TestStockOutConflictInALaterBatch(t *testing.T) {
	t.Parallel()
	for name, oneByOne := range map[string]bool{"batch in one transaction": false, "writes one by one": true} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var served sdkhost.HostServer
			e := newEnvOn(t, nil, func(m *sdktest.MemoryHost) sdkhost.HostServer {
				served = m
				if oneByOne {
					served = oneByOneHost{m}
				}
				return served
			})
			second := secondInstance(t, e, served)
			for round := range 3 {
				shared := drugCode("8100005", 9000+round)
				var own [2][]string
				all := []string{shared}
				for i := range own {
					for j := range 150 {
						c := drugCode("8100005", round*1000+i*300+j)
						own[i] = append(own[i], c)
						all = append(all, c)
					}
				}
				must[uploadReply](t, e.send(adapter.OpStockInUpload, bill(fmt.Sprintf("RK-C%d", round), "102", line(1, strconv.Itoa(len(all)), all...))), sdk.StatusOK)
				var wg sync.WaitGroup
				statuses := make([]sdk.Status, 2)
				for i, p := range []sdk.Plugin{e.plugin, second} {
					wg.Add(1)
					go func() {
						defer wg.Done()
						codes := append(append([]string{}, own[i]...), shared)
						body, _ := json.Marshal(bill(fmt.Sprintf("CK-C%d%c", round, 'a'+i), "202", line(1, strconv.Itoa(len(codes)), codes...)))
						r, err := p.Handle(context.Background(), &sdk.HandleRequest{Site: site, Type: adapter.OpStockOutUpload, MessageID: fmt.Sprintf("c%d%c", round, 'a'+i),
							Format: "json", Payload: body, Attempt: 1})
						if err != nil {
							t.Error(err)
							return
						}
						statuses[i] = r.Status
					}()
				}
				wg.Wait()
				winner := -1
				for i, st := range statuses {
					if st == sdk.StatusOK {
						if winner >= 0 {
							t.Fatalf("round %d: code %s stocked out by two documents at once: statuses %v", round, shared, statuses)
						}
						winner = i
					}
				}
				if winner < 0 {
					t.Fatalf("round %d: statuses %v, want one ok", round, statuses)
				}
				loser := 1 - winner
				r := e.send(adapter.OpStockOutUpload, bill(fmt.Sprintf("CK-C%dz", round), "202", line(1, strconv.Itoa(len(own[loser])), own[loser]...)))
				must[uploadReply](t, r, sdk.StatusOK)
				if w := warnings(r); len(w) > 0 {
					t.Errorf("round %d: the codes the losing document took were not put back as they were: %s", round, w[0].Message())
				}
				r = e.send(adapter.OpStockOutUpload, bill(fmt.Sprintf("CK-C%dy", round), "202", line(1, "1", shared)))
				if want := fmt.Sprintf("CK-C%d%c", round, 'a'+winner); r.Status != sdk.StatusInvalid || !hasDiagText(r.Diagnostics, sdk.SeverityError, "$.lines[0].traceCodes[0].code", "state", shared, want) {
					t.Fatalf("round %d: shared code stocked out again: status %s, %s; want invalid naming %s", round, r.Status, r.Diagnostics, want)
				}
			}
		})
	}
}

// interferingHost plays another instance: just before the plugin's first
// write of key, it writes value there itself, so that write conflicts.
// With oneByOne it has no WriteState of its own (an older host).
type interferingHost struct {
	*sdktest.MemoryHost
	key      string
	value    []byte
	oneByOne bool
	done     atomic.Bool
}

func (h *interferingHost) interfere(ctx context.Context, site string, keys ...string) {
	for _, k := range keys {
		if k == h.key && h.done.CompareAndSwap(false, true) {
			if _, err := h.MemoryHost.Put(ctx, site, k, h.value); err != nil {
				panic(err)
			}
		}
	}
}

func (h *interferingHost) CompareAndSet(ctx context.Context, site, key string, expect int64, value []byte) (int64, error) {
	h.interfere(ctx, site, key)
	return h.MemoryHost.CompareAndSet(ctx, site, key, expect, value)
}

func (h *interferingHost) WriteState(ctx context.Context, site string, writes []sdk.StateWrite) ([]int64, error) {
	if h.oneByOne {
		return sdkhost.WriteOneByOne(ctx, h, site, writes)
	}
	for _, w := range writes {
		h.interfere(ctx, site, w.Key)
	}
	return h.MemoryHost.WriteState(ctx, site, writes)
}

// TestStockOutConflictPutsBackEarlierBatches: another document takes the
// last code of a 151-code stock-out between its read and its write (in
// the third batch): the stock-out reads again and is refused naming that
// document, and the codes it had written in the two batches before are
// back in stock as they were, so they leave with the corrected document
// without a warning. With a host that makes a batch in one transaction and
// with one that makes the writes one by one (a batch half made).
func TestStockOutConflictPutsBackEarlierBatches(t *testing.T) {
	t.Parallel()
	for name, oneByOne := range map[string]bool{"batch in one transaction": false, "writes one by one": true} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			shared := drugCode("8100005", 7000)
			var ih *interferingHost
			e := newEnvOn(t, nil, func(m *sdktest.MemoryHost) sdkhost.HostServer {
				ih = &interferingHost{MemoryHost: m, key: "stock/" + shared, oneByOne: oneByOne,
					value: []byte(`{"s":"out","d":"CK-OTHER","k":"upload","t":"2026-11-26 09:00:00"}`)}
				ih.done.Store(true) // not during the stock-in
				return ih
			})
			var own []string
			for j := range 150 {
				own = append(own, drugCode("8100005", 7100+j))
			}
			codes := append(append([]string{}, own...), shared)
			must[uploadReply](t, e.send(adapter.OpStockInUpload, bill("RK-I1", "102", line(1, strconv.Itoa(len(codes)), codes...))), sdk.StatusOK)
			ih.done.Store(false)
			r := e.send(adapter.OpStockOutUpload, bill("CK-I1", "202", line(1, strconv.Itoa(len(codes)), codes...)))
			if r.Status != sdk.StatusInvalid || !hasDiagText(r.Diagnostics, sdk.SeverityError, "$.lines[0].traceCodes[150].code", "state", shared, "CK-OTHER") {
				t.Fatalf("status %s, %s; want invalid at the last code naming CK-OTHER", r.Status, r.Diagnostics)
			}
			if !ih.done.Load() {
				t.Fatal("the other document's write was not made: nothing was tested")
			}
			r = e.send(adapter.OpStockOutUpload, bill("CK-I2", "202", line(1, strconv.Itoa(len(own)), own...)))
			must[uploadReply](t, r, sdk.StatusOK)
			if w := warnings(r); len(w) > 0 {
				t.Errorf("the codes CK-I1 took before the conflict were not put back as they were: %s", w[0].Message())
			}
		})
	}
}

// TestStockOutOfUnitsMarksTheirCaseOnce: the units of one case leaving in
// one document mark the case opened with one write, not one each.
func TestStockOutOfUnitsMarksTheirCaseOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	must[fetchReply](t, e.send(adapter.OpStockInFetch, map[string]string{"beginDate": "2026-11-26", "endDate": "2026-11-26"}), sdk.StatusOK)
	var top, billNo string
	var units []string
	for _, b := range e.sim.StockIn(time.Date(2026, 11, 26, 0, 0, 0, 0, cst)) {
		for _, l := range b.Lines {
			for _, c := range l.Codes {
				if u := e.sim.SmallestOf(c.Code); len(u) > len(units) {
					top, billNo, units = c.Code, b.BillNo, u
				}
			}
		}
	}
	if len(units) < 4 {
		t.Fatalf("the simulator's day has no package of 4 or more units (largest %d)", len(units))
	}
	must[map[string]any](t, e.send(adapter.OpDraftConfirm, map[string]any{"draftId": billNo, "by": "pharm01"}), sdk.StatusOK)
	version := func() int64 {
		en, err := e.host.Get(context.Background(), site, "stock/"+top)
		if err != nil {
			t.Fatal(err)
		}
		return en.Version
	}
	before := version()
	r := e.send(adapter.OpStockOutUpload, bill("CK-U1", "202", line(1, strconv.Itoa(len(units)), units...)))
	must[uploadReply](t, r, sdk.StatusOK)
	if w := warnings(r); len(w) > 0 {
		t.Errorf("units of case %s received by %s: %s", top, billNo, w[0].Message())
	}
	if n := version() - before; n != 1 {
		t.Errorf("%d units of case %s leaving in one document wrote its ledger entry %d times, want once", len(units), top, n)
	}
	if r := e.send(adapter.OpStockOutUpload, bill("CK-U2", "209", line(1, "1", top))); r.Status != sdk.StatusInvalid {
		t.Fatalf("opened case %s stocked out whole: status %s", top, r.Status)
	}
}

// TestStockOutFindsPackageAnsweredWithSpaces: the platform's hierarchy
// answer with codes padded by spaces still places a unit inside its case
// (codes are trimmed everywhere else too).
func TestStockOutFindsPackageAnsweredWithSpaces(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		e.sim.ServeHTTP(rec, r)
		body := rec.Body.Bytes()
		if strings.HasSuffix(r.URL.Path, "/codes/smallest") {
			body = bytes.ReplaceAll(body, []byte(`"parentCode":"`), []byte(`"parentCode":" `))
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(rec.Code)
		_, _ = w.Write(body)
	}))
	t.Cleanup(srv.Close)
	if ds := e.configure(baseSettings(srv.URL, e.dir)); ds.HasError() {
		t.Fatal(ds)
	}
	must[fetchReply](t, e.send(adapter.OpStockInFetch, map[string]string{"beginDate": "2026-11-26", "endDate": "2026-11-26"}), sdk.StatusOK)
	b := e.sim.StockIn(time.Date(2026, 11, 26, 0, 0, 0, 0, cst))[0]
	must[map[string]any](t, e.send(adapter.OpDraftConfirm, map[string]any{"draftId": b.BillNo, "by": "pharm01"}), sdk.StatusOK)
	unit := e.sim.SmallestOf(b.Lines[0].Codes[0].Code)[0]
	r := e.send(adapter.OpStockOutUpload, bill("CK-P1", "202", line(1, "1", unit)))
	must[uploadReply](t, r, sdk.StatusOK)
	if w := warnings(r); len(w) > 0 {
		t.Errorf("unit %s of a case received by %s: %s", unit, b.BillNo, w)
	}
}

// stockCallCounter serves a MemoryHost and counts the plugin's calls that
// touch the stock ledger (keys stock/…), one per host call: calls in all,
// and of them writes (each a store commit in medgate).
type stockCallCounter struct {
	*sdktest.MemoryHost
	mu     sync.Mutex
	calls  int
	writes int
	all    int // every host state call, ledger or not
}

func (h *stockCallCounter) count(write bool, keys ...string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.all++
	for _, k := range keys {
		if strings.HasPrefix(k, "stock/") {
			h.calls++
			if write {
				h.writes++
			}
			return
		}
	}
}

// counts returns the counts and sets them back to zero.
func (h *stockCallCounter) counts() (calls, writes, all int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	calls, writes, all = h.calls, h.writes, h.all
	h.calls, h.writes, h.all = 0, 0, 0
	return calls, writes, all
}

func (h *stockCallCounter) Get(ctx context.Context, site, key string) (sdk.Entry, error) {
	h.count(false, key)
	return h.MemoryHost.Get(ctx, site, key)
}

func (h *stockCallCounter) Put(ctx context.Context, site, key string, value []byte) (int64, error) {
	h.count(true, key)
	return h.MemoryHost.Put(ctx, site, key, value)
}

func (h *stockCallCounter) CompareAndSet(ctx context.Context, site, key string, expect int64, value []byte) (int64, error) {
	h.count(true, key)
	return h.MemoryHost.CompareAndSet(ctx, site, key, expect, value)
}

func (h *stockCallCounter) WriteState(ctx context.Context, site string, writes []sdk.StateWrite) ([]int64, error) {
	keys := make([]string, len(writes))
	for i, w := range writes {
		keys[i] = w.Key
	}
	h.count(true, keys...)
	return h.MemoryHost.WriteState(ctx, site, writes)
}

// TestStockInIsBatched: a stock-in's codes, new to the ledger, are
// recorded a batch at a time, not with a read and a write each (a
// document of 5,000 codes took 10,000 host calls, each a store commit in
// medgate: the million codes of the benchmark's seeding went from 3 s to
// 200 s); codes the ledger knows (a return, a retry) still come out right.
func TestStockInIsBatched(t *testing.T) {
	t.Parallel()
	var counter *stockCallCounter
	e := newEnvOn(t, nil, func(m *sdktest.MemoryHost) sdkhost.HostServer {
		counter = &stockCallCounter{MemoryHost: m}
		return counter
	})
	const n = 1000
	codes := make([]string, n)
	for i := range codes {
		codes[i] = drugCode("8100002", 1000+i)
	}
	must[uploadReply](t, e.send(adapter.OpStockInUpload, bill("RK-B1", "102", line(1, strconv.Itoa(n), codes...))), sdk.StatusOK)
	calls, _, _ := counter.counts()
	if limit := n/64 + 5; calls > limit {
		t.Fatalf("a stock-in of %d new codes made %d host calls on the stock ledger, want at most %d (batches of 64)", n, calls, limit)
	}
	// Every code is in stock through RK-B1: one leaves, and cannot leave twice.
	must[uploadReply](t, e.send(adapter.OpStockOutUpload, bill("CK-B1", "202", line(1, "1", codes[n-1]))), sdk.StatusOK)
	r := e.send(adapter.OpStockOutUpload, bill("CK-B2", "202", line(1, "1", codes[n-1])))
	if r.Status != sdk.StatusInvalid || !hasDiagText(r.Diagnostics, sdk.SeverityError, "$.lines[0].traceCodes[0].code", "state", "CK-B1") {
		t.Fatalf("second stock-out of a batched code: status %s, diagnostics:\n%s", r.Status, r.Diagnostics)
	}
	// A return of it among new codes (the batch falls back to one by one)
	// brings it back; the retry of the first document changes nothing.
	must[uploadReply](t, e.send(adapter.OpStockInUpload, bill("RK-B2", "103", line(1, "2", drugCode("8100002", 9999), codes[n-1]))), sdk.StatusOK)
	must[uploadReply](t, e.send(adapter.OpStockOutUpload, bill("CK-B3", "202", line(1, "1", codes[n-1]))), sdk.StatusOK)
	must[uploadReply](t, e.send(adapter.OpStockInUpload, bill("RK-B1", "102", line(1, strconv.Itoa(n), codes...))), sdk.StatusOK)
	r = e.send(adapter.OpStockOutUpload, bill("CK-B4", "202", line(1, "1", codes[n-1])))
	if r.Status != sdk.StatusInvalid {
		t.Fatalf("a code stocked out after its return came back with the retry of the first stock-in: status %s, diagnostics:\n%s", r.Status, r.Diagnostics)
	}
}

// TestStockOutIsBatched: a stock-out takes its codes out of the ledger a
// batch of 64 at a time (one host call, compare-and-set on each code's
// version as read), not with a compare-and-set call each (a document of
// 5,000 codes made 5,000 store commits, about 1 s on SQLite); a refused
// stock-out puts them back the same way. Every guarantee holds: a code
// already out is refused naming the earlier document, and the refused
// document took nothing.
func TestStockOutIsBatched(t *testing.T) {
	t.Parallel()
	var counter *stockCallCounter
	e := newEnvOn(t, func(s map[string]string) { s["consumableCodes"] = "any" }, func(m *sdktest.MemoryHost) sdkhost.HostServer {
		counter = &stockCallCounter{MemoryHost: m}
		return counter
	})
	const n = 1000
	codes := make([]string, n)
	for i := range codes {
		codes[i] = drugCode("8100004", 1000+i)
	}
	must[uploadReply](t, e.send(adapter.OpStockInUpload, bill("RK-O1", "102", line(1, strconv.Itoa(n), codes...))), sdk.StatusOK)
	maxWrites := n/64 + 3

	// Refused by the platform (a code it does not accept): taken and put
	// back, in batches both ways.
	counter.counts()
	if r := e.send(adapter.OpStockOutUpload, bill("CK-O0", "202", line(1, strconv.Itoa(n+1), append(append([]string{}, codes...), "UDI-0001")...))); r.Status != sdk.StatusRejected {
		t.Fatalf("status %s, want rejected: %s", r.Status, r.Diagnostics)
	}
	calls, writes, _ := counter.counts()
	t.Logf("refused stock-out of %d codes: %d ledger calls, %d of them writes", n+1, calls, writes)
	if writes > 2*maxWrites {
		t.Errorf("a refused stock-out of %d codes made %d ledger writes (taking and putting back), want at most %d (batches of 64)", n+1, writes, 2*maxWrites)
	}

	r := e.send(adapter.OpStockOutUpload, bill("CK-O1", "202", line(1, strconv.Itoa(n), codes...)))
	must[uploadReply](t, r, sdk.StatusOK)
	if w := warnings(r); len(w) > 0 {
		t.Errorf("codes stocked in by RK-O1 (and put back after CK-O0) left with warnings: %s", w[0].Message())
	}
	calls, writes, all := counter.counts()
	t.Logf("stock-out of %d codes: %d ledger calls, %d of them writes; %d host state calls in all", n, calls, writes, all)
	if writes > maxWrites {
		t.Errorf("a stock-out of %d codes made %d ledger writes, want at most %d (batches of 64)", n, writes, maxWrites)
	}
	if calls > n+maxWrites {
		t.Errorf("a stock-out of %d codes made %d ledger calls, want at most %d (a read per code, a write per 64)", n, calls, n+maxWrites)
	}
	// Every code is out through CK-O1: leaving again is refused, naming it,
	// wherever the code was in the batches.
	for _, i := range []int{0, 63, 64, n - 1} {
		r := e.send(adapter.OpStockOutUpload, bill("CK-O2", "202", line(1, "1", codes[i])))
		if r.Status != sdk.StatusInvalid || !hasDiagText(r.Diagnostics, sdk.SeverityError, "$.lines[0].traceCodes[0].code", "state", codes[i], "CK-O1") {
			t.Fatalf("code %d stocked out twice: status %s, %s", i, r.Status, r.Diagnostics)
		}
	}
}

// BenchmarkStockOut5000 stocks out a document of 5,000 codes in stock (a
// stock-in of them before each, not timed) through the plugin's gRPC
// interface against a memory host, and reports the host calls it made:
// ledger-writes/op (each a store commit in medgate), ledger-calls/op and
// host-calls/op (every state call).
//
//	go test -run '^$' -bench StockOut5000 -benchtime 5x ./plugins/tracecode/adapter/
func BenchmarkStockOut5000(b *testing.B) {
	var counter *stockCallCounter
	e := newEnvOn(b, nil, func(m *sdktest.MemoryHost) sdkhost.HostServer {
		counter = &stockCallCounter{MemoryHost: m}
		return counter
	})
	const n = 5000
	var calls, writes, all int
	for i := range b.N {
		b.StopTimer()
		codes := make([]string, n)
		for j := range codes {
			codes[j] = drugCode("8100001", i*n+j)
		}
		must[uploadReply](b, e.send(adapter.OpStockInUpload, bill(fmt.Sprintf("RK-P%d", i), "102", line(1, strconv.Itoa(n), codes...))), sdk.StatusOK)
		counter.counts()
		b.StartTimer()
		must[uploadReply](b, e.send(adapter.OpStockOutUpload, bill(fmt.Sprintf("CK-P%d", i), "202", line(1, strconv.Itoa(n), codes...))), sdk.StatusOK)
		c, w, a := counter.counts()
		calls, writes, all = calls+c, writes+w, all+a
	}
	b.ReportMetric(float64(writes)/float64(b.N), "ledger-writes/op")
	b.ReportMetric(float64(calls)/float64(b.N), "ledger-calls/op")
	b.ReportMetric(float64(all)/float64(b.N), "host-calls/op")
}
