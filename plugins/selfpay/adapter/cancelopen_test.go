package adapter

import (
	"strings"
	"testing"

	"github.com/medgate/medgate/plugins/sdk"
	selfpaysim "github.com/medgate/medgate/test/sim/selfpay"
)

// TestCancelOfAnIncompleteVisit: selfpay.cancel withdraws the completion
// (4203 cplt_flag=0), then deletes the fee details (4204). A visit that is
// not complete (an upload that stopped part-way, a completion withdrawn
// before) may have its 4203 cplt_flag=0 refused by the platform, as a
// re-upload's may (nothingToReopen). The cancel ended rejected on that
// refusal, deleting nothing, and every cancel of the visit would earn the
// same refusal: its fee details could not be withdrawn with
// selfpay.cancel. It now settles the refusal as a re-upload does: a
// refusal listed in nothingToReopen, or one 4208 shows the visit not
// complete for, is tolerated and the details are deleted; with the visit
// still complete, it stays rejected and nothing is deleted.
func TestCancelOfAnIncompleteVisit(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		message  string // of the 4203 cplt_flag=0 refusal
		complete bool   // the visit on the platform before the cancel
		want     sdk.Status
	}{
		"refusal listed in nothingToReopen":          {message: "该就诊信息为未完成状态", want: sdk.StatusOK},
		"refusal not listed, 4208 shows it open":     {message: "模拟业务错误", want: sdk.StatusOK},
		"refusal not listed, 4208 shows it complete": {message: "模拟业务错误", complete: true, want: sdk.StatusRejected},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, nil)
			const id = "ZYCO"
			wantStatus(t, e.must(OpUpload, "co-up", upload(id, 3), 1), sdk.StatusOK)
			if !tc.complete {
				wantStatus(t, e.must("selfpay.4203", "co-open", map[string]any{"fixmedins_mdtrt_id": id, "cplt_flag": "0"}, 1), sdk.StatusOK)
			}
			e.sim.Fail(selfpaysim.Fault{Infno: "4203", Mode: selfpaysim.FaultBusiness, Message: tc.message})
			r := e.must(OpCancel, "co", map[string]any{"fixmedins_mdtrt_id": id}, 1)
			wantStatus(t, r, tc.want)
			v := e.sim.Visit(testCode, id)
			if tc.want != sdk.StatusOK {
				if len(v.Fees) != 3 || !v.Complete {
					t.Errorf("a refused cancel changed the visit: %+v", v)
				}
				if d := r.Diagnostics.String(); !strings.Contains(d, "selfpay.cancel") || !strings.Contains(d, "nothingToReopen") {
					t.Errorf("the refusal does not say what to do: %s", d)
				}
				return
			}
			if len(v.Fees) != 0 || v.Complete {
				t.Errorf("after the cancel ended ok the platform has %+v", v)
			}
			steps := asList(payloadOf(t, r)["steps"])
			if first, _ := steps[0].(map[string]any); first["infno"] != "4203" || first["outcome"] != outcomeTolerated {
				t.Errorf("the refused 4203 is not reported as tolerated: %v", steps)
			}
		})
	}
}

// TestWithdrawIncompleteVisit: against a platform refusing a 4203
// cplt_flag=0 of a visit that is not complete (the simulator's
// RefuseReopenIncomplete), an upload stopped part-way (its 4202 refused:
// fee lines on the platform, visit not complete) is withdrawn by
// selfpay.cancel, or uploaded again with reupload, and ends as asked.
func TestWithdrawIncompleteVisit(t *testing.T) {
	t.Parallel()
	for name, reupload := range map[string]bool{"cancel": false, "reupload": true} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnvSim(t, selfpaysim.Options{PaasID: testPaas, Token: testToken, RefuseReopenIncomplete: true}, func(s map[string]string) { s["batchSize"] = "2" })
			const id = "ZYWI"
			e.sim.Fail(selfpaysim.Fault{Infno: "4202", Mode: selfpaysim.FaultBusiness, Message: "诊断代码不存在"})
			wantStatus(t, e.must(OpUpload, "wi-up", upload(id, 3), 1), sdk.StatusRejected)
			if v := e.sim.Visit(testCode, id); len(v.Fees) != 3 || v.Complete {
				t.Fatalf("the stopped upload left %+v", v)
			}
			if !reupload {
				wantStatus(t, e.must(OpCancel, "wi", map[string]any{"fixmedins_mdtrt_id": id}, 1), sdk.StatusOK)
				if v := e.sim.Visit(testCode, id); len(v.Fees) != 0 || v.Complete {
					t.Errorf("after the cancel the platform has %+v", v)
				}
				return
			}
			m := upload(id, 3)
			m["reupload"] = true
			wantStatus(t, e.must(OpUpload, "wi", m, 1), sdk.StatusOK)
			if v := e.sim.Visit(testCode, id); len(v.Fees) != 3 || !v.Complete {
				t.Errorf("after the re-upload the platform has %+v", v)
			}
		})
	}
}
