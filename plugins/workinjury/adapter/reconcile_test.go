package adapter

import (
	"fmt"
	"strings"
	"testing"

	"github.com/medgate/medgate/plugins/sdk"
	wisim "github.com/medgate/medgate/test/sim/workinjury"
)

// TestGYD053AnswerMustNameTheQueriedSerial: with the default signTarget
// (plaintext) the signature of a GYD053 answer does not cover the
// envelope's serial, so only an answer whose signed data names the
// queried serial (and code) decides an outcome. An answer that names
// nothing, or another transaction, leaves the outcome unknown: the upload
// fails retryable and is never sent again on its strength.
func TestGYD053AnswerMustNameTheQueriedSerial(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		answer   func(query, answer map[string]any)
		settings []string
		wantOK   bool
		wantErr  string
	}{
		"echoes serial and code":             {answer: echoQueried, wantOK: true},
		"names nothing":                      {answer: echoNothing, wantErr: "does not name the serial"},
		"names nothing, gyd053Echo optional": {answer: echoNothing, settings: []string{"gyd053Echo", "optional"}, wantOK: true},
		"names another serial, gyd053Echo optional": {answer: func(q, a map[string]any) {
			echoQueried(q, a)
			a["orig_msg_id"] = "35020020250101000000999997"
		}, settings: []string{"gyd053Echo", "optional"}, wantErr: "not the queried"},
		"names another serial": {answer: func(q, a map[string]any) {
			echoQueried(q, a)
			a["orig_msg_id"] = "35020020250101000000999999"
		}, wantErr: "not the queried"},
		"another serial's 'no such transaction', replayed": {answer: func(q, a map[string]any) {
			for k := range a {
				delete(a, k)
			}
			a["trans_status"], a["orig_result_message"] = "9", "无此交易"
			a["orig_code"], a["orig_msg_id"] = q["orig_code"], "35020020250101000000999998"
		}, wantErr: "not the queried"},
		"names another code": {answer: func(q, a map[string]any) {
			echoQueried(q, a)
			a["orig_code"] = "GYU101"
		}, wantErr: "not the queried GYU009"},
		"names nothing, envelope serial signed (canonical)": {answer: echoNothing, settings: []string{"signTarget", "canonical"}, wantOK: true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, withGYD053(tc.answer), withSettings(tc.settings...))
			e.sim.Inject(wisim.Fault{Code: "GYU009", Kind: wisim.FaultLostReply})
			akb := fmt.Sprintf("H3502009%04d", len(name))
			first := e.handle("up-1", "GYU009", institution(akb), false)
			if first.Status != sdk.StatusFailed || !first.Retryable {
				t.Fatalf("first attempt: %s retryable=%v %s; want failed and retryable", first.Status, first.Retryable, first.Diagnostics)
			}
			second := e.handle("up-1", "GYU009", institution(akb), true)
			if n := len(e.sim.Received("GYU009")); n != 1 {
				t.Fatalf("GYU009 sent %d times: a processed upload was sent again on the strength of a GYD053 answer", n)
			}
			if tc.wantOK {
				if second.Status != sdk.StatusOK {
					t.Fatalf("second attempt: %s %s; want ok (reconciled)", second.Status, second.Diagnostics)
				}
				return
			}
			if second.Status != sdk.StatusFailed || !second.Retryable {
				t.Fatalf("second attempt: %s retryable=%v %s; want failed and retryable (outcome unknown)", second.Status, second.Retryable, second.Diagnostics)
			}
			if d := second.Diagnostics.String(); !strings.Contains(d, tc.wantErr) || !strings.Contains(d, "GYD053") {
				t.Errorf("the reply does not say why GYD053 was not trusted (want %q): %s", tc.wantErr, d)
			}
		})
	}
}
