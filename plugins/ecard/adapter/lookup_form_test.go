package adapter

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/medgate/medgate/plugins/sdk"
)

// TestLookupForm: the console has a page, 电子卡查询, where the cashier
// (an operator) looks a card up by its number or a temporary card's and
// sees its status and patient masked, as ecard.get answers, without
// printing a new code. Before, the console had no such page: the scan
// page's answer to a card number said to look the card up with ecard.get,
// which nobody at the console could send, and the print page, the only
// one taking a card number, sealed a new code on every look.
func TestLookupForm(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testSettings())
	d, err := e.p.Describe(context.Background(), &sdk.DescribeRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var form *sdk.Form
	for i, f := range d.Forms {
		if f.Name == FormLookup {
			form = &d.Forms[i]
		}
	}
	if form == nil {
		t.Fatalf("no console form %q among %d forms", FormLookup, len(d.Forms))
	}
	if form.Operation != OpGet || form.Role != "" || !strings.Contains(form.Title, "电子卡查询") {
		t.Errorf("the lookup form: operation %q, role %q, title %q; want %s for operators, 电子卡查询", form.Operation, form.Role, form.Title, OpGet)
	}
	for _, c := range form.Result.Fields {
		if (c.Field == "name" || c.Field == "idNumber" || c.Field == "phone" || c.Field == "guardian.name") != c.Personal {
			t.Errorf("the lookup form's column %s is Personal %v", c.Field, c.Personal)
		}
	}

	zh := zhang()
	cardNo := e.register(zh).CardNo
	e.ok(OpLink, map[string]string{"cardNo": cardNo, "tempCardNo": "99000123"}, nil)
	issued := len(e.eventsOfType(EventQRIssued))
	for _, typed := range []string{cardNo, " 99000123 "} {
		r := e.call(form.Operation, consolePayload(t, *form, map[string]string{"cardNo": typed}))
		var got getReply
		if err := json.Unmarshal(r.Payload, &got); r.Status != sdk.StatusOK || err != nil {
			t.Fatalf("the lookup form with %q: %s %s %v", typed, r.Status, r.Diagnostics, err)
		}
		if got.CardNo != cardNo || got.Status != statusLive || got.Name != "张*丰" || !got.Masked {
			t.Errorf("the lookup form with %q: card %s status %s name %q masked %v; want %s, active, 张*丰, masked", typed, got.CardNo, got.Status, got.Name, got.Masked, cardNo)
		}
		if s := string(r.Payload); strings.Contains(s, zh["name"]) || strings.Contains(s, zh["idNumber"]) || strings.Contains(s, zh["phone"]) {
			t.Errorf("the lookup form with %q shows personal data unmasked: %s", typed, s)
		}
	}
	if n := len(e.eventsOfType(EventQRIssued)); n != issued {
		t.Errorf("looking a card up issued %d QR codes, want none", n-issued)
	}

	// The scan page's answer to a card number names the page.
	r := e.call(OpScan, map[string]string{"text": cardNo})
	if detail, _ := json.Marshal(r.Diagnostics); !strings.Contains(string(detail), "电子卡查询") {
		t.Errorf("the scan of a card number does not point to the 电子卡查询 page: %s", detail)
	}
}
