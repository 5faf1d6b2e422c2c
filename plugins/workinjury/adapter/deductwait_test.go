package adapter

import (
	"testing"

	"github.com/medgate/medgate/plugins/sdk"
	wisim "github.com/medgate/medgate/test/sim/workinjury"
)

// An audit deduction (GYU004) sent without a known outcome may be a
// deduction of its settlement at the national system. A later GYU004 of the
// same settlement that passes deduction≤fund-paid only because that one is
// left out waits, retryably and nothing sent, and is answered once the
// first one's outcome is known: invalid if it was accepted, sent if it was
// refused. One that passes with it counted does not wait.
func TestDeductionsWaitForDeductionsWithoutOutcome(t *testing.T) {
	t.Parallel()
	// The default stay's settlement: fund-paid 52.50.
	cases := map[string]struct {
		second string
		// wait: the second GYU004 waits for the first.
		wait bool
		// accepted: the first GYU004, sent again after GYD053 found no
		// trace, is accepted (else the national system refuses it).
		accepted bool
		// after: the second GYU004's status once the first has its outcome.
		after sdk.Status
	}{
		"over with the unknown one, first accepted": {second: "10.00", wait: true, accepted: true, after: sdk.StatusInvalid},
		"over with the unknown one, first refused":  {second: "10.00", wait: true, after: sdk.StatusOK},
		"within even with the unknown one":          {second: "2.50", after: sdk.StatusOK},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := newChain(t)
			_, s := c.settle("ZY0801")
			first := deductions(deduction("KK0801", s, "50.00"))
			// The first deduction's request never reaches the national
			// system: its outcome is unknown.
			c.sim.Inject(wisim.Fault{Code: "GYU004", Kind: wisim.Fault5xx})
			if r := c.handle("m-deduct-1", "GYU004", first, false); r.Status != sdk.StatusFailed || !r.Retryable {
				t.Fatalf("first deduction: status %s (retryable %v), want failed and retryable: %s", r.Status, r.Retryable, r.Diagnostics)
			}
			second := deductions(deduction("KK0802", s, tc.second))
			before := len(c.sim.Received("GYU004"))
			r := c.handle("m-deduct-2", "GYU004", second, false)
			if !tc.wait {
				c.mustOK(r)
				return
			}
			c.wantWait(t, r, "GYU004", before, "$.deductions[0].deduct_amount", "rule deduction-outcomes-known")
			if !tc.accepted {
				c.sim.Inject(wisim.Fault{Code: "GYU004", Kind: wisim.FaultBusiness, ErrCode: "E6401", ErrMessage: "扣款金额有误"})
			}
			want := sdk.StatusRejected
			if tc.accepted {
				want = sdk.StatusOK
			}
			if r := c.handle("m-deduct-1", "GYU004", first, true); r.Status != want {
				t.Fatalf("first deduction retried: status %s, want %s: %s", r.Status, want, r.Diagnostics)
			}
			r = c.handle("m-deduct-2", "GYU004", second, true)
			if r.Status != tc.after {
				t.Fatalf("second deduction after the first's outcome: status %s, want %s: %s", r.Status, tc.after, r.Diagnostics)
			}
			if tc.after == sdk.StatusInvalid {
				c.wantInvalid(t, r, "GYU004", before+1, "$.deductions[0].deduct_amount", "rule deduction≤fund-paid")
			}
		})
	}
}

// A deduction whose outcome becomes known while a later GYU004 of the
// same settlement is being checked is counted: the check reads the
// deductions without a known outcome before the settlement's known ones,
// and a deduction's mark is removed only after it is applied.
func TestDeductionsCheckMissesNoDeductionReconciledMeanwhile(t *testing.T) {
	t.Parallel()
	c := newChain(t)
	_, s := c.settle("ZY0811")
	first := deductions(deduction("KK0811", s, "50.00"))
	c.sim.Inject(wisim.Fault{Code: "GYU004", Kind: wisim.Fault5xx})
	if r := c.handle("m-deduct-1", "GYU004", first, false); r.Status != sdk.StatusFailed || !r.Retryable {
		t.Fatalf("first deduction: status %s (retryable %v), want failed and retryable: %s", r.Status, r.Retryable, r.Diagnostics)
	}
	// Between the two reads of the second GYU004's check, the first is
	// reconciled (no trace), sent again and accepted.
	var reconciled *sdk.HandleResponse
	c.impl.hook = func(p string) error {
		if p == "deductions-open" && reconciled == nil {
			reconciled = c.handle("m-deduct-1", "GYU004", first, true)
		}
		return nil
	}
	before := len(c.sim.Received("GYU004"))
	r := c.handle("m-deduct-2", "GYU004", deductions(deduction("KK0812", s, "10.00")), false)
	if reconciled == nil {
		t.Fatal("the check never reached the point between its reads")
	}
	c.mustOK(reconciled)
	c.wantInvalid(t, r, "GYU004", before+1, "$.deductions[0].deduct_amount", "rule deduction≤fund-paid")
}
