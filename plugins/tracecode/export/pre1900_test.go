package export

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/xuri/excelize/v2"
)

// TestDatesBefore1900March: Excel's 1900 date system counts the
// nonexistent 1900-02-29, and LibreOffice does not, so no serial number
// shows a day before 1900-03-01 right in both, and a day before 1900 has
// none at all. Such dates (1900-01-01 is the "no date" of many HIS
// databases) were written as serials that Excel (and excelize, which
// follows it) showed a day late ("1900-01-02", the nonexistent
// "1900-02-29") or as negative numbers; they are now written as text in
// the column's format, which every reader shows as it is. Later dates stay
// real dates.
func TestDatesBefore1900March(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	w, err := New(Options{TmpDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	s, err := w.Sheet(SheetSpec{Name: "d", Columns: []Column{{Header: "有效期至", Kind: Date}, {Header: "上传时间", Kind: DateTime}}})
	if err != nil {
		t.Fatal(err)
	}
	days := []time.Time{
		time.Date(1900, 1, 1, 0, 0, 0, 0, cst), time.Date(1900, 1, 1, 0, 0, 0, 0, cst), // repeated: the cached cell
		time.Date(1900, 2, 28, 0, 0, 0, 0, cst), time.Date(1899, 12, 1, 0, 0, 0, 0, cst),
		time.Date(1900, 3, 1, 0, 0, 0, 0, cst), time.Date(2028, 9, 14, 0, 0, 0, 0, cst),
	}
	for _, d := range days {
		if err := s.Row(d, d.Add(8*time.Hour+30*time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(dir, "d.xlsx")
	if _, err := w.Save(path); err != nil {
		t.Fatal(err)
	}
	want := [][]string{{"有效期至", "上传时间"}}
	for _, d := range days {
		want = append(want, []string{d.Format(time.DateOnly), d.Add(8*time.Hour + 30*time.Minute).Format(time.DateTime)})
	}
	f, err := excelize.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := f.GetRows("d")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, rows); diff != "" {
		t.Errorf("excelize shows (-want +got):\n%s", diff)
	}
	for _, cell := range []string{"A6", "A7", "B7"} { // 1900-03-01 and later are dates
		if typ, _ := f.GetCellType("d", cell); typ == excelize.CellTypeInlineString {
			t.Errorf("%s is text, want a date", cell)
		}
	}

	lo := libreOfficeRows(t, dir, path, "d-d.csv")
	if diff := cmp.Diff(want, lo); diff != "" {
		t.Errorf("LibreOffice shows (-want +got):\n%s", diff)
	}
}
