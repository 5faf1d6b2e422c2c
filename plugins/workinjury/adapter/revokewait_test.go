package adapter

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/medgate/medgate/plugins/sdk"
	wisim "github.com/medgate/medgate/test/sim/workinjury"
)

// A revocation whose answer was lost (processed at the national system,
// its outcome unknown until its next attempt reconciles it with GYD053)
// may or may not have revoked what it names. A message that depends on
// that outcome – the same revocation under another message id, an
// admission with the inpatient number the revocation frees, an admission
// revocation that needs the fee lines revoked – waits, nothing sent, and
// goes through once the revocation's outcome is known. Before, the
// revocation was sent again (and refused, E7002/E7003), or the message was
// refused with advice that did not fit (unique-inpatient-number: "revoke
// with GYR002"; no-valid-details: "revoke them with GYR001").
func TestMessagesWaitForARevocationWithoutAKnownOutcome(t *testing.T) {
	t.Parallel()
	revokeTime := stampT(admitDay.Add(80 * time.Hour))
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
	gyr002 := func(v string) map[string]any {
		return map[string]any{"ykc700": v, "revoke_reason": "登记有误", "revoke_time": stampT(admitDay.Add(3 * time.Hour)), "aae011": "王五"}
	}
	gyr003 := func(v, settleNo string) map[string]any {
		return map[string]any{"settle_no": settleNo, "ykc700": v, "akb020": hospital, "revoke_reason": "结算有误", "revoke_time": revokeTime, "aae011": "王五"}
	}
	cases := map[string]struct {
		// prepare runs the stay and returns the revocation whose answer
		// is lost (code first) and the message that depends on it (code
		// then).
		prepare     func(c *chain) (first, then map[string]any)
		first, then string
		// field is where the wait is reported; after is the status of
		// the dependent message once the revocation is reconciled, and
		// afterRule the rule (at afterField) when it is invalid.
		field                 string
		after                 sdk.Status
		afterField, afterRule string
	}{
		"admission again while the settlement revocation is unknown": {first: "GYR003", then: "GYU101", field: "$.akc190", after: sdk.StatusOK,
			prepare: func(c *chain) (map[string]any, map[string]any) {
				v, no := c.settle("ZY0951")
				return gyr003(v, no), c.admission("ZY0951")
			}},
		"settlement revoked twice": {first: "GYR003", then: "GYR003", field: "$.settle_no", after: sdk.StatusInvalid, afterField: "$.settle_no", afterRule: "rule settlement-uploaded",
			prepare: func(c *chain) (map[string]any, map[string]any) {
				v, no := c.settle("ZY0952")
				return gyr003(v, no), gyr003(v, no)
			}},
		"admission again while the admission revocation is unknown": {first: "GYR002", then: "GYU101", field: "$.akc190", after: sdk.StatusOK,
			prepare: func(c *chain) (map[string]any, map[string]any) {
				v := c.admit("ZY0953")
				return gyr002(v), c.admission("ZY0953")
			}},
		"admission revoked twice": {first: "GYR002", then: "GYR002", field: "$.ykc700", after: sdk.StatusInvalid, afterField: "$.ykc700", afterRule: "was revoked",
			prepare: func(c *chain) (map[string]any, map[string]any) {
				v := c.admit("ZY0954")
				return gyr002(v), gyr002(v)
			}},
		"fee line revoked twice": {first: "GYR001", then: "GYR001", field: "$.ykc700", after: sdk.StatusInvalid, afterField: "$.details[0].detail_no", afterRule: "rule details-exist",
			prepare: func(c *chain) (map[string]any, map[string]any) {
				v, _ := c.stay("ZY0955")
				return gyr001(v, "0002"), gyr001(v, "0002")
			}},
		"admission revoked while its fee lines' revocation is unknown": {first: "GYR001", then: "GYR002", field: "$.ykc700", after: sdk.StatusOK,
			prepare: func(c *chain) (map[string]any, map[string]any) {
				v, _ := c.stay("ZY0956")
				return gyr001(v), gyr002(v)
			}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := newChain(t)
			first, then := tc.prepare(c)
			c.sim.Inject(wisim.Fault{Code: tc.first, Kind: wisim.FaultLostReply})
			if r := c.handle("m-first", tc.first, first, false); r.Status != sdk.StatusFailed || !r.Retryable {
				t.Fatalf("lost answer: status %s (retryable %v), want failed and retryable: %s", r.Status, r.Retryable, r.Diagnostics)
			}
			sentFirst, sentThen := len(c.sim.Received(tc.first)), len(c.sim.Received(tc.then))
			r := c.handle("m-then", tc.then, then, false)
			c.wantWait(t, r, tc.then, sentThen, tc.field, "rule revocation-outcome-known")
			if n := len(c.sim.Received(tc.first)); n != sentFirst {
				t.Fatalf("%s reached the national system %d times, before %d", tc.first, n, sentFirst)
			}
			// The revocation's next attempt finds its outcome (GYD053);
			// then the dependent message goes on by its own rules.
			c.mustOK(c.handle("m-first", tc.first, first, true))
			r = c.handle("m-then", tc.then, then, true)
			switch tc.after {
			case sdk.StatusOK:
				c.mustOK(r)
			default:
				c.wantInvalid(t, r, tc.then, len(c.sim.Received(tc.then)), tc.afterField, tc.afterRule)
			}
		})
	}
}

