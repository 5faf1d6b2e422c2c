package adapter

import (
	"strings"
	"testing"

	"github.com/medgate/medgate/plugins/sdk"
	selfpaysim "github.com/medgate/medgate/test/sim/selfpay"
)

// TestRefusalMasksIDNumbers: the platform's err_msg may name the patient's
// ID or phone number (证件号码…与姓名不符); the reply, which the host
// publishes and stores, showed it whole in its diagnostics, its external
// message and the steps of its payload, while the logs and the patient's
// record mask it. Every copy in the reply is masked now, the rest of the
// message kept.
func TestRefusalMasksIDNumbers(t *testing.T) {
	t.Parallel()
	const tel = "13912345678"
	msg := "证件号码" + testCert + "与联系电话" + tel + "不符"
	tests := map[string]struct {
		typ     string
		payload func(id string) any
		fault   selfpaysim.Fault
		want    sdk.Status
	}{
		"upload, 4202 refused": {typ: OpUpload, payload: func(id string) any { return upload(id, 2) },
			fault: selfpaysim.Fault{Infno: "4202", Mode: selfpaysim.FaultBusiness, Message: msg}, want: sdk.StatusRejected},
		"upload, 4204 tolerated": {typ: OpUpload, payload: func(id string) any { return upload(id, 2) },
			fault: selfpaysim.Fault{Infno: "4204", Mode: selfpaysim.FaultBusiness, Message: msg + "，无数据"}, want: sdk.StatusOK},
		"single 4202 refused": {typ: "selfpay.4202", payload: func(id string) any {
			return map[string]any{nodeMdtrt: visit(id, 1), nodeDiags: diagnoses()}
		}, fault: selfpaysim.Fault{Infno: "4202", Mode: selfpaysim.FaultBusiness, Message: msg}, want: sdk.StatusRejected},
		"4208 refused": {typ: "selfpay.4208", payload: func(string) any {
			return map[string]any{"certno": testCert, "page_num": 1, "page_size": 10}
		}, fault: selfpaysim.Fault{Infno: "4208", Mode: selfpaysim.FaultBusiness, Message: msg}, want: sdk.StatusRejected},
		"upload, 4202 busy": {typ: OpUpload, payload: func(id string) any { return upload(id, 2) },
			fault: selfpaysim.Fault{Infno: "4202", Mode: selfpaysim.FaultBusiness, Message: msg + "，系统繁忙"}, want: sdk.StatusFailed},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, nil)
			e.sim.Fail(tc.fault)
			r := e.must(tc.typ, "rm-1", tc.payload("ZYRM"), 1)
			wantStatus(t, r, tc.want)
			shown := r.Diagnostics.String() + string(r.Payload)
			if r.External != nil {
				shown += r.External.Message
			}
			if strings.Contains(shown, testCert) || strings.Contains(shown, tel) {
				t.Errorf("the reply shows an ID or phone number: %s", shown)
			}
			if !strings.Contains(shown, "350***********1234") {
				t.Errorf("the reply does not show the platform's message (masked): %s", shown)
			}
		})
	}
}
