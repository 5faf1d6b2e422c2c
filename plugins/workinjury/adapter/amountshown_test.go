package adapter

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/medgate/medgate/plugins/sdk"
)

// A rule that refuses an amount says what the amount is: an amount with
// more decimals than its field holds (which the schema refuses too) is
// shown as written, not rounded to the cent – "akc264 is 57.50 but the
// details add up to 57.50" tells nobody what is wrong.
func TestRefusedAmountsShownAsWritten(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		code    string
		prepare func(c *chain) map[string]any
		field   string
		rule    string
		shown   string // must appear in the rule's summary
	}{
		"settlement total a tenth of a fen over": {code: "GYU103", prepare: func(c *chain) map[string]any {
			v, lines := c.stay("ZY0951")
			return with(c.settlementOf(v, "ZY0951", lines), "akc264", json.Number("57.504"))
		}, field: "$.akc264", rule: "rule settlement=Σdetails", shown: "akc264 is 57.504 but"},
		"negative deduction of a tenth of a fen": {code: "GYU004", prepare: func(c *chain) map[string]any {
			_, s := c.settle("ZY0952")
			return deductions(deduction("KK0951", s, "-0.001"))
		}, field: "$.deductions[0].deduct_amount", rule: "rule deduction>0", shown: "deduct_amount is -0.001"},
		"fee line split a tenth of a fen off": {code: "GYU102", prepare: func(c *chain) map[string]any {
			return fees(c.admit("ZY0953"), "ZY0953", with(line("0001", "10.00", "2", "5.00"), "fund_pay", json.Number("15.004")))
		}, field: "$.fee[0].fund_pay", rule: "rule fund+self=amount", shown: "15.004 + 5.00 = 20.004"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := newChain(t)
			msg := tc.prepare(c)
			before := len(c.sim.Received(tc.code))
			r := c.send(tc.code, msg)
			c.wantInvalid(t, r, tc.code, before, tc.field, tc.rule)
			var got []string
			for _, d := range r.Diagnostics {
				if d.Severity == sdk.SeverityError && d.Field == tc.field && strings.Contains(d.Summary, tc.rule) {
					got = append(got, d.Summary)
					if strings.Contains(d.Summary, tc.shown) {
						return
					}
				}
			}
			t.Fatalf("rule %s at %s does not show %q: %q", tc.rule, tc.field, tc.shown, got)
		})
	}
}

// money and plain write every decimal a value has, and money at least two.
func TestMoneyAndPlainAreExact(t *testing.T) {
	t.Parallel()
	cases := map[string]struct{ in, money, plain string }{
		"whole":                 {in: "12", money: "12.00", plain: "12"},
		"cents":                 {in: "-12.05", money: "-12.05", plain: "-12.05"},
		"a tenth of a fen":      {in: "0.001", money: "0.001", plain: "0.001"},
		"negative, below a fen": {in: "-0.001", money: "-0.001", plain: "-0.001"},
		"a product's decimals":  {in: "0.0000123456", money: "0.0000123456", plain: "0.0000123456"},
		"past 18 decimals":      {in: "0.1234567890123456789012", money: "0.1234567890123456789012", plain: "0.1234567890123456789012"},
		"beyond float64":        {in: "123456789012345678901234567890.99", money: "123456789012345678901234567890.99", plain: "123456789012345678901234567890.99"},
		"zero":                  {in: "-0.00", money: "0.00", plain: "0"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r, ok := parseDec(tc.in)
			if !ok {
				t.Fatalf("parseDec(%q) refused", tc.in)
			}
			if got := money(r); got != tc.money {
				t.Errorf("money(%s) = %q, want %q", tc.in, got, tc.money)
			}
			if got := plain(r); got != tc.plain {
				t.Errorf("plain(%s) = %q, want %q", tc.in, got, tc.plain)
			}
		})
	}
}
