package adapter

import (
	"strings"
	"testing"

	"github.com/medgate/medgate/plugins/sdk"
	wisim "github.com/medgate/medgate/test/sim/workinjury"
)

// TestRefusedFeedbackOfAnOnDemandDownload: a download asked for by a
// message (no job runs it again in 30 minutes) whose feedback the national
// system refuses has published its records, but its batch is not
// acknowledged, and the national system hands out no new batch of the
// code until it is. The reply must not be the final "rejected" of the
// download (nothing would send the feedback again, and the download was
// not refused): it is a retryable failure naming GYU008 and its answer,
// and the retry of the message feeds the batch back under a new serial.
func TestRefusedFeedbackOfAnOnDemandDownload(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		code  string
		event string
		seed  func(*wisim.Server)
	}{
		"institutions (GYD009)": {code: "GYD009", event: "workinjury.institution.downloaded", seed: func(s *wisim.Server) {
			s.AddInstitution(wisim.SampleInstitution("H35020300777", "厦门市示例医院", "1", "350200"))
		}},
		"filings (GYD006)": {code: "GYD006", event: "workinjury.filing.downloaded", seed: func(s *wisim.Server) {
			s.AddFiling(wisim.SampleFiling("FBR", 1, "350200"))
		}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, withSeed(tc.seed))
			e.sim.Inject(wisim.Fault{Code: "GYU008", Kind: wisim.FaultBusiness, ErrCode: "E9001", ErrMessage: "系统繁忙"})
			id := "m-" + tc.code + "-refused-feedback"
			r := e.handle(id, tc.code, map[string]any{}, false)
			if r.Status != sdk.StatusFailed || !r.Retryable {
				t.Fatalf("reply %s (retryable %v) %s; want a retryable failure: the feedback must be sent again", r.Status, r.Retryable, r.Diagnostics)
			}
			if d := r.Diagnostics.String(); !strings.Contains(d, "GYU008") || !strings.Contains(d, "E9001") {
				t.Errorf("diagnostics %s; want GYU008 and the national code named", d)
			}
			if n := len(e.events(tc.event)); n != 1 {
				t.Fatalf("%d events, want the record published once", n)
			}
			r = e.handle(id, tc.code, map[string]any{}, true) // the host's retry
			if r.Status != sdk.StatusOK {
				t.Fatalf("retry: %s %s", r.Status, r.Diagnostics)
			}
			b := nonEmpty(e.sim.Batches(tc.code))
			if len(b) != 1 || !b[0].Acked || b[0].Feedbacks != 1 || b[0].Deliveries != 1 {
				t.Fatalf("batches %+v; want the batch acknowledged by the retry", b)
			}
			if fb := e.sim.Received("GYU008"); len(fb) != 2 || fb[0].Serial == fb[1].Serial {
				t.Fatalf("GYU008 sent %d times, want twice under distinct serials", len(fb))
			}
			if n := len(e.events(tc.event)); n != 1 {
				t.Fatalf("%d events after the retry, want the record published once", n)
			}
		})
	}
}

// TestRefusedFeedbackOfACompleteRedownload: the complete re-download a
// fee-detail revocation queues (GYD401 → GYD102 full_flag 1) ran, and
// only its feedback was refused. That is no refusal of the re-download:
// it is not counted towards dropping it (which would tell staff to
// download by hand what was delivered, and stop asking for a batch that
// still has to be fed back), the GYD401 reply is a retryable failure
// naming GYU008, and the re-download stays queued until its batch is fed
// back.
func TestRefusedFeedbackOfACompleteRedownload(t *testing.T) {
	t.Parallel()
	c := newChain(t)
	v, _ := c.stay("ZY0981")
	c.mustOK(c.send("GYD101", map[string]any{}))
	c.mustOK(c.send("GYD102", map[string]any{"akb020": hospital, "akc190": "ZY0981"}))
	c.mustOK(c.send("GYR001", map[string]any{"ykc700": v, "details": []any{map[string]any{"detail_no": "0001"}},
		"revoke_reason": "明细有误", "revoke_time": revokeT(3), "aae011": "王五"}))
	c.sim.Inject(wisim.Fault{Code: "GYU008", Kind: wisim.FaultBusiness, Times: -1, ErrCode: "E9001", ErrMessage: "系统繁忙",
		Match: func(in map[string]any) bool { return in["download_code"] == "GYD102" }})
	h := hostFor(c.host, testSite)
	for run := 1; run <= redownloadTries; run++ {
		r := c.send("GYD401", map[string]any{})
		if r.Status != sdk.StatusFailed || !r.Retryable || !strings.Contains(r.Diagnostics.String(), "GYU008") {
			t.Fatalf("run %d: GYD401 reply %s (retryable %v) %s; want a retryable failure naming the refused GYU008", run, r.Status, r.Retryable, r.Diagnostics)
		}
		if entries, err := h.Scan(t.Context(), "redl/", 10); err != nil || len(entries) != 1 {
			t.Fatalf("run %d: queued %v (%v), want the re-download still queued", run, entries, err)
		}
	}
	if n := len(c.events("workinjury.redownload.dropped")); n != 0 {
		t.Fatalf("%d workinjury.redownload.dropped events: a refused feedback dropped the re-download", n)
	}
	c.sim.ClearFaults()
	c.mustOK(c.send("GYD401", map[string]any{}))
	if entries, err := h.Scan(t.Context(), "redl/", 10); err != nil || len(entries) != 0 {
		t.Fatalf("queued %v (%v) once the feedback was accepted, want none", entries, err)
	}
	for _, b := range nonEmpty(c.sim.Batches("GYD102")) {
		if !b.Acked {
			t.Fatalf("GYD102 batches %+v: want every one acknowledged", c.sim.Batches("GYD102"))
		}
	}
}
