package adapter

import (
	"testing"

	"github.com/medgate/medgate/plugins/sdk"
	wisim "github.com/medgate/medgate/test/sim/workinjury"
)

// Two audit deductions (GYU004) of one settlement checked at the same
// instant (different Kafka keys, or instances) each read the settlement's
// deductions before the other marked itself: without a compare-and-set
// both passed deduction≤fund-paid and both went out, although together
// they exceed the settlement's fund-paid amount. The later one to mark
// itself now finds the settlement's deduction gate moved since its check:
// it waits, nothing sent, and its next attempt counts the other one.
func TestDeductionsCheckedAtTheSameInstantSeeEachOther(t *testing.T) {
	t.Parallel()
	// The default stay's settlement: fund-paid 52.50; 40 + 40 exceed it.
	cases := map[string]struct {
		// other is how the deduction checked meanwhile ends: its answer
		// lost on the way (fault), or accepted (no fault).
		fault wisim.FaultKind
		// next is what the first one's next attempt answers: a wait for
		// the other's outcome, or invalid once it is known to be accepted.
		next string
	}{
		"the other still without an outcome": {fault: wisim.Fault5xx, next: "rule deduction-outcomes-known"},
		"the other accepted meanwhile":       {next: "rule deduction≤fund-paid"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := newChain(t)
			_, s := c.settle("ZY0901")
			first := deductions(deduction("KK0901", s, "40.00"))
			other := deductions(deduction("KK0902", s, "40.00"))
			// The other GYU004 is checked, marked and sent while the first
			// is between its check and its send.
			var otherResp *sdk.HandleResponse
			started := false
			c.impl.hook = func(p string) error {
				if p != "deductions-checked" || started {
					return nil
				}
				started = true
				if tc.fault != "" {
					c.sim.Inject(wisim.Fault{Code: "GYU004", Kind: tc.fault})
				}
				otherResp = c.handle("m-other", "GYU004", other, false)
				return nil
			}
			before := len(c.sim.Received("GYU004"))
			r := c.handle("m-first", "GYU004", first, false)
			if otherResp == nil {
				t.Fatal("the other deduction was never handled during the first one's check")
			}
			if tc.fault == "" {
				c.mustOK(otherResp)
			} else if otherResp.Status != sdk.StatusFailed || !otherResp.Retryable {
				t.Fatalf("other deduction: status %s (retryable %v), want failed and retryable: %s", otherResp.Status, otherResp.Retryable, otherResp.Diagnostics)
			}
			// Only the other one reached the national system.
			c.wantWait(t, r, "GYU004", before+1, "$.deductions[0].settle_no", "rule deduction-outcomes-known")
			c.impl.hook = nil
			r = c.handle("m-first", "GYU004", first, true)
			if tc.fault != "" {
				c.wantWait(t, r, "GYU004", before+1, "$.deductions[0].deduct_amount", tc.next)
				return
			}
			c.wantInvalid(t, r, "GYU004", before+1, "$.deductions[0].deduct_amount", tc.next)
		})
	}
}
