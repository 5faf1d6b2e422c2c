package export

import (
	"archive/zip"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/xuri/excelize/v2"
)

var cst = time.FixedZone("CST", 8*3600)

func TestWorkbookRoundTrip(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var reports []Progress
	w, err := New(Options{ProgressEvery: 2, MaxRowsPerSheet: 4, TmpDir: dir, Creator: "medgate test",
		Progress: func(p Progress) { reports = append(reports, p) }})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	spec := SheetSpec{Name: "追溯码明细", Columns: []Column{
		{Header: "单据号"}, {Header: "追溯码", Width: 24}, {Header: "层级", Kind: Integer},
		{Header: "数量", Kind: Decimal}, {Header: "有效期至", Kind: Date}, {Header: "上传时间", Kind: DateTime},
	}}
	s, err := w.Sheet(spec)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 26, 9, 30, 5, 0, cst)
	exp := time.Date(2028, 9, 14, 0, 0, 0, 0, cst)
	for i := 0; i < 5; i++ {
		if err := s.Row("RK1", "8100001000000001123"+string(rune('0'+i)), int64(i+1), "12.5", exp, at); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Row("too", "few"); err == nil {
		t.Fatal("a short row was accepted")
	}
	s2, err := w.Sheet(SheetSpec{Name: "令牌操作日志", Columns: []Column{{Header: "时间", Kind: DateTime}, {Header: "操作"}, {Header: "错误"}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s2.Row(at, "issue", nil); err != nil {
		t.Fatal(err)
	}
	if err := s2.Row(time.Time{}, "", ""); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "out.xlsx")
	res, err := w.Save(path)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	if res.Size != int64(len(data)) || res.SHA256 != hex.EncodeToString(sum[:]) || res.Rows != 7 {
		t.Errorf("result %+v does not describe the file (%d bytes)", res, len(data))
	}
	if !reports[len(reports)-1].Done {
		t.Errorf("the last progress report is not Done: %+v", reports)
	}

	f, err := excelize.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if diff := cmp.Diff([]string{"追溯码明细", "追溯码明细 (2)", "令牌操作日志"}, f.GetSheetList()); diff != "" {
		t.Fatalf("sheets (-want +got):\n%s", diff)
	}
	rows, _ := f.GetRows("追溯码明细")
	want := [][]string{
		{"单据号", "追溯码", "层级", "数量", "有效期至", "上传时间"},
		{"RK1", "81000010000000011230", "1", "12.5", "2028-09-14", "2026-11-26 09:30:05"},
		{"RK1", "81000010000000011231", "2", "12.5", "2028-09-14", "2026-11-26 09:30:05"},
		{"RK1", "81000010000000011232", "3", "12.5", "2028-09-14", "2026-11-26 09:30:05"},
	}
	if diff := cmp.Diff(want, rows); diff != "" {
		t.Errorf("first part (-want +got):\n%s", diff)
	}
	rows2, _ := f.GetRows("追溯码明细 (2)")
	if len(rows2) != 3 || rows2[0][0] != "单据号" || rows2[2][1] != "81000010000000011234" {
		t.Errorf("continuation sheet rows = %v, want the header and 2 rows", rows2)
	}
	// Codes stay text, never numbers in scientific notation.
	if typ, _ := f.GetCellType("追溯码明细", "B2"); typ == excelize.CellTypeNumber {
		t.Errorf("a trace code was written as a number")
	}
	for _, sheet := range f.GetSheetList() {
		panes, err := f.GetPanes(sheet)
		if err != nil || !panes.Freeze || panes.YSplit != 1 || panes.TopLeftCell != "A2" {
			t.Errorf("%s: header row not frozen: %+v %v", sheet, panes, err)
		}
	}
	if w, _ := f.GetColWidth("追溯码明细", "B"); w != 24 {
		t.Errorf("column B width = %v, want 24", w)
	}
	if w, _ := f.GetColWidth("追溯码明细", "A"); w < 8 {
		t.Errorf("column A width = %v, want a computed width", w)
	}
	style, _ := f.GetCellStyle("追溯码明细", "A1")
	st, _ := f.GetStyle(style)
	if st == nil || st.Font == nil || !st.Font.Bold {
		t.Errorf("header is not bold: %+v", st)
	}
	raw, _ := f.GetCellValue("追溯码明细", "E2", excelize.Options{RawCellValue: true})
	if raw != "47010" {
		t.Errorf("expiry date raw value = %q, want the Excel serial 47010 (a real date, not text)", raw)
	}
	tl, _ := f.GetRows("令牌操作日志")
	if diff := cmp.Diff([][]string{{"时间", "操作", "错误"}, {"2026-11-26 09:30:05", "issue"}}, tl); diff != "" {
		t.Errorf("token log (-want +got):\n%s", diff)
	}
}

func TestSaveNeedsASheet(t *testing.T) {
	t.Parallel()
	w, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := w.Save(filepath.Join(t.TempDir(), "x.xlsx")); err == nil {
		t.Fatal("an empty workbook was saved")
	}
}

func TestSaveIntoMissingDirectory(t *testing.T) {
	t.Parallel()
	w, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := w.Sheet(SheetSpec{Name: "a", Columns: []Column{{Header: "x"}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Save(filepath.Join(t.TempDir(), "missing", "x.xlsx")); err == nil {
		t.Fatal("saved into a directory that does not exist")
	}
}

// TestFileDetails checks what a reader of the file sees beyond the cell
// texts: valid zip entry dates, times to the second, a filter on every
// sheet (also on each continuation part) and texts cut to what a cell holds.
func TestFileDetails(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	created := time.Date(2026, 11, 26, 10, 15, 42, 987_000_000, cst)
	w, err := New(Options{TmpDir: dir, Created: created, MaxRowsPerSheet: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	s, err := w.Sheet(SheetSpec{Name: "令牌操作日志", Columns: []Column{{Header: "时间", Kind: DateTime}, {Header: "单据号"}, {Header: "说明"}}})
	if err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("码", MaxCellText+10)
	rows := []struct {
		at   time.Time
		doc  string
		note string
	}{
		{time.Date(2026, 11, 26, 9, 30, 5, 999_999_999, cst), "RK1", "短"},
		{time.Date(2026, 11, 26, 23, 59, 59, 500_000_000, cst), "RK2", long},
		{time.Date(2026, 11, 27, 0, 0, 1, 1, cst), "RK3", "x"},
	}
	for _, r := range rows {
		if err := s.Row(r.at, r.doc, r.note); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(dir, "details.xlsx")
	if _, err := w.Save(path); err != nil {
		t.Fatal(err)
	}

	zr, err := zip.OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	if len(zr.File) < 5 {
		t.Fatalf("the workbook has %d zip entries", len(zr.File))
	}
	for _, zf := range zr.File {
		day, month := zf.ModifiedDate&0x1f, (zf.ModifiedDate>>5)&0xf
		if day == 0 || month == 0 {
			t.Errorf("zip entry %s has the invalid MS-DOS date %d-%02d-%02d", zf.Name, 1980+int(zf.ModifiedDate>>9), month, day)
		}
		if got := zf.Modified.In(cst); !got.Equal(created.Truncate(time.Second)) {
			t.Errorf("zip entry %s modified %v, want %v", zf.Name, got, created.Truncate(time.Second))
		}
	}

	f, err := excelize.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	testCases := map[string]struct {
		sheet, cell, want string
	}{
		"fraction dropped":        {"令牌操作日志", "A2", "2026-11-26 09:30:05"},
		"last second of the day":  {"令牌操作日志", "A3", "2026-11-26 23:59:59"},
		"continuation keeps time": {"令牌操作日志 (2)", "A2", "2026-11-27 00:00:01"},
	}
	for name, tc := range testCases {
		got, _ := f.GetCellValue(tc.sheet, tc.cell)
		if got != tc.want {
			t.Errorf("%s: %s!%s = %q, want %q", name, tc.sheet, tc.cell, got, tc.want)
		}
		raw, _ := f.GetCellValue(tc.sheet, tc.cell, excelize.Options{RawCellValue: true})
		serial, err := strconv.ParseFloat(raw, 64)
		if err != nil {
			t.Fatalf("%s: raw %q is not a serial", name, raw)
		}
		secs := serial * 86400
		if d := secs - float64(int64(secs+0.5)); d > 1e-4 || d < -1e-4 {
			t.Errorf("%s: serial %s is %v s off a whole second", name, raw, d)
		}
	}
	if got := f.GetActiveSheetIndex(); got != 0 {
		t.Errorf("active sheet %d, want the first", got)
	}
	for _, zf := range zr.File {
		if !strings.HasPrefix(zf.Name, "xl/worksheets/sheet") {
			continue
		}
		rc, err := zf.Open()
		if err != nil {
			t.Fatal(err)
		}
		head := make([]byte, 2048)
		n, _ := io.ReadFull(rc, head)
		rc.Close()
		if strings.Contains(string(head[:n]), `tabSelected="1"`) && zf.Name != "xl/worksheets/sheet1.xml" {
			t.Errorf("%s is selected; only the first sheet may be", zf.Name)
		}
	}
	note, _ := f.GetCellValue("令牌操作日志", "C3")
	if utf16Len(note) > MaxCellText || !strings.HasSuffix(note, clipMark) || !strings.HasPrefix(note, "码码码") {
		t.Errorf("a text over the cell limit was not cut and marked: %d characters, ends %q", utf16Len(note), note[len(note)-12:])
	}
	for _, sheet := range []string{"令牌操作日志", "令牌操作日志 (2)"} {
		tables, err := f.GetTables(sheet)
		if err != nil || len(tables) != 1 {
			t.Fatalf("%s: tables %v %v, want one table with filters", sheet, tables, err)
		}
		want := map[string]string{"令牌操作日志": "A1:C3", "令牌操作日志 (2)": "A1:C2"}[sheet]
		if tables[0].Range != want {
			t.Errorf("%s: table range %s, want %s", sheet, tables[0].Range, want)
		}
	}
}

func TestClip(t *testing.T) {
	t.Parallel()
	testCases := map[string]struct {
		in      string
		clipped bool
	}{
		"short":                  {"abc", false},
		"exactly the limit":      {strings.Repeat("a", MaxCellText), false},
		"CJK at the limit":       {strings.Repeat("码", MaxCellText), false},
		"one over":               {strings.Repeat("a", MaxCellText+1), true},
		"astral counts as two":   {strings.Repeat("😀", MaxCellText/2+1), true},
		"astral under the limit": {strings.Repeat("😀", MaxCellText/2), false},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			got := clip(tc.in)
			if tc.clipped != (got != tc.in) {
				t.Fatalf("clipped = %v, want %v", got != tc.in, tc.clipped)
			}
			if utf16Len(got) > MaxCellText {
				t.Errorf("%d UTF-16 units, more than a cell holds", utf16Len(got))
			}
			if tc.clipped && !strings.HasSuffix(got, clipMark) {
				t.Errorf("the cut is not marked")
			}
		})
	}
}

// TestReleaseBuffer checks that a large sheet's memory buffer is freed
// once it is flushed, and that a small sheet (whose rows are only in that
// buffer) keeps its rows.
func TestReleaseBuffer(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	w, err := New(Options{TmpDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	small, err := w.Sheet(SheetSpec{Name: "small", Columns: []Column{{Header: "a"}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := small.Row("kept"); err != nil {
		t.Fatal(err)
	}
	if err := small.Close(); err != nil {
		t.Fatal(err)
	}
	if releaseBuffer(small.sw) {
		t.Fatal("the buffer of a sheet that never spilled to its file was released")
	}
	big, err := w.Sheet(SheetSpec{Name: "big", Columns: []Column{{Header: "code"}, {Header: "text"}}})
	if err != nil {
		t.Fatal(err)
	}
	pad := strings.Repeat("x", 200)
	n := 0
	for ; n < 120_000; n++ { // ~30 MB of XML: spills past StreamChunkSize
		if err := big.Row(strconv.Itoa(n), pad); err != nil {
			t.Fatal(err)
		}
	}
	if err := big.sw.Flush(); err != nil {
		t.Fatal(err)
	}
	if !releaseBuffer(big.sw) {
		t.Fatal("the flushed buffer of a spilled sheet was not released: excelize's StreamWriter internals changed; update releaseBuffer")
	}
	big.closed = true
	path := filepath.Join(dir, "r.xlsx")
	if _, err := w.Save(path); err != nil {
		t.Fatal(err)
	}
	f, err := excelize.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if v, _ := f.GetCellValue("small", "A2"); v != "kept" {
		t.Errorf("small!A2 = %q", v)
	}
	rows, _ := f.Rows("big")
	count := 0
	for rows.Next() {
		count++
	}
	if count != n+1 {
		t.Errorf("big has %d rows, want %d", count, n+1)
	}
}

// TestSpillBuffer checks that a finished sheet whose rows never reached
// excelize's 16 MB spill size is moved to a temporary file (so finished
// sheets hold no memory until Save), that a tiny sheet stays in memory,
// that every row is in the saved workbook, and that Close removes the
// files.
func TestSpillBuffer(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	w, err := New(Options{TmpDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	pad := strings.Repeat("y", 200)
	const rows = 10_000 // ~2.5 MB of XML each: over spillMin, under 16 MB
	names := []string{"one", "two", "three"}
	for _, name := range names {
		s, err := w.Sheet(SheetSpec{Name: name, Columns: []Column{{Header: "n", Kind: Integer}, {Header: "text"}}})
		if err != nil {
			t.Fatal(err)
		}
		for i := range rows {
			if err := s.Row(i, name+pad); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	tiny, err := w.Sheet(SheetSpec{Name: "tiny", Columns: []Column{{Header: "a"}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := tiny.Row("kept"); err != nil {
		t.Fatal(err)
	}
	if err := tiny.Close(); err != nil {
		t.Fatal(err)
	}
	spilled, _ := filepath.Glob(filepath.Join(dir, "excelize-*"))
	if len(spilled) != len(names) {
		t.Fatalf("%d temporary files after three finished 2.5 MB sheets and a tiny one, want 3: excelize's StreamWriter internals changed; update spillBuffer", len(spilled))
	}
	path := filepath.Join(dir, "spill.xlsx")
	if _, err := w.Save(path); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "excelize-*")); len(left) != 0 {
		t.Errorf("Close left %v", left)
	}
	f, err := excelize.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, name := range names {
		r, err := f.Rows(name)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		var last []string
		for r.Next() {
			n++
			last, _ = r.Columns()
		}
		r.Close()
		if n != rows+1 || len(last) != 2 || last[0] != strconv.Itoa(rows-1) || last[1] != name+pad {
			t.Errorf("%s: %d rows, last %.20q, want %d rows ending %d", name, n, last, rows+1, rows-1)
		}
	}
	if v, _ := f.GetCellValue("tiny", "A2"); v != "kept" {
		t.Errorf("tiny!A2 = %q", v)
	}
}
