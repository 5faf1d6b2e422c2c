package workinjury

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"testing"
)

// bigMonth is hospital's April 2025 with 1,200 records, more than one
// GYU003 call may carry: settlement A (2025-04-10, total 40.00 = fund
// 30.00 + self 10.00) and 1,199 deductions of 0.01 on it (2025-04-20).
type bigMonth struct {
	c      *chain
	settle string
	items  []any // the month's 1,200 items: A first, then the deductions
}

const bigMonthDeductions = 1199

func newBigMonth(t testing.TB) bigMonth {
	c := newChain(t, func(cfg *Config) { cfg.BatchSize = MaxBatch })
	ls := lines("A", 1, 2)
	st := c.stayAt("ZY1", at("2025-04-01 10:00:00"), at("2025-04-10 10:00:00"), ls)
	m := bigMonth{c: c, settle: st}
	m.items = append(m.items, map[string]any{"item_type": "1", "ref_no": st, "settle_no": st, "total_amount": json.Number("40.00"),
		"amount": json.Number("30.00"), "self_pay": json.Number("10.00"), "biz_time": "2025-04-10 10:00:00"})
	when := at("2025-04-20 10:00:00")
	var batch []map[string]any
	for i := 1; i <= bigMonthDeductions; i++ {
		no := fmt.Sprintf("K%05d", i)
		batch = append(batch, deductionLine(no, st, "0.01", when))
		m.items = append(m.items, map[string]any{"item_type": "3", "ref_no": no, "settle_no": st, "amount": json.Number("0.01"), "biz_time": stamp(when)})
		if len(batch) == maxLines || i == bigMonthDeductions {
			c.must("GYU004", deductions(batch...))
			batch = nil
		}
	}
	return m
}

// part is part n of count of the month, listing items[from:to], with the
// whole month's header.
func (m bigMonth) part(n, count, from, to int) map[string]any {
	return map[string]any{
		"akb020": hospital, "settle_month": "202504", "settle_count": 1, "revoke_count": 0, "person_count": 1,
		"total_amount": json.Number("40.00"), "fund_pay": json.Number("30.00"), "self_pay": json.Number("10.00"),
		"revoke_amount": json.Number("0.00"), "deduct_amount": json.Number("11.99"), "deduct_revoke_amount": json.Number("0.00"),
		"month_fund_pay": json.Number("18.01"), "part_no": n, "part_count": count,
		"items": slices.Clone(m.items[from:to]), "aae011": "王五", "aae036": "2025-05-02 09:00:00",
	}
}

// keys are the item keys of items[from:to].
func (m bigMonth) keys(from, to int) []string {
	var out []string
	for _, x := range m.items[from:to] {
		r := x.(map[string]any)
		out = append(out, r["item_type"].(string)+"/"+r["ref_no"].(string))
	}
	return out
}

