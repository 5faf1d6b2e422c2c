package export

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"
)

// TestEverySecondShowsAsItself writes every second of a day as a
// date-time and checks that excelize and LibreOffice Calc (which truncates to the second) show each one as
// itself, not a second early.
func TestEverySecondShowsAsItself(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	w, err := New(Options{TmpDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	s, err := w.Sheet(SheetSpec{Name: "t", Columns: []Column{{Header: "want"}, {Header: "time", Kind: DateTime}}})
	if err != nil {
		t.Fatal(err)
	}
	base := time.Date(2026, 11, 26, 0, 0, 0, 0, time.FixedZone("CST", 8*3600))
	for i := range 86400 {
		at := base.Add(time.Duration(i)*time.Second + 999*time.Millisecond)
		if err := s.Row(at.Format("2006-01-02 15:04:05"), at); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(dir, "seconds.xlsx")
	if _, err := w.Save(path); err != nil {
		t.Fatal(err)
	}
	check := func(reader string, rows [][]string) {
		t.Helper()
		if len(rows) != 86401 {
			t.Fatalf("%s: %d rows", reader, len(rows))
		}
		bad := 0
		for _, r := range rows[1:] {
			if len(r) < 2 || r[0] != r[1] {
				if bad++; bad <= 3 {
					t.Errorf("%s shows %q as %q", reader, r[0], r[1:])
				}
			}
		}
		if bad > 0 {
			t.Errorf("%s shows %d of 86400 seconds wrong", reader, bad)
		}
	}
	f, err := excelize.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := f.GetRows("t")
	if err != nil {
		t.Fatal(err)
	}
	check("excelize", rows)

	lo := libreOfficeRows(t, dir, path, "seconds-t.csv")
	check("LibreOffice", lo)
}
