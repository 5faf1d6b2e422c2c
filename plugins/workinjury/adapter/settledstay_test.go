package adapter

import (
	"strings"
	"testing"
)

// Messages that meet a settled stay: fee lines uploaded after the
// settlement and the settlement sent again by a second cashier. Both are
// refused before anything is sent, naming the requirement's words, the
// settlement with the figures the national system holds, and a fix that
// does not send the clerk to revoke a right settlement blindly.
func TestSettledStayRefusals(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		code  string
		msg   func(c *chain, v string, lines []map[string]any) map[string]any
		rule  string
		zh    string
		fixes []string // what the fix must say
	}{
		"fee lines after the settlement": {code: "GYU102", rule: "not-settled", zh: "业务规则「职工未结算」",
			msg: func(c *chain, v string, _ []map[string]any) map[string]any {
				return fees(v, "ZY0931", line("0003", "1.00", "1", "0"))
			},
			fixes: []string{"GYR003", "GYU101"}},
		"the settlement sent again by a second cashier": {code: "GYU103", rule: "settle-open-visit", zh: "前置校验「已上传入院信息且未撤销、未结算」",
			msg: func(c *chain, v string, lines []map[string]any) map[string]any {
				return c.settlementOf(v, "ZY0931", lines)
			}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := newChain(t)
			v, lines := c.stay("ZY0931")
			out := c.mustOK(c.send("GYU103", c.settlementOf(v, "ZY0931", lines)))
			settleNo := out["settle_no"].(string)
			ledger, _ := c.sim.Settlement(settleNo)
			before := len(c.sim.Received(tc.code))
			r := c.send(tc.code, tc.msg(c, v, lines))
			c.wantInvalid(t, r, tc.code, before, "$.ykc700", "rule "+tc.rule)
			d := r.Diagnostics[0]
			if !strings.HasPrefix(d.Summary, tc.zh+"未通过") {
				t.Errorf("the refusal does not start with %s未通过: %q", tc.zh, d.Summary)
			}
			text := d.Summary + " " + d.Detail
			for _, want := range append([]string{settleNo, "fund_pay " + ledger.Fund.String(), "self_pay " + ledger.Self.String()}, tc.fixes...) {
				if !strings.Contains(text, want) {
					t.Errorf("the refusal does not say %q: %s", want, text)
				}
			}
			if tc.code == "GYU103" && !strings.Contains(d.Detail, "sent again") {
				t.Errorf("the fix does not say that a settlement sent again has its answer: %q", d.Detail)
			}
		})
	}
}
