package adapter

import (
	"strings"
	"testing"

	"github.com/medgate/medgate/plugins/sdk"
	selfpaysim "github.com/medgate/medgate/test/sim/selfpay"
)

// TestTransientRefusal checks that a refusal the platform gives for a
// passing reason (系统繁忙, listed in transientRefusals) ends the attempt
// failed and retryable, its code and message in the reply and what
// medgate does about it, and that the next attempt goes on where it
// stopped, every fee line sent once; a refusal not listed stays rejected.
func TestTransientRefusal(t *testing.T) {
	t.Parallel()
	const busy = "系统繁忙，请稍后再试"
	tests := map[string]struct {
		typ      string
		payload  func(id string) any
		fault    selfpaysim.Fault
		settings map[string]string
		// want is the first attempt's status; the second is ok.
		want sdk.Status
	}{
		"upload, a 4201A batch": {typ: OpUpload, payload: func(id string) any { return upload(id, 5) },
			fault: selfpaysim.Fault{Infno: "4201A", Mode: selfpaysim.FaultBusiness, Message: busy, After: 1}, want: sdk.StatusFailed},
		"upload, the 4202": {typ: OpUpload, payload: func(id string) any { return upload(id, 5) },
			fault: selfpaysim.Fault{Infno: "4202", Mode: selfpaysim.FaultBusiness, Message: busy}, want: sdk.StatusFailed},
		"upload, the completion": {typ: OpUpload, payload: func(id string) any { return upload(id, 5) },
			fault: selfpaysim.Fault{Infno: "4203", Mode: selfpaysim.FaultBusiness, Message: busy}, want: sdk.StatusFailed},
		"upload, a listed code": {typ: OpUpload, payload: func(id string) any { return upload(id, 5) },
			fault:    selfpaysim.Fault{Infno: "4202", Mode: selfpaysim.FaultBusiness, Message: "平台限流"},
			settings: map[string]string{SetTransientRefusals: "平台限流"}, want: sdk.StatusFailed},
		"upload, a permanent refusal": {typ: OpUpload, payload: func(id string) any { return upload(id, 5) },
			fault: selfpaysim.Fault{Infno: "4202", Mode: selfpaysim.FaultBusiness, Message: "诊断代码不存在"}, want: sdk.StatusRejected},
		"a single 4201A": {typ: "selfpay.4201A", payload: func(id string) any {
			return map[string]any{nodeFees: []any{fee(id, 1), fee(id, 2)}}
		}, fault: selfpaysim.Fault{Infno: "4201A", Mode: selfpaysim.FaultBusiness, Message: busy}, want: sdk.StatusFailed},
		"a 4207 query": {typ: "selfpay.4207", payload: func(id string) any {
			return map[string]any{"fixmedins_mdtrt_id": id, "page_num": 1, "page_size": 10}
		}, fault: selfpaysim.Fault{Infno: "4207", Mode: selfpaysim.FaultBusiness, Message: "服务繁忙"}, want: sdk.StatusFailed},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, func(s map[string]string) {
				s[SetBatchSize] = "2"
				for k, v := range tc.settings {
					s[k] = v
				}
			})
			id := "ZYT" + strings.ReplaceAll(name[:4], " ", "")
			e.sim.Fail(tc.fault)
			r := e.must(tc.typ, "t-1", tc.payload(id), 1)
			wantStatus(t, r, tc.want)
			if r.External == nil || r.External.Code != "-1" || r.External.Message != tc.fault.Message || r.External.MsgID == "" {
				t.Errorf("external %+v: want the platform's infcode, err_msg and msgid", r.External)
			}
			if tc.want == sdk.StatusRejected {
				if r.Retryable {
					t.Error("a permanent refusal is retryable")
				}
				return
			}
			if !r.Retryable || len(r.Diagnostics) == 0 || r.Diagnostics[0].Rule != "transient" ||
				!strings.Contains(r.Diagnostics[0].Message(), tc.fault.Message) || !strings.Contains(r.Diagnostics[0].Message(), "transientRefusals") {
				t.Fatalf("retryable %v, diagnostics %v: want a retryable transient failure naming the platform's message and the setting", r.Retryable, r.Diagnostics)
			}
			r = e.must(tc.typ, "t-1", tc.payload(id), 2)
			wantStatus(t, r, sdk.StatusOK)
			if tc.typ == "selfpay.4207" {
				return
			}
			v := e.sim.Visit(testCode, id)
			seen := map[string]bool{}
			for _, sn := range v.Fees {
				if seen[sn] {
					t.Errorf("line %s is on the platform twice", sn)
				}
				seen[sn] = true
			}
			if want := map[string]int{OpUpload: 5, "selfpay.4201A": 2}[tc.typ]; len(v.Fees) != want || tc.typ == OpUpload && !v.Complete {
				t.Errorf("platform has %+v, want %d lines", v, want)
			}
		})
	}
}
