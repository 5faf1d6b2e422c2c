package adapter

import (
	"encoding/json"
	"testing"

	"github.com/medgate/medgate/plugins/sdk"
)

// TestPhoneCorrectsStoredPhone: a phone number stored with a card could not
// be corrected: every later registration got the card back with a
// mismatch warning and kept the old number (the desk printed without
// showing it). ecard.phone.correct changes it, given the card number, the
// ID number on the card (for a newborn's card, the guardian's) and a
// reason, with a registration's phone rules for the card's document type;
// the old number is kept in the journal, masked like the new one; ecard.get
// shows the new one (a newborn's guardian's too), ecard.phone.corrected
// tells the HIS (masked), and the registration no longer warns.
func TestPhoneCorrectsStoredPhone(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		first    map[string]any
		idNumber string
		phone    string
		again    map[string]any // registration with the new phone: no warning
		wantNew  string         // masked
		wantOld  string         // masked
	}{
		"a mainland number": {
			first:    map[string]any{"name": "张三丰", "idType": "01", "idNumber": testResidentID, "phone": "13812345678"},
			idNumber: "110105 19491231002x", phone: "１３９８７６５４３２１",
			again:   map[string]any{"name": "张三丰", "idType": "01", "idNumber": testResidentID, "phone": "13987654321"},
			wantNew: "139****4321", wantOld: "138****5678",
		},
		"a passport holder's international number": {
			first:    map[string]any{"name": "John Smith", "idType": "03", "idNumber": "E12345678", "issuingCountry": "GBR", "phone": "+447911123456"},
			idNumber: "E12345678", phone: "+85291234567",
			again:   map[string]any{"name": "John Smith", "idType": "03", "idNumber": "E12345678", "issuingCountry": "GBR", "phone": "+85291234567"},
			wantNew: "+85*****4567", wantOld: "+44******3456",
		},
		"a newborn's guardian": {
			first:    newbornOf("李梅之女", "2", 1),
			idNumber: testResidentID, phone: "13987654321",
			again: func() map[string]any {
				m := newbornOf("李梅之女", "2", 1)
				m["guardian"].(map[string]any)["phone"] = "13987654321"
				return m
			}(),
			wantNew: "139****4321", wantOld: "138****5678",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, testSettings())
			var first registerReply
			e.ok(OpRegister, tc.first, &first)
			if r := e.call(OpRegister, tc.again); len(r.Diagnostics) == 0 {
				t.Fatalf("registration with another phone before the correction: no mismatch warning")
			}

			var got phoneReply
			e.ok(OpPhone, map[string]any{"cardNo": first.CardNo, "idNumber": tc.idNumber, "phone": tc.phone, "reason": "手机号已更换 new number"}, &got)
			if got.CardNo != first.CardNo || got.Phone != tc.wantNew || got.PreviousPhone != tc.wantOld || !got.Corrected || !got.Masked {
				t.Errorf("reply %+v; want card %s phone %q from %q, corrected, masked", got, first.CardNo, tc.wantNew, tc.wantOld)
			}
			var view getReply
			e.ok(OpGet, map[string]string{"cardNo": first.CardNo}, &view)
			if view.Phone != tc.wantNew || (view.Guardian != nil && view.Guardian.Phone != tc.wantNew) {
				t.Errorf("ecard.get phone %q guardian %+v, want %q", view.Phone, view.Guardian, tc.wantNew)
			}
			var journaled map[string]any
			for _, x := range e.host.Exchanges() {
				if x.Exchange.Code == "phone" && x.Exchange.Serial == first.CardNo {
					_ = json.Unmarshal(x.Exchange.Request, &journaled)
				}
			}
			if journaled["previousPhone"] != tc.wantOld || journaled["phone"] != tc.wantNew || journaled["reason"] == "" {
				t.Errorf("journal of the correction %v; want previousPhone %q, phone %q and the reason", journaled, tc.wantOld, tc.wantNew)
			}
			evs := e.eventsOfType(EventPhoneCorrected)
			if len(evs) != 1 || evs[0].Key != first.CardNo {
				t.Fatalf("events %+v, want one keyed by %s", evs, first.CardNo)
			}
			var ev map[string]any
			_ = json.Unmarshal(evs[0].Payload, &ev)
			if ev["cardNo"] != first.CardNo || ev["phone"] != tc.wantNew || ev["previousPhone"] != tc.wantOld || ev["correctedAt"] == nil {
				t.Errorf("event payload %s", evs[0].Payload)
			}
			raw := []string{"13812345678", "13987654321", "+447911123456", "+85291234567", testResidentID, "E12345678"}
			for _, ev := range e.host.Events() {
				if n := containsAny(string(ev.Event.Payload), raw...); n != "" {
					t.Errorf("event %s holds %q unmasked: %s", ev.Event.Type, n, ev.Event.Payload)
				}
			}
			for _, x := range e.host.Exchanges() {
				if n := containsAny(string(x.Exchange.Request)+string(x.Exchange.Response), raw...); n != "" {
					t.Errorf("journal entry %s holds %q unmasked", x.Exchange.Code, n)
				}
			}
			if r := e.call(OpRegister, tc.again); r.Status != sdk.StatusOK || len(r.Diagnostics) != 0 {
				t.Errorf("registration with the corrected phone: %s %s; want ok without a warning", r.Status, r.Diagnostics)
			}
			// The same number again changes nothing and announces nothing.
			var same phoneReply
			e.ok(OpPhone, map[string]any{"cardNo": first.CardNo, "idNumber": tc.idNumber, "phone": tc.phone, "reason": "again"}, &same)
			if same.Corrected || len(e.eventsOfType(EventPhoneCorrected)) != 1 {
				t.Errorf("the same number again: corrected %v, %d events; want false, 1", same.Corrected, len(e.eventsOfType(EventPhoneCorrected)))
			}
		})
	}
}

