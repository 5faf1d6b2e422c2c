package adapter

import (
	"testing"
	"time"

	"github.com/medgate/medgate/plugins/sdk"
)

// A record dated into a month its institution already settled (GYU003,
// once per institution and month) can never be part of a monthly
// settlement, so it would never be cleared: the national system refuses
// it, or takes it and leaves it out of every clearing. medgate refuses it
// before sending (rule month-not-settled, naming the month and the monthly
// settlement); a record of the next month goes.
func TestRecordsOfASettledMonth(t *testing.T) {
	t.Parallel()
	may, june := admitDay.Add(20*24*time.Hour), admitDay.Add(40*24*time.Hour)
	// settled settles stay ZY0701 and the institution's May, and returns
	// the stay's visit and settlement.
	settled := func(c *chain) (string, string) {
		v, s := c.settle("ZY0701")
		c.mustOK(c.send("GYU003", c.monthly(hospital, "202505")))
		return v, s
	}
	const rule = "rule month-not-settled"
	runRuleCases(t, map[string]ruleCase{
		"a deduction dated in the settled month": {code: "GYU004", prepare: func(c *chain) map[string]any {
			_, s := settled(c)
			d := deduction("KK0701", s, "2.50")
			d["deduct_time"] = stampT(may)
			return deductions(d)
		}, field: "$.deductions[0].deduct_time", rule: rule},
		"a deduction dated in the next month": {code: "GYU004", prepare: func(c *chain) map[string]any {
			_, s := settled(c)
			d := deduction("KK0701", s, "2.50")
			d["deduct_time"] = stampT(june)
			return deductions(d)
		}, ok: true},
		"a settlement revocation dated in the settled month": {code: "GYR003", prepare: func(c *chain) map[string]any {
			v, s := settled(c)
			return map[string]any{"settle_no": s, "ykc700": v, "akb020": hospital, "revoke_reason": "结算有误", "revoke_time": stampT(may), "aae011": "王五"}
		}, field: "$.revoke_time", rule: rule},
		"a settlement revocation dated in the next month": {code: "GYR003", prepare: func(c *chain) map[string]any {
			v, s := settled(c)
			return map[string]any{"settle_no": s, "ykc700": v, "akb020": hospital, "revoke_reason": "结算有误", "revoke_time": stampT(june), "aae011": "王五"}
		}, ok: true},
		"a discharge settlement dated in the settled month": {code: "GYU103", prepare: func(c *chain) map[string]any {
			v, lines := c.stay("ZY0702")
			settled(c)
			return c.settlementOf(v, "ZY0702", lines)
		}, field: "$.settle_time", rule: rule},
		"a deduction revocation dated in the settled month": {code: "GYR004", prepare: func(c *chain) map[string]any {
			_, s := c.settle("ZY0701")
			c.mustOK(c.send("GYU004", deductions(deduction("KK0701", s, "2.50"))))
			c.mustOK(c.send("GYU003", c.monthly(hospital, "202505")))
			return map[string]any{"deductions": []any{map[string]any{"deduct_no": "KK0701"}}, "revoke_time": stampT(may), "aae011": "王五"}
		}, field: "$.revoke_time", rule: rule},
	})
}

// An upload of a month marked just after the month's GYU003 passed its gate
// (its compare-and-set right before it is sent) was not seen by the monthly
// settlement and went out as a record of a month being settled. It now
// finds the month claimed after marking itself: it waits while the monthly
// settlement has no outcome, nothing sent, and is refused once the month is
// settled.
func TestUploadMarkedAfterTheMonthlySettlementPassedItsGate(t *testing.T) {
	t.Parallel()
	c := newChain(t)
	_, s := c.settle("ZY0711")
	monthly := c.monthly(hospital, "202505")
	deduct := deductions(deduction("KK0711", s, "2.50"))
	var resp *sdk.HandleResponse
	started := false
	c.impl.hook = func(p string) error {
		if p != "monthly-passed" || started {
			return nil
		}
		started = true
		resp = c.handle("m-deduct", "GYU004", deduct, false)
		return nil
	}
	before := len(c.sim.Received("GYU004"))
	c.mustOK(c.handle("m-monthly", "GYU003", monthly, false))
	if resp == nil {
		t.Fatal("the deduction was never handled after the monthly settlement passed its gate")
	}
	c.wantWait(t, resp, "GYU004", before, "$.deductions[0].deduct_time", "rule month-not-settled")
	c.impl.hook = nil
	c.wantInvalid(t, c.handle("m-deduct", "GYU004", deduct, true), "GYU004", before, "$.deductions[0].deduct_time", "rule month-not-settled")
}
