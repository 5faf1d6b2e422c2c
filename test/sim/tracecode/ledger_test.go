package tracecode

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestUploadLedger: the simulator refuses, by its own ledger, a document
// that lists a code twice and a stock-in of a code already in stock, and
// a refused document changes nothing; a stock-out takes codes out so a
// return stock-in may bring them in again, and a code stocked out is
// refused to a second stock-out until it comes back.
func TestUploadLedger(t *testing.T) {
	t.Parallel()
	const a, b, c = "81234560000000000011", "81234560000000000022", "81234560000000000033"
	bill := func(no, typ string, lines ...[]string) []byte {
		type tc struct {
			Code string `json:"code"`
		}
		type line struct {
			LineNo     int  `json:"lineNo"`
			TraceCodes []tc `json:"traceCodes"`
		}
		doc := struct {
			BillNo   string `json:"billNo"`
			BillType string `json:"billType"`
			BillTime string `json:"billTime"`
			Lines    []line `json:"lines"`
		}{BillNo: no, BillType: typ, BillTime: "2026-11-26 10:00:00"}
		for i, codes := range lines {
			l := line{LineNo: i + 1}
			for _, code := range codes {
				l.TraceCodes = append(l.TraceCodes, tc{code})
			}
			doc.Lines = append(doc.Lines, l)
		}
		raw, err := json.Marshal(doc)
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	s := New(Options{Seed: 1})
	steps := []struct {
		name, billNo string
		body         []byte
		want, in     string // answer code; Chinese text the message must hold
	}{
		{"code twice on one line", "IN-1", bill("IN-1", "102", []string{a, a}), "CODE_DUPLICATE", "重复"},
		{"code twice on two lines", "IN-1", bill("IN-1", "102", []string{a}, []string{b, a}), "CODE_DUPLICATE", "第2行"},
		{"first stock-in", "IN-2", bill("IN-2", "102", []string{a, b}), "0", ""},
		{"code already stocked in", "IN-3", bill("IN-3", "102", []string{c}, []string{b}), "CODE_USED", "IN-2"},
		{"refused document left c free", "IN-4", bill("IN-4", "102", []string{c}), "0", ""},
		{"return stock-out takes b out", "OUT-1", bill("OUT-1", "202", []string{b}), "0", ""},
		{"b cannot leave twice", "OUT-2", bill("OUT-2", "202", []string{b}), "CODE_OUT", "已由单据OUT-1出库"},
		{"b may come in again", "IN-5", bill("IN-5", "103", []string{b}), "0", ""},
		{"b may leave again once back", "OUT-3", bill("OUT-3", "202", []string{b}), "0", ""},
		{"a is still in stock", "IN-6", bill("IN-6", "102", []string{a}), "CODE_USED", "已由单据IN-2入库"},
	}
	for _, st := range steps {
		s.mu.Lock()
		_, ans := s.upload(st.body)
		s.mu.Unlock()
		if ans.Code != st.want || !strings.Contains(ans.Message, st.in) {
			t.Errorf("%s: answer %s %q, want %s with %q", st.name, ans.Code, ans.Message, st.want, st.in)
		}
		if _, stored := s.Uploaded(st.billNo); stored != (st.want == "0") {
			t.Errorf("%s: document %s stored = %v after answer %s", st.name, st.billNo, stored, ans.Code)
		}
	}
}
