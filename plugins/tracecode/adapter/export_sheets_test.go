package adapter_test

import (
	"archive/zip"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/xuri/excelize/v2"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/tracecode/adapter"
	"github.com/medgate/medgate/plugins/tracecode/code"
	"github.com/medgate/medgate/test/sim/tracecode"
)

// expectedQueries rebuilds the sheets 最小子码 and 码层级关系 from the stored
// hierarchy answers of 2026-11-25 and 2026-11-26.
func expectedQueries(t *testing.T, e *env, out map[string][][]string) {
	t.Helper()
	ops := map[string]string{adapter.OpCodesSmallest: "单据码及最小子码", adapter.OpCodeSmallest: "单码最小子码"}
	triggers := map[string]string{adapter.OpStockInFetch: "获取入库数据", adapter.OpCodesSmallest: "按单据查询", adapter.OpCodeSmallest: "单码查询"}
	num := func(n int) string {
		if n == 0 {
			return ""
		}
		return strconv.Itoa(n)
	}
	for _, s := range e.state("log/query/2026112") {
		var q struct {
			At, Op, BillNo, Code, Trigger, MessageID string
			Chunks                                   int
		}
		if err := json.Unmarshal(s.Value, &q); err != nil {
			t.Fatal(err)
		}
		base := "qnodes/" + strings.TrimPrefix(s.Key, "log/query/") + "/"
		for c := 0; c < q.Chunks; c++ {
			for _, ch := range e.state(fmt.Sprintf("%s%05d", base, c)) {
				var nodes []struct {
					C, P, T, R, B, Q string
					L, V, K          int
					S                bool
				}
				if err := json.Unmarshal(ch.Value, &nodes); err != nil {
					t.Fatal(err)
				}
				for _, n := range nodes {
					if n.S {
						out["最小子码"] = append(out["最小子码"], trim([]string{local(q.At), q.BillNo, num(n.L), n.T, n.C, q.Code, ops[q.Op], triggers[q.Trigger], q.MessageID}))
					}
					check := ""
					if n.T == n.C {
						check = "相符"
						if n.Q != "" {
							check = n.Q
						}
					}
					box := ""
					if n.B != "" {
						box = code.BoxStatusName(n.B)
					}
					out["码层级关系"] = append(out["码层级关系"], trim([]string{local(q.At), q.BillNo, q.Code, ops[q.Op], num(n.L), n.C, n.P, n.T, num(n.V), num(n.K),
						map[bool]string{true: "是", false: "否"}[n.S], n.R, box, check, triggers[q.Trigger], q.MessageID}))
				}
			}
		}
	}
}

