package adapter

import (
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/medgate/medgate/plugins/sdk"
	selfpaysim "github.com/medgate/medgate/test/sim/selfpay"
)

// TestUploadPartsAfterALastPartGivenUp: the upload a set's last part runs
// stops part-way (the platform busy after its first 4201A batch: failed,
// retryable), and its message is given up (the DLQ: a plugin crash loop,
// or staff stop retrying it), half of the stay on the platform. The HIS
// then sends the stay again, as a new set or its last part under a new
// message id. While the given-up message's claim on the visit holds
// (claimLapse), the new message waits; once it lapsed, the new message
// uploads the stay, which ends on the platform whole, every line once.
func TestUploadPartsAfterALastPartGivenUp(t *testing.T) {
	t.Parallel()
	testCases := map[string]struct {
		// again is the stay sent again: the messages and their payloads.
		again func(mdtrt string) ([]string, []map[string]any)
		says  string // the first message's reply once the claim lapsed
	}{
		"a new set": {again: func(mdtrt string) ([]string, []map[string]any) {
			parts, _ := stayInParts(mdtrt, "S2", 60, 2)
			return []string{"gu-s2-1", "gu-s2-2"}, parts
		}, says: "set S1"},
		"the last part under a new message id": {again: func(mdtrt string) ([]string, []map[string]any) {
			parts, _ := stayInParts(mdtrt, "S1", 60, 3)
			return []string{"gu-s1-3-again"}, parts[2:]
		}},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var skew atomic.Int64
			e := newEnvSim(t, selfpaysim.Options{PaasID: testPaas, Token: testToken, MaxSkew: 3 * time.Hour},
				func(s map[string]string) { s["batchSize"] = "10" })
			e.restartWith(New(WithPauseMargin(0), WithClock(func() time.Time { return time.Now().Add(time.Duration(skew.Load())) })), e.host)
			const id = "ZYGU"
			parts, total := stayInParts(id, "S1", 60, 3)
			wantStatus(t, e.must(OpUpload, "gu-s1-1", parts[0], 1), sdk.StatusOK)
			wantStatus(t, e.must(OpUpload, "gu-s1-2", parts[1], 1), sdk.StatusOK)
			e.sim.Fail(selfpaysim.Fault{Infno: "4201A", Mode: selfpaysim.FaultBusiness, Message: "系统繁忙，请稍后再试", After: 1, Times: 1})
			r := e.must(OpUpload, "gu-s1-3", parts[2], 1)
			wantStatus(t, r, sdk.StatusFailed)
			if !r.Retryable {
				t.Fatalf("a busy platform is not retryable: %v", r.Diagnostics)
			}
			if v := e.sim.Visit(testCode, id); len(v.Fees) != 10 || v.Complete {
				t.Fatalf("the platform holds %d lines (complete %v), want the first batch of 10", len(v.Fees), v.Complete)
			}
			// Message gu-s1-3 is given up: no attempt of it comes again.
			ids, again := tc.again(id)
			w := e.must(OpUpload, ids[0], again[0], 1)
			if w.Status != sdk.StatusFailed || !w.Retryable {
				t.Fatalf("within claimLapse the stay sent again answered %s %v, want a wait", w.Status, w.Diagnostics)
			}
			skew.Store(int64(31 * time.Minute)) // past claimLapse (30m)
			for i, p := range again {
				r := e.must(OpUpload, ids[i], p, 2)
				wantStatus(t, r, sdk.StatusOK)
				if i == 0 && tc.says != "" && !strings.Contains(r.Diagnostics.String(), tc.says) {
					t.Errorf("%s does not tell of %s: %v", ids[i], tc.says, r.Diagnostics)
				}
			}
			wantLedger(t, e.sim, id, 60, total)
			if n := e.sim.Count("4202", id); n != 1 {
				t.Errorf("4202 applied %d times", n)
			}
		})
	}
}
