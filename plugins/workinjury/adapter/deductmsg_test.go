package adapter

import (
	"testing"
	"time"

	"github.com/medgate/medgate/plugins/sdk"
	wisim "github.com/medgate/medgate/test/sim/workinjury"
)

// A deduction's upload (GYU004) or revocation (GYR004) sent without a
// known outcome may have created or revoked the deduction at the national
// system. A later GYR004 of that deduction (or GYU004 of its number) under
// another message id waits, retryably and nothing sent, and is answered
// once the first one's outcome is known. Before, a GYR004 of a deduction
// whose GYU004 had no outcome yet was answered invalid, "not uploaded
// through this site", though the deduction may well stand at the national
// system (and is reconciled as accepted); and a second GYR004 (or GYU004
// of the same number) was sent while the first had no outcome.
func TestDeductionWaitsForItsMessagesWithoutOutcome(t *testing.T) {
	t.Parallel()
	revoke := func(no string) map[string]any {
		return map[string]any{"deductions": []any{map[string]any{"deduct_no": no}}, "revoke_time": stampT(admitDay.Add(11 * 24 * time.Hour)), "aae011": "王五"}
	}
	cases := map[string]struct {
		// firstCode is the message without a known outcome; the deduction
		// KK0901 is uploaded before it when it is a GYR004.
		firstCode string
		// secondCode is the message that waits for it.
		secondCode string
		// accepted: the first, sent again after GYD053 found no trace, is
		// accepted (else the national system refuses it).
		accepted bool
		// after is the second's status once the first has its outcome,
		// rule the rule that refuses it when invalid.
		after sdk.Status
		rule  string
	}{
		"revocation, its upload accepted":              {firstCode: "GYU004", secondCode: "GYR004", accepted: true, after: sdk.StatusOK},
		"revocation, its upload refused":               {firstCode: "GYU004", secondCode: "GYR004", after: sdk.StatusInvalid, rule: "rule deduction-uploaded"},
		"revocation, another revocation accepted":      {firstCode: "GYR004", secondCode: "GYR004", accepted: true, after: sdk.StatusInvalid, rule: "rule deduction-uploaded"},
		"revocation, another revocation refused":       {firstCode: "GYR004", secondCode: "GYR004", after: sdk.StatusOK},
		"upload of the number, the other one accepted": {firstCode: "GYU004", secondCode: "GYU004", accepted: true, after: sdk.StatusInvalid, rule: "rule unique-deduct-no"},
		"upload of the number, the other one refused":  {firstCode: "GYU004", secondCode: "GYU004", after: sdk.StatusOK},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := newChain(t)
			_, s := c.settle("ZY0901")
			msgs := map[string]map[string]any{"GYU004": deductions(deduction("KK0901", s, "5.00")), "GYR004": revoke("KK0901")}
			if tc.firstCode == "GYR004" {
				c.mustOK(c.send("GYU004", msgs["GYU004"]))
			}
			first, second := msgs[tc.firstCode], msgs[tc.secondCode]
			// The first request never reaches the national system: its
			// outcome is unknown.
			c.sim.Inject(wisim.Fault{Code: tc.firstCode, Kind: wisim.Fault5xx})
			if r := c.handle("m-first", tc.firstCode, first, false); r.Status != sdk.StatusFailed || !r.Retryable {
				t.Fatalf("first %s: status %s (retryable %v), want failed and retryable: %s", tc.firstCode, r.Status, r.Retryable, r.Diagnostics)
			}
			before := len(c.sim.Received(tc.secondCode))
			r := c.handle("m-second", tc.secondCode, second, false)
			c.wantWait(t, r, tc.secondCode, before, "$.deductions[0].deduct_no", "rule deduction-outcome-known")
			if !tc.accepted {
				c.sim.Inject(wisim.Fault{Code: tc.firstCode, Kind: wisim.FaultBusiness, ErrCode: "E9999", ErrMessage: "模拟业务错误"})
			}
			want := sdk.StatusRejected
			if tc.accepted {
				want = sdk.StatusOK
			}
			if r := c.handle("m-first", tc.firstCode, first, true); r.Status != want {
				t.Fatalf("first %s retried: status %s, want %s: %s", tc.firstCode, r.Status, want, r.Diagnostics)
			}
			before = len(c.sim.Received(tc.secondCode))
			r = c.handle("m-second", tc.secondCode, second, true)
			if tc.after == sdk.StatusInvalid {
				c.wantInvalid(t, r, tc.secondCode, before, "$.deductions[0].deduct_no", tc.rule)
				return
			}
			if r.Status != tc.after {
				t.Fatalf("second %s after the first's outcome: status %s, want %s: %s %+v", tc.secondCode, r.Status, tc.after, r.Diagnostics, r.External)
			}
		})
	}
}
