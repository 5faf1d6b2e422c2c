package e2e

import (
	"testing"

	"github.com/medgate/medgate/test/harness"
)

// TestKafkaQueryResponseEchoesQueryTag: a platform that sends a HIS scan
// button's query over Kafka (format hl7v2: QBP^Q22 with its tag in QPD-2,
// or QRY^A19 with its query ID in QRD-4) to a site that maps its replies
// to HL7 v2 gets the response (RSP^K22, the demo's reply.ecard.scan
// mapping) with the query's tag in QAK-1, as HL7 requires of a responder
// when the query gives one — as the MLLP listener's response has it. The
// reply mapping renders medgate's reply, which does not hold the query,
// so it wrote the request id there; a platform matching responses to its
// queries by tag found none. Read with the tests' own splitter.
func TestKafkaQueryResponseEchoesQueryTag(t *testing.T) {
	t.Parallel()
	cfg, _, p := start(t, func(c *harness.Config) {
		ecardConfig(t, c)
		c.Sites[0]["code"] = "demo"
		c.Sites[0]["outbound"] = map[string]any{"format": "hl7v2", "replies": []string{"ecard.scan"}}
	})
	queries := map[string]struct{ msg, tag string }{
		"qt-qbp": {"MSH|^~\\&|HIS|XMDEMO|MEDGATE|XMDEMO|20261203083025||QBP^Q22^QBP_Q21|SCAN0003|P|2.5\rQPD|Q22^Find Candidates^HL7|SF03\\T\\0003|@PID.3.1^81234567890123456789\rRCP|I|1^RD\r",
			"SF03\\T\\0003"},
		"qt-qry": {"MSH|^~\\&|HIS|XMDEMO|MEDGATE|XMDEMO|20261203083025||QRY^A19|SCAN0004|P|2.3\rQRD|20261203083025|R|I|SF03-0004|||1^RD|81234567890123456789|DEM\r",
			"SF03-0004"},
	}
	for id, q := range queries {
		p.Send("scan", harness.Request{ID: id, Site: "demo", Type: "ecard.scan", Format: "hl7v2", Payload: q.msg})
	}
	got := map[string]bool{}
	for _, m := range records(t, cfg, cfg.Topics().Replies, len(queries)) {
		id := header(m, "medgate-request-id")
		q, ok := queries[id]
		if !ok {
			continue
		}
		got[id] = true
		segs := hl7Segments(t, m.Value)
		if header(m, "medgate-format") != "hl7v2" || field(segs, "MSH", 9, 1) != "RSP" {
			t.Fatalf("%s: reply %q (headers %v), want RSP^K22 in HL7 v2", id, m.Value, m.Headers)
		}
		if tag := field(segs, "QAK", 1, 0); tag != q.tag {
			t.Errorf("%s: QAK-1 %q, want the query's tag %q (reply %q)", id, tag, q.tag, m.Value)
		}
		if field(segs, "MSA", 2, 0) != id || field(segs, "QAK", 2, 0) != "NF" {
			t.Errorf("%s: MSA-2 %q QAK-2 %q, want the request id and NF (a trace code is no e-card)", id, field(segs, "MSA", 2, 0), field(segs, "QAK", 2, 0))
		}
	}
	if len(got) != len(queries) {
		t.Fatalf("replies to %v, want one to each of the %d queries", got, len(queries))
	}
}
