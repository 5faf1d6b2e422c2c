package adapter_test

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/tracecode/adapter"
)

// TestExportCodesSayWhoseDocument: a document number is its issuer's own:
// two suppliers' fetched documents, and the hospital's own upload, may
// share one, and the plugin keeps them apart. The trace-code sheet named a
// code's document by number (and line) alone, so, opened in LibreOffice,
// the codes of all three showed under the same 单据号 and 行号 and could
// not be told apart nor joined to their row of the stock sheet: a code
// looked as if it were in every one of them. Each code row now says the
// document's source (来源) and supplier (发货单位), as the stock sheet does.
func TestExportCodesSayWhoseDocument(t *testing.T) {
	t.Parallel()
	e := newListingEnv(t, func(body []byte) []byte { return sameNumber(t, body) })
	must[fetchReply](t, e.send(adapter.OpStockInFetch, map[string]string{"beginDate": "2026-11-26", "endDate": "2026-11-26"}), sdk.StatusOK)
	own := drugCode("8100004", 4711)
	must[uploadReply](t, e.send(adapter.OpStockInUpload, bill("PS-0001", "102", line(1, "1", own))), sdk.StatusOK)

	// Whose document each code of PS-0001 is, from the platform's listing
	// and the upload.
	type whose struct{ source, supplier string }
	want := map[string]whose{own: {"医院上传", "厦门示例医药有限公司 (91350200MA31A0001X)"}}
	var ans struct {
		Data struct {
			Bills []struct {
				BillNo, FromOrgCode, FromOrgName string
				Lines                            []struct{ Codes []struct{ Code string } }
			}
		}
	}
	if err := json.Unmarshal(sameNumber(t, mustListing(t, e)), &ans); err != nil {
		t.Fatal(err)
	}
	for _, b := range ans.Data.Bills[:2] {
		for _, l := range b.Lines {
			for _, c := range l.Codes {
				want[c.Code] = whose{"平台入库数据", b.FromOrgName + " (" + b.FromOrgCode + ")"}
			}
		}
	}

	rep := must[exportReply](t, e.send(adapter.OpExport, map[string]any{"from": "2026-11-26", "sheets": []string{"bills", "codes"}}), sdk.StatusOK)
	sheet := "追溯码明细"
	rows := libreOfficeSheets(t, rep.Path, []string{sheet})[sheet]
	if len(rows) < 2 {
		t.Fatalf("the codes sheet shows %d rows", len(rows))
	}
	col := func(name string) int {
		i := slices.Index(rows[0], name)
		if i < 0 {
			t.Fatalf("the codes sheet has no column %s, so the codes of the documents numbered PS-0001 (two suppliers' and the hospital's) cannot be told apart; header %q", name, rows[0])
		}
		return i
	}
	doc, src, sup, codeCol := col("单据号"), col("来源"), col("发货单位"), col("追溯码")
	seen := 0
	for i, r := range rows[1:] {
		if r[doc] != "PS-0001" {
			continue
		}
		seen++
		w, ok := want[r[codeCol]]
		if !ok {
			t.Errorf("row %d: code %s is not of a document PS-0001", i+2, r[codeCol])
			continue
		}
		if got := (whose{r[src], r[sup]}); got != w {
			t.Errorf("row %d: code %s shows as %+v, want %+v", i+2, r[codeCol], got, w)
		}
	}
	if seen != len(want) {
		t.Errorf("%d rows of PS-0001 in the codes sheet, want %d", seen, len(want))
	}
}
