package adapter

import (
	"encoding/json"
	"sync/atomic"
	"testing"
	"time"

	"github.com/medgate/medgate/plugins/sdk"
	wisim "github.com/medgate/medgate/test/sim/workinjury"
)

// TestOnTimeUploadIsNotLateOnRetry: the 30-minute rule is about when an
// upload reached the national system. An upload sent and taken within its
// deadline whose message comes again after it – the platform redelivers
// it (the host lost the reply), or its answer was lost and the retry
// reconciles it with GYD053 – gets its outcome without a late warning,
// ALERT or workinjury.upload.late event: it was not late. One that went
// out only after the deadline (the first attempt never reached the
// national system) is late.
func TestOnTimeUploadIsNotLateOnRetry(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		fault    wisim.FaultKind // on the first send ("": answered)
		wantLate bool
	}{
		"accepted in time, the message redelivered after the deadline": {},
		"answer lost in time, reconciled after the deadline":           {fault: wisim.FaultLostReply},
		"first attempt never arrived, sent after the deadline":         {fault: wisim.Fault5xx, wantLate: true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			var offset atomic.Int64
			clock := func() time.Time { return start.Add(time.Duration(offset.Load())) }
			e := newEnv(t, withClock(clock))
			if tc.fault != "" {
				e.sim.Inject(wisim.Fault{Code: "GYU009", Kind: tc.fault})
			}
			b, _ := json.Marshal(institution("H35020307777"))
			handle := func(attempt int) *sdk.HandleResponse {
				r, err := e.p.Handle(t.Context(), &sdk.HandleRequest{Site: testSite, Type: Name + ".GYU009", MessageID: "m-late", Key: "m-late",
					Format: "json", Payload: b, Attempt: attempt, Recovering: attempt > 1, OccurredAt: start, ReceivedAt: start, Deadline: time.Now().Add(time.Minute)})
				if err != nil {
					t.Fatal(err)
				}
				return r
			}
			first := handle(1)
			if (tc.fault == "") != (first.Status == sdk.StatusOK) {
				t.Fatalf("first attempt: %s %s", first.Status, first.Diagnostics)
			}
			offset.Store(int64(40 * time.Minute))
			r := handle(2)
			if r.Status != sdk.StatusOK {
				t.Fatalf("retry after the deadline: %s %s, want ok", r.Status, r.Diagnostics)
			}
			late := false
			for _, d := range r.Diagnostics {
				late = late || d.Rule == "late"
			}
			evs := len(e.events("workinjury.upload.late"))
			if tc.wantLate != late || tc.wantLate != (evs == 1) {
				t.Fatalf("late warning %v, %d workinjury.upload.late events; want late %v (%s)", late, evs, tc.wantLate, r.Diagnostics)
			}
			if n := len(e.sim.Received("GYU009")); n != 1+btoi(tc.fault == wisim.Fault5xx) {
				t.Fatalf("GYU009 reached the simulator %d times", n)
			}
		})
	}
}
