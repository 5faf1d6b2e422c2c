package adapter

import (
	"strings"
	"testing"

	"github.com/medgate/medgate/plugins/sdk"
	selfpaysim "github.com/medgate/medgate/test/sim/selfpay"
)

// TestCancelAfterAPartialUpload: an upload that stopped before anything
// of the visit reached the platform (its first 4201A refused) leaves
// nothing to withdraw, yet selfpay.cancel ended rejected: the platform
// refuses its 4203 cplt_flag=0 for a visit it does not know, 4208 does not
// list it, and every cancel of the visit earned the same refusal, the
// visit marked failed. The cancel of a visit medgate began to upload now
// asks 4207 too: no fee detail left, it holds (ok, the 4203 tolerated).
// Fee details left with the visit not listed, it stays rejected and
// nothing is deleted; the reply names the step the upload stopped at and
// the selfpay.4204 that deletes the lines left.
func TestCancelAfterAPartialUpload(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		stopAt      string // the infno refused, stopping the upload
		cancelFault string // a refusal of the cancel's 4203, not listed in nothingToReopen
		want        sdk.Status
		fees        int // on the platform after the cancel
	}{
		"first 4201A refused": {stopAt: "4201A", want: sdk.StatusOK},
		"4202 refused":        {stopAt: "4202", want: sdk.StatusOK},
		"4203 refused":        {stopAt: "4203", want: sdk.StatusOK},
		"4202 refused, the cancel's 4203 refused": {stopAt: "4202", cancelFault: "模拟业务错误", want: sdk.StatusRejected, fees: 3},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnvSim(t, selfpaysim.Options{PaasID: testPaas, Token: testToken, RefuseReopenIncomplete: true}, nil)
			const id = "ZYCP"
			e.sim.Fail(selfpaysim.Fault{Infno: tc.stopAt, Mode: selfpaysim.FaultBusiness, Message: "模拟业务错误"})
			wantStatus(t, e.must(OpUpload, "cp-up", upload(id, 3), 1), sdk.StatusRejected)
			if tc.cancelFault != "" {
				e.sim.Fail(selfpaysim.Fault{Infno: "4203", Mode: selfpaysim.FaultBusiness, Message: tc.cancelFault})
			}
			r := e.must(OpCancel, "cp", map[string]any{"fixmedins_mdtrt_id": id}, 1)
			wantStatus(t, r, tc.want)
			if v := e.sim.Visit(testCode, id); len(v.Fees) != tc.fees || v.Complete {
				t.Errorf("after the cancel the platform has %+v", v)
			}
			if tc.want == sdk.StatusRejected {
				if d := r.Diagnostics.String(); !strings.Contains(d, "4207 lists 3 fee detail(s)") {
					t.Errorf("the refusal does not say what is left: %s", d)
				}
				// What staff can do about the lines left: the cancel
				// cannot withdraw a visit the platform does not show,
				// but a single 4204 deletes them.
				if d := r.Diagnostics.String(); !strings.Contains(d, `selfpay.4204 {"feedetail": {"fixmedins_mdtrt_id": "`+id+`"}}`) || !strings.Contains(d, "step visit") {
					t.Errorf("the refusal does not say how to delete the lines left, or where the upload stopped: %s", d)
				}
				wantStatus(t, e.must("selfpay.4204", "cp-4204", map[string]any{"feedetail": map[string]any{"fixmedins_mdtrt_id": id}}, 1), sdk.StatusOK)
				if v := e.sim.Visit(testCode, id); len(v.Fees) != 0 {
					t.Errorf("after the advised 4204 the platform has %+v", v)
				}
				return
			}
			if p := payloadOf(t, r); p["status"] != statusCancelled {
				t.Errorf("reply %v", p)
			}
		})
	}
}
