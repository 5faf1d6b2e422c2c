package adapter

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/medgate/medgate/plugins/sdk"
	wisim "github.com/medgate/medgate/test/sim/workinjury"
)

// A deduction downloaded (GYD004) while the GYU103 of its settlement had no
// known outcome (its answer lost) found no settlement here and was attached
// to none: once the GYU103 was reconciled, the deduction counted neither
// towards the settlement's limit nor in its month, and the GYU003 built
// from the month known here lacked it (the national side has it). It is
// now attached when the settlement's outcome becomes known.
func TestDeductionDownloadedBeforeItsSettlementIsKnown(t *testing.T) {
	t.Parallel()
	day := admitDay.Add(11 * 24 * time.Hour)
	tests := map[string]struct {
		revoke bool
		// early: revoked before GYD004, which gives it as revoked without
		// its revoke_time; GYD404 runs only after the GYU103 is known.
		early bool
		items int // the month's records: settlement, deduction(, revocation)
	}{
		"deduction":                           {items: 2},
		"deduction and revocation":            {revoke: true, items: 3},
		"deduction revoked before its GYD004": {revoke: true, early: true, items: 3},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := newChain(t)
			v, lines := c.stay("ZY0704")
			settle := c.settlementOf(v, "ZY0704", lines)
			c.sim.Inject(wisim.Fault{Code: "GYU103", Kind: wisim.FaultLostReply})
			if r := c.handle("m-settle", "GYU103", settle, false); r.Status != sdk.StatusFailed || !r.Retryable {
				t.Fatalf("lost answer: status %s (retryable %v): %s", r.Status, r.Retryable, r.Diagnostics)
			}
			var sn string
			for _, s := range c.sim.Settlements("") {
				if s.VisitNo == v {
					sn = s.SettleNo
				}
			}
			if sn == "" {
				t.Fatal("the simulator has no settlement of the visit")
			}
			if err := c.sim.AddDeduction("KN0004", sn, 150, "国家侧扣款", day); err != nil {
				t.Fatal(err)
			}
			if tc.early {
				if err := c.sim.RevokeDeduction("KN0004", "扣款有误", day.Add(time.Hour)); err != nil {
					t.Fatal(err)
				}
			}
			c.mustOK(c.send("GYD004", map[string]any{}))
			if tc.revoke && !tc.early {
				if err := c.sim.RevokeDeduction("KN0004", "扣款有误", day.Add(time.Hour)); err != nil {
					t.Fatal(err)
				}
				c.mustOK(c.send("GYD404", map[string]any{}))
			}
			// The GYU103 is replayed: GYD053 tells it was accepted.
			if out := c.mustOK(c.handle("m-settle", "GYU103", settle, true)); out["settle_no"] != sn {
				t.Fatalf("reconciled settle_no %v, want %s", out["settle_no"], sn)
			}
			var s settleState
			if _, err := getJSON(t.Context(), hostFor(c.host, testSite), "settle/"+sn, &s); err != nil {
				t.Fatal(err)
			}
			if !slices.Contains(s.Downloaded, "KN0004") {
				t.Errorf("settlement %s does not count the downloaded deduction: %+v", sn, s)
			}
			if tc.early {
				// The revocation's month is not known before GYD404.
				if r := c.send("GYU003", c.monthly(hospital, "202505")); r.Status != sdk.StatusInvalid || !strings.Contains(r.Diagnostics.String(), "KN0004") {
					t.Fatalf("GYU003 before GYD404: status %s, want invalid naming KN0004: %s %+v", r.Status, r.Diagnostics, r.External)
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
