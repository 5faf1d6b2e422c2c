package adapter

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/medgate/medgate/plugins/sdk"
)

// TestRevokedWrongIDSaysOwnNumber: a card revoked with wrongId was
// registered with another person's ID number. What its old printed code,
// its linked temporary card, the print page and the desk's link answer
// must say so and send the clerk to register the patient with the
// patient's own ID number: "register the patient again", as for a plain
// revocation, led the clerk to type the same wrong number again, and the
// replies did not carry wrongId, so a HIS could not tell the two apart.
func TestRevokedWrongIDSaysOwnNumber(t *testing.T) {
	t.Parallel()
	const temp = "99000456"
	e := newEnv(t, testSettings())
	wang := map[string]string{"name": "王五", "idType": "01", "idNumber": testResidentID, "phone": "13912345678"}
	var desk deskReply
	e.ok(OpDesk, wang, &desk)
	e.ok(OpLink, map[string]string{"cardNo": desk.CardNo, "tempCardNo": temp}, nil)
	e.ok(OpRevoke, map[string]any{"cardNo": desk.CardNo, "reason": "证件号输错", "wrongId": true}, nil)

	testCases := map[string]struct {
		typ     string
		payload any
		scan    bool
	}{
		"old printed code":      {typ: OpScan, payload: map[string]string{"text": desk.Text}, scan: true},
		"linked temporary card": {typ: OpScan, payload: map[string]string{"text": temp}, scan: true},
		"print page":            {typ: OpQRCode, payload: map[string]string{"cardNo": desk.CardNo}},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			r := e.call(tc.typ, tc.payload)
			if r.Status != sdk.StatusInvalid || len(r.Diagnostics) == 0 || r.Diagnostics[0].Rule != ResultRevoked {
				t.Fatalf("status %s %v, want invalid revoked", r.Status, r.Diagnostics)
			}
			if d := r.Diagnostics[0].Detail; !strings.Contains(d, "another person's ID number") || !strings.Contains(d, "own ID number") {
				t.Errorf("detail %q does not say the card had another person's ID number and to register with the patient's own", d)
			}
			if !tc.scan {
				return
			}
			var m map[string]any
			if err := json.Unmarshal(r.Payload, &m); err != nil {
				t.Fatal(err)
			}
			if m["wrongId"] != true {
				t.Errorf("reply %v has no wrongId: true", m)
			}
			if msg, _ := m["message"].(string); !strings.Contains(msg, "他人证件号") || !strings.Contains(msg, "本人证件") {
				t.Errorf("message %q does not say the card had another person's ID number and to register with the patient's own", msg)
			}
		})
	}
}
