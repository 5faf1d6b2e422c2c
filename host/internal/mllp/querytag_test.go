package mllp

import (
	"strings"
	"testing"

	"github.com/medgate/medgate/host/internal/message"
	"github.com/medgate/medgate/transforms/hl7"
)

// TestQueryTagEchoed: the response to a query (a HIS scan button asking
// with QBP^Q22 or QRY^A19) echoes the query's tag in QAK-1, as HL7
// requires of a responder when the query gives one (QPD-2; QRD-4, the
// query ID, of a QRY), whatever the site's reply mapping wrote there: the
// mapping renders medgate's reply, which does not hold the request's QPD,
// so it wrote the sender's MSH-10, and a HIS matching responses by query
// tag found none.
func TestQueryTagEchoed(t *testing.T) {
	t.Parallel()
	mapped := []byte("MSH|^~\\&|MEDGATE|demo|PLATFORM||20261203101500||RSP^K22^RSP_K21|r1|P|2.5\rMSA|AA|x\rQAK|MAPPED|OK\rPID|||E1^^^ECARD^PI\r")
	testCases := map[string]struct {
		msg, wantTag string
	}{
		"QBP^Q22": {"MSH|^~\\&|HIS|XMFY|MEDGATE|GW|20261203101500||QBP^Q22^QBP_Q21|S1|P|2.5\rQPD|Q22^Find Candidates^HL7|SF03-0001|@PID.3.1^E1\rRCP|I\r",
			"SF03-0001"},
		"QBP^Q22, tag with a delimiter": {"MSH|^~\\&|HIS|XMFY|MEDGATE|GW|20261203101500||QBP^Q22^QBP_Q21|S1|P|2.5\rQPD|Q22^Find Candidates^HL7|SF\\T\\03|@PID.3.1^E1\r",
			"SF&03"},
		"QBP^Q22, other delimiters": {"MSH*!~\\&*HIS*XMFY*MEDGATE*GW*20261203101500**QBP!Q22!QBP_Q21*S1*P*2.5\rQPD*Q22!Find Candidates!HL7*SF|03*@PID.3.1!E1\r",
			"SF|03"},
		"QRY^A19": {"MSH|^~\\&|HIS|XMFY|MEDGATE|GW|20261203101500||QRY^A19|S1|P|2.3\rQRD|20261203083017|R|I|SF03-0004|||1^RD|E1|DEM\r",
			"SF03-0004"},
		"no query tag": {"MSH|^~\\&|HIS|XMFY|MEDGATE|GW|20261203101500||QBP^Q22^QBP_Q21|S1|P|2.5\rQPD|Q22^Find Candidates^HL7||@PID.3.1^E1\r",
			"MAPPED"},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cfg := listenerConfig()
			cfg.MessageTypes = map[string]string{"QBP^Q22": "ecard.scan", "QRY^A19": "ecard.scan"}
			proc := &fakeProc{answer: status(message.StatusOK)}
			s, err := New(cfg, proc, fakeMaps{ack: mapped}, quiet, nil)
			if err != nil {
				t.Fatal(err)
			}
			acks := exchange(t, s, frame(tc.msg))
			if len(acks) != 1 {
				t.Fatalf("%d ACKs, want 1", len(acks))
			}
			ack := acks[0]
			get := func(seg string, f int) string { return ack.Get(hl7.Location{Segment: seg, Field: f}) }
			if got := get("QAK", 1); got != tc.wantTag {
				t.Errorf("QAK-1 %q, want %q", got, tc.wantTag)
			}
			if get("QAK", 2) != "OK" || get("MSA", 2) != "S1" || !strings.HasPrefix(get("PID", 3), "E1") {
				t.Errorf("QAK-2 %q, MSA-2 %q, PID-3 %q; want OK, S1, E1 as mapped", get("QAK", 2), get("MSA", 2), get("PID", 3))
			}
		})
	}
}
