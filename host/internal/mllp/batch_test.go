package mllp

import (
	"strings"
	"testing"

	"github.com/medgate/medgate/host/internal/message"
	"github.com/medgate/medgate/transforms/hl7"
)

// TestBatchRefusalSaysHow: a frame holding a batch (FHS/BHS … BTS/FTS) or
// several messages is refused (one ACK cannot answer several messages)
// with an AR that says what the frame holds and how to send it — each
// message in a frame of its own — rather than only that a message must
// start with MSH (the sender, stripping the batch header, would then send
// the messages in one frame, refused again) or that a batch is split
// "with Reader", a Go function the sender's staff cannot call. Nothing in
// the frame is processed.
func TestBatchRefusalSaysHow(t *testing.T) {
	t.Parallel()
	const a, b = "MSH|^~\\&|HIS|XMFY|MEDGATE|XMFY|20261203101500||ADT^A28^ADT_A05|M1|P|2.5\rPID|1||X1||A\r",
		"MSH|^~\\&|HIS|XMFY|MEDGATE|XMFY|20261203101500||ADT^A28^ADT_A05|M2|P|2.5\rPID|1||X2||B\r"
	const fhs, bhs = "FHS|^~\\&|HIS|XMFY|MEDGATE|GW|20261203101500||||F1\r", "BHS|^~\\&|HIS|XMFY|MEDGATE|GW|20261203101500||||B1\r"
	testCases := map[string]string{
		"file batch":                  fhs + bhs + a + b + "BTS|2\rFTS|1\r",
		"batch":                       bhs + a + b + "BTS|2\r",
		"two messages in one frame":   a + b,
		"two messages, CR LF ends":    strings.ReplaceAll(a+b, "\r", "\r\n"),
		"a batch of one, LF line end": strings.ReplaceAll(bhs+a+"BTS|1\r", "\r", "\n"),
	}
	for name, msg := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			proc := &fakeProc{answer: status(message.StatusOK)}
			s, err := New(listenerConfig(), proc, fakeMaps{}, quiet, nil)
			if err != nil {
				t.Fatal(err)
			}
			acks := exchange(t, s, frame(msg))
			if len(acks) != 1 {
				t.Fatalf("%d ACKs, want 1", len(acks))
			}
			if len(proc.envs) != 0 {
				t.Errorf("%d messages processed, want none", len(proc.envs))
			}
			msa := func(f int) string { return acks[0].Get(hl7.Location{Segment: "MSA", Field: f}) }
			// The whole reason is in ERR-8 (MSA-3 holds its first 80 characters).
			why := acks[0].Get(hl7.Location{Segment: "ERR", Field: 8})
			if msa(1) != "AR" || !strings.HasPrefix(why, strings.TrimSuffix(msa(3), "...")) || !strings.Contains(why, "several messages") || !strings.Contains(why, "each message in an MLLP frame of its own") || strings.Contains(why, "Reader") {
				t.Errorf("MSA-1 %q MSA-3 %q ERR-8 %q, want AR saying the frame holds several messages and to send each message in an MLLP frame of its own", msa(1), msa(3), why)
			}
		})
	}
}
