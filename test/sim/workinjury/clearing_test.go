package workinjury

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"
)

// deviceFiling adds an approved assistive-device filing (type 3) for
// devices and returns it.
func (c *chain) deviceFiling() map[string]any {
	f := SampleDeviceFiling("FJ", 7, "350200", devices)
	c.srv.AddFiling(f)
	return f
}

func deviceSettlement(f map[string]any) map[string]any {
	return SampleDeviceSettlement(f, devices, at("2025-04-15 15:00:00"))
}

// TestDeviceSettlementRules: GYU303 needs an approved assistive-device
// filing valid on the configuration date, an assistive-device institution,
// and amounts that add up.
func TestDeviceSettlementRules(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		change func(c *chain, in map[string]any)
		want   string
	}{
		"valid": {want: "0"},
		"medical filing": {change: func(c *chain, in map[string]any) {
			in["filing_no"] = c.filing["filing_no"]
			in["aac002"] = c.filing["aac002"]
		}, want: "E6301"},
		"medical institution": {change: func(c *chain, in map[string]any) { in["akb020"] = hospital }, want: "E6301"},
		"before the filing":   {change: func(c *chain, in map[string]any) { in["config_date"] = "2024-12-31" }, want: "E6002"},
		"unknown filing":      {change: func(c *chain, in map[string]any) { in["filing_no"] = "BANOSUCH" }, want: "E6001"},
		"item one fen off":    {change: func(c *chain, in map[string]any) { item(in, 1)["amount"] = json.Number("301.01") }, want: "E6104"},
		"zero quantity":       {change: func(c *chain, in map[string]any) { item(in, 1)["qty"] = json.Number("0") }, want: "E6108"},
		"serial twice":        {change: func(c *chain, in map[string]any) { item(in, 1)["detail_no"] = item(in, 0)["detail_no"] }, want: "E6106"},
		"resent settlement":   {change: func(c *chain, in map[string]any) { c.must("GYU303", in) }, want: "E6106"},
		"sent again after its revocation": {change: func(c *chain, in map[string]any) {
			st := c.must("GYU303", in)["settle_no"]
			c.must("GYR003", with(revokeTime(at("2025-04-16 09:00:00")), "settle_no", st, "akb020", devices))
		}, want: "0"},
		"fee one fen over items":  {change: func(c *chain, in map[string]any) { in["aac142"] = json.Number("1501.01") }, want: "E6302"},
		"fund + self one fen off": {change: func(c *chain, in map[string]any) { in["self_pay"] = json.Number("100.99") }, want: "E6302"},
		"negative self-paid": {change: func(c *chain, in map[string]any) {
			in["fund_pay"], in["self_pay"] = json.Number("1502.00"), json.Number("-1.00")
		}, want: "E6302"},
		"all self-paid": {change: func(c *chain, in map[string]any) {
			in["fund_pay"], in["self_pay"] = json.Number("0"), json.Number("1501.00")
		}, want: "0"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := newChain(t, nil)
			in := deviceSettlement(c.deviceFiling())
			if tc.change != nil {
				tc.change(c, in)
			}
			before := len(c.srv.Settlements(""))
			got, out := c.call("GYU303", in)
			if got != tc.want {
				t.Fatalf("GYU303 answered %s, want %s", got, tc.want)
			}
			all := c.srv.Settlements("")
			if tc.want != "0" {
				if len(all) != before {
					t.Fatalf("a refused settlement is in the ledger: %+v", all)
				}
				return
			}
			st, ok := c.srv.Settlement(fmt.Sprint(out["settle_no"]))
			if len(all) != before+1 || !ok || !st.Device || st.Total != 150100 || st.Fund+st.Self != st.Total || st.Revoked {
				t.Fatalf("ledger %+v, answer %v", all, out)
			}
		})
	}
}

func item(in map[string]any, i int) map[string]any { return in["items"].([]any)[i].(map[string]any) }

func revokeTime(at time.Time) map[string]any {
	return map[string]any{"revoke_reason": "信息有误", "revoke_time": stamp(at), "aae011": "王五"}
}

// revokeDeductions is a GYR004 input.
func revokeDeductions(nos ...string) map[string]any {
	var list []any
	for _, no := range nos {
		list = append(list, map[string]any{"deduct_no": no, "revoke_reason": "扣款有误"})
	}
	return map[string]any{"deductions": list, "revoke_time": stamp(deductDay.Add(time.Hour)), "aae011": "王五"}
}

