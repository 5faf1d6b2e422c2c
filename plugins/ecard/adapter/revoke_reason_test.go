package adapter

import (
	"strings"
	"testing"

	"github.com/medgate/medgate/plugins/sdk"
)

// TestRevokeReasonIsMasked: the reason of ecard.revoke is text the cashier
// types, and it often names the patient ("患者张三丰要求注销", the ID
// number of the card it duplicates, a phone to call back). It goes into
// the ecard.revoked event every consumer of the topic reads, the journal,
// the revoke reply and every ecard.get of the card, where the identity is
// masked unless revealed; the README promises that no event carries a raw
// name, ID number or phone. The ID numbers, phones and names after their
// labels in it are masked as in the host's logs (plugins/sdk/pii); the
// rest of the reason is kept.
func TestRevokeReasonIsMasked(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		reason string
		raw    string // must not appear anywhere
		kept   string // must still be there
	}{
		"ID number":          {"重复登记，正确证件号11010519491231002X", testResidentID, "重复登记"},
		"name after 患者":      {"患者张三丰本人要求注销", "张三丰", "要求注销"},
		"phone":              {"已电话13812345678确认", "13812345678", "确认"},
		"plain reason, kept": {"duplicate registration", "", "duplicate registration"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, testSettings())
			reg := e.register(person(1))
			r := e.call(OpRevoke, map[string]string{"cardNo": reg.CardNo, "reason": tc.reason})
			if r.Status != sdk.StatusOK {
				t.Fatalf("revoke: %s %s", r.Status, r.Diagnostics)
			}
			got := e.call(OpGet, map[string]string{"cardNo": reg.CardNo})
			places := map[string]string{"revoke reply": string(r.Payload), "ecard.get": string(got.Payload)}
			for _, x := range e.host.Exchanges() {
				if x.Exchange.Code == "revoke" {
					places["journal"] = string(x.Exchange.Request) + string(x.Exchange.Response)
				}
			}
			for _, ev := range e.eventsOfType("ecard.revoked") {
				places["ecard.revoked event"] = string(ev.Payload)
			}
			if len(places) != 4 {
				t.Fatalf("found %d of the 4 places the reason goes: %v", len(places), places)
			}
			for where, text := range places {
				if tc.raw != "" && strings.Contains(text, tc.raw) {
					t.Errorf("%s holds the raw %q: %s", where, tc.raw, text)
				}
				if !strings.Contains(text, tc.kept) {
					t.Errorf("%s lost %q of the reason: %s", where, tc.kept, text)
				}
			}
		})
	}
}