// expectedDrafts rebuilds the sheets 入库单草稿 and 入库单调整记录 from the
// stored drafts of documents dated 2026-11-25 and 2026-11-26.
func expectedDrafts(t *testing.T, e *env, out map[string][][]string) {
	t.Helper()
	ops := map[string]string{"setQty": "修改数量", "setField": "修改字段", "addCodes": "增加追溯码", "removeCodes": "移除追溯码", "addLine": "增加行", "removeLine": "删除行"}
	fields := map[string]string{"qty": "数量", "codes": "追溯码", "itemCode": "院内编码", "batchNo": "批号"}
	for _, s := range e.state("log/draft/2026112") {
		var ref struct{ DraftID string }
		if err := json.Unmarshal(s.Value, &ref); err != nil {
			t.Fatal(err)
		}
		es := e.state("draft/" + ref.DraftID)
		if len(es) != 1 {
			t.Fatalf("draft %s: %d state entries", ref.DraftID, len(es))
		}
		var d struct {
			ID, Status, SupplierBillNo, SupplierCode, SupplierName, BillTime, ConfirmedBy, ReceiptNo, ConfirmMessageID string
			CreatedAt, ConfirmedAt                                                                                     string
			Published                                                                                                  bool
			Lines                                                                                                      []struct {
				LineNo                                                                                                      int
				ItemCode, MedListCode, ItemName, Spec, Manufacturer, BatchNo, ProduceDate, ExpiryDate, Qty, Unit, PackRatio string
				Codes                                                                                                       []string
			}
			Adjustments []struct {
				At, By, Op, Field, From, To, Reason, MessageID string
				LineNo                                         int
			}
		}
		if err := json.Unmarshal(es[0].Value, &d); err != nil {
			t.Fatal(err)
		}
		state := map[string]string{"open": "待审核", "confirmed": "已确认"}[d.Status]
		published := ""
		if d.Status == "confirmed" {
			published = map[bool]string{true: "是", false: "否"}[d.Published]
		}
		supplier := d.SupplierName + " (" + d.SupplierCode + ")"
		for _, l := range d.Lines {
			out["入库单草稿"] = append(out["入库单草稿"], trim([]string{d.BillTime[:10], d.SupplierBillNo, state, supplier, local(d.CreatedAt), strconv.Itoa(l.LineNo),
				l.ItemCode, l.MedListCode, l.ItemName, l.Spec, l.Manufacturer, l.BatchNo, l.ProduceDate, l.ExpiryDate, l.Qty, l.Unit, l.PackRatio,
				strconv.Itoa(len(l.Codes)), strconv.Itoa(len(d.Adjustments)), local(d.ConfirmedAt), d.ConfirmedBy, d.ReceiptNo, published}))
		}
		adj := out["入库单调整记录"]
		adj = append(adj, trim([]string{local(d.CreatedAt), d.BillTime[:10], d.SupplierBillNo, "medgate", "生成草稿", "", "", "", "由一码通入库数据生成"}))
		for _, a := range d.Adjustments {
			line := ""
			if a.LineNo > 0 {
				line = strconv.Itoa(a.LineNo)
			}
			adj = append(adj, trim([]string{local(a.At), d.BillTime[:10], d.SupplierBillNo, a.By, ops[a.Op], line, fields[a.Field], a.From, a.To, a.Reason, a.MessageID}))
		}
		if d.Status == "confirmed" {
			adj = append(adj, trim([]string{local(d.ConfirmedAt), d.BillTime[:10], d.SupplierBillNo, d.ConfirmedBy, "确认入库", "", "入库单号", "", d.ReceiptNo, "", d.ConfirmMessageID}))
		}
		out["入库单调整记录"] = adj
	}
}