// TestPhoneCorrectionRefused: the correction is refused, and nothing
// changes, for a card number alone (the ID number on the card is
// required and must match), a number the card's document type does not
// allow (an international number with a resident ID), a missing reason,
// and a revoked card.
func TestPhoneCorrectionRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testSettings())
	var live, dead registerReply
	e.ok(OpRegister, map[string]any{"name": "张三丰", "idType": "01", "idNumber": testResidentID, "phone": "13812345678"}, &live)
	e.ok(OpRegister, map[string]any{"name": "John Smith", "idType": "03", "idNumber": "E12345678", "issuingCountry": "GBR", "phone": "+447911123456"}, &dead)
	e.ok(OpRevoke, map[string]any{"cardNo": dead.CardNo, "reason": "duplicate"}, nil)
	tests := map[string]struct {
		payload     map[string]any
		field, rule string
	}{
		"no ID number":      {map[string]any{"cardNo": live.CardNo, "phone": "13987654321", "reason": "r"}, "$.idNumber", "required"},
		"another ID number": {map[string]any{"cardNo": live.CardNo, "idNumber": "110101199003074514", "phone": "13987654321", "reason": "r"}, "$.idNumber", "mismatch"},
		"international, 01": {map[string]any{"cardNo": live.CardNo, "idNumber": testResidentID, "phone": "+85291234567", "reason": "r"}, "$.phone", "format"},
		"not a number":      {map[string]any{"cardNo": live.CardNo, "idNumber": testResidentID, "phone": "1398765", "reason": "r"}, "$.phone", "format"},
		"no phone":          {map[string]any{"cardNo": live.CardNo, "idNumber": testResidentID, "reason": "r"}, "$.phone", "required"},
		"no reason":         {map[string]any{"cardNo": live.CardNo, "idNumber": testResidentID, "phone": "13987654321"}, "$.reason", "required"},
		"revoked card":      {map[string]any{"cardNo": dead.CardNo, "idNumber": "E12345678", "phone": "+85291234567", "reason": "r"}, "$.cardNo", "revoked"},
		"unknown field":     {map[string]any{"cardNo": live.CardNo, "idNumber": testResidentID, "phone": "13987654321", "reason": "r", "name": "x"}, "$.name", "unknown"},
	}
	for name, tc := range tests {
		r := e.call(OpPhone, tc.payload)
		if r.Status != sdk.StatusInvalid {
			t.Errorf("%s: %s, want invalid", name, r.Status)
			continue
		}
		found := false
		for _, d := range r.Diagnostics {
			found = found || d.Field == tc.field && d.Rule == tc.rule
		}
		if !found {
			t.Errorf("%s: %s; want %s %s", name, r.Diagnostics, tc.field, tc.rule)
		}
	}
	var view getReply
	e.ok(OpGet, map[string]string{"cardNo": live.CardNo}, &view)
	if view.Phone != "138****5678" || len(e.eventsOfType(EventPhoneCorrected)) != 0 {
		t.Errorf("after refusals: phone %q, %d events; want the first, none", view.Phone, len(e.eventsOfType(EventPhoneCorrected)))
	}
}
