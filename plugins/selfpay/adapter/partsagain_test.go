package adapter

import (
	"fmt"
	"strings"
	"testing"

	"github.com/medgate/medgate/plugins/sdk"
	selfpaysim "github.com/medgate/medgate/test/sim/selfpay"
)

// TestUploadPartsAgainAfterWithdrawal: a stay uploaded in parts whose
// completion was withdrawn afterwards (selfpay.cancel, or a single 4203
// cplt_flag=0 and 4204) is no longer on the platform; the HIS sending the
// same set again, every part under new message ids, uploads it again
// rather than being answered with the first upload's "uploaded".
func TestUploadPartsAgainAfterWithdrawal(t *testing.T) {
	t.Parallel()
	testCases := map[string]struct {
		withdraw func(e *env, id string)
		reupload bool
	}{
		"selfpay.cancel": {withdraw: func(e *env, id string) {
			wantStatus(t, e.must(OpCancel, "pa-cancel", map[string]any{"fixmedins_mdtrt_id": id}, 1), sdk.StatusOK)
		}},
		"single 4203 cplt_flag=0 and 4204": {withdraw: func(e *env, id string) {
			wantStatus(t, e.must("selfpay.4203", "pa-4203", map[string]any{"fixmedins_mdtrt_id": id, "cplt_flag": "0"}, 1), sdk.StatusOK)
			wantStatus(t, e.must("selfpay.4204", "pa-4204", map[string]any{"feedetail": map[string]any{"fixmedins_mdtrt_id": id}}, 1), sdk.StatusOK)
		}},
		"selfpay.cancel, sent again with reupload": {reupload: true, withdraw: func(e *env, id string) {
			wantStatus(t, e.must(OpCancel, "pa-cancel", map[string]any{"fixmedins_mdtrt_id": id}, 1), sdk.StatusOK)
		}},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, nil)
			const id = "ZYPA"
			parts, total := stayInParts(id, id, 30, 3) // the HIS names the set after the visit
			for i, p := range parts {
				wantStatus(t, e.must(OpUpload, fmt.Sprintf("pa-1-%d", i+1), p, 1), sdk.StatusOK)
			}
			wantLedger(t, e.sim, id, 30, total)
			tc.withdraw(e, id)
			if v := e.sim.Visit(testCode, id); v.Complete || len(v.Fees) != 0 {
				t.Fatalf("after the withdrawal the platform has %+v", v)
			}
			// A later part first: refused, naming part 1, nothing kept.
			r := e.must(OpUpload, "pa-2-2-early", parts[1], 1)
			wantStatus(t, r, sdk.StatusInvalid)
			if d := r.Diagnostics.String(); !strings.Contains(d, "changed the visit") || !strings.Contains(d, "part 1") {
				t.Errorf("part 2 of the withdrawn set: %s", d)
			}
			var last *sdk.HandleResponse
			for i, p := range parts {
				if tc.reupload {
					p["reupload"] = true
				}
				last = e.must(OpUpload, fmt.Sprintf("pa-2-%d", i+1), p, 1)
				wantStatus(t, last, sdk.StatusOK)
				if i == 0 && !strings.Contains(last.Diagnostics.String(), "begins again") {
					t.Errorf("part 1 sent again does not say the set begins again: %v", last.Diagnostics)
				}
			}
			if got := payloadOf(t, last); got["status"] != statusUploaded {
				t.Errorf("the last part sent again answered %v", got)
			}
			wantLedger(t, e.sim, id, 30, total)
		})
	}
}

// TestUploadPartsAgainAfterARefusal: the upload a set's last part runs is
// refused by the platform part-way (its 4202: half the stay's lines on the
// platform), and the set's kept lines are dropped with it. Once the cause
// is resolved the HIS sends the same set again, every part under new
// message ids: its parts are kept again (not answered "part-received"
// from lines no longer kept) and the last part uploads the stay; a later
// part sent first is invalid, asking for part 1; the refused last part
// redelivered gets its refusal.
func TestUploadPartsAgainAfterARefusal(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(s map[string]string) { s["batchSize"] = "10" })
	const id = "ZYPJ"
	parts, total := stayInParts(id, "S1", 30, 3)
	wantStatus(t, e.must(OpUpload, "pj-1-1", parts[0], 1), sdk.StatusOK)
	wantStatus(t, e.must(OpUpload, "pj-1-2", parts[1], 1), sdk.StatusOK)
	e.sim.Fail(selfpaysim.Fault{Infno: "4202", Mode: selfpaysim.FaultBusiness, Message: "诊断代码不存在", Times: 1})
	refused := e.must(OpUpload, "pj-1-3", parts[2], 1)
	wantStatus(t, refused, sdk.StatusRejected)
	if d := refused.Diagnostics.String(); !strings.Contains(d, "part 1") || !strings.Contains(d, "set S1") {
		t.Errorf("the refusal of the set does not say to send it again from part 1: %s", d)
	}
	if v := e.sim.Visit(testCode, id); len(v.Fees) != 30 || v.VisitUploaded {
		t.Fatalf("after the refusal the platform has %+v", v)
	}
	if r := e.must(OpUpload, "pj-1-3", parts[2], 2); r.Status != sdk.StatusRejected {
		t.Errorf("the refused last part redelivered answered %s %v", r.Status, r.Diagnostics)
	}
	r := e.must(OpUpload, "pj-2-2-early", parts[1], 1)
	wantStatus(t, r, sdk.StatusInvalid)
	if d := r.Diagnostics.String(); !strings.Contains(d, "part 1") {
		t.Errorf("part 2 of the refused set sent first: %s", d)
	}
	var last *sdk.HandleResponse
	for i, p := range parts {
		last = e.must(OpUpload, fmt.Sprintf("pj-2-%d", i+1), p, 1)
		wantStatus(t, last, sdk.StatusOK)
	}
	if got := payloadOf(t, last); got["status"] != statusUploaded {
		t.Errorf("the last part sent again answered %v", got)
	}
	wantLedger(t, e.sim, id, 30, total)
}