// TestMonthInParts: a month of 1,200 items is settled in 3 parts sent in
// any order; each accepted part is in the ledger, the settlement carries
// the monthly settlement's number from the part that lists it on, and
// the month is a monthly settlement (downloads, clearing) once the last
// part is accepted; it cannot be settled again.
func TestMonthInParts(t *testing.T) {
	t.Parallel()
	m := newBigMonth(t)
	c := m.c
	if s := c.srv.MonthSums(hospital, "202504"); s.DeductAmount != 1199 || s.MonthFund != 1801 {
		t.Fatalf("MonthSums = %+v", s)
	}
	bounds := map[int][2]int{1: {0, 400}, 2: {400, 800}, 3: {800, 1200}}
	var no string
	for i, n := range []int{2, 1, 3} {
		b := bounds[n]
		out := c.must("GYU003", m.part(n, 3, b[0], b[1]))
		if i == 0 {
			no, _ = out["month_settle_no"].(string)
		}
		if out["month_settle_no"] != no || no == "" {
			t.Fatalf("part %d answered month_settle_no %v, want the first part's %q", n, out["month_settle_no"], no)
		}
		info, ok := c.srv.MonthParts(hospital, "202504")
		if !ok || info.MonthlyNo != no || info.PartCount != 3 || len(info.Parts) != i+1 || info.Complete != (i == 2) {
			t.Fatalf("after part %d (%d sent): MonthParts = %+v, %v", n, i+1, info, ok)
		}
		if !slices.Equal(info.Parts[n], m.keys(b[0], b[1])) {
			t.Fatalf("part %d in the ledger lists %d items, want its %d", n, len(info.Parts[n]), b[1]-b[0])
		}
		if got := c.srv.Accepted("GYU003", fmt.Sprintf("%s/202504/%d", hospital, n)); got != 1 {
			t.Fatalf("part %d accepted %d times in the ledger", n, got)
		}
		// Settlement A is item 0, in part 1 (sent second).
		wantNo := ""
		if i >= 1 {
			wantNo = no
		}
		if got := settlementMonthly(t, c, m.settle); got != wantNo {
			t.Fatalf("after part %d, settlement A is in monthly settlement %q, want %q", n, got, wantNo)
		}
		if mo := c.srv.Monthlies(hospital, "202504"); (i < 2 && len(mo) != 0) || (i == 2 && (len(mo) != 1 || mo[0].MonthlyNo != no || mo[0].Sums.MonthFund != 1801 || len(mo[0].Record["items"].([]any)) != 1200)) {
			t.Fatalf("after part %d (%d sent): Monthlies = %d records", n, i+1, len(mo))
		}
	}
	out := c.must("GYD003", map[string]any{})
	if recs := records(out); len(recs) != 1 || recs[0]["month_settle_no"] != no || fmt.Sprint(recs[0]["month_fund_pay"]) != "18.01" {
		t.Fatalf("GYD003 = %d records", len(recs))
	}
	whole := m.part(1, 1, 0, 1200)
	delete(whole, "part_no")
	delete(whole, "part_count")
	if got, _ := c.call("GYU003", with(whole, "items", m.items[:500])); got != "E8005" {
		t.Fatalf("a monthly settlement of the month settled in parts answered %s, want E8005", got)
	}
	if got, _ := c.call("GYU003", m.part(1, 2, 0, 500)); got != "E8006" {
		t.Fatalf("a part of another split answered %s, want E8006", got)
	}
	if got, out := c.call("GYU003", m.part(3, 3, 800, 1200)); got != "0" || out["month_settle_no"] != no {
		t.Fatalf("part 3 sent again after the month was complete answered %s %v, want success with %s", got, out, no)
	}
}

func settlementMonthly(t testing.TB, c *chain, settleNo string) string {
	t.Helper()
	st, ok := c.srv.Settlement(settleNo)
	if !ok {
		t.Fatalf("settlement %s is not in the ledger", settleNo)
	}
	return st.Monthly
}

