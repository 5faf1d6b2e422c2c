package console

import (
	"encoding/json"
	"html"
	"net/url"
	"strings"
	"testing"

	"github.com/medgate/medgate/host/internal/access"
	"github.com/medgate/medgate/host/internal/store"
)

// admissionHL7 is an ADT^A01 as the platform sends it (the demo site's
// workinjury.GYU101 mapping reads it): the patient's name, ID documents,
// address and phone in PID, a relative's name and phone in NK1.
const admissionHL7 = "MSH|^~\\&|HIS|XMDEMO|MEDGATE|XMDEMO|20250401101500||ADT^A01^ADT_A01|ADT20250401001|P|2.5\r" +
	"EVN|A01|20250401093000\r" +
	"PID|1||ZY20250401001^^^HIS^PI~E12345678^^^CHN^PPN||王小梅^^^^^^L||19850715|F|||思明区湖滨南路1号^^厦门市^福建省^361000||+85291234567\r" +
	"NK1|1|张四|BRO^兄弟||0592-5551234\r" +
	"PV1|1|I|B03^0312^12^XMDEMO|||||||GK01||||||||ZY20250401001\r"

// hl7Leaks are the personal data in admissionHL7 that a masked view must
// not show; hl7Kept what it must still show.
var (
	hl7Leaks = []string{"王小梅", "E12345678", "湖滨南路", "张四", "91234567", "5551234"}
	hl7Kept  = []string{"ZY20250401001^^^HIS^PI", "^^^CHN^PPN", "PID|1||", "BRO^兄弟", "ADT^A01", "19850715"}
)

// TestHL7RequestsMasked: a message sent as HL7 v2 (format hl7v2, and an
// exchange whose body is HL7) shows the patient's and relatives' names,
// ID documents, addresses and phones masked on the message page, as JSON
// bodies are, with the segments, the hospital's own numbers and codes
// still readable; the admin's reveal shows them as received.
func TestHL7RequestsMasked(t *testing.T) {
	t.Parallel()
	f := newFixture(t, testToken)
	env, _ := json.Marshal(map[string]any{"id": "his-hl7", "site": "s1", "type": "workinjury.GYU101", "format": "hl7v2", "payload": admissionHL7})
	f.b.st.msgs = append(f.b.st.msgs, store.Message{ID: "his-hl7", Site: "s1", Type: "workinjury.GYU101", Status: "done", Outcome: "ok",
		Attempts: 1, ReceivedAt: f.clock.now(), Request: env})
	f.b.st.xs = append(f.b.st.xs, store.Exchange{MessageID: "his-hl7", System: "his", Code: "ack", Status: "ok",
		Request: []byte(strings.ReplaceAll(admissionHL7, "\r", "\r\n")), Response: []byte(`{"ack":"AA"}`)})

	viewer := f.client()
	viewer.signIn("v01", f.addUser("v01", access.Viewer))
	r := viewer.get("/console/message?id=his-hl7")
	body := html.UnescapeString(r.body)
	if r.code != 200 {
		t.Fatalf("message page: %d", r.code)
	}
	for _, leak := range hl7Leaks {
		if strings.Contains(body, leak) {
			t.Errorf("the masked message page shows %q", leak)
		}
	}
	for _, keep := range hl7Kept {
		if n := strings.Count(body, keep); n < 2 { // the request and the exchange
			t.Errorf("the masked message page shows %q %d times, want it in the request and the exchange", keep, n)
		}
	}
	if t.Failed() {
		t.Logf("page:\n%s", body)
	}

	admin := f.client()
	admin.login("chief")
	r = admin.post("/console/message/reveal", url.Values{"csrf": {admin.csrf}, "id": {"his-hl7"}})
	for _, want := range hl7Leaks {
		if !strings.Contains(html.UnescapeString(r.body), want) {
			t.Errorf("the reveal does not show %q", want)
		}
	}
}

// TestMaskHL7 masks the personal fields whatever the message's separators
// and line breaks, and leaves other text alone.
func TestMaskHL7(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"standard", "MSH|^~\\&|HIS\rPID|1||440301198507150031^^^CHN^NN~ZY1^^^HIS^MR||张三^^^^^^L\r",
			"MSH|^~\\&|HIS\rPID|1||440***********0031^^^CHN^NN~ZY1^^^HIS^MR||张*^^^^^^L\r"},
		{"other separators, newlines", "MSH#$*\\%#HIS\nPID#1##E12345678$$$CHN$PPN##SMITH%JOHN$$$$$$L\n",
			"MSH#$*\\%#HIS\nPID#1##E*******8$$$CHN$PPN##S***H%J***$$$$$$L\n"},
		{"guarantor and insured", "MSH|^~\\&|HIS\rGT1|1||李四||厦门|13912345678\rIN1|1|P1||||||||||||||王五",
			"MSH|^~\\&|HIS\rGT1|1||李*||厦*|139****5678\rIN1|1|P1||||||||||||||王*"},
		{"not HL7", "PID|1||张三", "PID|1||张三"},
		{"short", "MSH|", "MSH|"},
	} {
		if got := maskHL7(tc.in); got != tc.want {
			t.Errorf("%s:\n got %q\nwant %q", tc.name, got, tc.want)
		}
	}
}
