package adapter

import (
	"encoding/json"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/medgate/medgate/plugins/sdk"
	wisim "github.com/medgate/medgate/test/sim/workinjury"
)

// TestGivenUpRevocationNamedForReplay: a GYR002 or GYR003 whose answer was
// lost and which is then given up by the host (the DLQ) keeps its mark, and
// every later message of the stay waits (revocation-outcome-known) until
// someone replays it. The adapter cannot tell it from one still retried, so
// it does not resolve it itself; but once the revocation has been without
// an outcome for longer than the upload deadline, the waiting reply names it
// as the message to replay, with the command, and an ALERT line and a
// workinjury.revocation.stale event (once per revocation) tell operators.
// Before, the reply only said "if it is in the DLQ, replay it" and nothing
// alerted. Within the deadline the reply stays as it was: the revocation is
// probably still being retried.
func TestGivenUpRevocationNamedForReplay(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		code    string
		prepare func(c *chain) (first, then map[string]any)
	}{
		"admission revocation": {code: "GYR002", prepare: func(c *chain) (map[string]any, map[string]any) {
			v := c.admit("ZY0971")
			m := map[string]any{"ykc700": v, "revoke_reason": "登记有误", "revoke_time": stampT(admitDay.Add(3 * time.Hour)), "aae011": "王五"}
			return m, m
		}},
		"settlement revocation": {code: "GYR003", prepare: func(c *chain) (map[string]any, map[string]any) {
			v, no := c.settle("ZY0972")
			m := map[string]any{"settle_no": no, "ykc700": v, "akb020": hospital, "revoke_reason": "结算有误",
				"revoke_time": stampT(admitDay.Add(80 * time.Hour)), "aae011": "王五"}
			return m, m
		}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var later atomic.Int64
			c := newChain(t, withClock(func() time.Time { return time.Now().Add(time.Duration(later.Load())) }))
			logs := &logBuffer{}
			c.logger = slog.New(slog.NewTextHandler(logs, nil))
			c.connect()
			first, then := tc.prepare(c)
			c.sim.Inject(wisim.Fault{Code: tc.code, Kind: wisim.FaultLostReply})
			if r := c.handle("m-given-up", tc.code, first, false); r.Status != sdk.StatusFailed || !r.Retryable {
				t.Fatalf("lost answer: status %s (retryable %v): %s", r.Status, r.Retryable, r.Diagnostics)
			}
			replay := "medgate replay m-given-up"

			// Within the deadline: a wait, nothing named for replay yet.
			r := c.handle("m-then-1", tc.code, then, false)
			if !r.Waiting || !strings.Contains(r.Diagnostics.String(), "revocation-outcome-known") {
				t.Fatalf("want a wait for the revocation: %s", r.Diagnostics)
			}
			if strings.Contains(r.Diagnostics.String(), replay) || strings.Contains(logs.buf.String(), "ALERT") {
				t.Fatalf("a revocation sent moments ago is named for replay: %s\n%s", r.Diagnostics, logs.buf.String())
			}

			// Past the deadline (the revocation given up, never attempted
			// again): the reply names it, an ALERT and an event say so,
			// once.
			later.Store(int64(31 * time.Minute))
			for i, id := range []string{"m-then-2", "m-then-3"} {
				r := c.handle(id, tc.code, then, false)
				if !r.Waiting || r.Status != sdk.StatusFailed || !r.Retryable {
					t.Fatalf("%s: status %s (waiting %v), want a retryable wait: %s", id, r.Status, r.Waiting, r.Diagnostics)
				}
				d := r.Diagnostics.String()
				for _, want := range []string{replay, "m-given-up (" + tc.code, "no known outcome for 31m"} {
					if !strings.Contains(d, want) {
						t.Errorf("%s: the waiting reply does not say %q: %s", id, want, d)
					}
				}
				if n := strings.Count(logs.buf.String(), "ALERT"); n != 1 {
					t.Errorf("after %d waiting message(s): %d ALERT lines, want 1:\n%s", i+1, n, logs.buf.String())
				}
			}
			if !strings.Contains(logs.buf.String(), "replay=m-given-up") {
				t.Errorf("the ALERT does not name the message to replay:\n%s", logs.buf.String())
			}
			evs := c.events("workinjury.revocation.stale")
			if len(evs) != 1 {
				t.Fatalf("%d workinjury.revocation.stale events, want 1", len(evs))
			}
			var ev map[string]any
			if err := json.Unmarshal(evs[0].Payload, &ev); err != nil || ev["messageId"] != "m-given-up" || ev["code"] != tc.code || ev["fix"] != replay {
				t.Errorf("event payload %s (%v)", evs[0].Payload, err)
			}

			// The replay reconciles it with GYD053, never sending it
			// again; the waiting message then goes on (already revoked).
			sent := len(c.sim.Received(tc.code))
			c.mustOK(c.handle("m-given-up", tc.code, first, true))
			if n := len(c.sim.Received(tc.code)); n != sent {
				t.Fatalf("the replay sent %s again (%d, before %d)", tc.code, n, sent)
			}
			if r := c.handle("m-then-3", tc.code, then, true); r.Status != sdk.StatusInvalid {
				t.Fatalf("after the replay: status %s, want invalid (already revoked): %s", r.Status, r.Diagnostics)
			}
			// What said the ALERT was given goes with the mark: a key per
			// given-up revocation is not kept for ever.
			if left, err := c.host.Scan(t.Context(), testSite, "revstale/", 0); err != nil || len(left) != 0 {
				t.Errorf("after the replay, %d revstale/ keys are left (%v), want none", len(left), err)
			}
		})
	}
}

