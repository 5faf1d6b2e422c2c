package adapter

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/medgate/medgate/plugins/sdk"
)

// A GYU102 answer that accepts the call but whose accepted_count does not
// match the lines sent less the lines it refuses by detail_no cannot tell
// which lines the national system took. Nothing is recorded (neither the
// lines nor a known outcome), the reply is failed and not retryable with an
// ALERT naming the national message, the stay cannot be settled meanwhile,
// and a replay completes once GYD053 tells which lines were taken.
func TestFeeAnswersThatCannotTellWhichLinesWereTakenRecordNone(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		answer func(answer map[string]any)
		// ok: the answer accounts for every line (control).
		ok bool
		// problem: part of the reply's detail naming what is wrong.
		problem string
	}{
		"lower count, no results": {answer: func(a map[string]any) {
			delete(a, "results")
			a["accepted_count"] = 1
		}, problem: "1 line(s) are not accounted for"},
		"lower count, every result accepted": {answer: func(a map[string]any) {
			a["accepted_count"] = 1
		}, problem: "1 line(s) are not accounted for"},
		"lower count written as a string, no results": {answer: func(a map[string]any) {
			delete(a, "results")
			a["accepted_count"] = "0"
		}, problem: "2 line(s) are not accounted for"},
		"count contradicting the refusals": {answer: func(a map[string]any) {
			refuseLine0002(a)
			a["accepted_count"] = 2
		}, problem: "contradict each other"},
		"every line accepted":          {answer: func(map[string]any) {}, ok: true},
		"refused line named (control)": {answer: refuseLine0002, ok: true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := newChain(t, withAnswers("GYU102", tc.answer))
			logs := &logBuffer{}
			c.connectLogged(logs)
			v := c.admit("ZY0901")
			lines := []map[string]any{line("0001", "10.00", "2", "5.00"), line("0002", "12.5", "3", "0")}
			msg := fees(v, "ZY0901", lines...)
			r := c.handle("m-fees", "GYU102", msg, false)
			if tc.ok {
				c.mustOK(r)
				if n := logs.count("ALERT"); n != 0 {
					t.Fatalf("%d ALERT lines for an answer that accounts for every line", n)
				}
				return
			}
			if r.Status != sdk.StatusFailed || r.Retryable {
				t.Fatalf("status %s (retryable %v), want failed and not retryable: %s", r.Status, r.Retryable, r.Diagnostics)
			}
			if !strings.Contains(r.Diagnostics.String(), tc.problem) {
				t.Errorf("the reply does not say %q: %s", tc.problem, r.Diagnostics)
			}
			if n := logs.count("ALERT"); n != 1 {
				t.Errorf("%d ALERT lines, want 1", n)
			}
			h := hostFor(c.host, testSite)
			dm, err := (&lifecycle{a: c.impl, ctx: t.Context(), h: h}).details(v)
			if err != nil {
				t.Fatal(err)
			}
			if len(dm) != 0 {
				t.Fatalf("recorded lines %+v, want none", dm)
			}
			var rec sentRecord
			if _, err := getJSON(t.Context(), h, "msg/m-fees", &rec); err != nil || rec.Done {
				t.Fatalf("the upload's outcome is recorded as known (%v): %+v", err, rec)
			}
			// The stay cannot be settled on lines nobody knows.
			cfg, err := c.impl.site(testSite)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := json.Marshal(c.settlementOf(v, "ZY0901", lines))
			doc, _, _ := decodePayload(b)
			if ds, err := c.impl.checkRules(t.Context(), h, cfg, "m-settle", "GYU103", doc); err == nil && !ds.HasError() {
				t.Fatalf("a settlement passes the rules while the lines taken are unknown")
			}
			// Replayed, GYD053 gives the simulator's full answer: both
			// lines were taken.
			c.mustOK(c.handle("m-fees", "GYU102", msg, true))
			if dm, err = (&lifecycle{a: c.impl, ctx: t.Context(), h: h}).details(v); err != nil || len(dm) != 2 {
				t.Fatalf("after the replay: recorded lines %+v (%v), want 0001 and 0002", dm, err)
			}
			if n := len(c.sim.Received("GYU102")); n != 1 {
				t.Fatalf("GYU102 reached the national system %d times, want 1", n)
			}
		})
	}
}
