package adapter

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/medgate/medgate/plugins/sdk"
)

// TestImportPendingUnreadableWorkbook: a pending list saved as an Excel
// 97-2003 workbook (.xls, an OLE2 compound file, as the medical-insurance
// system's export and WPS save it), or an HTML table or XML spreadsheet
// named .xls, is refused as the file type it is, with how to save it, not
// read as CSV and refused for its headers ("adjust the pendingColumns
// setting"), which sent staff to the wrong setting.
func TestImportPendingUnreadableWorkbook(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ole := append([]byte("\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"), make([]byte, 1024)...)
	cases := []struct {
		name, file string
		data       []byte
		want       string
	}{
		{"xls", "待上传自费清单.xls", ole, "Excel 97-2003 workbook (.xls)"},
		{"xls named xlsx", "pending.xlsx", ole, "Excel 97-2003 workbook (.xls)"},
		{"html table", "pending.xls", []byte("\xef\xbb\xbf\r\n<html><body><table><tr><td>医药机构就诊ID</td></tr></table></body></html>"), "web page"},
		{"xml spreadsheet", "pending.xls", []byte(`<?xml version="1.0"?><Workbook xmlns="urn:schemas-microsoft-com:office:spreadsheet"></Workbook>`), "web page or XML"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := e.must(OpImportPending, "xls-"+tc.name, map[string]any{"filename": tc.file, "content": base64.StdEncoding.EncodeToString(tc.data)}, 1)
			wantStatus(t, r, sdk.StatusInvalid)
			d := r.Diagnostics[0]
			msg := d.Message()
			if d.Field != "$.content" || !strings.Contains(msg, tc.want) || !strings.Contains(msg, tc.file) ||
				!strings.Contains(msg, "save it as an Excel workbook (.xlsx)") || strings.Contains(msg, "pendingColumns") {
				t.Errorf("diagnostics %+v", r.Diagnostics)
			}
		})
	}
	// A CSV list is read as before.
	csv := "医药机构就诊ID,姓名,身份证号\nZY1,张三,350203198001011234\n"
	wantStatus(t, e.must(OpImportPending, "xls-csv", map[string]any{"filename": "pending.csv", "content": base64.StdEncoding.EncodeToString([]byte(csv))}, 1), sdk.StatusOK)
}
