package adapter

import (
	"strings"
	"testing"
	"time"

	"github.com/medgate/medgate/plugins/sdk"
)

// A deduction made and revoked at the national side before this site
// downloads it comes with GYD004 marked revoked, without its revoke_time;
// the revocation's own record (GYD404, which dates it) may come later.
// Until then the month known here lacks the revocation, which the national
// side counts in the month of its revoke_time. Before, a GYU003 built from
// the month known here went out and was refused (E8006); now it is refused
// here, nothing sent, naming the deduction and the GYD404 download that
// tells its month, and once GYD404 ran the month is complete and accepted.
// A revocation dated in a later month leaves the deduction's month alone,
// and one made here (GYR004) is dated already.
func TestDeductionDownloadedRevokedBeforeItsRevocation(t *testing.T) {
	t.Parallel()
	day := admitDay.Add(11 * 24 * time.Hour)
	tests := map[string]struct {
		revokeAt time.Time
		own      bool // uploaded (GYU004) and revoked (GYR004) here, which dates the revocation
		blocked  bool // the deduction's month (202505) cannot be settled before GYD404
		items    int  // the month's records after GYD404
	}{
		"revoked in the deduction's month": {revokeAt: day.Add(time.Hour), blocked: true, items: 3},
		"revoked the month after":          {revokeAt: day.AddDate(0, 1, 0), items: 2},
		"uploaded and revoked here":        {revokeAt: day.Add(time.Hour), own: true, items: 3},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := newChain(t)
			_, s := c.settle("ZY0705")
			if tc.own {
				c.mustOK(c.send("GYU004", deductions(deduction("KN0005", s, "1.50"))))
				c.mustOK(c.send("GYR004", map[string]any{"deductions": []any{map[string]any{"deduct_no": "KN0005"}},
					"revoke_time": stampT(tc.revokeAt), "aae011": "王五"}))
			} else {
				if err := c.sim.AddDeduction("KN0005", s, 150, "国家侧扣款", day); err != nil {
					t.Fatal(err)
				}
				if err := c.sim.RevokeDeduction("KN0005", "扣款有误", tc.revokeAt); err != nil {
					t.Fatal(err)
				}
			}
			c.mustOK(c.send("GYD004", map[string]any{}))
			if tc.own {
				// The month is known here without GYD404.
				if n := len(c.monthly(hospital, "202505")["items"].([]any)); n != tc.items {
					t.Fatalf("the month known here has %d records before GYD404, want %d", n, tc.items)
				}
			}
			if tc.blocked {
				before := len(c.sim.Received("GYU003"))
				r := c.send("GYU003", c.monthly(hospital, "202505"))
				if r.Status != sdk.StatusInvalid {
					t.Fatalf("GYU003 before GYD404: status %s, want invalid: %s %+v", r.Status, r.Diagnostics, r.External)
				}
				for _, want := range []string{"KN0005", "GYD404"} {
					if !strings.Contains(r.Diagnostics.String(), want) {
						t.Errorf("the refusal does not name %s: %s", want, r.Diagnostics)
					}
				}
				if n := len(c.sim.Received("GYU003")); n != before {
					t.Fatalf("GYU003 was sent %d times", n-before)
				}
			}
			c.mustOK(c.send("GYD404", map[string]any{}))
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
