package adapter

import (
	"strings"
	"testing"
	"time"

	"github.com/medgate/medgate/plugins/sdk"
)

// A deduction this site downloaded (GYD004) exists at the national
// system: it counts towards its settlement's limit (all valid deductions
// ≤ fund_pay) like one uploaded here (GYU004), once, and no longer once
// its revocation is downloaded (GYD404). Before, only deductions uploaded
// here counted: a deduction the national system must refuse (E8003) went
// out.
func TestDownloadedDeductionsCount(t *testing.T) {
	t.Parallel()
	day := admitDay.Add(11 * 24 * time.Hour)
	tests := map[string]struct {
		prep   func(t *testing.T, c *chain, settleNo string)
		amount string // of the GYU004 sent; the settlement's fund_pay is 52.50
		no     string // its deduct_no; "" is KK0999
		want   sdk.Status
	}{
		"the number of a national deduction downloaded": {prep: func(t *testing.T, c *chain, s string) {
			if err := c.sim.AddDeduction("KN0001", s, 100, "国家侧扣款", day); err != nil {
				t.Fatal(err)
			}
			c.mustOK(c.send("GYD004", map[string]any{}))
		}, amount: "1.00", no: "KN0001", want: sdk.StatusInvalid},
		"national deduction downloaded": {prep: func(t *testing.T, c *chain, s string) {
			if err := c.sim.AddDeduction("KN0001", s, 5000, "国家侧扣款", day); err != nil {
				t.Fatal(err)
			}
			c.mustOK(c.send("GYD004", map[string]any{}))
		}, amount: "3.00", want: sdk.StatusInvalid},
		"national deduction downloaded, up to the limit": {prep: func(t *testing.T, c *chain, s string) {
			if err := c.sim.AddDeduction("KN0001", s, 5000, "国家侧扣款", day); err != nil {
				t.Fatal(err)
			}
			c.mustOK(c.send("GYD004", map[string]any{}))
		}, amount: "2.50", want: sdk.StatusOK},
		"national deduction revoked, revocation downloaded": {prep: func(t *testing.T, c *chain, s string) {
			if err := c.sim.AddDeduction("KN0001", s, 5000, "国家侧扣款", day); err != nil {
				t.Fatal(err)
			}
			c.mustOK(c.send("GYD004", map[string]any{}))
			if err := c.sim.RevokeDeduction("KN0001", "扣款有误", day.Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			c.mustOK(c.send("GYD404", map[string]any{}))
		}, amount: "3.00", want: sdk.StatusOK},
		"own deduction downloaded back": {prep: func(t *testing.T, c *chain, s string) {
			c.mustOK(c.send("GYU004", deductions(deduction("KK0001", s, "50.00"))))
			c.mustOK(c.send("GYD004", map[string]any{}))
		}, amount: "2.50", want: sdk.StatusOK},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := newChain(t)
			_, s := c.settle("ZY0701")
			tc.prep(t, c, s)
			before := len(c.sim.Received("GYU004"))
			no, field, rule := "KK0999", "$.deductions[0].deduct_amount", "rule deduction≤fund-paid"
			if tc.no != "" {
				no, field, rule = tc.no, "$.deductions[0].deduct_no", "rule unique-deduct-no"
			}
			r := c.send("GYU004", deductions(deduction(no, s, tc.amount)))
			if tc.want == sdk.StatusInvalid {
				c.wantInvalid(t, r, "GYU004", before, field, rule)
				if !strings.Contains(r.Diagnostics.String(), "KN0001") {
					t.Fatalf("the refusal does not name the downloaded deduction it counts: %s", r.Diagnostics)
				}
				return
			}
			if r.Status != tc.want {
				t.Fatalf("status %s, want %s: %s %+v", r.Status, tc.want, r.Diagnostics, r.External)
			}
		})
	}
}

// A deduction made at the national side (and its revocation) is a record
// of the institution's month there: once downloaded it is one here too,
// so the monthly settlement built from what this site knows lists it, and
// the national system takes it. Before, the month here lacked it: the
// GYU003 was refused (E8006), and listing the deduction was invalid here
// (rule month-items), so the month could never be settled.
func TestDownloadedDeductionInMonth(t *testing.T) {
	t.Parallel()
	day := admitDay.Add(11 * 24 * time.Hour)
	tests := map[string]struct {
		revoke bool
		items  int // the month's records: settlement, deduction(, revocation)
	}{
		"deduction":                {items: 2},
		"deduction and revocation": {revoke: true, items: 3},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := newChain(t)
			_, s := c.settle("ZY0702")
			if err := c.sim.AddDeduction("KN0002", s, 150, "国家侧扣款", day); err != nil {
				t.Fatal(err)
			}
			c.mustOK(c.send("GYD004", map[string]any{}))
			if tc.revoke {
				if err := c.sim.RevokeDeduction("KN0002", "扣款有误", day.Add(time.Hour)); err != nil {
					t.Fatal(err)
				}
				c.mustOK(c.send("GYD404", map[string]any{}))
			}
			m := c.monthly(hospital, "202505")
			if n := len(m["items"].([]any)); n != tc.items {
				t.Fatalf("the month known here has %d records, want %d: %v", n, tc.items, m["items"])
			}
			if out := c.mustOK(c.send("GYU003", m)); out["month_settle_no"] == "" {
				t.Fatalf("no month_settle_no: %v", out)
			}
		})
	}
}
