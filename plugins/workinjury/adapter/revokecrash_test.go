package adapter

import (
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/medgate/medgate/plugins/sdk"
)

// TestRevocationStoppedBeforeItsMark: a GYR001, GYR002 or GYR003 (or a
// discharge settlement, GYU103, the fee lines of its stay) records its
// serial, then marks what it revokes, then is sent. Stopped between the
// record and the mark (a crash, a store write failing), it left no mark:
// another revocation of the same, checked meanwhile, went out and was
// accepted. The first one's next attempt finds its serial unknown to the
// national system (GYD053) and would be resent as it was, unchecked, and
// refused as a double revocation (E6102, E7002, the line revoked) – a refusal of a revocation
// that did happen, which the clerk cannot act on. Its mark not in place,
// it is checked again instead: answered invalid, already revoked, nothing
// sent.
func TestRevocationStoppedBeforeItsMark(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		code        string
		prepare     func(c *chain) map[string]any
		field, rule string
		// second is the message of the same stay that goes out meanwhile
		// (code, payload); nil: the same revocation under another id.
		second func(doc map[string]any) (string, map[string]any)
	}{
		"discharge settlement": {code: "GYU103", field: "$.akc264", rule: "rule settlement=Σdetails",
			prepare: func(c *chain) map[string]any {
				v, lines := c.stay("ZY0974")
				return c.settlementOf(v, "ZY0974", lines)
			},
			second: func(doc map[string]any) (string, map[string]any) {
				return "GYU102", fees(str(doc, "ykc700"), "ZY0974", line("0003", "1.00", "1", "0"))
			}},
		"admission revocation": {code: "GYR002", field: "$.ykc700", rule: "was revoked",
			prepare: func(c *chain) map[string]any {
				v := c.admit("ZY0971")
				return map[string]any{"ykc700": v, "revoke_reason": "登记有误", "revoke_time": stampT(admitDay.Add(3 * time.Hour)), "aae011": "王五"}
			}},
		"fee-line revocation": {code: "GYR001", field: "$.details[0].detail_no", rule: "rule details-exist",
			prepare: func(c *chain) map[string]any {
				v, _ := c.stay("ZY0973")
				return map[string]any{"ykc700": v, "revoke_reason": "明细有误", "revoke_time": stampT(admitDay.Add(2 * time.Hour)), "aae011": "王五",
					"details": []any{map[string]any{"detail_no": "0002"}}}
			}},
		"settlement revocation": {code: "GYR003", field: "$.settle_no", rule: "rule settlement-uploaded",
			prepare: func(c *chain) map[string]any {
				v, no := c.settle("ZY0972")
				return map[string]any{"settle_no": no, "ykc700": v, "akb020": hospital, "revoke_reason": "结算有误", "revoke_time": stampT(admitDay.Add(80 * time.Hour)), "aae011": "王五"}
			}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := newChain(t)
			doc := tc.prepare(c)
			var stop atomic.Bool
			stop.Store(true)
			c.impl.hook = func(p string) error {
				if p == "recorded" && stop.CompareAndSwap(true, false) {
					return errors.New("stopped after the record")
				}
				return nil
			}
			if r := c.handle("m-first", tc.code, doc, false); r.Status != sdk.StatusFailed || !r.Retryable {
				t.Fatalf("stopped: status %s (retryable %v), want failed and retryable: %s", r.Status, r.Retryable, r.Diagnostics)
			}
			sent := len(c.sim.Received(tc.code))
			code2, doc2, want := tc.code, doc, sent+1
			if tc.second != nil {
				code2, doc2 = tc.second(doc)
				want = sent
			}
			c.mustOK(c.handle("m-second", code2, doc2, false))
			r := c.handle("m-first", tc.code, doc, true)
			if n := len(c.sim.Received(tc.code)); n != want {
				t.Fatalf("%s reached the national system %d times after the stop, want %d (only the second message's): first's reply %s %s (external %+v)",
					tc.code, n-sent, want-sent, r.Status, r.Diagnostics, r.External)
			}
			for range 3 {
				if !r.Waiting {
					break
				}
				r = c.handle("m-first", tc.code, doc, true)
			}
			if r.Status != sdk.StatusInvalid {
				t.Fatalf("first revocation: status %s %s (external %+v), want invalid: already revoked", r.Status, r.Diagnostics, r.External)
			}
			found := false
			for _, d := range r.Diagnostics {
				found = found || (d.Field == tc.field && strings.Contains(d.Summary, tc.rule))
			}
			if !found {
				t.Fatalf("no diagnostic at %s naming %q: %s", tc.field, tc.rule, r.Diagnostics)
			}
		})
	}
}
