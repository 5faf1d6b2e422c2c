package adapter

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/medgate/medgate/plugins/sdk"
	wisim "github.com/medgate/medgate/test/sim/workinjury"
)

// A GYU004 (GYR004) answer whose accepted_count (revoked_count) is below
// the deductions sent does not say which deductions the national system
// took (revoked): it names none one by one. Here the simulator takes the
// deductions one by one from its own rules (wisim.Config.PartialDeductions)
// and leaves out one that breaks them. Nothing is recorded (neither the
// deductions nor a known outcome), the reply is failed and not retryable
// with one ALERT, and a replay asks GYD053 again, never resends.
func TestDeductionAnswersThatCannotTellWhichWereTakenRecordNone(t *testing.T) {
	t.Parallel()
	day := admitDay.Add(10 * 24 * time.Hour)
	cases := map[string]struct {
		code    string
		partial bool
		// national plays what the agency did at the national side, unknown here.
		national func(t *testing.T, sim *wisim.Server, settleNo string)
		// ok: the answer accounts for every deduction (control).
		ok bool
	}{
		"GYU004, one over fund_pay at the national side": {code: "GYU004", partial: true, national: func(t *testing.T, sim *wisim.Server, sn string) {
			st, _ := sim.Settlement(sn)
			if err := sim.AddDeduction("NAT1", sn, st.Fund-200, "国家扣款", day); err != nil {
				t.Fatal(err)
			}
		}},
		"GYR004, one already revoked at the national side": {code: "GYR004", partial: true, national: func(t *testing.T, sim *wisim.Server, _ string) {
			if err := sim.RevokeDeduction("KC01", "国家撤销", day.Add(30*time.Minute)); err != nil {
				t.Fatal(err)
			}
		}},
		"GYU004, every deduction taken (control)":   {code: "GYU004", partial: true, ok: true},
		"GYR004, every deduction revoked (control)": {code: "GYR004", partial: true, ok: true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := newChain(t, withSim(func(cfg *wisim.Config) { cfg.PartialDeductions = tc.partial }))
			logs := &logBuffer{}
			c.connectLogged(logs)
			_, sn := c.settle("ZY0951")
			nos := []string{"KA01", "KB01"}
			if tc.code == "GYR004" {
				nos = []string{"KC01", "KD01"}
				c.mustOK(c.send("GYU004", deductions(deduction("KC01", sn, "1.00"), deduction("KD01", sn, "1.00"))))
			}
			if tc.national != nil {
				tc.national(t, c.sim, sn)
			}
			var msg map[string]any
			if tc.code == "GYU004" {
				msg = deductions(deduction("KA01", sn, "1.00"), deduction("KB01", sn, "2.00"))
			} else {
				msg = map[string]any{"deductions": []any{map[string]any{"deduct_no": "KC01"}, map[string]any{"deduct_no": "KD01"}},
					"revoke_time": stampT(day.Add(time.Hour)), "aae011": "王五"}
			}
			sent := len(c.sim.Received(tc.code))
			r := c.handle("m-deduct", tc.code, msg, false)
			if len(c.sim.Received(tc.code)) != sent+1 {
				t.Fatalf("%s did not reach the national system: %s", tc.code, r.Diagnostics)
			}
			h := hostFor(c.host, testSite)
			recorded := func() []string {
				var got []string
				for _, no := range nos {
					var st deductState
					ver, err := getJSON(t.Context(), h, "deduct/"+no, &st)
					if err != nil {
						t.Fatal(err)
					}
					if tc.code == "GYU004" && ver > 0 || tc.code == "GYR004" && st.Revoked {
						got = append(got, no)
					}
				}
				return got
			}
			if tc.ok {
				c.mustOK(r)
				if n := logs.count("ALERT"); n != 0 {
					t.Fatalf("%d ALERT lines for an answer that accounts for every deduction", n)
				}
				if got := recorded(); !slices.Equal(got, nos) {
					t.Fatalf("recorded %v, want %v", got, nos)
				}
				return
			}
			if r.Status != sdk.StatusFailed || r.Retryable {
				t.Fatalf("status %s (retryable %v), want failed and not retryable: %s", r.Status, r.Retryable, r.Diagnostics)
			}
			if !strings.Contains(r.Diagnostics.String(), "1 deduction(s) are not accounted for") {
				t.Errorf("the reply does not say what is not accounted for: %s", r.Diagnostics)
			}
			if n := logs.count("ALERT"); n != 1 {
				t.Errorf("%d ALERT lines, want 1", n)
			}
			if got := recorded(); len(got) != 0 {
				t.Fatalf("recorded as %s: %v, want none", map[string]string{"GYU004": "uploaded", "GYR004": "revoked"}[tc.code], got)
			}
			var rec sentRecord
			if _, err := getJSON(t.Context(), h, "msg/m-deduct", &rec); err != nil || rec.Done {
				t.Fatalf("the call's outcome is recorded as known (%v): %+v", err, rec)
			}
			// Replayed, GYD053 gives the same answer: still unknown, not resent.
			r = c.handle("m-deduct", tc.code, msg, true)
			if r.Status != sdk.StatusFailed || r.Retryable {
				t.Fatalf("replayed: status %s (retryable %v), want failed and not retryable: %s", r.Status, r.Retryable, r.Diagnostics)
			}
			if n := len(c.sim.Received(tc.code)); n != sent+1 {
				t.Fatalf("%s reached the national system %d times, want once", tc.code, n-sent)
			}
			if got := recorded(); len(got) != 0 {
				t.Fatalf("after the replay: recorded %v, want none", got)
			}
		})
	}
}
