package adapter

import (
	"encoding/json"
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

// TestRepliesTellOfAGivenUpSet: the upload a set's last part runs stops
// part-way and its message is given up (no attempt of it for claimLapse:
// lastPartGivenUp). import-pending still said the set "is whole and its
// upload runs" (status uploading), and the refusal of a part that names
// the visit's set in progress said its parts were in progress: the office
// waited for an upload no one ran. They now say the upload of the set was
// given up, naming its message, and what to do: send the last part again
// under a new message id, or replay the message if it is failed; each
// way, done as the reply says, uploads the stay whole.
func TestRepliesTellOfAGivenUpSet(t *testing.T) {
	t.Parallel()
	testCases := map[string]struct {
		id      string // the message that takes the upload up again
		attempt int
	}{
		"the last part again under a new message id": {id: "tg-s1-3-again", attempt: 1},
		"the given-up message replayed":              {id: "tg-s1-3", attempt: 2},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var skew atomic.Int64
			e := newEnvSim(t, selfpaysim.Options{PaasID: testPaas, Token: testToken, MaxSkew: 3 * time.Hour},
				func(s map[string]string) { s["batchSize"] = "10" })
			e.restartWith(New(WithPauseMargin(0), WithClock(func() time.Time { return time.Now().Add(time.Duration(skew.Load())) })), e.host)
			const id = "ZYTG"
			parts, total := stayInParts(id, "S1", 60, 3)
			wantStatus(t, e.must(OpUpload, "tg-s1-1", parts[0], 1), sdk.StatusOK)
			wantStatus(t, e.must(OpUpload, "tg-s1-2", parts[1], 1), sdk.StatusOK)
			e.sim.Fail(selfpaysim.Fault{Infno: "4201A", Mode: selfpaysim.FaultBusiness, Message: "系统繁忙，请稍后再试", After: 1, Times: 1})
			if r := e.must(OpUpload, "tg-s1-3", parts[2], 1); r.Status != sdk.StatusFailed || !r.Retryable {
				t.Fatalf("the last part's upload answered %s %v, want a retryable failure: the test does not test", r.Status, r.Diagnostics)
			}
			csv := "医药机构就诊ID,姓名,身份证号,入院时间\n" + id + ",张三," + testCert + ",2025-03-25\n"
			pending := func(msg string) (status, reason string) {
				t.Helper()
				var out struct {
					Patients []pendingReport `json:"patients"`
				}
				r := e.must(OpImportPending, msg, map[string]any{"filename": "p.csv", "content": b64(csv)}, 1)
				wantStatus(t, r, sdk.StatusOK)
				if err := json.Unmarshal(r.Payload, &out); err != nil || len(out.Patients) != 1 {
					t.Fatalf("import-pending: %s (%v)", r.Payload, err)
				}
				return out.Patients[0].Status, out.Patients[0].Reason
			}
			// Within claimLapse the upload may still be retried: it runs.
			if status, reason := pending("tg-pending-1"); !strings.Contains(reason, "its upload runs (message tg-s1-3)") || strings.Contains(reason, "given up") {
				t.Errorf("within claimLapse import-pending says %s: %s; want its upload running", status, reason)
			}
			skew.Store(int64(31 * time.Minute)) // past claimLapse (30m): given up
			status, reason := pending("tg-pending-2")
			for _, want := range []string{"given up", "message tg-s1-3", "send part 3 of set S1 again under a new message id", "`medgate replay tg-s1-3`"} {
				if !strings.Contains(reason, want) {
					t.Errorf("import-pending's reason does not say %q: %s", want, reason)
				}
			}
			if status != statusFailed || strings.Contains(reason, "upload runs") || strings.Contains(reason, "in progress") {
				t.Errorf("import-pending says %s: %s; want failed, the upload given up, not running", status, reason)
			}
			// A refusal naming the visit's set says the same.
			stray, _ := stayInParts(id, "S9", 60, 3)
			r := e.must(OpUpload, "tg-s9-2", stray[1], 1)
			wantStatus(t, r, sdk.StatusInvalid)
			if d := r.Diagnostics.String(); !strings.Contains(d, "given up") || !strings.Contains(d, "tg-s1-3") || strings.Contains(d, "in progress") {
				t.Errorf("the refusal of a part of a set not begun does not tell of the given-up upload of set S1: %s", d)
			}
			// Done as the reply says, the stay is uploaded whole.
			wantStatus(t, e.must(OpUpload, tc.id, parts[2], tc.attempt), sdk.StatusOK)
			wantLedger(t, e.sim, id, 60, total)
			if status, reason := pending("tg-pending-3"); status != statusUploaded {
				t.Errorf("after the upload import-pending says %s: %s", status, reason)
			}
		})
	}
}
