package adapter

import (
	"encoding/base64"
	"fmt"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"

	"github.com/medgate/medgate/plugins/sdk"
)

// TestImportPendingIDNumberAsNumber: a list saved from Excel with the ID
// number column as numbers holds 3.50203198001011E+17, its last digits
// lost. Such a row is matched by its visit id and reported as medgate's
// record says, with a note that its ID number could not be read, not as a
// visit uploaded for another person; -verify does not search 4208 by the
// mangled number (and report the visit absent, "upload it again"); a row
// with no visit id is invalid, saying how to save the list. The note says
// what to do: format the column as text.
func TestImportPendingIDNumberAsNumber(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	wantStatus(t, e.must(OpUpload, "num-up-1", upload("ZY1", 2), 1), sdk.StatusOK) // 350203198001011234
	f := excelize.NewFile()
	rows := [][]any{
		{"医药机构就诊ID", "姓名", "身份证号", "入院时间"},
		{"ZY1", "张三", 350203198001011234.0, "2025-03-25 10:00:00"},
		{"", "张三", 350203198001011234.0, "2025-03-25 10:00:00"},
		{"ZY9", "李四", 350203199001011111.0, "2025-03-25 10:00:00"},
	}
	for i, row := range rows {
		cell, _ := excelize.CoordinatesToCellName(1, i+1)
		if err := f.SetSheetRow("Sheet1", cell, &row); err != nil {
			t.Fatal(err)
		}
	}
	buf, err := f.WriteToBuffer()
	if err != nil {
		t.Fatal(err)
	}
	for _, verify := range []bool{false, true} {
		t.Run(fmt.Sprint("verify=", verify), func(t *testing.T) {
			r := e.must(OpImportPending, fmt.Sprint("num-imp-", verify), map[string]any{"filename": "pending.xlsx",
				"content": base64.StdEncoding.EncodeToString(buf.Bytes()), "verify": verify}, 1)
			wantStatus(t, r, sdk.StatusOK)
			pats := payloadOf(t, r)["patients"].([]any)
			byVisit, byCert, byPending := pats[0].(map[string]any), pats[1].(map[string]any), pats[2].(map[string]any)
			reason := fmt.Sprint(byVisit["reason"])
			if byVisit["status"] != "uploaded" || strings.Contains(reason, "another person") || !strings.Contains(reason, "format the column as text") {
				t.Errorf("the row with its visit id: %v", byVisit)
			}
			if verify && (byVisit["platform"] == "absent" || !strings.Contains(fmt.Sprint(byVisit["platform"]), "not checked")) {
				t.Errorf("the row with its visit id was searched by the mangled number: %v", byVisit)
			}
			if verify && byPending["platform"] == "absent" || !strings.Contains(fmt.Sprint(byPending["reason"]), "format the column as text") {
				t.Errorf("the row of a visit not uploaded: %v", byPending)
			}
			if byCert["status"] != "invalid" || !strings.Contains(fmt.Sprint(byCert["reason"]), "format the column as text") {
				t.Errorf("the row without a visit id: %v", byCert)
			}
		})
	}
}

func TestNumberMangled(t *testing.T) {
	t.Parallel()
	cases := map[string]bool{
		"3.50203198001011E+17":  true,  // LibreOffice's numeric cell
		"3.50203E+17":           true,  // Excel's General format
		"3.50203198001011e17":   true,  // lower case, no sign
		"350203198001011000":    true,  // 15 significant digits, check character wrong
		"3502031980010110000":   true,  // 19 digits
		"350203198001100000":    false, // a real resident ID ending in 000 (check character right)
		"350203198001011235":    false, // a whole ID number
		"35020319800101123X":    false, // with its X
		"350203800101123":       false, // a 15-digit ID number keeps its digits as a number
		"350***********1234":    false, // masked
		"E12345678":             false, // a passport number
		"":                      false,
		"1E+":                   false,
		"  3.50203198E+17  ":    true,
		"35020319800101100000A": false,
	}
	for in, want := range cases {
		if got := numberMangled(in); got != want {
			t.Errorf("numberMangled(%q) = %v, want %v", in, got, want)
		}
	}
}
