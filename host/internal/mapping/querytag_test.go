package mapping

import (
	"strings"
	"testing"

	"github.com/medgate/medgate/host/internal/config"
	"github.com/medgate/medgate/transforms/hl7"
)

// TestOutboundReplyEchoesQueryTag: a reply mapped to an HL7 v2 query
// response (the demo's RSP^K22) for the replies topic carries the
// query's tag in QAK-1 when the request is an HL7 v2 query giving one
// (QPD-2, QRD-4 of a QRY), escaped in the response's delimiters;
// otherwise QAK-1 is what the mapping wrote (the request id).
func TestOutboundReplyEchoesQueryTag(t *testing.T) {
	t.Parallel()
	cfg := &config.Config{Sites: []config.Site{{Code: "demo", Outbound: &config.Outbound{Format: "hl7v2", Replies: []string{"*"}}}}}
	sets, err := Compile(cfg, map[string]source{})
	if err != nil {
		t.Fatal(err)
	}
	var m Mappings
	m.Set(sets)
	reply := []byte(`{"id":"r1","requestId":"q1","site":"demo","type":"ecard.scan","status":"invalid","completedAt":"2026-12-03T02:00:00Z",` +
		`"payload":{"result":"not-ecard","kind":"trace-code","message":"不是就诊卡"}}`)
	const qbp = `MSH|^~\\&|HIS|XMDEMO|MEDGATE|XMDEMO|20261203083025||QBP^Q22^QBP_Q21|S3|P|2.5\rQPD|Q22^Find Candidates^HL7|%s|@PID.3.1^8123\r`
	testCases := map[string]struct {
		request, want string
	}{
		"QBP^Q22":                {`{"id":"q1","site":"demo","type":"ecard.scan","format":"hl7v2","payload":"` + strings.Replace(qbp, "%s", "SF03-0003", 1) + `"}`, "SF03-0003"},
		"QBP^Q22, escaped tag":   {`{"id":"q1","site":"demo","type":"ecard.scan","format":"hl7v2","payload":"` + strings.Replace(qbp, "%s", `SF\\T\\03`, 1) + `"}`, "SF&03"},
		"QRY^A19":                {`{"id":"q1","site":"demo","type":"ecard.scan","format":"hl7v2","payload":"MSH|^~\\&|HIS|XMDEMO|||20261203083025||QRY^A19|S4|P|2.3\rQRD|20261203083025|R|I|SF03-0004|||1^RD|8123|DEM\r"}`, "SF03-0004"},
		"QBP^Q22 without a tag":  {`{"id":"q1","site":"demo","type":"ecard.scan","format":"hl7v2","payload":"` + strings.Replace(qbp, "%s", "", 1) + `"}`, "q1"},
		"a JSON request":         {`{"id":"q1","site":"demo","type":"ecard.scan","payload":{"text":"8123"}}`, "q1"},
		"a request that is gone": {``, "q1"},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			h := map[string]string{}
			out := m.OutboundReply("demo", "ecard.scan", []byte(tc.request), reply, h)
			msg, err := hl7.ParseWith(out, hl7.Options{Text: true})
			if err != nil {
				t.Fatalf("reply %q: %v", out, err)
			}
			if got := msg.Get(hl7.Location{Segment: "QAK", Field: 1}); got != tc.want {
				t.Errorf("QAK-1 %q, want %q (reply %q)", got, tc.want, out)
			}
			if got := msg.Get(hl7.Location{Segment: "QAK", Field: 2}); got != "NF" {
				t.Errorf("QAK-2 %q, want NF as mapped", got)
			}
		})
	}
}
