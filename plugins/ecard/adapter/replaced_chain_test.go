package adapter

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/medgate/medgate/plugins/sdk"
)

// TestRevokedCardNamesTheLiveCard: a card revoked and replaced, whose
// replacement was revoked and replaced in turn, names the card the patient
// holds now, the end of the chain: a scan of its QR code or of a temporary
// card still linked to it, and ecard.qrcode and ecard.link refused for it,
// tell the counter to use that card, not the revoked one in between (whose
// code would be refused as revoked, and a link to it too). When the
// patient's latest card is revoked and not replaced, they say to register
// again.
func TestRevokedCardNamesTheLiveCard(t *testing.T) {
	t.Parallel()
	const temp = "99000123"
	e := newEnv(t, testSettings())
	first, q := e.issue(nil)
	e.ok(OpLink, map[string]string{"cardNo": first, "tempCardNo": temp}, nil)
	revoke := func(cardNo string) { e.ok(OpRevoke, map[string]string{"cardNo": cardNo, "reason": "lost phone"}, nil) }
	revoke(first)
	second := e.register(zhang()).CardNo
	revoke(second)
	third := e.register(zhang()).CardNo

	check := func(t *testing.T, live string) {
		t.Helper()
		for _, text := range []string{q.Text, temp} {
			r := e.call(OpScan, map[string]string{"text": text})
			var got struct{ Result, ReplacedBy, Message string }
			if err := json.Unmarshal(r.Payload, &got); err != nil {
				t.Fatal(err)
			}
			if r.Status != sdk.StatusInvalid || got.Result != ResultRevoked || got.ReplacedBy != live || strings.Contains(got.Message, second) ||
				(live != "" && !strings.Contains(got.Message, live)) {
				t.Errorf("scan of %s: %s %s, want revoked naming %q (and not %s)", text, r.Status, r.Payload, live, second)
			}
		}
		for op, p := range map[string]map[string]string{
			OpQRCode: {"cardNo": first},
			OpLink:   {"cardNo": first, "tempCardNo": "99000999"},
		} {
			r := e.call(op, p)
			if r.Status != sdk.StatusInvalid || len(r.Diagnostics) != 1 || r.Diagnostics[0].Rule != "revoked" {
				t.Fatalf("%s of revoked card %s: %s %s, want invalid, rule revoked", op, first, r.Status, r.Diagnostics)
			}
			d := r.Diagnostics[0].Detail
			if strings.Contains(d, second) || (live != "" && !strings.Contains(d, live)) || (live == "" && !strings.Contains(d, "register the patient again")) {
				t.Errorf("%s of revoked card %s: detail %q, want it to name %q and not %s", op, first, d, live, second)
			}
		}
	}
	t.Run("replaced twice", func(t *testing.T) { check(t, third) })
	revoke(third)
	t.Run("the latest card revoked too", func(t *testing.T) { check(t, "") })
}
