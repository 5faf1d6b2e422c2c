package workinjury

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"
)

func at(s string) time.Time {
	t, ok := parseTime(s)
	if !ok {
		panic("bad time " + s)
	}
	return t
}

// stayAt admits at admit, uploads ls and settles at settled.
func (c *chain) stayAt(akc190 string, admit, settled time.Time, ls []map[string]any) string {
	c.t.Helper()
	v := c.must("GYU101", SampleAdmission(c.filing, hospital, akc190, admit))["ykc700"].(string)
	c.must("GYU102", map[string]any{"ykc700": v, "akc190": akc190, "fee": anys(ls)})
	return c.must("GYU103", SampleSettlement(v, akc190, ls, settled))["settle_no"].(string)
}

// april is hospital's April 2025, written out by hand:
//
//	A 2025-04-10 settled        60.00 = fund 45.00 + self 15.00
//	B 2025-04-20 settled        40.00 = 30.00 + 10.00, revoked 2025-04-25
//	C 2025-03-31 23:59:59 settled (March) 20.00 = 15.00 + 5.00, revoked 2025-04-02
//	D 2025-04-30 23:59:59 settled 20.00 = 15.00 + 5.00
//	K1 on A 5.00 2025-04-28; K2 on A 2.00 2025-04-29, revoked 2025-04-30;
//	K3 on A 1.00 2025-05-01 00:00:00 (May)
//
// Items: 1 A B D; 2 B C; 3 K1 K2; 4 K2. settle_count 3, revoke_count 2,
// person_count 1, total 120.00, fund 90.00, self 30.00, revoke 45.00,
// deduct 7.00, deduct revoke 2.00, month fund 90 − 45 − 7 + 2 = 40.00.
type april struct {
	c           *chain
	a, b, cc, d string
}

func newApril(t testing.TB) april {
	c := newChain(t, func(cfg *Config) { cfg.BatchSize = MaxBatch })
	m := april{c: c}
	m.a = c.stayAt("ZY1", at("2025-04-01 10:00:00"), at("2025-04-10 10:00:00"), lines("A", 1, 3))
	m.b = c.stayAt("ZY2", at("2025-04-05 10:00:00"), at("2025-04-20 10:00:00"), lines("B", 1, 2))
	m.cc = c.stayAt("ZY3", at("2025-03-20 10:00:00"), at("2025-03-31 23:59:59"), lines("C", 1, 1))
	m.d = c.stayAt("ZY4", at("2025-04-25 10:00:00"), at("2025-04-30 23:59:59"), lines("D", 1, 1))
	c.must("GYR003", with(revokeTime(at("2025-04-25 09:00:00")), "settle_no", m.b, "akb020", hospital))
	c.must("GYR003", with(revokeTime(at("2025-04-02 09:00:00")), "settle_no", m.cc, "akb020", hospital))
	c.must("GYU004", deductions(deductionLine("K1", m.a, "5.00", at("2025-04-28 10:00:00")), deductionLine("K2", m.a, "2.00", at("2025-04-29 10:00:00")),
		deductionLine("K3", m.a, "1.00", at("2025-05-01 00:00:00"))))
	r := revokeDeductions("K2")
	r["revoke_time"] = "2025-04-30 12:00:00"
	c.must("GYR004", r)
	return m
}

func (m april) input() map[string]any {
	person := m.c.filing["aac002"]
	it := func(typ, ref, settle, total, amount, self, when string) any {
		r := map[string]any{"item_type": typ, "ref_no": ref, "settle_no": settle, "aac002": person, "amount": json.Number(amount), "biz_time": when}
		if total != "" {
			r["total_amount"], r["self_pay"] = json.Number(total), json.Number(self)
		}
		return r
	}
	return map[string]any{
		"akb020": hospital, "settle_month": "202504", "settle_count": 3, "revoke_count": 2, "person_count": 1,
		"total_amount": json.Number("120.00"), "fund_pay": json.Number("90.00"), "self_pay": json.Number("30.00"),
		"revoke_amount": json.Number("45.00"), "deduct_amount": json.Number("7.00"), "deduct_revoke_amount": json.Number("2.00"),
		"month_fund_pay": json.Number("40.00"),
		"items": []any{
			it("1", m.a, m.a, "60.00", "45.00", "15.00", "2025-04-10 10:00:00"),
			it("1", m.b, m.b, "40.00", "30.00", "10.00", "2025-04-20 10:00:00"),
			it("1", m.d, m.d, "20.00", "15.00", "5.00", "2025-04-30 23:59:59"),
			it("2", m.b, m.b, "40.00", "30.00", "10.00", "2025-04-25 09:00:00"),
			it("2", m.cc, m.cc, "20.00", "15.00", "5.00", "2025-04-02 09:00:00"),
			it("3", "K1", m.a, "", "5.00", "", "2025-04-28 10:00:00"),
			it("3", "K2", m.a, "", "2.00", "", "2025-04-29 10:00:00"),
			it("4", "K2", m.a, "", "2.00", "", "2025-04-30 12:00:00"),
		},
		"aae011": "王五", "aae036": "2025-05-02 09:00:00",
	}
}

