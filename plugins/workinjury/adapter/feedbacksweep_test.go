package adapter

import (
	"testing"

	"github.com/medgate/medgate/plugins/sdk"
	wisim "github.com/medgate/medgate/test/sim/workinjury"
)

// TestFeedbackOfAGivenUpDownloadMessage: a download asked for by a message
// (GYD009, GYD101 … no job runs them) whose feedback fails replies a
// retryable failure, but the host gives a download up after its retry
// budget (it is no upload), and no other download of the code may come for
// days: its batch stays stored and unacknowledged, its feedback due in 30
// minutes (实时，最晚不晚于业务发生后30分钟), and the national system hands
// out nothing more of the code. The scheduled jobs (every one the plugin
// declares, as the host runs them) finish it: the batch is fed back,
// without fetching anything new.
func TestFeedbackOfAGivenUpDownloadMessage(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		code  string
		fault wisim.FaultKind
		seed  func(*wisim.Server)
	}{
		"institutions, feedback refused": {code: "GYD009", fault: wisim.FaultBusiness, seed: func(s *wisim.Server) {
			s.AddInstitution(wisim.SampleInstitution("H35020300778", "厦门市示例医院", "1", "350200"))
		}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, withSeed(tc.seed), withSettings(setFeedbackBackoff, "1ms"))
			e.sim.Inject(wisim.Fault{Code: "GYU008", Kind: tc.fault, Times: -1, ErrCode: "E9001", ErrMessage: "系统繁忙"})
			if r := e.handle("m-given-up", tc.code, map[string]any{}, false); r.Status != sdk.StatusFailed || !r.Retryable {
				t.Fatalf("reply %s (retryable %v) %s; want a retryable failure", r.Status, r.Retryable, r.Diagnostics)
			}
			// The host gave the message up; the national system is well again.
			e.sim.ClearFaults()
			fetches := len(e.sim.Received(tc.code))
			d, err := e.p.Describe(t.Context(), &sdk.DescribeRequest{})
			if err != nil {
				t.Fatal(err)
			}
			for _, j := range d.Jobs {
				e.runJob(j.Name)
			}
			b := nonEmpty(e.sim.Batches(tc.code))
			if len(b) != 1 || !b[0].Acked {
				t.Fatalf("batches %+v after a round of the jobs; want the batch acknowledged", b)
			}
			if n := len(e.sim.Received(tc.code)); n != fetches {
				t.Fatalf("%s fetched %d times by the jobs; want none (only the stored batch finished)", tc.code, n-fetches)
			}
		})
	}
}