// TestRevocationRules: each revocation only of an existing, unrevoked
// record in the right state.
func TestRevocationRules(t *testing.T) {
	t.Parallel()
	type fixture struct {
		c                  *chain
		visit, settle, dno string
	}
	// admitted: a visit with two lines; settled: another visit, settled,
	// with a deduction of 1.00.
	setup := func(t *testing.T) fixture {
		c := newChain(t, nil)
		f := fixture{c: c, visit: c.admit("ZY1")}
		upload(lines("D", 1, 2))(c, f.visit)
		_, f.settle = c.stay("ZY2", lines("S", 1, 2))
		f.dno = "KK0001"
		c.must("GYU004", deductions(deductionLine(f.dno, f.settle, "1.00", deductDay)))
		return f
	}
	tests := map[string]struct {
		code string
		in   func(f fixture) map[string]any
		prep func(f fixture)
		want string
	}{
		"GYR001 all lines": {"GYR001", func(f fixture) map[string]any { return with(revokeTime(day0), "ykc700", f.visit) }, nil, "0"},
		"GYR001 named line": {"GYR001", func(f fixture) map[string]any {
			return with(revokeTime(day0), "ykc700", f.visit, "details", []any{map[string]any{"detail_no": "D00002"}})
		}, nil, "0"},
		"GYR001 unknown line": {"GYR001", func(f fixture) map[string]any {
			return with(revokeTime(day0), "ykc700", f.visit, "details", []any{map[string]any{"detail_no": "D00009"}})
		}, nil, "E7003"},
		"GYR001 line twice": {"GYR001", func(f fixture) map[string]any {
			return with(revokeTime(day0), "ykc700", f.visit, "details", []any{map[string]any{"detail_no": "D00001"}, map[string]any{"detail_no": "D00001"}})
		}, nil, "E7003"},
		"GYR001 nothing left":  {"GYR001", func(f fixture) map[string]any { return with(revokeTime(day0), "ykc700", f.visit) }, func(f fixture) { f.c.must("GYR001", with(revokeTime(day0), "ykc700", f.visit)) }, "E7003"},
		"GYR001 settled visit": {"GYR001", func(f fixture) map[string]any { return with(revokeTime(day0), "ykc700", settledVisit(f.c, f.settle)) }, nil, "E6103"},
		"GYR001 unknown visit": {"GYR001", func(f fixture) map[string]any { return with(revokeTime(day0), "ykc700", "JZNOSUCH") }, nil, "E6101"},
		"GYR002 with lines":    {"GYR002", func(f fixture) map[string]any { return with(revokeTime(day0), "ykc700", f.visit) }, nil, "E7004"},
		"GYR002 after GYR001":  {"GYR002", func(f fixture) map[string]any { return with(revokeTime(day0), "ykc700", f.visit) }, func(f fixture) { f.c.must("GYR001", with(revokeTime(day0), "ykc700", f.visit)) }, "0"},
		"GYR002 twice": {"GYR002", func(f fixture) map[string]any { return with(revokeTime(day0), "ykc700", f.visit) }, func(f fixture) {
			f.c.must("GYR001", with(revokeTime(day0), "ykc700", f.visit))
			f.c.must("GYR002", with(revokeTime(day0), "ykc700", f.visit))
		}, "E6102"},
		"GYR002 settled": {"GYR002", func(f fixture) map[string]any { return with(revokeTime(day0), "ykc700", settledVisit(f.c, f.settle)) }, nil, "E6103"},
		"GYR003": {"GYR003", func(f fixture) map[string]any {
			return with(revokeTime(day0), "settle_no", f.settle, "akb020", hospital)
		}, nil, "0"},
		"GYR003 unknown": {"GYR003", func(f fixture) map[string]any {
			return with(revokeTime(day0), "settle_no", "JSNOSUCH", "akb020", hospital)
		}, nil, "E7001"},
		"GYR003 other institution": {"GYR003", func(f fixture) map[string]any { return with(revokeTime(day0), "settle_no", f.settle, "akb020", rehab) }, nil, "E7001"},
		"GYR003 twice": {"GYR003", func(f fixture) map[string]any {
			return with(revokeTime(day0), "settle_no", f.settle, "akb020", hospital)
		}, func(f fixture) { f.c.must("GYR003", with(revokeTime(day0), "settle_no", f.settle, "akb020", hospital)) }, "E7002"},
		"GYR004": {"GYR004", func(f fixture) map[string]any {
			return revokeDeductions(f.dno)
		}, nil, "0"},
		"GYR004 unknown": {"GYR004", func(f fixture) map[string]any {
			return revokeDeductions("KKNOSUCH")
		}, nil, "E7005"},
		"GYR004 twice": {"GYR004", func(f fixture) map[string]any {
			return revokeDeductions(f.dno)
		}, func(f fixture) {
			f.c.must("GYR004", revokeDeductions(f.dno))
		}, "E7006"},
		"GYR004 at its deduction's time": {"GYR004", func(f fixture) map[string]any {
			return with(revokeDeductions(f.dno), "revoke_time", stamp(deductDay))
		}, nil, "0"},
		"GYR004 a second before its deduction": {"GYR004", func(f fixture) map[string]any {
			return with(revokeDeductions(f.dno), "revoke_time", stamp(deductDay.Add(-time.Second)))
		}, nil, "E7007"},
		"GYR004 same one in a call": {"GYR004", func(f fixture) map[string]any {
			return revokeDeductions(f.dno, f.dno)
		}, nil, "E7005"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := setup(t)
			if tc.prep != nil {
				tc.prep(f)
			}
			snapshot := func() string {
				a, _ := f.c.srv.Admission(f.visit)
				return fmt.Sprint(a.State, f.c.srv.Details(f.visit), f.c.srv.Settlements(""), f.c.srv.Deductions(""))
			}
			before := snapshot()
			got, out := f.c.call(tc.code, tc.in(f))
			if got != tc.want {
				t.Fatalf("%s answered %s, want %s", tc.code, got, tc.want)
			}
			after := snapshot()
			if tc.want != "0" {
				if after != before {
					t.Fatalf("a refused revocation changed the ledger:\n%s\n%s", before, after)
				}
				return
			}
			if out["revoke_no"] == nil || after == before {
				t.Fatalf("an accepted revocation: answer %v, ledger unchanged", out)
			}
		})
	}
}

