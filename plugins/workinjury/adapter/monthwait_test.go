package adapter

import (
	"testing"
	"time"

	"github.com/medgate/medgate/plugins/sdk"
	wisim "github.com/medgate/medgate/test/sim/workinjury"
)

// TestMonthWaitsForUnknownOutcomes: a monthly settlement (GYU003) does not
// go out while an upload that may be a record of the institution's month
// has no known outcome (its answer was lost): its items would be built on a
// picture the national system may not share. Once the upload is reconciled
// (GYD053) or refused, the GYU003 goes.
func TestMonthWaitsForUnknownOutcomes(t *testing.T) {
	t.Parallel()
	lost := func(c *chain, code string) {
		c.sim.Inject(wisim.Fault{Code: code, Kind: wisim.FaultLostReply})
	}
	// send sends a message whose answer is lost and returns its id.
	sendLost := func(c *chain, id, code string, in map[string]any) string {
		lost(c, code)
		if r := c.handle(id, code, in, false); r.Status != sdk.StatusFailed || !r.Retryable {
			c.t.Fatalf("%s with its answer lost: %s %s, want failed and retryable", code, r.Status, r.Diagnostics)
		}
		return id
	}
	june := func(d map[string]any) map[string]any {
		d["deduct_time"] = stampT(admitDay.Add(40 * 24 * time.Hour))
		return d
	}
	const rule = "rule month-outcomes-known"
	runRuleCases(t, map[string]ruleCase{
		"a deduction without a known outcome": {code: "GYU003", prepare: func(c *chain) map[string]any {
			_, s := c.settle("ZY0601")
			sendLost(c, "ded-1", "GYU004", deductions(deduction("KK0601", s, "2.50")))
			return c.monthly(hospital, "202505")
		}, field: "$.settle_month", rule: rule},
		"a deduction whose message id has slashes, without a known outcome": {code: "GYU003", prepare: func(c *chain) map[string]any {
			_, s := c.settle("ZY0601")
			sendLost(c, "his/2025/ded-1", "GYU004", deductions(deduction("KK0601", s, "2.50")))
			return c.monthly(hospital, "202505")
		}, field: "$.settle_month", rule: rule},
		"the deduction reconciled": {code: "GYU003", prepare: func(c *chain) map[string]any {
			_, s := c.settle("ZY0601")
			in := deductions(deduction("KK0601", s, "2.50"))
			sendLost(c, "ded-1", "GYU004", in)
			c.mustOK(c.handle("ded-1", "GYU004", in, true))
			return c.monthly(hospital, "202505")
		}, ok: true},
		"a deduction refused": {code: "GYU003", prepare: func(c *chain) map[string]any {
			_, s := c.settle("ZY0601")
			c.sim.Inject(wisim.Fault{Code: "GYU004", Kind: wisim.FaultBusiness, ErrCode: "E8002", ErrMessage: "扣款金额有误"})
			if r := c.send("GYU004", deductions(deduction("KK0601", s, "2.50"))); r.Status != sdk.StatusRejected {
				c.t.Fatalf("GYU004: %s, want rejected", r.Status)
			}
			return c.monthly(hospital, "202505")
		}, ok: true},
		"a deduction of another month without a known outcome": {code: "GYU003", prepare: func(c *chain) map[string]any {
			_, s := c.settle("ZY0601")
			sendLost(c, "ded-1", "GYU004", deductions(june(deduction("KK0601", s, "2.50"))))
			return c.monthly(hospital, "202505")
		}, ok: true},
		"a settlement without a known outcome": {code: "GYU003", prepare: func(c *chain) map[string]any {
			c.settle("ZY0601")
			v, lines := c.stay("ZY0602")
			sendLost(c, "set-2", "GYU103", c.settlementOf(v, "ZY0602", lines))
			return c.monthly(hospital, "202505")
		}, field: "$.settle_month", rule: rule},
		"a settlement revocation without a known outcome": {code: "GYU003", prepare: func(c *chain) map[string]any {
			c.settle("ZY0601")
			v, s := c.settle("ZY0602")
			sendLost(c, "rev-2", "GYR003", map[string]any{"settle_no": s, "ykc700": v, "akb020": hospital, "revoke_reason": "结算有误",
				"revoke_time": revokeT(100), "aae011": "王五"})
			return c.monthly(hospital, "202505")
		}, field: "$.settle_month", rule: rule},
		"a deduction revocation without a known outcome": {code: "GYU003", prepare: func(c *chain) map[string]any {
			_, s := c.settle("ZY0601")
			c.mustOK(c.send("GYU004", deductions(deduction("KK0601", s, "2.50"))))
			sendLost(c, "drev-1", "GYR004", map[string]any{"deductions": []any{map[string]any{"deduct_no": "KK0601"}},
				"revoke_time": stampT(admitDay.Add(11 * 24 * time.Hour)), "aae011": "王五"})
			return c.monthly(hospital, "202505")
		}, field: "$.settle_month", rule: rule},
	})
}
