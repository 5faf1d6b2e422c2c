package e2e

import (
	"archive/zip"
	"context"
	"encoding/csv"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/xuri/excelize/v2"

	"github.com/medgate/medgate/test/testenv"
)

// TestTracecodeExportEverything runs, through Kafka, a stock-in fetch (which
// also fetches the documents' smallest sub-codes), a draft adjusted and
// confirmed, and a single-code sub-code query, then exports everything and
// checks the new sheets cell by cell against the simulated platform's data,
// the zip entry dates, that every date-time is a whole second, that every
// sheet has a filter, and the export of one document. The sheets are read
// as LibreOffice Calc shows them (libreOfficeSheets), and each must show
// what excelize reads in the file.
func TestTracecodeExportEverything(t *testing.T) {
	t.Parallel()
	f := newTracecodeFixture(t)
	start := time.Now().Truncate(time.Second)
	bills := f.sim.StockIn(time.Now().In(tcZone))
	if len(bills) < 2 {
		t.Fatalf("the simulator delivers %d documents today; the test needs two", len(bills))
	}
	var fr struct {
		Bills, Smallest int
		Drafts          []string
	}
	fetch := f.ok("tracecode.stockin.fetch", map[string]string{"beginDate": f.today, "endDate": f.today}, &fr)
	want := 0
	for _, b := range bills {
		for _, l := range b.Lines {
			for _, c := range l.Codes {
				want += len(f.sim.SmallestOf(c.Code))
			}
		}
	}
	if fr.Bills != len(bills) || fr.Smallest != want {
		t.Fatalf("fetch %+v; the platform has %d documents holding %d smallest units", fr, len(bills), want)
	}
	first, second := bills[0], bills[1]
	var d struct {
		Version int64
		Lines   []struct {
			LineNo   int
			Qty      string
			ItemCode string
		}
	}
	f.ok("tracecode.draft.get", map[string]string{"draftId": first.BillNo}, &d)
	adjust := f.ok("tracecode.draft.adjust", map[string]any{"draftId": first.BillNo, "by": "pharm01 王药师", "reason": "清点少一箱",
		"changes": []any{map[string]any{"op": "setQty", "lineNo": d.Lines[0].LineNo, "qty": "1"}}}, nil)
	var conf struct{ ReceiptNo string }
	confirm := f.ok("tracecode.draft.confirm", map[string]any{"draftId": first.BillNo, "by": "pharm02 李主管"}, &conf)
	top := second.Lines[0].Codes[0].Code
	single := f.ok("tracecode.codes.smallest", map[string]string{"code": top}, nil)

	var rep struct {
		Path string
		Rows map[string]int64
	}
	f.ok("tracecode.export", map[string]any{"from": f.today, "to": f.today}, &rep)
	wb, err := excelize.OpenFile(rep.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer wb.Close()
	sheets := []string{"令牌操作日志", "出入库数据", "追溯码明细", "最小子码", "码层级关系", "入库单草稿", "入库单调整记录", "医保上传记录"}
	if diff := cmp.Diff(sheets, wb.GetSheetList()); diff != "" {
		t.Fatalf("sheets (-want +got):\n%s", diff)
	}
	// Every sheet as LibreOffice Calc shows it, the reader the hospital
	// opens the export with; the checks below compare what it shows with
	// the simulated platform's data, and each sheet must show the cells
	// excelize reads, no more and no fewer.
	lo := libreOfficeSheets(t, rep.Path, sheets)
	for _, sheet := range sheets {
		xr, err := wb.GetRows(sheet)
		if err != nil {
			t.Fatalf("%s: %v", sheet, err)
		}
		for i := range xr {
			xr[i] = trimRow(xr[i])
		}
		if diff := cmp.Diff(xr, lo[sheet]); diff != "" {
			t.Errorf("sheet %s: LibreOffice shows other cells than the workbook holds (-excelize +LibreOffice):\n%s", sheet, diff)
		}
	}
	rows := func(sheet string) [][]string {
		r := lo[sheet]
		if len(r) == 0 {
			t.Fatalf("%s: LibreOffice shows no rows", sheet)
		}
		return r[1:]
	}
	end := time.Now().Add(time.Second)
	when := func(sheet string, row int, v string) {
		t.Helper()
		at, err := time.ParseInLocation("2006-01-02 15:04:05", v, tcZone)
		if err != nil || at.Before(start) || at.After(end) {
			t.Errorf("%s row %d: time %q is not a time of this test (%v)", sheet, row+2, v, err)
		}
	}

	// 最小子码: every smallest unit under every shipped code, per document
	// and line, made by the fetch; then those of the single-code query.
	type unit struct{ doc, line, top, code string }
	var wantFetch, wantSingle []unit
	for _, b := range bills {
		for _, l := range b.Lines {
			for _, c := range l.Codes {
				for _, s := range f.sim.SmallestOf(c.Code) {
					wantFetch = append(wantFetch, unit{b.BillNo, strconv.Itoa(l.LineNo), c.Code, s})
				}
			}
		}
	}
	for _, s := range f.sim.SmallestOf(top) {
		wantSingle = append(wantSingle, unit{"", "", top, s})
	}
	var gotFetch, gotSingle []unit
	for i, r := range rows("最小子码") {
		r = append(r, make([]string, 9-len(r))...)
		when("最小子码", i, r[0])
		switch {
		case r[6] == "单据码及最小子码" && r[7] == "获取入库数据" && r[8] == fetch.RequestID && r[5] == "":
			gotFetch = append(gotFetch, unit{r[1], r[2], r[3], r[4]})
		case r[6] == "单码最小子码" && r[7] == "单码查询" && r[8] == single.RequestID && r[5] == top:
			gotSingle = append(gotSingle, unit{r[1], r[2], r[3], r[4]})
		default:
			t.Errorf("最小子码 row %d is from no query of this test: %q", i+2, r)
		}
	}
	less := func(a, b unit) int { return strings.Compare(a.doc+a.line+a.top+a.code, b.doc+b.line+b.top+b.code) }
	slices.SortFunc(wantFetch, less)
	slices.SortFunc(gotFetch, less)
	if diff := cmp.Diff(wantFetch, gotFetch, cmp.AllowUnexported(unit{})); diff != "" {
		t.Errorf("smallest sub-codes of the fetched documents (-want +got):\n%s", diff)
	}
	slices.SortFunc(wantSingle, less)
	slices.SortFunc(gotSingle, less)
	if diff := cmp.Diff(wantSingle, gotSingle, cmp.AllowUnexported(unit{})); diff != "" {
		t.Errorf("smallest sub-codes of %s (-want +got):\n%s", top, diff)
	}

	// 码层级关系: each shipped code is a top code with its check; every
	// smallest unit is marked 是 under its top code.
	hier := rows("码层级关系")
	smallestOf := map[string]string{}
	for _, u := range append(wantFetch, wantSingle...) {
		smallestOf[u.code] = u.top
	}
	tops := 0
	for i, r := range hier {
		r = append(r, make([]string, 16-len(r))...)
		when("码层级关系", i, r[0])
		code, topCode, isSmallest, check := r[5], r[7], r[10], r[13]
		if code == topCode {
			tops++
			if check == "" {
				t.Errorf("码层级关系 row %d: top code %s has no pack-ratio check", i+2, code)
			}
		}
		if owner, ok := smallestOf[code]; ok != (isSmallest == "是") || ok && owner != topCode {
			t.Errorf("码层级关系 row %d: %s smallest %q under %s; the platform says smallest %v under %s", i+2, code, isSmallest, topCode, ok, owner)
		}
	}
	shipped := 1 // the single-code query's top
	for _, b := range bills {
		for _, l := range b.Lines {
			shipped += len(l.Codes)
		}
	}
	if tops != shipped || rep.Rows["hierarchy"] != int64(len(hier)) {
		t.Errorf("码层级关系 has %d top codes (want %d) and %d rows (reply %d)", tops, shipped, len(hier), rep.Rows["hierarchy"])
	}

	// 入库单草稿 and 入库单调整记录 of the confirmed draft.
	var draftRows [][]string
	for _, r := range rows("入库单草稿") {
		if r[1] == first.BillNo {
			draftRows = append(draftRows, r)
		}
	}
	if len(draftRows) != len(first.Lines) {
		t.Fatalf("入库单草稿 has %d rows of %s, want %d lines", len(draftRows), first.BillNo, len(first.Lines))
	}
	for i, r := range draftRows {
		r = append(r, make([]string, 23-len(r))...)
		l := first.Lines[i]
		qty := strconv.Itoa(l.Qty)
		if i == 0 {
			qty = "1"
		}
		got := []string{r[0], r[2], r[5], r[8], r[11], r[13], r[14], r[20], r[21], r[22]}
		wantRow := []string{f.today, "已确认", strconv.Itoa(l.LineNo), l.ItemName, l.BatchNo, l.ExpiryDate, qty, "pharm02 李主管", conf.ReceiptNo, "是"}
		if diff := cmp.Diff(wantRow, got); diff != "" {
			t.Errorf("入库单草稿 line %d (-want +got):\n%s", l.LineNo, diff)
		}
		when("入库单草稿", i, r[19])
	}
	var history [][]string
	for _, r := range rows("入库单调整记录") {
		if r[2] == first.BillNo {
			r = append(r, make([]string, 11-len(r))...)
			history = append(history, []string{r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10]})
		}
	}
	wantHistory := [][]string{
		{"medgate", "生成草稿", "", "", "", "由一码通入库数据生成", "", ""},
		{"pharm01 王药师", "修改数量", strconv.Itoa(d.Lines[0].LineNo), "数量", d.Lines[0].Qty, "1", "清点少一箱", adjust.RequestID},
		{"pharm02 李主管", "确认入库", "", "入库单号", "", conf.ReceiptNo, "", confirm.RequestID},
	}
	if diff := cmp.Diff(wantHistory, history); diff != "" {
		t.Errorf("入库单调整记录 of %s (-want +got):\n%s", first.BillNo, diff)
	}

	// The file: valid zip dates, whole seconds, a filter on every sheet.
	zr, err := zip.OpenReader(rep.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	for _, zf := range zr.File {
		if zf.ModifiedDate&0x1f == 0 || (zf.ModifiedDate>>5)&0xf == 0 || zf.Modified.Before(start.Add(-time.Minute)) {
			t.Errorf("zip entry %s: date %v (MS-DOS %#x)", zf.Name, zf.Modified, zf.ModifiedDate)
		}
	}
	for _, sheet := range sheets {
		if tables, err := wb.GetTables(sheet); err != nil || len(tables) != 1 {
			t.Errorf("%s: no filter: %v %v", sheet, tables, err)
		}
	}
	raw, _ := wb.GetCellValue("令牌操作日志", "A2", excelize.Options{RawCellValue: true})
	if v, err := strconv.ParseFloat(raw, 64); err != nil || v*86400-float64(int64(v*86400+0.5)) > 1e-4 {
		t.Errorf("token time serial %q is not a whole second", raw)
	}

	// One document only.
	var one struct {
		Path string
		Rows map[string]int64
	}
	f.ok("tracecode.export", map[string]any{"from": f.today, "to": f.today, "docNo": first.BillNo}, &one)
	ob, err := excelize.OpenFile(one.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer ob.Close()
	docCol := map[string]int{"出入库数据": 2, "追溯码明细": 1, "最小子码": 1, "码层级关系": 1, "入库单草稿": 1, "入库单调整记录": 2}
	for sheet, col := range docCol {
		got, _ := ob.GetRows(sheet)
		if len(got) < 2 {
			t.Errorf("%s of %s is empty", sheet, first.BillNo)
		}
		for i, r := range got[1:] {
			if r[col] != first.BillNo {
				t.Errorf("%s row %d of the %s export is about %s", sheet, i+2, first.BillNo, r[col])
			}
		}
	}
}

// libreOfficeSheets opens the workbook at path with LibreOffice Calc
// (headless, converted to one CSV per sheet), a reader that shares no code
// with the library that wrote it, and returns every sheet as LibreOffice
// shows it (cell texts as formatted), trailing empty cells left out. Without
// soffice the test is skipped, or fails under MEDGATE_REQUIRE_SERVICES=1
// (testenv.Tool).
func libreOfficeSheets(t *testing.T, path string, sheets []string) map[string][][]string {
	t.Helper()
	soffice := testenv.Tool(t, "soffice", "libreoffice-calc-nogui")
	out := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	// Every sheet to its own CSV (the last option, -1), texts as shown,
	// UTF-8 (76), with a profile of its own so that tests can run at once.
	cmd := exec.CommandContext(ctx, soffice, "-env:UserInstallation=file://"+filepath.Join(out, "profile"), "--headless",
		"--convert-to", "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,false,false,false,-1", "--outdir", out, path)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("LibreOffice could not open the export %s: %v\n%s", path, err, b)
	}
	base := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	got := map[string][][]string{}
	for _, sheet := range sheets {
		f, err := os.Open(filepath.Join(out, base+"-"+sheet+".csv"))
		if err != nil {
			t.Fatalf("LibreOffice wrote no CSV of sheet %s: %v", sheet, err)
		}
		r := csv.NewReader(f)
		r.FieldsPerRecord = -1
		rows, err := r.ReadAll()
		f.Close()
		if err != nil {
			t.Fatalf("sheet %s as CSV from LibreOffice: %v", sheet, err)
		}
		for i := range rows {
			rows[i] = trimRow(rows[i])
		}
		got[sheet] = rows
	}
	return got
}

// trimRow leaves out a row's trailing empty cells: LibreOffice pads every
// row to the sheet's width, excelize stops at the last value.
func trimRow(r []string) []string {
	for len(r) > 0 && r[len(r)-1] == "" {
		r = r[:len(r)-1]
	}
	return r
}