// TestExportNewSheetsHoldWhatHappened checks, beyond the cell-by-cell
// comparison with the state, that the new sheets say what the seed did:
// who changed what from what to what, the confirmation, and the smallest
// sub-codes of fetched documents and queried codes.
func TestExportNewSheetsHoldWhatHappened(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	sd := seed(t, e)
	l1 := sd.before.Lines[0]
	rep := must[exportReply](t, e.send(adapter.OpExport, map[string]any{"from": "2026-11-26", "to": "2026-11-26"}), sdk.StatusOK)
	f, err := excelize.OpenFile(rep.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	adj, _ := f.GetRows("入库单调整记录")
	var history []string
	for _, r := range adj[1:] {
		r = append(r, make([]string, 11-len(r))...)
		history = append(history, strings.Join([]string{r[0], r[3], r[4], r[6], r[7], r[8], r[9]}, "|"))
	}
	// 10:01:30.7 → 10:01:30: the clock's fraction is not shown.
	for _, want := range []string{
		"2026-11-26 10:00:00|medgate|生成草稿|||由一码通入库数据生成|",
		"2026-11-26 10:01:30|0107 李药师|修改数量|数量|" + l1.Qty + "|1|实收少一盒",
		"2026-11-26 10:01:30|0107 李药师|修改字段|院内编码|" + l1.ItemCode + "|YP9999|实收少一盒",
		"2026-11-26 10:02:30|0107 李药师|移除追溯码|追溯码|" + l1.Codes[0] + "||",
		"2026-11-26 10:03:30|0201 王主任|确认入库|入库单号||CG20261126000001|",
		"0108 张药师|修改字段|批号|",
	} {
		found := false
		for _, h := range history {
			if strings.Contains(h, want) {
				found = true
			}
		}
		if !found {
			t.Errorf("the adjustment history has no row like %q:\n%s", want, strings.Join(history, "\n"))
		}
	}
	// Every smallest sub-code the platform holds for the second draft's
	// document is on the 最小子码 sheet under that document.
	second := billOf(sd.second)
	smallest, _ := f.GetRows("最小子码")
	got := map[string]bool{}
	for _, r := range smallest[1:] {
		if r[1] == second {
			got[r[4]] = true
		}
	}
	b := e.sim.StockIn(time.Date(2026, 11, 26, 0, 0, 0, 0, cst))
	n := 0
	for _, bill := range b {
		if bill.BillNo != second {
			continue
		}
		for _, l := range bill.Lines {
			for _, c := range l.Codes {
				for _, s := range e.sim.SmallestOf(c.Code) {
					n++
					if !got[s] {
						t.Errorf("smallest sub-code %s of %s (document %s) is not on the sheet", s, c.Code, second)
					}
				}
			}
		}
	}
	if n == 0 {
		t.Fatalf("document %s has no smallest sub-codes on the platform; the check proves nothing", second)
	}
}

// TestExportFileIsClean checks the zip entry dates, that every date-time
// cell is a whole second and that every sheet carries a filter.
func TestExportFileIsClean(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.clock.Add(123 * time.Millisecond) // a clock with a fraction of a second
	seed(t, e)
	rep := must[exportReply](t, e.send(adapter.OpExport, map[string]any{"from": "2026-11-25", "to": "2026-11-26"}), sdk.StatusOK)
	zr, err := zip.OpenReader(rep.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	for _, zf := range zr.File {
		if zf.ModifiedDate&0x1f == 0 || (zf.ModifiedDate>>5)&0xf == 0 || zf.Modified.Year() != 2026 {
			t.Errorf("zip entry %s: date %v (MS-DOS %#x)", zf.Name, zf.Modified, zf.ModifiedDate)
		}
	}
	f, err := excelize.OpenFile(rep.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	checked := 0
	for _, sheet := range f.GetSheetList() {
		tables, err := f.GetTables(sheet)
		if err != nil || len(tables) != 1 || !strings.HasPrefix(tables[0].Range, "A1:") {
			t.Errorf("%s: no filter table over the sheet: %v %v", sheet, tables, err)
		}
		rows, _ := f.GetRows(sheet)
		for c, h := range rows[0] {
			if !strings.Contains(h, "时间") {
				continue
			}
			for r := 2; r <= len(rows); r++ {
				cell, _ := excelize.CoordinatesToCellName(c+1, r)
				raw, _ := f.GetCellValue(sheet, cell, excelize.Options{RawCellValue: true})
				if raw == "" {
					continue
				}
				v, err := strconv.ParseFloat(raw, 64)
				if err != nil {
					t.Errorf("%s!%s (%s) = %q is not a date-time serial", sheet, cell, h, raw)
					continue
				}
				if secs := v * 86400; secs-float64(int64(secs+0.5)) > 1e-4 || secs-float64(int64(secs+0.5)) < -1e-4 {
					t.Errorf("%s!%s (%s) = %s has a fraction of a second", sheet, cell, h, raw)
				}
				shown, _ := f.GetCellValue(sheet, cell)
				if _, err := time.Parse("2006-01-02 15:04:05", shown); err != nil {
					t.Errorf("%s!%s (%s) shows %q, not yyyy-mm-dd hh:mm:ss", sheet, cell, h, shown)
				}
				checked++
			}
		}
	}
	if checked < 20 {
		t.Errorf("only %d date-time cells checked", checked)
	}
}

// TestExportByDocument filters every sheet to one document.
func TestExportByDocument(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	seed(t, e)
	all := must[exportReply](t, e.send(adapter.OpExport, map[string]any{"from": "2026-11-25", "to": "2026-11-26"}), sdk.StatusOK)
	af, err := excelize.OpenFile(all.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer af.Close()
	drafts, _ := af.GetRows("入库单草稿")
	docCol := map[string]int{"令牌操作日志": 9, "出入库数据": 2, "追溯码明细": 1, "最小子码": 1, "码层级关系": 1, "入库单草稿": 1, "入库单调整记录": 2, "医保上传记录": 1}
	testCases := map[string]struct {
		doc      string
		nonEmpty []string
	}{
		"uploaded document": {"RK-A", []string{"出入库数据", "追溯码明细", "医保上传记录", "令牌操作日志"}},
		"fetched document":  {drafts[1][1], []string{"出入库数据", "追溯码明细", "最小子码", "码层级关系", "入库单草稿", "入库单调整记录"}},
		"unknown document":  {"NO-SUCH-DOC", nil},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			rep := must[exportReply](t, e.send(adapter.OpExport, map[string]any{"from": "2026-11-25", "to": "2026-11-26", "docNo": tc.doc}), sdk.StatusOK)
			f, err := excelize.OpenFile(rep.Path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			for _, sheet := range sheetOrder {
				rows, _ := f.GetRows(sheet)
				allRows, _ := af.GetRows(sheet)
				var want [][]string
				for _, r := range allRows[1:] {
					if len(r) > docCol[sheet] && r[docCol[sheet]] == tc.doc {
						want = append(want, r)
					}
				}
				if diff := cmp.Diff(want, rows[1:], cmpopts.EquateEmpty()); diff != "" {
					t.Errorf("%s filtered to %s (-want +got):\n%s", sheet, tc.doc, diff)
				}
				if rep.Rows[keys[sheet]] != int64(len(want)) {
					t.Errorf("%s: reply counts %d rows, want %d", sheet, rep.Rows[keys[sheet]], len(want))
				}
			}
			for _, sheet := range tc.nonEmpty {
				if rep.Rows[keys[sheet]] == 0 {
					t.Errorf("%s has no row of %s; the filter check proves nothing there", sheet, tc.doc)
				}
			}
		})
	}
	if r := e.send(adapter.OpExport, map[string]any{"from": "2026-11-25", "to": "2026-11-26", "docNo": strings.Repeat("x", 101)}); r.Status != sdk.StatusInvalid || r.Diagnostics[0].Field != "$.docNo" {
		t.Errorf("an over-long docNo: %s %s", r.Status, r.Diagnostics)
	}
}

// TestFetchAsksForSubCodesUntilItHasThem: a document whose sub-codes could
// not be fetched with it is asked about again by the next fetch, once.
func TestFetchAsksForSubCodesUntilItHasThem(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	bills := e.sim.StockIn(time.Date(2026, 11, 26, 0, 0, 0, 0, cst))
	e.sim.Fail("billsmallest", tracecode.FailHTTP500, 1)
	fetch := map[string]string{"beginDate": "2026-11-26", "endDate": "2026-11-26"}
	first := e.send(adapter.OpStockInFetch, fetch)
	must[fetchReply](t, first, sdk.StatusOK)
	if !strings.Contains(first.Diagnostics.String(), "smallest sub-codes were not fetched") {
		t.Errorf("the failed sub-code fetch is not a warning: %s", first.Diagnostics)
	}
	queried := func() map[string]int {
		n := map[string]int{}
		for _, s := range e.state("log/query/") {
			var q struct{ BillNo string }
			_ = json.Unmarshal(s.Value, &q)
			n[q.BillNo]++
		}
		return n
	}
	if got := queried(); len(got) != len(bills)-1 {
		t.Fatalf("after the first fetch %d documents have sub-codes, want all but one of %d", len(got), len(bills))
	}
	must[fetchReply](t, e.send(adapter.OpStockInFetch, fetch), sdk.StatusOK)
	calls := e.sim.Stats().Calls["billsmallest"]
	must[fetchReply](t, e.send(adapter.OpStockInFetch, fetch), sdk.StatusOK)
	got := queried()
	for _, b := range bills {
		if got[b.BillNo] != 1 {
			t.Errorf("document %s has %d stored sub-code answers, want 1", b.BillNo, got[b.BillNo])
		}
	}
	if again := e.sim.Stats().Calls["billsmallest"]; again != calls {
		t.Errorf("a third fetch asked for sub-codes %d more times; every document has them", again-calls)
	}
}

// TestExportSourceFilterOnDrafts: drafts come from fetched documents, so
// they are in a platform-only export and not in an upload-only one.
func TestExportSourceFilterOnDrafts(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	seed(t, e)
	testCases := map[string]struct {
		source string
		some   bool
	}{
		"both":     {"", true},
		"platform": {"platform", true},
		"upload":   {"upload", false},
	}
	for name, tc := range testCases {
		rep := must[exportReply](t, e.send(adapter.OpExport, map[string]any{"from": "2026-11-26", "to": "2026-11-26", "source": tc.source,
			"sheets": []string{"drafts", "adjustments"}}), sdk.StatusOK)
		for _, sheet := range []string{"drafts", "adjustments"} {
			if got := rep.Rows[sheet] > 0; got != tc.some {
				t.Errorf("%s: %s has %d rows", name, sheet, rep.Rows[sheet])
			}
		}
	}
}
