package adapter

import (
	"testing"

	"github.com/medgate/medgate/plugins/sdk"
	wisim "github.com/medgate/medgate/test/sim/workinjury"
)

// TestLostFetchOfAnEmptyRequestIsAskedForAgain: a download message with no
// filters (GYD009 {}) whose answer was lost is recovered by the next
// message of its code: the batch is asked for again (GYR005) and fetched
// with the same request, an empty object, never with null business data,
// which the national system refuses.
func TestLostFetchOfAnEmptyRequestIsAskedForAgain(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		code  string
		input map[string]any
	}{
		"GYD009, no filters": {code: "GYD009", input: map[string]any{}},
		"GYD009, a region":   {code: "GYD009", input: map[string]any{"aab299": "350200"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, withSeed(func(s *wisim.Server) {
				s.AddInstitution(wisim.SampleInstitution("H35020300793", "厦门市示例医院", "1", "350200"))
			}))
			e.sim.Inject(wisim.Fault{Code: tc.code, Kind: wisim.FaultLostReply})
			if r := e.handle("m-lost-1", tc.code, tc.input, false); r.Status != sdk.StatusFailed || !r.Retryable {
				t.Fatalf("lost answer: reply %s (retryable %v) %s; want a retryable failure", r.Status, r.Retryable, r.Diagnostics)
			}
			if r := e.handle("m-next", tc.code, tc.input, false); r.Status != sdk.StatusOK {
				t.Fatalf("next message: reply %s %s; want the lost batch recovered and delivered", r.Status, r.Diagnostics)
			}
			b := nonEmpty(e.sim.Batches(tc.code))
			if len(b) != 1 || !b[0].Acked || b[0].Feedbacks != 1 {
				t.Fatalf("batches %+v; want the one batch acknowledged by one feedback", b)
			}
		})
	}
}