func settledVisit(c *chain, settleNo string) string {
	st, _ := c.srv.Settlement(settleNo)
	return st.VisitNo
}

// TestSettlementRevocationCascades: GYR003 revokes the settlement, the
// admission and its details, and frees the inpatient number; a device
// settlement has no admission.
func TestSettlementRevocationCascades(t *testing.T) {
	t.Parallel()
	c := newChain(t, nil)
	v, st := c.stay("ZY1", lines("D", 1, 3))
	out := c.must("GYR003", with(revokeTime(day0.AddDate(0, 0, 10)), "settle_no", st, "akb020", hospital))
	if out["admission_revoked"] != "1" {
		t.Fatalf("GYR003 answered %v; want admission_revoked 1", out)
	}
	a, _ := c.srv.Admission(v)
	s, _ := c.srv.Settlement(st)
	if a.State != VisitRevoked || a.Details != 0 || a.RevokedDetails != 3 || !s.Revoked {
		t.Fatalf("after GYR003: admission %+v, settlement %+v", a, s)
	}
	if c.admit("ZY1") == v {
		t.Fatal("re-admission got the revoked visit number")
	}
	if n := len(c.srv.Admissions(hospital, "ZY1")); n != 2 {
		t.Fatalf("%d admissions for ZY1, want the revoked one and the new one", n)
	}
	dev := c.must("GYU303", deviceSettlement(c.deviceFiling()))
	if out := c.must("GYR003", with(revokeTime(day0), "settle_no", dev["settle_no"], "akb020", devices)); out["admission_revoked"] != "0" {
		t.Fatalf("device GYR003 answered %v; want admission_revoked 0", out)
	}
}

// deductDay is a day after the chain's settlements (c.stay settles on
// day0 + 9 days): a deduction is made on an uploaded settlement, not
// before it (E8010).
var deductDay = day0.AddDate(0, 0, 10)

func deductionLine(no, settleNo, amount string, at time.Time) map[string]any {
	return map[string]any{"deduct_no": no, "settle_no": settleNo, "akb020": hospital, "deduct_amount": json.Number(amount),
		"deduct_reason": "超标准收费", "deduct_time": stamp(at)}
}

func deductions(ls ...map[string]any) map[string]any {
	return map[string]any{"deductions": anys(ls), "aae011": "王五", "aae036": stamp(day0)}
}

