package adapter

import (
	"encoding/json"
	"maps"
	"testing"

	"github.com/medgate/medgate/plugins/sdk"
)

// TestRegisterWithTemporaryCard: a registration that names the patient's
// temporary card links it to the new e-card in the same call (and
// publishes ecard.linked), so scanning the temporary card finds the
// patient; a number that is no temporary card is refused before anything
// is registered; a temporary card already linked to someone else leaves
// the registration done, with a warning.
func TestRegisterWithTemporaryCard(t *testing.T) {
	t.Parallel()
	withTemp := func(id map[string]string, temp string) map[string]string {
		out := maps.Clone(id)
		out["tempCardNo"] = temp
		return out
	}
	li := map[string]string{"name": "李四", "idType": "03", "idNumber": "E12345678", "issuingCountry": "GBR", "phone": "13900000001"}

	t.Run("linked", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, testSettings())
		r := e.register(withTemp(zhang(), " 99000123 "))
		if r.TempCardNo != "99000123" || r.CardNo == "" || !r.Created {
			t.Fatalf("register with a temporary card: %+v", r)
		}
		if evs := e.eventsOfType("ecard.linked"); len(evs) != 1 || evs[0].Key != r.CardNo {
			t.Errorf("ecard.linked events %v", evs)
		}
		_, rule, m := e.scan("99000123")
		if rule != "" || m["cardNo"] != r.CardNo || m["source"] != "links" {
			t.Errorf("scan of the temporary card after registration: %q %v", rule, m)
		}
		again := e.register(withTemp(zhang(), "99000123"))
		if again.CardNo != r.CardNo || again.Created || again.TempCardNo != "99000123" {
			t.Errorf("registering again with the same temporary card: %+v", again)
		}
	})
	t.Run("not a temporary card", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, testSettings())
		res := e.call(OpRegister, withTemp(zhang(), "12345"))
		if res.Status != sdk.StatusInvalid || len(res.Diagnostics) != 1 || res.Diagnostics[0].Field != "$.tempCardNo" || res.Diagnostics[0].Rule != "format" {
			t.Fatalf("register with 12345 as temporary card: %s %s", res.Status, res.Diagnostics)
		}
		if evs := e.eventsOfType("ecard.registered"); len(evs) != 0 {
			t.Errorf("a refused registration registered a card: %v", evs)
		}
	})
	t.Run("bad identity and bad temporary card at once", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, testSettings())
		id := withTemp(zhang(), "12345")
		id["phone"] = ""
		res := e.call(OpRegister, id)
		fields := map[string]bool{}
		for _, d := range res.Diagnostics {
			fields[d.Field] = true
		}
		if res.Status != sdk.StatusInvalid || !fields["$.phone"] || !fields["$.tempCardNo"] {
			t.Errorf("every problem at once: %s %s", res.Status, res.Diagnostics)
		}
	})
	t.Run("temporary card of someone else", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, testSettings())
		first := e.register(withTemp(zhang(), "99000123"))
		res := e.call(OpRegister, withTemp(li, "99000123"))
		var r registerReply
		_ = json.Unmarshal(res.Payload, &r)
		if res.Status != sdk.StatusOK || r.CardNo == "" || r.CardNo == first.CardNo || r.TempCardNo != "" {
			t.Fatalf("registration with a taken temporary card: %s %s", res.Status, res.Payload)
		}
		if len(res.Diagnostics) != 1 || res.Diagnostics[0].Severity != sdk.SeverityWarning || res.Diagnostics[0].Rule != "already-linked" {
			t.Errorf("diagnostics %s, want one already-linked warning", res.Diagnostics)
		}
	})
}
