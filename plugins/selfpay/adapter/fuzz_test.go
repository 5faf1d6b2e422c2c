package adapter

import (
	"testing"
)

// FuzzPendingList: reading a pending list (CSV, any bytes) and finding its
// columns never panics, and every row it returns has a spreadsheet row
// number after the header.
func FuzzPendingList(f *testing.F) {
	f.Add([]byte(pendingCSV))
	f.Add([]byte("\xef\xbb\xbf就诊ID\t姓名\nZY1\t张三\n"))
	f.Add([]byte("\"医药机构就诊ID,\"\"x\n,姓名\n"))
	f.Add([]byte{0xd2, 0xbd, 0xff, 0xfe, ',', '\n'})
	cols, err := parseColumns(DefaultPendingColumns)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		rows, err := readTable("csv", data, "")
		if err != nil {
			return
		}
		list, _, err := pendingRows(rows, cols)
		if err != nil {
			return
		}
		for _, r := range list {
			if r.row < 2 || r.row > len(rows) {
				t.Fatalf("row %d of %d", r.row, len(rows))
			}
		}
	})
}