// TestSettlementWaitingForGivenUpLineRevocation: a discharge settlement
// (GYU103) waits while a fee-detail revocation (GYR001) of its stay has no
// known outcome (the lines may be gone at the national system). A GYR001
// given up by the host (the DLQ) held it back for good with a reply that
// only said "if it is in the DLQ, replay it": unlike a message waiting for
// a GYR002 or GYR003, nothing named the revocation as the message to
// replay and no ALERT or workinjury.revocation.stale event said so once it
// had been without an outcome for longer than the upload deadline. Now it
// does, once, as for any message waiting for a revocation.
func TestSettlementWaitingForGivenUpLineRevocation(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		lines []string // the lines the GYR001 names; none: every line
	}{
		"one line":   {lines: []string{"0002"}},
		"every line": {},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var later atomic.Int64
			c := newChain(t, withClock(func() time.Time { return time.Now().Add(time.Duration(later.Load())) }))
			logs := &logBuffer{}
			c.logger = slog.New(slog.NewTextHandler(logs, nil))
			c.connect()
			v, lines := c.stay("ZY0973")
			rev := map[string]any{"ykc700": v, "revoke_reason": "明细有误", "revoke_time": stampT(admitDay.Add(2 * time.Hour)), "aae011": "王五"}
			var named []any
			for _, no := range tc.lines {
				named = append(named, map[string]any{"detail_no": no})
			}
			if len(named) > 0 {
				rev["details"] = named
			}
			c.sim.Inject(wisim.Fault{Code: "GYR001", Kind: wisim.FaultLostReply})
			if r := c.handle("m-lines-given-up", "GYR001", rev, false); r.Status != sdk.StatusFailed || !r.Retryable {
				t.Fatalf("lost answer: status %s (retryable %v): %s", r.Status, r.Retryable, r.Diagnostics)
			}
			replay := "medgate replay m-lines-given-up"
			settlement := c.settlementOf(v, "ZY0973", lines)

			r := c.handle("m-settle-1", "GYU103", settlement, false)
			if !r.Waiting || !strings.Contains(r.Diagnostics.String(), "revocation-outcome-known") {
				t.Fatalf("want a wait for the revocation: %s", r.Diagnostics)
			}
			if strings.Contains(r.Diagnostics.String(), replay) || strings.Contains(logs.buf.String(), "ALERT") {
				t.Fatalf("a revocation sent moments ago is named for replay: %s\n%s", r.Diagnostics, logs.buf.String())
			}

			later.Store(int64(31 * time.Minute))
			for i := range 2 {
				r := c.handle("m-settle-1", "GYU103", settlement, false)
				if !r.Waiting || r.Status != sdk.StatusFailed || !r.Retryable {
					t.Fatalf("attempt %d: status %s (waiting %v), want a retryable wait: %s", i+2, r.Status, r.Waiting, r.Diagnostics)
				}
				d := r.Diagnostics.String()
				for _, want := range []string{replay, "m-lines-given-up (GYR001", "no known outcome for 31m"} {
					if !strings.Contains(d, want) {
						t.Errorf("attempt %d: the waiting reply does not say %q: %s", i+2, want, d)
					}
				}
				if n := strings.Count(logs.buf.String(), "ALERT: a revocation"); n != 1 {
					t.Errorf("attempt %d: %d stale-revocation ALERT lines, want 1:\n%s", i+2, n, logs.buf.String())
				}
			}
			evs := c.events("workinjury.revocation.stale")
			if len(evs) != 1 {
				t.Fatalf("%d workinjury.revocation.stale events, want 1", len(evs))
			}
			var ev map[string]any
			if err := json.Unmarshal(evs[0].Payload, &ev); err != nil || ev["messageId"] != "m-lines-given-up" || ev["code"] != "GYR001" || ev["fix"] != replay {
				t.Errorf("event payload %s (%v)", evs[0].Payload, err)
			}

			// The replay reconciles it; the settlement goes on, and what
			// said the ALERT was given goes with the mark.
			c.mustOK(c.handle("m-lines-given-up", "GYR001", rev, true))
			if left, err := c.host.Scan(t.Context(), testSite, "revstale/", 0); err != nil || len(left) != 0 {
				t.Errorf("after the replay, %d revstale/ keys are left (%v), want none", len(left), err)
			}
		})
	}
}
