package adapter

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/medgate/medgate/plugins/sdk"
)

// TestDeskLinksTheTemporaryCard: the cashier replacing a patient's
// temporary card (the requirement's 电子卡替代临时卡) types its number at the
// desk, which links it to the patient's e-card in the same call, the
// reply saying so; before, the desk had no such field, and the link
// needed an ecard.link message the console could not send. A number that
// is no temporary card is refused with the other problems before anything
// is registered; a temporary card linked to another e-card leaves the
// label printed with a warning; and when the desk prints nothing because
// the name typed is not the card's (another person's ID number typed),
// the temporary card is not linked to that card.
func TestDeskLinksTheTemporaryCard(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testSettings())
	desk := func(p map[string]any) (*sdk.HandleResponse, deskReply) {
		t.Helper()
		r := e.call(OpDesk, p)
		var d deskReply
		_ = json.Unmarshal(r.Payload, &d)
		return r, d
	}
	with := func(id map[string]string, extra map[string]any) map[string]any {
		p := map[string]any{}
		for k, v := range id {
			p[k] = v
		}
		for k, v := range extra {
			p[k] = v
		}
		return p
	}
	tempCards := func(cardNo string) []string {
		t.Helper()
		var g getReply
		e.ok(OpGet, map[string]string{"cardNo": cardNo}, &g)
		return g.TempCards
	}

	r, d := desk(with(zhang(), map[string]any{"tempCardNo": " 99000123 "}))
	if r.Status != sdk.StatusOK || d.TempCardNo != "99000123" || len(d.LabelPNG) == 0 {
		t.Fatalf("desk with temporary card 99000123: %s %s, tempCardNo %q; want ok, linked, a label", r.Status, r.Diagnostics, d.TempCardNo)
	}
	if got := tempCards(d.CardNo); !slices.Equal(got, []string{"99000123"}) {
		t.Errorf("card %s has temporary cards %q after the desk, want [99000123]", d.CardNo, got)
	}
	if n := len(e.eventsOfType("ecard.linked")); n != 1 {
		t.Errorf("%d ecard.linked events, want 1", n)
	}

	// Not a temporary card, with a wrong phone: both refused, nothing registered.
	before := len(e.eventsOfType("ecard.registered"))
	r, _ = desk(with(person(1), map[string]any{"tempCardNo": "12345678", "phone": "123"}))
	if fields := diagsOf(r.Diagnostics); r.Status != sdk.StatusInvalid || !slices.Contains(fields, diag{Field: "$.tempCardNo", Rule: "format", Error: true}) || !slices.Contains(fields, diag{Field: "$.phone", Rule: "format", Error: true}) {
		t.Errorf("desk with a number that is no temporary card and a wrong phone: %s %v; want invalid at $.tempCardNo and $.phone", r.Status, fields)
	}
	if n := len(e.eventsOfType("ecard.registered")); n != before {
		t.Errorf("a refused desk call registered %d card(s)", n-before)
	}

	// Linked to another card already: printed, with a warning.
	r, other := desk(with(person(2), map[string]any{"tempCardNo": "99000123"}))
	if r.Status != sdk.StatusOK || other.TempCardNo != "" || len(other.LabelPNG) == 0 || len(r.Diagnostics) == 0 || r.Diagnostics[0].Severity != sdk.SeverityWarning {
		t.Errorf("desk with a temporary card linked to another card: %s %s, tempCardNo %q; want ok, a label, a warning, not linked", r.Status, r.Diagnostics, other.TempCardNo)
	}

	// Another person's ID number typed (the names differ): nothing printed, nothing linked.
	wrong := with(zhang(), map[string]any{"name": "李四", "tempCardNo": "99000456"})
	if r, _ := desk(wrong); r.Status != sdk.StatusInvalid {
		t.Fatalf("desk under another name: %s %s, want invalid (mismatch)", r.Status, r.Diagnostics)
	}
	if got := tempCards(d.CardNo); !slices.Equal(got, []string{"99000123"}) {
		t.Errorf("the refused desk call linked a temporary card to the card of the ID number typed: %q", got)
	}
}