// TestMonthlyRules: GYU003 once per institution and month, its items
// exactly the month's records and its sums theirs, person count > 0.
func TestMonthlyRules(t *testing.T) {
	t.Parallel()
	items := func(in map[string]any) []any { return in["items"].([]any) }
	tests := map[string]struct {
		change func(m april, in map[string]any)
		want   string
	}{
		"the month as written":   {want: "0"},
		"twice":                  {change: func(m april, in map[string]any) { m.c.must("GYU003", m.input()) }, want: "E8005"},
		"fund one fen high":      {change: func(m april, in map[string]any) { in["fund_pay"] = json.Number("90.01") }, want: "E8006"},
		"month fund one fen low": {change: func(m april, in map[string]any) { in["month_fund_pay"] = json.Number("39.99") }, want: "E8006"},
		"month fund ignoring revocations": {change: func(m april, in map[string]any) {
			in["month_fund_pay"] = json.Number("83.00")
		}, want: "E8006"},
		"settle count off":      {change: func(m april, in map[string]any) { in["settle_count"] = 4 }, want: "E8006"},
		"person count zero":     {change: func(m april, in map[string]any) { in["person_count"] = 0 }, want: "E8007"},
		"person count negative": {change: func(m april, in map[string]any) { in["person_count"] = -1 }, want: "E8007"},
		"deduction revocation left out": {change: func(m april, in map[string]any) {
			in["items"] = items(in)[:7]
		}, want: "E8006"},
		"May's deduction put in": {change: func(m april, in map[string]any) {
			in["items"] = append(items(in), map[string]any{"item_type": "3", "ref_no": "K3", "settle_no": m.a, "amount": json.Number("1.00"), "biz_time": "2025-05-01 00:00:00"})
		}, want: "E8006"},
		"an item twice": {change: func(m april, in map[string]any) {
			in["items"] = append(items(in), items(in)[0])
		}, want: "E8006"},
		"item amount one fen off": {change: func(m april, in map[string]any) {
			items(in)[5].(map[string]any)["amount"] = json.Number("5.01")
		}, want: "E8006"},
		"item of the wrong settlement": {change: func(m april, in map[string]any) {
			items(in)[5].(map[string]any)["settle_no"] = m.d
		}, want: "E8006"},
		"revocation typed as settlement": {change: func(m april, in map[string]any) {
			items(in)[4].(map[string]any)["item_type"] = "1"
		}, want: "E8006"},
		"a month with only a deduction": {change: func(m april, in map[string]any) {
			in["settle_month"], in["settle_count"], in["revoke_count"] = "202505", 0, 0
			in["items"] = []any{map[string]any{"item_type": "3", "ref_no": "K3", "settle_no": m.a, "amount": json.Number("1.00"), "biz_time": "2025-05-01 00:00:00"}}
		}, want: "E8007"},
		"an empty month":      {change: func(m april, in map[string]any) { in["settle_month"] = "202506" }, want: "E8007"},
		"another institution": {change: func(m april, in map[string]any) { in["akb020"] = rehab }, want: "E8007"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			m := newApril(t)
			in := m.input()
			if tc.change != nil {
				tc.change(m, in)
			}
			before := len(m.c.srv.Monthlies("", ""))
			got, out := m.c.call("GYU003", in)
			if got != tc.want {
				t.Fatalf("GYU003 answered %s, want %s", got, tc.want)
			}
			after := m.c.srv.Monthlies("", "")
			if tc.want != "0" {
				if len(after) != before {
					t.Fatalf("a refused monthly settlement is in the ledger: %+v", after)
				}
				return
			}
			if sums := m.c.srv.MonthSums(hospital, "202504"); sums.MonthFund != 4000 || sums.Total != 12000 || sums.RevokeCount != 2 {
				t.Fatalf("MonthSums = %+v", sums)
			}
			mo := m.c.srv.Monthlies(hospital, "202504")
			if len(mo) != 1 || mo[0].MonthlyNo != out["month_settle_no"] || mo[0].Sums.MonthFund != 4000 || mo[0].Sums.PersonCount != 1 {
				t.Fatalf("monthly settlements %+v, answer %v", mo, out)
			}
		})
	}
}

