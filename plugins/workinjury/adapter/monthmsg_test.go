package adapter

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/medgate/medgate/plugins/sdk"
)

// resum sets a GYU003's header to the sums and counts of its own items.
func resum(m map[string]any) map[string]any {
	var sums [5]sumOf
	var total, self sumOf
	counts := [5]int{}
	for _, x := range m["items"].([]any) {
		it := x.(map[string]any)
		n := int(it["item_type"].(string)[0] - '0')
		counts[n]++
		a, _ := dec(it, "amount")
		sums[n].add(a)
		if n == 1 {
			v, _ := dec(it, "total_amount")
			total.add(v)
			v, _ = dec(it, "self_pay")
			self.add(v)
		}
	}
	net := ratAdd(ratSub(ratSub(sums[1].rat(), sums[2].rat()), sums[3].rat()), sums[4].rat())
	m["settle_count"], m["revoke_count"], m["person_count"] = counts[1], counts[2], counts[1]-counts[2]
	m["total_amount"], m["fund_pay"], m["self_pay"] = json.Number(money(total.rat())), json.Number(money(sums[1].rat())), json.Number(money(self.rat()))
	m["revoke_amount"], m["deduct_amount"] = json.Number(money(sums[2].rat())), json.Number(money(sums[3].rat()))
	m["deduct_revoke_amount"], m["month_fund_pay"] = json.Number(money(sums[4].rat())), json.Number(money(net))
	return m
}

// A monthly settlement (GYU003) of several settlements, a revocation and
// deductions, whose header is the sum of its own items, one of which is
// wrong or missing, is refused naming that record with its amount and the
// one known here; a header wrong by itself is refused with both sums.
func TestMonthRefusalNamesTheRecordHere(t *testing.T) {
	t.Parallel()
	type month struct {
		c      *chain
		s1, s2 string
	}
	build := func(t *testing.T) month {
		c := newChain(t)
		_, s1 := c.settle("ZY0971")
		v2, s2 := c.settle("ZY0972")
		c.settle("ZY0973")
		c.mustOK(c.send("GYU004", deductions(deduction("KK0971", s1, "5.00"), deduction("KK0972", s1, "1.25"))))
		c.mustOK(c.send("GYR003", map[string]any{"settle_no": s2, "ykc700": v2, "akb020": hospital, "revoke_reason": "结算有误",
			"revoke_time": stampT(admitDay.Add(12 * 24 * time.Hour)), "aae011": "王五"}))
		return month{c: c, s1: s1, s2: s2}
	}
	item := func(m map[string]any, typ, ref string) map[string]any {
		for _, x := range m["items"].([]any) {
			if it := x.(map[string]any); it["item_type"] == typ && it["ref_no"] == ref {
				return it
			}
		}
		return nil
	}
	tests := map[string]struct {
		change func(mo month, m map[string]any)
		field  string
		want   func(mo month) []string
	}{
		"a deduction's amount off, the header summed from the items": {change: func(mo month, m map[string]any) {
			item(m, "3", "KK0971")["amount"] = json.Number("5.01")
			resum(m)
		}, want: func(month) []string { return []string{"rule month-items", "KK0971", "5.00", "5.01"} }},
		"a revocation's amount off, the header summed from the items": {change: func(mo month, m map[string]any) {
			item(m, "2", mo.s2)["amount"] = json.Number("52.49")
			resum(m)
		}, want: func(mo month) []string { return []string{"rule month-items", mo.s2, "52.50", "52.49"} }},
		"a deduction left out, the header summed from the items": {change: func(mo month, m map[string]any) {
			var kept []any
			for _, x := range m["items"].([]any) {
				if x.(map[string]any)["ref_no"] != "KK0972" {
					kept = append(kept, x)
				}
			}
			m["items"] = kept
			resum(m)
		}, field: "$.items", want: func(month) []string { return []string{"rule month-items", "missing", "type 3 KK0972"} }},
		"the header alone off": {change: func(mo month, m map[string]any) {
			m["deduct_amount"] = json.Number("6.26")
		}, field: "$.deduct_amount", want: func(month) []string { return []string{"rule month-amount=Σitems", "6.26", "6.25"} }},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			mo := build(t)
			m := mo.c.monthly(hospital, "202505")
			tc.change(mo, m)
			before := len(mo.c.sim.Received("GYU003"))
			r := mo.c.send("GYU003", m)
			want := tc.want(mo)
			mo.c.wantInvalid(t, r, "GYU003", before, tc.field, want[0])
		next:
			for _, d := range r.Diagnostics {
				if d.Severity != sdk.SeverityError || !strings.Contains(d.Summary, want[0]) {
					continue
				}
				for _, w := range want[1:] {
					if !strings.Contains(d.Summary, w) {
						continue next
					}
				}
				return
			}
			t.Fatalf("no %s diagnostic shows %q: %s", want[0], want[1:], r.Diagnostics)
		})
	}
}

// TestMonthWithoutPersonTimeSaysWhy: a monthly settlement refused for
// 「月结人次大于0」 says how its person_count came about (the month's
// settlements − its settlement revocations, which count in the month they
// are dated in) and what the clerk can do, since the month's records are
// not wrong: before, it said only that a settlement needs a settled
// person-time, which a month with a settlement in it seems to have.
func TestMonthWithoutPersonTimeSaysWhy(t *testing.T) {
	t.Parallel()
	c := newChain(t)
	v, s := c.settle("ZY0991")
	c.mustOK(c.send("GYR003", map[string]any{"settle_no": s, "ykc700": v, "akb020": hospital, "revoke_reason": "结算有误", "revoke_time": revokeT(100), "aae011": "王五"}))
	before := len(c.sim.Received("GYU003"))
	r := c.send("GYU003", c.monthly(hospital, "202505"))
	if r.Status != sdk.StatusInvalid {
		t.Fatalf("status %s %v, want invalid", r.Status, fields(r))
	}
	var msg string
	for _, d := range r.Diagnostics {
		if d.Field == "$.person_count" && d.Rule == "range" {
			msg = d.Message()
		}
	}
	for _, want := range []string{"业务规则「月结人次大于0」未通过", "1 − 1", "revocations", "月结人次为本月结算笔数减本月结算撤销笔数", "经办机构", "nothing was sent"} {
		if !strings.Contains(msg, want) {
			t.Errorf("person_count refusal %q does not say %q", msg, want)
		}
	}
	if n := len(c.sim.Received("GYU003")); n != before {
		t.Fatalf("GYU003 reached the national system although invalid")
	}
}
