package adapter

import (
	"strings"
	"testing"

	"github.com/medgate/medgate/plugins/sdk"
	wisim "github.com/medgate/medgate/test/sim/workinjury"
)

// smallMonthInParts settles stay ZY0901 and deducts from it: the
// institution's May 2025 has two records, sent here in two parts. It
// returns part 1 (the settlement) and part 2 (the deduction).
func smallMonthInParts(t *testing.T, c *chain) (p1, p2 map[string]any) {
	t.Helper()
	_, s := c.settle("ZY0901")
	c.mustOK(c.send("GYU004", deductions(deduction("KQ0001", s, "1.00"))))
	whole := c.monthly(hospital, "202505")
	if n := len(whole["items"].([]any)); n != 2 {
		t.Fatalf("the month has %d records, want 2", n)
	}
	return part(whole, 1, 2, 0, 1), part(whole, 2, 2, 1, 2)
}

// A platform that lost medgate's reply to a part of a monthly settlement
// sends the same part again under a new message id. The part is settled:
// the reply is ok with the earlier message's answer (its
// month_settle_no) and a warning naming that message, and nothing is sent
// again. It used to be invalid (rule once-per-part) for business that had
// succeeded. A part with the same number but other items is still
// refused, and the refusal says the part is settled and by which message;
// a part whose earlier message has no outcome yet waits for it.
func TestMonthPartSentAgainUnderNewID(t *testing.T) {
	t.Parallel()
	hasWarning := func(r *sdk.HandleResponse, words ...string) bool {
		for _, d := range r.Diagnostics {
			if d.Severity != sdk.SeverityWarning || d.Field != "$.part_no" {
				continue
			}
			all := true
			for _, w := range words {
				all = all && strings.Contains(d.Summary+" "+d.Detail, w)
			}
			if all {
				return true
			}
		}
		return false
	}
	tests := map[string]func(t *testing.T, c *chain, p1, p2 map[string]any){
		"accepted part, same items": func(t *testing.T, c *chain, p1, _ map[string]any) {
			no := c.mustOK(c.handle("m-p1", "GYU003", p1, false))["month_settle_no"]
			n := len(c.sim.Received("GYU003"))
			r := c.handle("m-p1-again", "GYU003", p1, false)
			out := c.mustOK(r)
			if out["month_settle_no"] != no || len(c.sim.Received("GYU003")) != n {
				t.Fatalf("answered %v after sending %d more, want month_settle_no %v and nothing sent", out, len(c.sim.Received("GYU003"))-n, no)
			}
			if !hasWarning(r, "m-p1", "already") || r.External == nil || r.External.MsgID == "" {
				t.Fatalf("the reply does not name the earlier message and its serial: %s %+v", r.Diagnostics, r.External)
			}
		},
		"accepted part, other items": func(t *testing.T, c *chain, p1, p2 map[string]any) {
			c.mustOK(c.handle("m-p1", "GYU003", p1, false))
			other := with(p1, "items", p2["items"])
			r := c.handle("m-p1-other", "GYU003", other, false)
			c.wantInvalid(t, r, "GYU003", len(c.sim.Received("GYU003")), "$.part_no", "rule once-per-part")
			if !strings.Contains(r.Diagnostics.String(), "m-p1") || !strings.Contains(r.Diagnostics.String(), "settled") {
				t.Fatalf("the refusal does not say the part is settled, and by which message: %s", r.Diagnostics)
			}
		},
		"part without an outcome yet": func(t *testing.T, c *chain, p1, _ map[string]any) {
			c.sim.Inject(wisim.Fault{Code: "GYU003", Kind: wisim.FaultLostReply})
			if r := c.handle("m-p1", "GYU003", p1, false); r.Status != sdk.StatusFailed || !r.Retryable {
				t.Fatalf("a lost reply answered %s (retryable %v)", r.Status, r.Retryable)
			}
			n := len(c.sim.Received("GYU003"))
			c.wantWait(t, c.handle("m-p1-again", "GYU003", p1, false), "GYU003", n, "$.part_no", "rule once-per-part")
			no := c.mustOK(c.handle("m-p1", "GYU003", p1, true))["month_settle_no"]
			if out := c.mustOK(c.handle("m-p1-again", "GYU003", p1, true)); out["month_settle_no"] != no {
				t.Fatalf("once the earlier part is known accepted, the part again answered %v, want month_settle_no %v", out, no)
			}
		},
		"refused part, same items": func(t *testing.T, c *chain, p1, _ map[string]any) {
			c.sim.Inject(wisim.Fault{Code: "GYU003", Kind: wisim.FaultBusiness, ErrCode: "E8006", ErrMessage: "月结明细有误"})
			if r := c.handle("m-p1", "GYU003", p1, false); r.Status != sdk.StatusRejected {
				t.Fatalf("the refused part answered %s", r.Status)
			}
			n := len(c.sim.Received("GYU003"))
			c.mustOK(c.handle("m-p1-again", "GYU003", p1, false))
			if len(c.sim.Received("GYU003")) != n+1 {
				t.Fatalf("the part sent again after a refusal was not sent")
			}
		},
	}
	for name, run := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := newChain(t)
			p1, p2 := smallMonthInParts(t, c)
			run(t, c, p1, p2)
		})
	}
}

// The same holds for a month in one call: the same monthly settlement
// (its items the month's records known here, its header their sums) sent
// again under a new message id gets the earlier message's answer, nothing
// sent; while that message has no outcome, it waits for it.
func TestMonthSentAgainUnderNewID(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		lost bool // the earlier message's reply is lost: no outcome yet
	}{
		"accepted":           {},
		"without an outcome": {lost: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := newChain(t)
			_, s := c.settle("ZY0902")
			c.mustOK(c.send("GYU004", deductions(deduction("KQ0002", s, "1.00"))))
			m := c.monthly(hospital, "202505")
			if tc.lost {
				c.sim.Inject(wisim.Fault{Code: "GYU003", Kind: wisim.FaultLostReply})
				if r := c.handle("m-month", "GYU003", m, false); r.Status != sdk.StatusFailed {
					t.Fatalf("a lost reply answered %s", r.Status)
				}
				c.wantWait(t, c.handle("m-month-again", "GYU003", m, false), "GYU003", len(c.sim.Received("GYU003")), "$.settle_month", "rule once-per-month")
			}
			no := c.mustOK(c.handle("m-month", "GYU003", m, tc.lost))["month_settle_no"]
			n := len(c.sim.Received("GYU003"))
			r := c.handle("m-month-again", "GYU003", m, tc.lost)
			if out := c.mustOK(r); out["month_settle_no"] != no || len(c.sim.Received("GYU003")) != n {
				t.Fatalf("answered %v after sending %d more, want month_settle_no %v and nothing sent", out, len(c.sim.Received("GYU003"))-n, no)
			}
			named := false
			for _, d := range r.Diagnostics {
				named = named || (d.Severity == sdk.SeverityWarning && d.Field == "$.settle_month" && strings.Contains(d.Summary, "m-month"))
			}
			if !named {
				t.Fatalf("the reply does not name the earlier message: %s", r.Diagnostics)
			}
		})
	}
}