// TestMonthlyFeedsDownloads: after GYU003 the month is downloaded
// (GYD003), its settlements carry its number (GYD103 by month), and the
// clearing record nets settlements, revocations and deductions (GYD005).
func TestMonthlyFeedsDownloads(t *testing.T) {
	t.Parallel()
	m := newApril(t)
	mno := m.c.must("GYU003", m.input())["month_settle_no"].(string)
	out := m.c.must("GYD003", map[string]any{})
	recs := records(out)
	if len(recs) != 1 || recs[0]["month_settle_no"] != mno || fmt.Sprint(recs[0]["month_fund_pay"]) != "40.00" || len(recs[0]["items"].([]any)) != 8 {
		t.Fatalf("GYD003 = %v", out)
	}
	m.c.ack("GYD003", out)
	out = m.c.must("GYD103", map[string]any{"month_settle_no": mno})
	got := map[any]bool{}
	for _, r := range records(out) {
		if r["month_settle_no"] == mno {
			got[r["settle_no"]] = true
		}
	}
	if len(got) != 3 || !got[m.a] || !got[m.b] || !got[m.d] {
		t.Fatalf("GYD103 of month %s gave %v; want A, B and D", mno, got)
	}
	m.c.ack("GYD103", out)
	out = m.c.must("GYD005", map[string]any{"clear_month": "202504"})
	recs = records(out)
	if len(recs) != 1 {
		t.Fatalf("GYD005 = %v", out)
	}
	r := recs[0]
	for k, want := range map[string]string{"clear_month": "202504", "aab301": "440300", "person_count": "1", "fund_pay": "45.00",
		"deduct_amount": "5.00", "clear_amount": "40.00", "total_amount": "60.00", "institution_count": "1"} {
		if fmt.Sprint(r[k]) != want {
			t.Errorf("clearing %s = %v, want %s", k, r[k], want)
		}
	}
}

// TestManualClearing: with ManualClearing, GYD005 has nothing until the
// national side confirms the month.
func TestManualClearing(t *testing.T) {
	t.Parallel()
	m := newApril(t)
	m.c.srv.cfg.ManualClearing = true
	m.c.must("GYU003", m.input())
	if out := m.c.must("GYD005", map[string]any{}); len(records(out)) != 0 {
		t.Fatalf("GYD005 before confirmation = %v", out)
	}
	if _, err := m.c.srv.ConfirmClearing("202506"); err == nil {
		t.Fatal("ConfirmClearing of a month without monthly settlement succeeded")
	}
	nos, err := m.c.srv.ConfirmClearing("202504")
	mustNil(t, err)
	out := m.c.must("GYD005", map[string]any{})
	if recs := records(out); len(recs) != 1 || recs[0]["clear_no"] != nos[0] {
		t.Fatalf("GYD005 after confirmation = %v, want %v", out, nos)
	}
}

func records(out map[string]any) []map[string]any {
	var rs []map[string]any
	arr, _ := out["records"].([]any)
	for _, x := range arr {
		rs = append(rs, x.(map[string]any))
	}
	return rs
}

// ack acknowledges a download's batch, every record with result 1.
func (c *client) ack(code string, out map[string]any) map[string]any {
	c.t.Helper()
	var fb []any
	for _, r := range records(out) {
		fb = append(fb, map[string]any{"record_id": r[recordID[code]], "result_flag": "1"})
	}
	if len(fb) == 0 {
		return nil
	}
	got, ans := c.call("GYU008", map[string]any{"download_code": code, "batch_no": out["batch_no"], "record_count": len(fb), "records": fb})
	if got != "0" {
		c.t.Fatalf("GYU008 of %s batch %v answered %s", code, out["batch_no"], got)
	}
	return ans
}
