package transforms

import (
	"os"
	"strings"
	"testing"

	"github.com/medgate/medgate/transforms/hl7"
)

// TestHL7StayGetsItsNumbersBack: an HL7 v2 platform of the demo site can
// run a work-injury stay: the ACK of its ADT^A01 (GYU101) carries the
// national visit number, which its DFT^P03 (GYU102) and ADT^A03 (GYU103)
// send back in PV1-50, and the ACK of its ADT^A03 carries the settlement
// (number, the fund's part, the patient's part, time) the cashier charges
// by. The ACKs were plain (MSA, ZEX): the visit number GYU102 and GYU103
// require was in no HL7 answer, and the patient's part in none either.
func TestHL7StayGetsItsNumbersBack(t *testing.T) {
	t.Parallel()
	set := mustEmbedded(t)
	render := func(typ, reply string) (*hl7.Message, string) {
		t.Helper()
		m, ok := set.FindOutbound("demo", FormatHL7v2, KindReply, typ)
		if !ok {
			t.Fatalf("no hl7v2 reply mapping for %s", typ)
		}
		out, problems := m.Render([]byte(reply), set.Tables("demo"))
		if len(problems) > 0 {
			t.Fatalf("%s: %+v", typ, problems)
		}
		msg, err := hl7.Parse(out)
		if err != nil {
			t.Fatalf("%s ACK does not parse: %v\n%s", typ, err, out)
		}
		return msg, strings.ReplaceAll(string(out), "\r", "\n")
	}
	ack, text := render("workinjury.GYU101", `{"id":"r1","requestId":"hl7:HIS:XMDEMO:ADT1","site":"demo","type":"workinjury.GYU101","status":"ok","payload":{"ykc700":"JZ350200202612060954160001"},"attempts":1,"completedAt":"2026-12-06T01:54:16Z"}`)
	visit := ""
	for _, seg := range ack.Segments {
		for f := 1; f <= 3; f++ {
			if v := seg.Value(f, 1, 1, 1); v == "JZ350200202612060954160001" {
				visit = v
			}
		}
	}
	if visit == "" {
		t.Fatalf("the GYU101 ACK does not carry the visit number:\n%s", text)
	}
	// The DFT^P03 of the stay, with the number where the mapping reads it.
	for _, typ := range []string{"workinjury.GYU102", "workinjury.GYU103"} {
		in := map[string]string{"workinjury.GYU102": "charges", "workinjury.GYU103": "discharge"}[typ]
		raw, err := os.ReadFile("testdata/demo/hl7v2/" + typ + "/" + in + ".in.hl7")
		if err != nil {
			t.Fatal(err)
		}
		msg := strings.ReplaceAll(string(raw), "JZ3502002025040100001", visit)
		m, ok := set.Find("demo", FormatHL7v2, typ)
		if !ok {
			t.Fatalf("no hl7v2 mapping for %s", typ)
		}
		got, problems := m.Apply([]byte(msg), set.Tables("demo"))
		if len(problems) > 0 {
			t.Fatalf("%s: %+v", typ, problems)
		}
		if got["ykc700"] != visit {
			t.Errorf("%s ykc700 %v, want the GYU101 ACK's %s", typ, got["ykc700"], visit)
		}
	}
	_, text = render("workinjury.GYU103", `{"id":"r3","requestId":"stay-103","site":"demo","type":"workinjury.GYU103","status":"ok","payload":{"fund_pay":225,"self_pay":10.5,"settle_no":"JS350200202612060954210002","settle_time":"2026-04-04 10:30:00"},"attempts":1,"completedAt":"2026-12-06T01:54:21Z"}`)
	for _, want := range []string{"JS350200202612060954210002", "|225|", "|10.5|", "20260404103000"} {
		if !strings.Contains(text, want) {
			t.Errorf("the GYU103 ACK does not carry %q:\n%s", want, text)
		}
	}
}
