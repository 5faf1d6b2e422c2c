package adapter

import (
	"testing"

	"github.com/medgate/medgate/plugins/sdk"
	wisim "github.com/medgate/medgate/test/sim/workinjury"
)

// Two assistive-device settlements (GYU303) of one person at one
// institution carrying the same lines (detail_no), checked at the same
// instant (different Kafka keys, or instances): each read the person's
// settled lines before the other was answered, both passed rule
// unique-detail-no and both went out, so a line could be settled twice.
// The one that marks itself second now finds the person's device lines
// changed since its check: it waits, nothing sent, and its next attempt
// checks again with the other one counted – refused when the other was
// accepted, waiting while the other's outcome is unknown.
func TestDeviceSettlementsCheckedAtTheSameInstant(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		// fault, when set, loses the other settlement's request: its
		// outcome stays unknown.
		fault wisim.FaultKind
		// then is the rule of the first one's next attempt; thenWait says
		// it is a wait rather than invalid.
		then     string
		thenWait bool
	}{
		"the other accepted meanwhile":       {then: "rule unique-detail-no"},
		"the other still without an outcome": {fault: wisim.Fault5xx, then: "rule device-line-outcome-known", thenWait: true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := newChain(t)
			first := c.deviceSettlement()
			other := c.deviceSettlement()
			var otherResp *sdk.HandleResponse
			started := false
			c.impl.hook = func(p string) error {
				if p != "recorded" || started {
					return nil
				}
				started = true
				if tc.fault != "" {
					c.sim.Inject(wisim.Fault{Code: "GYU303", Kind: tc.fault})
				}
				otherResp = c.handle("m-other", "GYU303", other, false)
				return nil
			}
			before := len(c.sim.Received("GYU303"))
			r := c.handle("m-first", "GYU303", first, false)
			if otherResp == nil {
				t.Fatal("the other device settlement was never handled during the first one's check")
			}
			if tc.fault == "" {
				c.mustOK(otherResp)
			} else if otherResp.Status != sdk.StatusFailed || !otherResp.Retryable {
				t.Fatalf("other settlement: status %s (retryable %v), want failed and retryable: %s", otherResp.Status, otherResp.Retryable, otherResp.Diagnostics)
			}
			// Only the other one reached the national system.
			c.wantWait(t, r, "GYU303", before+1, "$.items", "rule device-lines-unchanged")
			c.impl.hook = nil
			r = c.handle("m-first", "GYU303", first, true)
			if tc.thenWait {
				c.wantWait(t, r, "GYU303", before+1, "$.items[0].detail_no", tc.then)
				return
			}
			c.wantInvalid(t, r, "GYU303", before+1, "$.items[0].detail_no", tc.then)
		})
	}
}
