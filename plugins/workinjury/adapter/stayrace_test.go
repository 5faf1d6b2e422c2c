package adapter

import (
	"testing"

	"github.com/medgate/medgate/plugins/sdk"
	wisim "github.com/medgate/medgate/test/sim/workinjury"
)

// A discharge settlement (GYU103) and fee details (GYU102) of one stay
// checked at the same instant (different Kafka keys, or instances): each
// passed its check before the other marked itself on the visit, and both
// went out – the settlement without the new lines, or the lines into a
// stay being settled. The one that marks itself second now finds the visit
// changed since its check: it waits, nothing sent, and its next attempt
// checks again with the other one counted.
func TestSettlementAndFeesCheckedAtTheSameInstant(t *testing.T) {
	t.Parallel()
	extra := line("0003", "4.00", "1", "0")
	cases := map[string]struct {
		// first is the message checked first; the other one (GYU102 when
		// first is GYU103, else GYU103) is handled at hook point at,
		// between the first's check and its mark on the visit.
		first, at string
		// fault, when set, loses the other one's request: its outcome
		// stays unknown.
		fault wisim.FaultKind
		// rule is the first one's wait; then names the status and rule of
		// its next attempt (a wait when thenWait).
		rule, thenRule string
		thenWait       bool
	}{
		"fee details accepted while the settlement is checked": {first: "GYU103", at: "settlement-checked",
			rule: "rule stay-unchanged", thenRule: "rule settlement=Σdetails"},
		"fee details without an outcome while the settlement is checked": {first: "GYU103", at: "settlement-checked", fault: wisim.Fault5xx,
			rule: "rule stay-unchanged", thenRule: "rule all-details-uploaded"},
		"settlement without an outcome while fee details are checked": {first: "GYU102", at: "fees-checked", fault: wisim.Fault5xx,
			rule: "rule settlement-outcome-known", thenRule: "rule settlement-outcome-known", thenWait: true},
		"settlement accepted while fee details are checked": {first: "GYU102", at: "fees-checked",
			rule: "rule stay-unchanged", thenRule: "rule not-settled"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := newChain(t)
			v, lines := c.stay("ZY0921")
			settlement := c.settlementOf(v, "ZY0921", lines)
			details := fees(v, "ZY0921", extra)
			first, other, otherCode := settlement, details, "GYU102"
			if tc.first == "GYU102" {
				first, other, otherCode = details, settlement, "GYU103"
			}
			var otherResp *sdk.HandleResponse
			started := false
			c.impl.hook = func(p string) error {
				if p != tc.at || started {
					return nil
				}
				started = true
				if tc.fault != "" {
					c.sim.Inject(wisim.Fault{Code: otherCode, Kind: tc.fault})
				}
				otherResp = c.handle("m-other", otherCode, other, false)
				return nil
			}
			before := len(c.sim.Received(tc.first))
			r := c.handle("m-first", tc.first, first, false)
			if otherResp == nil {
				t.Fatalf("the %s was never handled during the %s's check", otherCode, tc.first)
			}
			if tc.fault == "" {
				c.mustOK(otherResp)
			} else if otherResp.Status != sdk.StatusFailed || !otherResp.Retryable {
				t.Fatalf("%s: status %s (retryable %v), want failed and retryable: %s", otherCode, otherResp.Status, otherResp.Retryable, otherResp.Diagnostics)
			}
			c.wantWait(t, r, tc.first, before, "$.ykc700", tc.rule)
			c.impl.hook = nil
			r = c.handle("m-first", tc.first, first, true)
			field := "$.ykc700"
			if tc.thenRule == "rule settlement=Σdetails" {
				field = "$.akc264"
			}
			if tc.thenWait {
				c.wantWait(t, r, tc.first, before, field, tc.thenRule)
				return
			}
			c.wantInvalid(t, r, tc.first, before, field, tc.thenRule)
		})
	}
}
