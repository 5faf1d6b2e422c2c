package adapter

import (
	"testing"
	"time"

	"github.com/medgate/medgate/plugins/sdk"
	wisim "github.com/medgate/medgate/test/sim/workinjury"
)

// A discharge settlement (GYU103) sent without a known outcome may have
// settled the stay at the national system, or never arrived there and be
// sent again as it is (after GYD053 finds no trace of it, without the
// rules again). Until its outcome is known, nothing may change the stay's
// fee details: new lines (GYU102), a revocation of lines (GYR001) or of the
// admission (GYR002) wait, retryably and nothing sent, and go on once the
// settlement's outcome is known.
func TestStayChangesWaitForASettlementWithoutOutcome(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		code string
		msg  func(v string) map[string]any
		// after: the status once the settlement was reconciled as never
		// arrived and sent again (accepted): the stay is settled.
		after sdk.Status
	}{
		"GYU102 new line": {code: "GYU102", msg: func(v string) map[string]any { return fees(v, "ZY0601", line("0003", "1", "1", "0")) }, after: sdk.StatusInvalid},
		"GYR001 revoke a line": {code: "GYR001", msg: func(v string) map[string]any {
			return map[string]any{"ykc700": v, "details": []any{map[string]any{"detail_no": "0002"}},
				"revoke_reason": "明细有误", "revoke_time": stampT(admitDay.Add(2 * time.Hour)), "aae011": "王五"}
		}, after: sdk.StatusInvalid},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := newChain(t)
			v, lines := c.stay("ZY0601")
			settlement := c.settlementOf(v, "ZY0601", lines)
			// The settlement's request never reaches the national system.
			c.sim.Inject(wisim.Fault{Code: "GYU103", Kind: wisim.Fault5xx})
			if r := c.handle("m-settle", "GYU103", settlement, false); r.Status != sdk.StatusFailed || !r.Retryable {
				t.Fatalf("settlement: status %s, want failed and retryable", r.Status)
			}
			before := len(c.sim.Received(tc.code))
			r := c.handle("m-change", tc.code, tc.msg(v), false)
			c.wantWait(t, r, tc.code, before, "$.ykc700", "rule settlement-outcome-known")
			// The settlement is reconciled (no trace), sent again and
			// accepted, with the stay as it was.
			c.mustOK(c.handle("m-settle", "GYU103", settlement, true))
			if r := c.handle("m-change", tc.code, tc.msg(v), true); r.Status != tc.after {
				t.Fatalf("after the settlement: status %s, want %s: %s", r.Status, tc.after, r.Diagnostics)
			}
			if n := len(c.sim.Received(tc.code)); n != before {
				t.Fatalf("%s reached the national system %d times, before %d", tc.code, n, before)
			}
		})
	}
}

// A settlement refused by the national system lets the stay change again.
func TestStayChangesGoOnOnceTheSettlementIsRefused(t *testing.T) {
	t.Parallel()
	c := newChain(t)
	v, lines := c.stay("ZY0602")
	settlement := c.settlementOf(v, "ZY0602", lines)
	c.sim.Inject(wisim.Fault{Code: "GYU103", Kind: wisim.Fault5xx})
	if r := c.handle("m-settle", "GYU103", settlement, false); r.Status != sdk.StatusFailed {
		t.Fatalf("settlement: status %s", r.Status)
	}
	msg := fees(v, "ZY0602", line("0003", "1", "1", "0"))
	before := len(c.sim.Received("GYU102"))
	c.wantWait(t, c.handle("m-fees", "GYU102", msg, false), "GYU102", before, "$.ykc700", "rule settlement-outcome-known")
	c.sim.Inject(wisim.Fault{Code: "GYU103", Kind: wisim.FaultBusiness, ErrCode: "E6201", ErrMessage: "结算金额有误"})
	if r := c.handle("m-settle", "GYU103", settlement, true); r.Status != sdk.StatusRejected {
		t.Fatalf("settlement retried: status %s, want rejected: %s", r.Status, r.Diagnostics)
	}
	c.mustOK(c.handle("m-fees", "GYU102", msg, true))
}
