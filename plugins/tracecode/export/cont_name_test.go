package export

import (
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/xuri/excelize/v2"
)

// TestContinuationSheetOfALongName: a sheet whose name is already 31
// characters (Excel's limit) continues past MaxRowsPerSheet on sheets
// whose names are cut to fit " (2)", " (3)"…; before, the first row past
// the limit failed the export (after a million rows in real use), because
// "<name> (2)" is longer than a sheet name may be.
func TestContinuationSheetOfALongName(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	w, err := New(Options{TmpDir: dir, MaxRowsPerSheet: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	name := strings.Repeat("码", 31)
	s, err := w.Sheet(SheetSpec{Name: name, Columns: []Column{{Header: "n", Kind: Integer}}})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := s.Row(i); err != nil {
			t.Fatalf("row %d: %v", i, err)
		}
	}
	path := filepath.Join(dir, "long.xlsx")
	if _, err := w.Save(path); err != nil {
		t.Fatal(err)
	}
	f, err := excelize.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sheets := f.GetSheetList()
	want := []string{name, strings.Repeat("码", 27) + " (2)", strings.Repeat("码", 27) + " (3)"}
	if len(sheets) != len(want) {
		t.Fatalf("sheets %q, want %q", sheets, want)
	}
	// Excel counts UTF-16 units: a character of a GB 18030 extension
	// (𠮷, U+20BB7) counts two.
	for _, tc := range []struct {
		name string
		part int
		want string
	}{
		{"追溯码明细", 2, "追溯码明细 (2)"},
		{strings.Repeat("𠮷", 15), 2, strings.Repeat("𠮷", 13) + " (2)"},
		{strings.Repeat("码", 31), 100, strings.Repeat("码", 25) + " (100)"},
	} {
		if got := continuationName(tc.name, tc.part); got != tc.want {
			t.Errorf("continuationName(%q, %d) = %q, want %q", tc.name, tc.part, got, tc.want)
		}
	}
	for i, s := range sheets {
		if s != want[i] || utf8.RuneCountInString(s) > 31 {
			t.Errorf("sheet %d is %q, want %q", i, s, want[i])
		}
		rows, _ := f.GetRows(s)
		if len(rows) != 2 || rows[0][0] != "n" || rows[1][0] != string(rune('0'+i)) {
			t.Errorf("sheet %q rows %q, want the header and row %d", s, rows, i)
		}
	}
}
