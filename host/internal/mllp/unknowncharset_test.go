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
			why := ack.Get(hl7.Location{Segment: "ERR", Field: 8}) // the whole reason; MSA-3 its first 80 characters
			if msa(1) != "AR" || msa(2) != "B5" || !strings.Contains(why, "UNICODE UTF-8") || !strings.HasPrefix(why, strings.TrimSuffix(msa(3), "...")) {
				t.Errorf("MSA %q %q %q ERR-8 %q, want AR for B5 saying which MSH-18 to write", msa(1), msa(2), msa(3), why)
			}
		})
	}
}

// TestUnknownCharsetRefusalKeepsSenderBytes: when the sending application
// or facility (MSH-3, MSH-4) of a message in a character set the listener
// cannot read is written in that set (a Chinese name in BIG-5), the AR
// still answers the sender's MSH: MSH-5 and MSH-6 are its MSH-3 and MSH-4
// byte for byte, and the AR declares the sender's own MSH-18, in which
// those bytes read as the sender wrote them (the AR's text is ASCII, which
// that set reads too). An AR from a default MSH, or with those fields left
// out, is one an engine routing ACKs by application cannot match.
func TestUnknownCharsetRefusalKeepsSenderBytes(t *testing.T) {
	t.Parallel()
	testCases := map[string]struct {
		msg        string
		app, fac   string // MSH-3, MSH-4 as sent
		recv, rfac string // MSH-5, MSH-6 as sent
		msh18      string
	}{
		"BIG-5 application": {"MSH|^~\\&|\xa4\xa4\xa4\xdf|XMFY|MEDGATE|GW|20261203101500||ADT^A28|B5|T|2.4|||||TWN|BIG-5\rPID|1||X1\r",
			"\xa4\xa4\xa4\xdf", "XMFY", "MEDGATE", "GW", "BIG-5"},
		"BIG-5 facility with components": {"MSH|^~\\&|HIS|\xbbO\xa5_^1.2.3^ISO|MEDGATE|\xba\xf4\xc3\xf6|20261203101500||ADT^A28|B5|T|2.4|||||TWN|BIG-5\rPID|1||X1\r",
			"HIS", "\xbbO\xa5_^1.2.3^ISO", "MEDGATE", "\xba\xf4\xc3\xf6", "BIG-5"},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			proc := &fakeProc{answer: status(message.StatusOK)}
			s, err := New(listenerConfig(), proc, fakeMaps{}, quiet, nil)
			if err != nil {
				t.Fatal(err)
			}
			raw := string(exchangeRaw(t, s, frame(tc.msg)))
			if len(proc.envs) != 0 {
				t.Errorf("%d messages processed, want none", len(proc.envs))
			}
			segs := strings.Split(strings.TrimRight(raw, "\r"), "\r")
			msh := strings.Split(segs[0], "|") // msh[k] is MSH-(k+1)
			for len(msh) < 18 {
				msh = append(msh, "")
			}
			got := []string{msh[2], msh[3], msh[4], msh[5], msh[8], msh[10], msh[11], msh[17]}
			want := []string{tc.recv, tc.rfac, tc.app, tc.fac, "ACK", "T", "2.4", tc.msh18}
			if strings.Join(got, "|") != strings.Join(want, "|") {
				t.Errorf("AR MSH-3,4,5,6,9,11,12,18 = %q, want %q (AR %q)", got, want, raw)
			}
			var msa, errSeg []string
			for _, seg := range segs {
				if strings.HasPrefix(seg, "MSA|") {
					msa = strings.Split(seg, "|")
				}
				if strings.HasPrefix(seg, "ERR|") {
					errSeg = strings.Split(seg, "|")
				}
			}
			// The whole reason is in ERR-8; MSA-3 holds its first 80 characters.
			if len(msa) < 4 || msa[1] != "AR" || msa[2] != "B5" || len(errSeg) < 9 || !strings.Contains(errSeg[8], "UNICODE UTF-8") {
				t.Errorf("MSA %q ERR %q, want AR for B5 saying which MSH-18 to write", msa, errSeg)
			}
			// Apart from the sender's own bytes, the AR is ASCII.
			rest := strings.NewReplacer(tc.app, "", tc.fac, "", tc.recv, "", tc.rfac, "").Replace(raw)
			for i := 0; i < len(rest); i++ {
				if rest[i] >= utf8.RuneSelf {
					t.Fatalf("AR has byte %#x beyond the sender's own fields: %q", rest[i], raw)
				}
			}
		})
	}
}
