package adapter

import (
	"strings"
	"testing"
	"time"

	"github.com/medgate/medgate/plugins/sdk"
	wisim "github.com/medgate/medgate/test/sim/workinjury"
)

// A settlement clerk's replies when the answer of an upload was lost: the
// national system processed it, its answer never arrived, and the next
// attempt found the outcome with GYD053. The reply is that outcome (the
// figures the national system holds), nothing was sent twice, and it says
// so, also when the message is delivered again later.
func TestReconciledReplySaysWhatHappened(t *testing.T) {
	t.Parallel()
	revocation := func(v, settleNo string) map[string]any {
		return map[string]any{"settle_no": settleNo, "ykc700": v, "akb020": hospital, "revoke_reason": "结算有误",
			"revoke_time": stampT(admitDay.Add(80 * time.Hour)), "aae011": "王五"}
	}
	cases := map[string]struct {
		code string
		// prepare runs the stay up to the message and returns it.
		prepare func(c *chain) map[string]any
		// check compares the reply with the simulator's ledger.
		check func(t *testing.T, c *chain, out map[string]any)
	}{
		"settlement": {code: "GYU103",
			prepare: func(c *chain) map[string]any {
				v, lines := c.stay("ZY0921")
				return c.settlementOf(v, "ZY0921", lines)
			},
			check: func(t *testing.T, c *chain, out map[string]any) {
				all := c.sim.Settlements("")
				if len(all) != 1 {
					t.Fatalf("the national system holds %d settlements of the stay, want 1", len(all))
				}
				if out["settle_no"] != all[0].SettleNo {
					t.Errorf("reply settle_no %v, ledger %s", out["settle_no"], all[0].SettleNo)
				}
			}},
		"settlement revocation": {code: "GYR003",
			prepare: func(c *chain) map[string]any { return revocation(c.settle("ZY0922")) },
			check: func(t *testing.T, c *chain, out map[string]any) {
				all := c.sim.Settlements("")
				if len(all) != 1 || !all[0].Revoked {
					t.Fatalf("ledger settlements %+v, want the one settlement revoked", all)
				}
				if n := len(c.sim.Received("GYR003")); n != 1 {
					t.Errorf("GYR003 reached the national system %d times, want 1", n)
				}
			}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := newChain(t)
			msg := tc.prepare(c)
			c.sim.Inject(wisim.Fault{Code: tc.code, Kind: wisim.FaultLostReply})
			if r := c.handle("m-lost", tc.code, msg, false); r.Status != sdk.StatusFailed || !r.Retryable {
				t.Fatalf("lost answer: status %s (retryable %v), want failed and retryable: %s", r.Status, r.Retryable, r.Diagnostics)
			}
			first := c.handle("m-lost", tc.code, msg, true)
			again := c.handle("m-lost", tc.code, msg, true) // delivered once more: the stored outcome
			for i, r := range []*sdk.HandleResponse{first, again} {
				out := c.mustOK(r)
				tc.check(t, c, out)
				serial := r.External.MsgID
				var note *sdk.Diagnostic
				for j := range r.Diagnostics {
					if d := &r.Diagnostics[j]; d.Rule == "reconciled" {
						note = d
					}
				}
				if note == nil {
					t.Fatalf("reply %d does not say that the answer was lost and the outcome found with GYD053: %s", i+1, r.Diagnostics)
				}
				if note.Severity != sdk.SeverityWarning || !strings.Contains(note.Summary, serial) || !strings.Contains(note.Summary, "GYD053") {
					t.Errorf("reply %d: the note %q does not name the serial %s and GYD053", i+1, note.Summary, serial)
				}
			}
		})
	}
}
