package adapter

import (
	"testing"
	"time"

	"github.com/medgate/medgate/plugins/sdk"
	wisim "github.com/medgate/medgate/test/sim/workinjury"
)

// A discharge settlement (GYU103) and a revocation of fee details (GYR001)
// of one stay handled at the same instant (different Kafka keys, or
// instances): each passed its check before the other marked itself on the
// visit, and both went out. The settlement then carried the sums of lines
// the national system had just revoked, and its sum check refused it; or
// the revocation met a stay being settled. Now each marks itself on the
// visit with a compare-and-set on the version its check read: the one that
// marks second waits, nothing sent, and its next attempt checks again with
// the other one counted.
func TestSettlementAndRevocationCheckedAtTheSameInstant(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		// first is the message checked first; the other one (GYR001 when
		// first is GYU103, else GYU103) is handled at hook point at,
		// between the first's check and its mark on the visit.
		first, at string
		// fault, when set, loses the other one's request: its outcome
		// stays unknown.
		fault wisim.FaultKind
		// then is the rule of the first one's next attempt, at field
		// thenField; a wait when thenWait, else invalid.
		then, thenField string
		thenWait        bool
	}{
		"lines revoked while the settlement is checked": {first: "GYU103", at: "settlement-checked",
			then: "rule settlement=Σdetails", thenField: "$.akc264"},
		"revocation without an outcome while the settlement is checked": {first: "GYU103", at: "settlement-checked", fault: wisim.Fault5xx,
			then: "rule revocation-outcome-known", thenField: "$.ykc700", thenWait: true},
		"settlement accepted while the revocation is checked": {first: "GYR001", at: "revocation-checked",
			then: "rule not-settled", thenField: "$.ykc700"},
		"settlement without an outcome while the revocation is checked": {first: "GYR001", at: "revocation-checked", fault: wisim.Fault5xx,
			then: "rule settlement-outcome-known", thenField: "$.ykc700", thenWait: true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := newChain(t)
			v, lines := c.stay("ZY0931")
			settlement := c.settlementOf(v, "ZY0931", lines)
			revocation := map[string]any{"ykc700": v, "details": []any{map[string]any{"detail_no": "0002"}},
				"revoke_reason": "明细有误", "revoke_time": stampT(admitDay.Add(2 * time.Hour)), "aae011": "王五"}
			first, other, otherCode := settlement, revocation, "GYR001"
			if tc.first == "GYR001" {
				first, other, otherCode = revocation, settlement, "GYU103"
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
			// The first one must not go out: the national system would
			// refuse it (or, for a revocation, meet a stay being settled).
			c.wantWait(t, r, tc.first, before, "$.ykc700", "rule stay-unchanged")
			c.impl.hook = nil
			r = c.handle("m-first", tc.first, first, true)
			if tc.thenWait {
				c.wantWait(t, r, tc.first, before, tc.thenField, tc.then)
				return
			}
			c.wantInvalid(t, r, tc.first, before, tc.thenField, tc.then)
		})
	}
}
