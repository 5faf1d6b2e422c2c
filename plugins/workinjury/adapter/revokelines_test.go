package adapter

import (
	"testing"
	"time"

	"github.com/medgate/medgate/plugins/sdk"
	wisim "github.com/medgate/medgate/test/sim/workinjury"
)

// TestLineRevocationWaitsOnlyForItsLines: a fee-detail revocation (GYR001)
// whose answer was lost may or may not have revoked the lines it names.
// Another GYR001 of the stay depends on that outcome only when the two
// may touch the same lines – one of them revoking every line (no details
// listed) or both naming a line – and then waits; one naming other lines
// only is checked and sent as it is (a second cashier correcting another
// line of the stay is not held up until the first revocation is
// reconciled, perhaps replayed from the DLQ).
func TestLineRevocationWaitsOnlyForItsLines(t *testing.T) {
	t.Parallel()
	gyr001 := func(v string, nos ...string) map[string]any {
		m := map[string]any{"ykc700": v, "revoke_reason": "明细有误", "revoke_time": stampT(admitDay.Add(2 * time.Hour)), "aae011": "王五"}
		if len(nos) > 0 {
			var l []any
			for _, no := range nos {
				l = append(l, map[string]any{"detail_no": no})
			}
			m["details"] = l
		}
		return m
	}
	cases := map[string]struct {
		first, then []string // the lines each names; none: every line
		wait        bool
	}{
		"other line":              {first: []string{"0002"}, then: []string{"0001"}},
		"same line":               {first: []string{"0002"}, then: []string{"0002"}, wait: true},
		"a line of several":       {first: []string{"0002", "0003"}, then: []string{"0003"}, wait: true},
		"every line, then one":    {first: nil, then: []string{"0001"}, wait: true},
		"one line, then every":    {first: []string{"0002"}, then: nil, wait: true},
		"two lines, then another": {first: []string{"0002", "0003"}, then: []string{"0001"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := newChain(t)
			v, _ := c.stay("ZY0961", line("0001", "10.00", "2", "5.00"), line("0002", "12.5", "3", "0"), line("0003", "1.00", "1", "0"))
			c.sim.Inject(wisim.Fault{Code: "GYR001", Kind: wisim.FaultLostReply})
			if r := c.handle("m-first", "GYR001", gyr001(v, tc.first...), false); r.Status != sdk.StatusFailed || !r.Retryable {
				t.Fatalf("lost answer: status %s (retryable %v), want failed and retryable: %s", r.Status, r.Retryable, r.Diagnostics)
			}
			sent := len(c.sim.Received("GYR001"))
			r := c.handle("m-then", "GYR001", gyr001(v, tc.then...), false)
			if tc.wait {
				c.wantWait(t, r, "GYR001", sent, "$.ykc700", "rule revocation-outcome-known")
				return
			}
			c.mustOK(r)
			// The first is reconciled as it was, the lines of both revoked.
			c.mustOK(c.handle("m-first", "GYR001", gyr001(v, tc.first...), true))
		})
	}
}
