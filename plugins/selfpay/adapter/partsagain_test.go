package adapter

import (
	"fmt"
	"strings"
	"testing"

	"github.com/medgate/medgate/plugins/sdk"
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
			if d := r.Diagnostics.String(); !strings.Contains(d, "withdrawn") || !strings.Contains(d, "part 1") {
				t.Errorf("part 2 of the withdrawn set: %s", d)
			}
			var last *sdk.HandleResponse
			for i, p := range parts {
				if tc.reupload {
					p["reupload"] = true
				}
				last = e.must(OpUpload, fmt.Sprintf("pa-2-%d", i+1), p, 1)
				wantStatus(t, last, sdk.StatusOK)
				if i == 0 && !strings.Contains(last.Diagnostics.String(), "uploaded again") {
					t.Errorf("part 1 sent again does not say the set is uploaded again: %v", last.Diagnostics)
				}
			}
			if got := payloadOf(t, last); got["status"] != statusUploaded {
				t.Errorf("the last part sent again answered %v", got)
			}
			wantLedger(t, e.sim, id, 30, total)
		})
	}
}
