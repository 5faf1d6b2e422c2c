package adapter

import (
	"encoding/json"
	"testing"
)

// A JSON number may be written with an exponent (9.9999e2 is 999.99), and
// the schema takes it as the decimal it is. The money rules must read it
// as that value too: refusing to parse it would skip every amount rule of
// the line or settlement and let it go out unchecked.
func TestExponentAmountsAreChecked(t *testing.T) {
	t.Parallel()
	num := func(l map[string]any, kv ...string) map[string]any {
		out := with(l)
		for i := 0; i+1 < len(kv); i += 2 {
			out[kv[i]] = json.Number(kv[i+1])
		}
		return out
	}
	base := line("0001", "10.00", "2", "5.00") // 20.00 = 15.00 + 5.00
	fee := func(lines ...map[string]any) func(c *chain) map[string]any {
		return func(c *chain) map[string]any { return fees(c.admit("ZY0901"), "ZY0901", lines...) }
	}
	settlement := func(mut ...any) func(c *chain) map[string]any {
		return func(c *chain) map[string]any {
			v, lines := c.stay("ZY0901")
			return with(c.settlementOf(v, "ZY0901", lines), mut...)
		}
	}
	runRuleCases(t, map[string]ruleCase{
		"GYU102 amount 9.9999e2 is not 2 × 10.00": {code: "GYU102", prepare: fee(num(base, "amount", "9.9999e2", "fund_pay", "994.99")),
			field: "$.fee[0].amount", rule: "rule price×qty=amount"},
		"GYU102 fund_pay 1.501E1 + 5.00 is not 20.00": {code: "GYU102", prepare: fee(num(base, "fund_pay", "1.501E1")),
			field: "$.fee[0].fund_pay", rule: "rule fund+self=amount"},
		"GYU102 negative quantity -2e0": {code: "GYU102", prepare: fee(num(base, "qty", "-2e0", "amount", "-20.00", "fund_pay", "-15.00", "self_pay", "-5.00")),
			field: "$.fee[0].qty", rule: "rule positive-quantity"},
		"GYU103 akc264 5.751e1 is not 57.50": {code: "GYU103", prepare: settlement("akc264", json.Number("5.751e1")),
			field: "$.akc264", rule: "rule settlement=Σdetails"},
		"GYU004 deduct_amount 0e0 is not > 0": {code: "GYU004", prepare: func(c *chain) map[string]any {
			_, s := c.settle("ZY0901")
			return deductions(deduction("KK0901", s, "0e0"))
		}, field: "$.deductions[0].deduct_amount", rule: "rule deduction>0"},
	})
}

// A line written with exponents is recorded at its value, so the
// settlement is checked against the right sum.
func TestExponentAmountRecordedAtItsValue(t *testing.T) {
	t.Parallel()
	c := newChain(t)
	v := c.admit("ZY0902")
	l := with(line("0001", "10.00", "2", "5.00"), "amount", json.Number("2e1"), "fund_pay", json.Number("1.5e1"), "self_pay", json.Number("5E0"))
	c.mustOK(c.send("GYU102", fees(v, "ZY0902", l)))
	dm, err := (&lifecycle{a: c.impl, ctx: t.Context(), h: hostFor(c.host, testSite)}).details(v)
	if err != nil {
		t.Fatal(err)
	}
	if got := dm["0001"]; got.Amount != "20.00" || got.Fund != "15.00" || got.Self != "5.00" {
		t.Fatalf("line 0001 recorded as %+v, want amount 20.00, fund 15.00, self 5.00", got)
	}
}

func TestExpandExponent(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"9.9999e2": "999.99", "2e1": "20", "-2E0": "-2", "0e0": "0", "5e-1": "0.5", "1.5e-3": "0.0015",
		"1.50E+1": "15", "120e-2": "1.2", "0.001e3": "1", "12.345e1": "123.45",
		"12.5": "", "1e41": "", "1e-41": "", "e5": "", "1e": "", "1ex": "",
	} {
		got, ok := expandExponent(in)
		if (want == "") != !ok || got != want {
			t.Errorf("expandExponent(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
}