// TestMonthPartRules: a missing part leaves the month unsettled; the last
// part must complete the month; no item in two parts; a part sent again
// with the same items changes nothing, with other items it is refused;
// every part has the whole month's header and the same part_count; no
// record can be added to the month once its first part is accepted.
func TestMonthPartRules(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		// before are parts (n, from, to) sent first, each accepted.
		before [][3]int
		// send is the GYU003 under test.
		send func(m bigMonth) (string, map[string]any)
		want string
		// parts are the parts accepted in the end; complete whether
		// the month is settled.
		parts    []int
		complete bool
	}{
		"a part missing": {
			before: [][3]int{{1, 0, 400}, {3, 800, 1200}},
			parts:  []int{1, 3},
		},
		"the last part leaves items out": {
			before: [][3]int{{1, 0, 400}, {3, 800, 1200}},
			send:   func(m bigMonth) (string, map[string]any) { return "GYU003", m.part(2, 3, 400, 799) },
			want:   "E8006", parts: []int{1, 3},
		},
		"the last part completes the month": {
			before: [][3]int{{1, 0, 400}, {3, 800, 1200}},
			send:   func(m bigMonth) (string, map[string]any) { return "GYU003", m.part(2, 3, 400, 800) },
			want:   "0", parts: []int{1, 2, 3}, complete: true,
		},
		"an item in two parts": {
			before: [][3]int{{1, 0, 400}},
			send:   func(m bigMonth) (string, map[string]any) { return "GYU003", m.part(2, 3, 399, 800) },
			want:   "E8006", parts: []int{1},
		},
		"an item twice in one part": {
			send: func(m bigMonth) (string, map[string]any) {
				in := m.part(1, 3, 0, 400)
				in["items"] = append(in["items"].([]any), m.items[0])
				return "GYU003", in
			},
			want: "E8006",
		},
		"a part retried": {
			before: [][3]int{{1, 0, 400}},
			send:   func(m bigMonth) (string, map[string]any) { return "GYU003", m.part(1, 3, 0, 400) },
			want:   "0", parts: []int{1},
		},
		"a part retried with other items": {
			before: [][3]int{{1, 0, 400}},
			send:   func(m bigMonth) (string, map[string]any) { return "GYU003", m.part(1, 3, 0, 399) },
			want:   "E8006", parts: []int{1},
		},
		"a header differing between parts": {
			before: [][3]int{{1, 0, 400}},
			send: func(m bigMonth) (string, map[string]any) {
				return "GYU003", with(m.part(2, 3, 400, 800), "deduct_amount", json.Number("4.00"), "month_fund_pay", json.Number("26.00"))
			},
			want: "E8006", parts: []int{1},
		},
		"a first part with the part's sums as header": {
			send: func(m bigMonth) (string, map[string]any) {
				return "GYU003", with(m.part(1, 3, 0, 400), "deduct_amount", json.Number("3.99"), "month_fund_pay", json.Number("26.01"))
			},
			want: "E8006",
		},
		"another part_count": {
			before: [][3]int{{1, 0, 400}},
			send:   func(m bigMonth) (string, map[string]any) { return "GYU003", m.part(2, 4, 400, 800) },
			want:   "E8006", parts: []int{1},
		},
		"part_no beyond part_count": {
			send: func(m bigMonth) (string, map[string]any) { return "GYU003", m.part(4, 3, 0, 400) },
			want: "E1001",
		},
		"part_no without part_count": {
			send: func(m bigMonth) (string, map[string]any) {
				in := m.part(1, 3, 0, 400)
				delete(in, "part_count")
				return "GYU003", in
			},
			want: "E1001",
		},
		"the whole month in one call after a part": {
			before: [][3]int{{1, 0, 400}},
			send: func(m bigMonth) (string, map[string]any) {
				in := m.part(1, 3, 0, 400)
				delete(in, "part_no")
				delete(in, "part_count")
				return "GYU003", in
			},
			want: "E8005", parts: []int{1},
		},
		"a deduction into the month after the first part": {
			before: [][3]int{{1, 0, 400}},
			send: func(m bigMonth) (string, map[string]any) {
				return "GYU004", deductions(deductionLine("KX", m.settle, "0.01", at("2025-04-30 10:00:00")))
			},
			want: "E8009", parts: []int{1},
		},
		"a revocation into the month after the first part": {
			before: [][3]int{{1, 0, 400}},
			send: func(m bigMonth) (string, map[string]any) {
				r := revokeDeductions("K00001")
				r["revoke_time"] = "2025-04-30 12:00:00"
				return "GYR004", r
			},
			want: "E8009", parts: []int{1},
		},
		"a deduction into the next month after the first part": {
			before: [][3]int{{1, 0, 400}},
			send: func(m bigMonth) (string, map[string]any) {
				return "GYU004", deductions(deductionLine("KX", m.settle, "0.01", at("2025-05-01 00:00:00")))
			},
			want: "0", parts: []int{1},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			m := newBigMonth(t)
			for _, b := range tc.before {
				m.c.must("GYU003", m.part(b[0], 3, b[1], b[2]))
			}
			before := m.c.srv.Ledger()
			if tc.send != nil {
				code, in := tc.send(m)
				if got, _ := m.c.call(code, in); got != tc.want {
					t.Fatalf("%s answered %s, want %s", code, got, tc.want)
				}
				if tc.want != "0" && len(m.c.srv.Ledger()) != len(before) {
					t.Fatalf("a refused %s changed the ledger", code)
				}
			}
			info, ok := m.c.srv.MonthParts(hospital, "202504")
			if got := slices.Sorted(maps.Keys(info.Parts)); !slices.Equal(got, tc.parts) || ok != (len(tc.parts) > 0) {
				t.Fatalf("parts accepted %v, want %v", got, tc.parts)
			}
			if info.Complete != tc.complete || (len(m.c.srv.Monthlies(hospital, "202504")) == 1) != tc.complete {
				t.Fatalf("month complete %v with %d monthly settlements, want %v", info.Complete, len(m.c.srv.Monthlies(hospital, "202504")), tc.complete)
			}
			if name == "a part retried" && m.c.srv.Accepted("GYU003", hospital+"/202504/1") != 1 {
				t.Fatal("a part sent again was accepted twice")
			}
		})
	}
}
