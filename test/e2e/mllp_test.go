package e2e

import (
	"bufio"
	"bytes"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/medgate/medgate/test/harness"
	"github.com/medgate/medgate/test/testenv"
)

// mllpExchange sends one MLLP frame and reads one frame back, with its own
// framing code (0x0B … 0x1C 0x0D), not the project's hl7 package.
func mllpExchange(t *testing.T, c net.Conn, rd *bufio.Reader, msg string) []byte {
	t.Helper()
	_ = c.SetDeadline(time.Now().Add(90 * time.Second))
	if _, err := c.Write([]byte("\x0b" + msg + "\x1c\r")); err != nil {
		t.Fatalf("MLLP write: %v", err)
	}
	if b, err := rd.ReadByte(); err != nil || b != 0x0b {
		t.Fatalf("MLLP: frame starts with %q (%v), want 0x0B", b, err)
	}
	body, err := rd.ReadBytes(0x1c)
	if err != nil {
		t.Fatalf("MLLP read: %v", err)
	}
	if b, err := rd.ReadByte(); err != nil || b != '\r' {
		t.Fatalf("MLLP: frame ends with %q (%v), want CR", b, err)
	}
	return bytes.TrimSuffix(body, []byte{0x1c})
}

// TestMLLPRegistersECard: a platform that speaks MLLP registers a patient
// with ADT^A28 on the demo site's listener and reads the mapped ACK (AA,
// its own MSH-10 in MSA-2, the card number in ZEC); the same message sent
// again (same MSH-10) gets the same card from the stored outcome; a
// message no mapping reads gets AR naming what to configure.
func TestMLLPRegistersECard(t *testing.T) {
	t.Parallel()
	addr := testenv.FreeAddr(t)
	cfg, _, _ := start(t, func(c *harness.Config) {
		ecardConfig(t, c)
		c.Sites[0]["code"] = "demo"
		c.Extra["mllp"] = map[string]any{"listeners": []map[string]any{{"address": addr, "site": "demo", "allowFrom": []string{"127.0.0.0/8"}}}}
	})
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	rd := bufio.NewReader(conn)
	a28 := "MSH|^~\\&|HIS|XMDEMO|MEDGATE|XMDEMO|20261203101500||ADT^A28^ADT_A05|HIS000123|P|2.5|||||CHN|UNICODE UTF-8\r" +
		"EVN|A28|20261203101500\rPID|1||11010519491231002X^^^CHN^NN||孙七^^^^^^L||19491231|F|||||13812345678\r"
	ack := hl7Segments(t, mllpExchange(t, conn, rd, a28))
	cardNo := field(ack, "ZEC", 1, 0)
	if field(ack, "MSH", 9, 1) != "ACK" || field(ack, "MSA", 1, 0) != "AA" || field(ack, "MSA", 2, 0) != "HIS000123" || cardNo == "" || field(ack, "ZEC", 2, 0) != "Y" {
		t.Fatalf("ACK = %v, want AA for HIS000123 with a new card in ZEC", ack)
	}
	again := hl7Segments(t, mllpExchange(t, conn, rd, a28))
	if field(again, "MSA", 1, 0) != "AA" || field(again, "ZEC", 1, 0) != cardNo || field(again, "ZEC", 2, 0) != "Y" {
		t.Fatalf("resent message: ACK %v, want the stored outcome (card %s, created Y)", again, cardNo)
	}
	oru := "MSH|^~\\&|HIS|XMDEMO|MEDGATE|XMDEMO|20261203101600||ORU^R01|HIS000124|P|2.5\rOBX|1|ST|X||y\r"
	nak := hl7Segments(t, mllpExchange(t, conn, rd, oru))
	if field(nak, "MSA", 1, 0) != "AR" || field(nak, "MSA", 2, 0) != "HIS000124" || !strings.Contains(field(nak, "ERR", 8, 0), `ORU\S\R01`) { // the whole reason (MSA-3 its first 80 characters)
		t.Fatalf("ORU^R01: ACK %v, want AR naming the message type", nak)
	}
	// The outcome went the Kafka way too: stored, and the reply published.
	var found bool
	for _, m := range records(t, cfg, cfg.Topics().Replies, 1) {
		if header(m, "medgate-request-id") == "hl7:HIS:XMDEMO:HIS000123" {
			found = true
		}
	}
	if !found {
		t.Error("the MLLP message's reply is not on the replies topic")
	}
}
