package mllp

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/medgate/medgate/host/internal/message"
)

// TestResendAcrossUpgradeIsTheSameRequest: a message received before the
// listener declared UTF-8 in the payload of a message that declares no
// character set (52c914d) was recorded with its MSH as it came; its resend
// after the upgrade — the same bytes — carries MSH-18 UNICODE UTF-8 (and
// the empty fields before it). The pipeline and the HTTP ingress tell a
// resend from another message under the same id with message.SameRequest:
// the resend must be the same request, so that its sender gets the stored
// outcome, not an AR "message id already used for another message". A
// message whose content differs stays another message.
func TestResendAcrossUpgradeIsTheSameRequest(t *testing.T) {
	t.Parallel()
	const msh = "MSH|^~\\&|HIS|XMFY|MEDGATE|XMFY|20261203101500||ADT^A28^ADT_A05|U1|P|2.5"
	const rest = "\rEVN|A28|20261203101500\rPID|1||11010519491231002X^^^CHN^NN||王小梅\\XE78E8B\\||19491231|F\r"
	// recorded is the envelope the listener made before the upgrade: the
	// payload is the message text as it came (segments ending in CR).
	recorded := func(payload string) []byte {
		b, err := json.Marshal(map[string]any{"id": "hl7:HIS:XMFY:U1", "site": "demo", "type": "ecard.register", "format": "hl7v2",
			"occurredAt": "2026-12-03T02:15:00Z", "payload": payload})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	testCases := map[string]struct {
		before, resent string // the payload recorded before the upgrade; the message resent after it
		same           bool
	}{
		"no MSH-18":                         {msh + rest, msh + rest, true},
		"no MSH-18, CR LF line ends":        {msh + rest, strings.ReplaceAll(msh+rest, "\r", "\r\n"), true},
		"MSH-18 blank":                      {msh + "||||||   " + rest, msh + "||||||   " + rest, true},
		"empty MSH-18, MSH-19 after":        {msh + "|||||CHN||ZH" + rest, msh + "|||||CHN||ZH" + rest, true},
		"UTF-8 declared (unchanged)":        {msh + "|||||CHN|UNICODE UTF-8" + rest, msh + "|||||CHN|UNICODE UTF-8" + rest, true},
		"another patient under the same id": {msh + rest, msh + strings.Replace(rest, "王小梅", "李四", 1), false},
		"another MSH-19 under the same id":  {msh + "|||||CHN||ZH" + rest, msh + "|||||CHN||EN" + rest, false},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			proc := &fakeProc{answer: status(message.StatusOK)}
			s, err := New(listenerConfig(), proc, fakeMaps{}, quiet, nil)
			if err != nil {
				t.Fatal(err)
			}
			exchange(t, s, frame(tc.resent))
			if len(proc.envs) != 1 {
				t.Fatalf("processed %d messages, want 1", len(proc.envs))
			}
			now, err := json.Marshal(proc.envs[0])
			if err != nil {
				t.Fatal(err)
			}
			if got := message.SameRequest(recorded(tc.before), now); got != tc.same {
				t.Errorf("SameRequest(recorded before the upgrade, resent after it) = %v, want %v\nrecorded payload %q\nresent payload   %q",
					got, tc.same, tc.before, proc.envs[0]["payload"])
			}
		})
	}
}
