package mllp

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/medgate/medgate/host/internal/message"
	"github.com/medgate/medgate/transforms/hl7"
)

// TestUnknownCharsetRefusal: a message whose MSH-18 names a character set
// the listener cannot read (BIG-5, ISO IR87 …) gets an AR that names it
// (MSA-2 its MSH-10), answers its MSH as any other refusal of a message
// whose MSH segment can be read (the fields before MSH-18 are ASCII in
// every character set a sender may declare): from its MSH-5/6 to its
// MSH-3/4, in its delimiters, with its processing ID and version — a
// sender on a test system (MSH-11 T) or an engine routing ACKs by
// application must be able to take it. It is in ASCII, declared UNICODE
// UTF-8, so that a sender can read it whatever set it reads in, and says
// which MSH-18 to write.
func TestUnknownCharsetRefusal(t *testing.T) {
	t.Parallel()
	testCases := map[string]struct {
		msg     string
		setting string // the listener's defaultCharset
		delims  hl7.Delimiters
	}{
		"BIG-5": {"MSH|^~\\&|HIS|XMFY|MEDGATE|GW|20261203101500||ADT^A28|B5|T|2.4|||||TWN|BIG-5\rPID|1||X1||\xa4\xfd\xa4p\xa9\xfa\r", "", hl7.DefaultDelimiters},
		"ISO IR87, GB18030 listener": {"MSH|^~\\&|HIS|XMFY|MEDGATE|GW|20261203101500||ADT^A28|B5|T|2.4|||||JPN|ISO IR87\rPID|1||X1\r", "GB18030",
			hl7.DefaultDelimiters},
		"own delimiters": {"MSH*!~\\&*HIS*XMFY*MEDGATE*GW*20261203101500**ADT!A28*B5*T*2.4*****TWN*BIG-5\rPID*1**X1\r", "",
			hl7.Delimiters{Field: '*', Component: '!', Repetition: '~', Escape: '\\', Subcomponent: '&'}},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cfg := listenerConfig()
			cfg.DefaultCharset = tc.setting
			proc := &fakeProc{answer: status(message.StatusOK)}
			s, err := New(cfg, proc, fakeMaps{}, quiet, nil)
			if err != nil {
				t.Fatal(err)
			}
			raw := exchangeRaw(t, s, frame(tc.msg))
			for i, c := range raw {
				if c >= utf8.RuneSelf {
					t.Fatalf("AR byte %d is %#x: the AR must be ASCII, readable in any set (AR %q)", i, c, raw)
				}
			}
			ack, err := hl7.Parse(raw)
			if err != nil {
				t.Fatalf("AR %q does not parse: %v", raw, err)
			}
			if len(proc.envs) != 0 {
				t.Errorf("%d messages processed, want none", len(proc.envs))
			}
			msh := &ack.Segments[0]
			got := []string{msh.Value(3, 1, 1, 1), msh.Value(4, 1, 1, 1), msh.Value(5, 1, 1, 1), msh.Value(6, 1, 1, 1),
				msh.Value(9, 1, 1, 1), msh.Value(11, 1, 1, 1), msh.Value(12, 1, 1, 1), msh.Value(18, 1, 1, 1)}
			want := []string{"MEDGATE", "GW", "HIS", "XMFY", "ACK", "T", "2.4", "UNICODE UTF-8"}
			if strings.Join(got, " ") != strings.Join(want, " ") {
				t.Errorf("AR MSH-3,4,5,6,9,11,12,18 = %q, want %q (AR %q)", got, want, raw)
			}
			if ack.Delimiters != tc.delims {
				t.Errorf("AR delimiters %+v, want the sender's %+v", ack.Delimiters, tc.delims)
			}
			msa := func(f int) string { return ack.Get(hl7.Location{Segment: "MSA", Field: f}) }
			if msa(1) != "AR" || msa(2) != "B5" || !strings.Contains(msa(3), "UNICODE UTF-8") {
				t.Errorf("MSA %q %q %q, want AR for B5 saying which MSH-18 to write", msa(1), msa(2), msa(3))
			}
		})
	}
}