// Two revocations of the same checked at the same instant (different
// Kafka keys, or instances): each passed its check before the other marked
// itself. The one that marks itself second must not go out while the
// other's outcome is unknown (the national system would refuse it as a
// double revocation): it waits, nothing sent.
func TestRevocationsOfTheSameCheckedAtTheSameInstant(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		code    string
		field   string
		prepare func(c *chain) map[string]any
	}{
		"settlement": {code: "GYR003", field: "$.settle_no", prepare: func(c *chain) map[string]any {
			v, no := c.settle("ZY0961")
			return map[string]any{"settle_no": no, "ykc700": v, "akb020": hospital, "revoke_reason": "结算有误",
				"revoke_time": stampT(admitDay.Add(80 * time.Hour)), "aae011": "王五"}
		}},
		"admission": {code: "GYR002", field: "$.ykc700", prepare: func(c *chain) map[string]any {
			return map[string]any{"ykc700": c.admit("ZY0962"), "revoke_reason": "登记有误",
				"revoke_time": stampT(admitDay.Add(3 * time.Hour)), "aae011": "王五"}
		}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := newChain(t)
			msg := tc.prepare(c)
			var other *sdk.HandleResponse
			started := false
			c.impl.hook = func(p string) error {
				if p != "recorded" || started {
					return nil
				}
				started = true
				c.sim.Inject(wisim.Fault{Code: tc.code, Kind: wisim.FaultLostReply})
				other = c.handle("m-other", tc.code, msg, false)
				return nil
			}
			r := c.handle("m-first", tc.code, msg, false)
			if other == nil {
				t.Fatalf("the other %s was never handled during the first one's check", tc.code)
			}
			if other.Status != sdk.StatusFailed || !other.Retryable {
				t.Fatalf("other: status %s (retryable %v), want failed and retryable (answer lost): %s", other.Status, other.Retryable, other.Diagnostics)
			}
			c.wantWait(t, r, tc.code, 1, tc.field, "rule revocation-outcome-known")
		})
	}
}

// TestRevocationOfTheSameFinishedBetweenCheckAndMark: another revocation
// of the same settlement or visit accepted and finished between this one's
// check and its mark leaves no mark behind, so only the version the check
// read tells that it changed. This one must not go out (the national side
// refuses a double revocation); it waits, and its next attempt is answered
// by the rules: already revoked.
func TestRevocationOfTheSameFinishedBetweenCheckAndMark(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		code, field, refusal string
		prepare              func(c *chain) map[string]any
	}{
		"settlement": {code: "GYR003", field: "$.settle_no", refusal: "was revoked at", prepare: func(c *chain) map[string]any {
			v, no := c.settle("ZY0971")
			return map[string]any{"settle_no": no, "ykc700": v, "akb020": hospital, "revoke_reason": "结算有误",
				"revoke_time": stampT(admitDay.Add(80 * time.Hour)), "aae011": "王五"}
		}},
		"admission": {code: "GYR002", field: "$.ykc700", refusal: "was revoked", prepare: func(c *chain) map[string]any {
			return map[string]any{"ykc700": c.admit("ZY0972"), "revoke_reason": "登记有误",
				"revoke_time": stampT(admitDay.Add(3 * time.Hour)), "aae011": "王五"}
		}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := newChain(t)
			msg := tc.prepare(c)
			var other *sdk.HandleResponse
			started := false
			c.impl.hook = func(p string) error {
				if p != "recorded" || started {
					return nil
				}
				started = true
				other = c.handle("m-other", tc.code, msg, false)
				return nil
			}
			r := c.handle("m-first", tc.code, msg, false)
			if other == nil || other.Status != sdk.StatusOK {
				t.Fatalf("the other %s was not accepted during the first one's check: %+v", tc.code, other)
			}
			c.wantWait(t, r, tc.code, 1, tc.field, "changed")
			again := c.handle("m-first", tc.code, msg, false)
			if again.Status != sdk.StatusInvalid || !strings.Contains(fmt.Sprint(again.Diagnostics), tc.refusal) {
				t.Fatalf("next attempt: status %s, want invalid (%q): %s", again.Status, tc.refusal, again.Diagnostics)
			}
			if n := len(c.sim.Received(tc.code)); n != 1 {
				t.Fatalf("%s reached the simulator %d times, want 1 (the other one only)", tc.code, n)
			}
		})
	}
}