// TestDeductionRules: GYU004 on an uploaded, unrevoked settlement of an
// institution of this province; amount > 0; the settlement's deductions
// never above its fund_pay (30.00 here: two lines of 15.00).
func TestDeductionRules(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		prep   func(c *chain, st string)
		amount string
		settle string // "" = the settlement
		akb020 string
		at     time.Time // deduct_time; zero is deductDay
		want   string
	}{
		"one fen":                         {amount: "0.01", want: "0"},
		"at the settlement's time":        {amount: "1.00", at: day0.AddDate(0, 0, 9), want: "0"},
		"a second before the settlement":  {amount: "1.00", at: day0.AddDate(0, 0, 9).Add(-time.Second), want: "E8010"},
		"the whole fund_pay":              {amount: "30.00", want: "0"},
		"one fen over fund_pay":           {amount: "30.01", want: "E8003"},
		"zero":                            {amount: "0", want: "E8002"},
		"negative":                        {amount: "-1.00", want: "E8002"},
		"over with an earlier one":        {prep: deduct("K1", "20.00"), amount: "10.01", want: "E8003"},
		"up to fund_pay with earlier one": {prep: deduct("K1", "20.00"), amount: "10.00", want: "0"},
		"room again after its revocation": {prep: func(c *chain, st string) {
			deduct("K1", "30.00")(c, st)
			c.must("GYR004", revokeDeductions("K1"))
		}, amount: "30.00", want: "0"},
		"national deduction counts": {prep: func(c *chain, st string) {
			mustNil(c.t, c.srv.AddDeduction("NAT1", st, 2500, "国家扣款", deductDay))
		}, amount: "5.01", want: "E8003"},
		"room again after a national revocation": {prep: func(c *chain, st string) {
			mustNil(c.t, c.srv.AddDeduction("NAT1", st, 3000, "国家扣款", deductDay))
			mustNil(c.t, c.srv.RevokeDeduction("NAT1", "扣款有误", deductDay.Add(time.Hour)))
		}, amount: "30.00", want: "0"},
		"unknown settlement": {amount: "1.00", settle: "JSNOSUCH", want: "E8001"},
		"revoked settlement": {prep: func(c *chain, st string) {
			c.must("GYR003", with(revokeTime(day0), "settle_no", st, "akb020", hospital))
		}, amount: "1.00", want: "E8001"},
		"another institution's settlement": {amount: "1.00", akb020: rehab, want: "E8001"},
		"deduction number used":            {prep: deduct("KK0001", "1.00"), amount: "1.00", want: "E8008"},
		"institution of another province":  {amount: "1.00", settle: "outside", akb020: outside, want: "E8004"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := newChain(t, nil)
			_, st := c.stay("ZY1", lines("D", 1, 2))
			if tc.prep != nil {
				tc.prep(c, st)
			}
			target := st
			switch tc.settle {
			case "":
			case "outside":
				target = outsideSettlement(t, c)
			default:
				target = tc.settle
			}
			when := deductDay
			if !tc.at.IsZero() {
				when = tc.at
			}
			l := deductionLine("KK0001", target, tc.amount, when)
			if tc.akb020 != "" {
				l["akb020"] = tc.akb020
			}
			before := len(c.srv.Deductions(""))
			got, _ := c.call("GYU004", deductions(l))
			if got != tc.want {
				t.Fatalf("GYU004 answered %s, want %s", got, tc.want)
			}
			want := before
			if tc.want == "0" {
				want++
			}
			if n := len(c.srv.Deductions("")); n != want {
				t.Fatalf("%d deductions in the ledger, want %d", n, want)
			}
		})
	}
}

func deduct(no, amount string) func(c *chain, st string) {
	return func(c *chain, st string) { c.must("GYU004", deductions(deductionLine(no, st, amount, deductDay))) }
}

func mustNil(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// outsideSettlement settles a stay at the Shenzhen institution through
// Apply, as that province would, and returns its number.
func outsideSettlement(t testing.TB, c *chain) string {
	t.Helper()
	f := SampleFiling("SZ", 3, "440300")
	f["akb020"] = outside
	c.srv.AddFiling(f)
	out, err := c.srv.Apply("GYU101", SampleAdmission(f, outside, "SZ1", day0))
	mustNil(t, err)
	ls := lines("S", 1, 1)
	_, err = c.srv.Apply("GYU102", map[string]any{"ykc700": out["ykc700"], "akc190": "SZ1", "fee": anys(ls)})
	mustNil(t, err)
	st, err := c.srv.Apply("GYU103", SampleSettlement(out["ykc700"].(string), "SZ1", ls, day0))
	mustNil(t, err)
	return st["settle_no"].(string)
}

// TestApplyRefuses: Apply keeps the rules and reports the code.
func TestApplyRefuses(t *testing.T) {
	t.Parallel()
	c := newChain(t, nil)
	_, err := c.srv.Apply("GYU102", map[string]any{"ykc700": "JZNOSUCH", "akc190": "ZY1", "fee": anys(lines("D", 1, 1))})
	var be *BusinessError
	if !errors.As(err, &be) || be.Code != "E6101" {
		t.Fatalf("Apply of details without admission: %v; want E6101", err)
	}
}
