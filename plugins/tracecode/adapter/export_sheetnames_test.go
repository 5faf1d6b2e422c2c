package adapter_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/xuri/excelize/v2"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/sdk/pii"
	"github.com/medgate/medgate/plugins/tracecode/adapter"
)

// TestExportSheetNamesNotMasked: the export reply's sheetRows, which the
// console's export page shows as a table and medgate tracecode export
// prints, gives each sheet's tab name under a key medgate does not mask as
// personal, so staff read 令牌操作日志, not 令****志; the console's result
// column names that key, and the names are the workbook's tabs in order.
func TestExportSheetNamesNotMasked(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	r := e.send(adapter.OpExport, map[string]any{"from": "2026-11-26"})
	rep := must[exportReply](t, r, sdk.StatusOK)
	var raw struct {
		SheetRows []map[string]any `json:"sheetRows"`
	}
	if err := json.Unmarshal(r.Payload, &raw); err != nil {
		t.Fatal(err)
	}
	d, err := adapter.New().Describe(context.Background(), &sdk.DescribeRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var column string
	for _, f := range d.Forms {
		if f.Operation == adapter.OpExport && f.Result.Rows == "sheetRows" {
			for _, c := range f.Result.Columns {
				if c.Field != "rows" {
					column = c.Field
				}
			}
		}
	}
	if column == "" || pii.PersonalKey(column) {
		t.Fatalf("the console's sheet column is %q: medgate masks the values of that key as personal", column)
	}
	f, err := excelize.OpenFile(rep.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tabs := f.GetSheetList()
	if len(raw.SheetRows) != len(tabs) {
		t.Fatalf("sheetRows %v, workbook tabs %v", raw.SheetRows, tabs)
	}
	for i, row := range raw.SheetRows {
		for k := range row {
			if pii.PersonalKey(k) {
				t.Errorf("sheetRows[%d] has key %q, which medgate masks as personal: %v", i, k, row)
			}
		}
		if row[column] != tabs[i] {
			t.Errorf("sheetRows[%d][%q] = %v, want the tab %q", i, column, row[column], tabs[i])
		}
	}
}
