package mllp

import (
	"strings"
	"testing"

	"github.com/medgate/medgate/host/internal/message"
	"github.com/medgate/medgate/transforms/hl7"
)

// TestMappedNegativeACKSaysWhy: an AE or AR rendered by the site's reply
// mapping carries an ERR and MSA-3 saying why, as a plain one does, also
// when the reply holds no error of its own (an external system's refusal
// without the plugin's diagnostics): the demo's reply.yaml writes MSA-3
// and ERR from the reply's errors only, so such an AE left the sender's
// staff with the external code in ZEX alone, which standard receivers do
// not read. What the mapping said itself is kept.
func TestMappedNegativeACKSaysWhy(t *testing.T) {
	t.Parallel()
	const head = "MSH|^~\\&|MEDGATE|demo|PLATFORM||20261203101500||ACK|r1|P|2.5\r"
	rejected := message.Reply{Status: message.StatusRejected, External: &message.External{System: "ecard", Code: "E9", Message: "卡已注销"}}
	testCases := map[string]struct {
		reply    message.Reply
		mapped   string
		msa3     string   // MSA-3 contains
		err8     []string // ERR-8 of each ERR, in order, contains
		segments string   // the segment IDs in order
	}{
		"AE without a reason": {rejected, head + "MSA|AE|x\rZEX|ecard|E9|卡已注销\r",
			"E9: 卡已注销", []string{"E9: 卡已注销"}, "MSH MSA ERR ZEX"},
		"MSA-1 left to the outcome": {rejected, head + "MSA||x\rZEX|ecard|E9|卡已注销\r",
			"E9: 卡已注销", []string{"E9: 卡已注销"}, "MSH MSA ERR ZEX"},
		"query response without a reason": {rejected, "MSH|^~\\&|MEDGATE|demo|PLATFORM||20261203101500||RSP^K22^RSP_K21|r1|P|2.5\rMSA|AE|x\rQAK|x|AE\r",
			"E9: 卡已注销", []string{"E9: 卡已注销"}, "MSH MSA ERR QAK"},
		"nothing said at all": {message.Reply{Status: message.StatusFailed}, head + "MSA|AE|x\r",
			"the outcome is failed", []string{"the outcome is failed"}, "MSH MSA ERR"},
		"the mapping's reason kept": {rejected, head + "MSA|AE|x|mapped reason\rERR|||external^^MEDGATE|E||||mapped error\r",
			"mapped reason", []string{"mapped error"}, "MSH MSA ERR"},
		"MSA-3 from the reply's error": {message.Reply{Status: message.StatusInvalid, Errors: []message.ReplyError{{Rule: "required", Field: "$.name", Message: "PID-5 is empty"}}},
			head + "MSA|AR|x\rERR|||required^$.name^MEDGATE|E||||PID-5 is empty\r",
			"PID-5 is empty", []string{"PID-5 is empty"}, "MSH MSA ERR"},
		"AA untouched": {message.Reply{Status: message.StatusOK}, head + "MSA|AA|x\rZEC|E1\r",
			"", nil, "MSH MSA ZEC"},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			proc := &fakeProc{answer: func(env map[string]any) (*message.Reply, error) {
				r := tc.reply
				r.ID, r.RequestID, r.Site, r.Type = "r1", env["id"].(string), "demo", "ecard.register"
				return &r, nil
			}}
			s, err := New(listenerConfig(), proc, fakeMaps{ack: []byte(tc.mapped)}, quiet, nil)
			if err != nil {
				t.Fatal(err)
			}
			acks := exchange(t, s, frame(strings.Replace(a28, "%s", "1", 1)))
			if len(acks) != 1 {
				t.Fatalf("%d ACKs, want 1", len(acks))
			}
			ack := acks[0]
			var ids []string
			for _, seg := range ack.Segments {
				ids = append(ids, seg.Name)
			}
			if got := strings.Join(ids, " "); got != tc.segments {
				t.Errorf("segments %q, want %q", got, tc.segments)
			}
			msa3 := ack.Get(hl7.Location{Segment: "MSA", Field: 3})
			if tc.msa3 == "" && msa3 != "" || !strings.Contains(msa3, tc.msa3) {
				t.Errorf("MSA-3 %q, want it to say %q", msa3, tc.msa3)
			}
			errs := ack.All("ERR")
			if len(errs) != len(tc.err8) {
				t.Fatalf("%d ERR segments, want %d", len(errs), len(tc.err8))
			}
			for i, e := range errs {
				if got := e.Value(8, 1, 1, 1); !strings.Contains(got, tc.err8[i]) {
					t.Errorf("ERR[%d]-8 %q, want it to say %q", i+1, got, tc.err8[i])
				}
				if i == 0 && tc.err8[0] != "mapped error" && e.Value(4, 1, 1, 1) != "E" {
					t.Errorf("ERR-4 %q, want E", e.Value(4, 1, 1, 1))
				}
			}
		})
	}
}
