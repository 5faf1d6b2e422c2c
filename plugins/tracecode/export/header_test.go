package export

import (
	"strings"
	"testing"
)

// TestSheetRefusesHeadersATableCannotHave: every sheet is an Excel table,
// whose column names must be non-empty and unique (Excel compares them
// without case); excelize's stream writer writes them as given, and Excel
// then reports the file as damaged and drops the table ("repaired
// records"). Sheet refuses such columns at once, naming them.
func TestSheetRefusesHeadersATableCannotHave(t *testing.T) {
	t.Parallel()
	testCases := map[string]struct {
		cols    []Column
		wantErr string
	}{
		"fine":         {cols: []Column{{Header: "单据号"}, {Header: "追溯码"}}},
		"empty header": {cols: []Column{{Header: "单据号"}, {Header: " "}}, wantErr: "column 2 has no header"},
		"twice":        {cols: []Column{{Header: "追溯码"}, {Header: "批号"}, {Header: "追溯码"}}, wantErr: `columns 1 and 3 are both headed "追溯码"`},
		"case only":    {cols: []Column{{Header: "ID"}, {Header: "id"}}, wantErr: `columns 1 and 2 are both headed "id"`},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			w, err := New(Options{TmpDir: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			_, err = w.Sheet(SheetSpec{Name: "s", Columns: tc.cols})
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("Sheet: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("Sheet error = %v, want %q", err, tc.wantErr)
			}
		})
	}
}
