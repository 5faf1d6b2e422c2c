package e2e

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/medgate/medgate/test/harness"
	"github.com/medgate/medgate/test/testenv"
)

// TestPlatformMLLPAcks plays a platform that speaks HL7 v2 over MLLP with
// its own framing code (not the project's hl7 package), one connection per
// case, and checks each ACK as the README's MLLP section promises it: MSA-1
// the outcome's code, MSA-2 the sender's MSH-10 (also when the message is
// refused before it is read: too large for the listener, or sent without
// MLLP framing; a sender matches ACKs to its messages by MSA-2), MSH-5/6
// the sender's MSH-3/4, and the character set the ACK is written in
// declared in its MSH-18 (the ACKs carry Chinese text).
func TestPlatformMLLPAcks(t *testing.T) {
	t.Parallel()
	addr := testenv.FreeAddr(t)
	const maxBytes = 4096
	start(t, func(c *harness.Config) {
		ecardConfig(t, c)
		c.Sites[0]["code"] = "demo"
		c.Extra["mllp"] = map[string]any{"listeners": []map[string]any{{
			"address": addr, "site": "demo", "allowFrom": []string{"127.0.0.0/8"}, "maxMessageBytes": maxBytes,
		}}}
	})
	a28 := func(control, idNumber, extra string) string {
		return "MSH|^~\\&|HIS|XMDEMO|MEDGATE|XMDEMO|20261203101500||ADT^A28^ADT_A05|" + control + "|P|2.5|||||CHN|UNICODE UTF-8\r" +
			"EVN|A28|20261203101500\rPID|1||" + idNumber + "^^^CHN^NN||孙七^^^^^^L||19491231|F|||||13812345678\r" + extra
	}
	frame := func(msg string) []byte { return []byte("\x0b" + msg + "\x1c\r") }
	for name, tc := range map[string]struct {
		send    []byte
		control string
		msa1    string
		why     string // in ERR-8 (MSA-3 its start)
	}{
		"registered":            {frame(a28("PL-OK-1", "11010519491231002X", "")), "PL-OK-1", "AA", ""},
		"invalid ID number":     {frame(a28("PL-BAD-1", "110105194912310029", "")), "PL-BAD-1", "AR", "居民身份证号"},
		"larger than the limit": {frame(a28("PL-BIG-1", "11010519491231002X", "NTE|1||"+strings.Repeat("x", 2*maxBytes)+"\r")), "PL-BIG-1", "AR", "maxMessageBytes"},
		"without MLLP framing":  {[]byte(a28("PL-RAW-1", "11010519491231002X", "")), "PL-RAW-1", "AR", "0x0B"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			_ = conn.SetDeadline(time.Now().Add(90 * time.Second))
			go func() { _, _ = conn.Write(tc.send) }() // a large message is read while the ACK is written
			ack := readMLLPFrame(t, bufio.NewReader(conn))
			segs := hl7Segments(t, ack)
			if got := field(segs, "MSA", 1, 0); got != tc.msa1 {
				t.Errorf("MSA-1 = %q, want %s (ACK %q)", got, tc.msa1, ack)
			}
			if got := field(segs, "MSA", 2, 0); got != tc.control {
				t.Errorf("MSA-2 = %q, want the sender's MSH-10 %q (ACK %q)", got, tc.control, ack)
			}
			if got := field(segs, "MSH", 5, 0) + "|" + field(segs, "MSH", 6, 0); got != "HIS|XMDEMO" {
				t.Errorf("MSH-5|MSH-6 = %q, want the sender's MSH-3|MSH-4 HIS|XMDEMO (ACK %q)", got, ack)
			}
			if got := field(segs, "MSH", 18, 0); got != "UNICODE UTF-8" {
				t.Errorf("MSH-18 = %q, want UNICODE UTF-8: the ACK is UTF-8 and must say so (ACK %q)", got, ack)
			}
			// The whole reason is in ERR-8; MSA-3 (80 characters up to v2.5.1) its start.
			why, msa3 := field(segs, "ERR", 8, 0), field(segs, "MSA", 3, 0)
			if !strings.Contains(why, tc.why) || !strings.HasPrefix(why, strings.TrimSuffix(msa3, "...")) {
				t.Errorf("ERR-8 = %q, MSA-3 = %q, want them to say %q", why, msa3, tc.why)
			}
		})
	}
}

// readMLLPFrame reads one MLLP frame (0x0B … 0x1C 0x0D) and returns the
// message in it.
func readMLLPFrame(t *testing.T, rd *bufio.Reader) []byte {
	t.Helper()
	if b, err := rd.ReadByte(); err != nil || b != 0x0b {
		t.Fatalf("MLLP: frame starts with %q (%v), want 0x0B", b, err)
	}
	body, err := rd.ReadBytes(0x1c)
	if err != nil && err != io.EOF {
		t.Fatalf("MLLP read: %v", err)
	}
	return bytes.TrimSuffix(body, []byte{0x1c})
}
