package adapter

import (
	"encoding/json"
	"maps"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/medgate/medgate/plugins/ecard/card"
	"github.com/medgate/medgate/plugins/sdk"
)

// newbornOf returns the registration of a newborn (born 2026-11-24, two
// days before the env's clock) under its mother, with birth order order.
func newbornOf(name, gender string, order int) map[string]any {
	return map[string]any{
		"name": name, "gender": gender, "birthDate": "2026-11-24", "birthOrder": order,
		"guardian": map[string]any{"name": "李梅", "idType": "01", "idNumber": testResidentID, "phone": "13812345678", "relation": "52"},
	}
}

// TestRegisterNewborn: a newborn without an ID of its own, who would
// otherwise get a temporary card, is registered under its guardian; its
// identity is the guardian's ID, birth date and birth order, so the same
// newborn registered again gets the same card, twins get one card each,
// and the guardian's own card is another. Its card is shown, scanned and
// printed like any other, with the guardian's personal data masked in
// replies, the work list, events and the journal.
func TestRegisterNewborn(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testSettings())
	first := newbornOf("李梅之女", "2", 1)
	girl := e.registerAny(first)
	if !girl.Created || girl.CardNo == "" {
		t.Fatalf("newborn registration: %+v, want a new card", girl)
	}

	r := e.call(OpRegister, first)
	var again registerReply
	_ = json.Unmarshal(r.Payload, &again)
	if r.Status != sdk.StatusOK || again.CardNo != girl.CardNo || again.Created || len(r.Diagnostics) != 0 {
		t.Errorf("the same newborn again: %s %+v %s; want card %s, not created, no warnings", r.Status, again, r.Diagnostics, girl.CardNo)
	}
	spaced := newbornOf("李梅之女", "2", 1)
	spaced["guardian"].(map[string]any)["idNumber"] = " 110105 19491231002x"
	if r := e.registerAny(spaced); r.CardNo != girl.CardNo {
		t.Errorf("the same newborn, guardian number with spaces and lower-case x: card %s, want %s", r.CardNo, girl.CardNo)
	}

	twin := e.registerAny(newbornOf("李梅之子", "1", 2))
	if !twin.Created || twin.CardNo == girl.CardNo {
		t.Errorf("the second twin: %+v, want a new card other than %s", twin, girl.CardNo)
	}
	mother := e.register(map[string]string{"name": "李梅", "idType": "01", "idNumber": testResidentID, "phone": "13812345678"})
	if !mother.Created || mother.CardNo == girl.CardNo || mother.CardNo == twin.CardNo {
		t.Errorf("the guardian's own registration: %+v, want a card of her own", mother)
	}

	// Registering the first twin's data as birth order 1 with the other
	// twin's gender returns her card, with a warning.
	r = e.call(OpRegister, newbornOf("李梅之子", "1", 1))
	_ = json.Unmarshal(r.Payload, &again)
	if diff := cmp.Diff([]diag{{Field: "$.gender", Rule: "mismatch"}, {Field: "$.name", Rule: "mismatch"}}, diagsOf(r.Diagnostics)); diff != "" || again.CardNo != girl.CardNo {
		t.Errorf("a boy as birth order 1: card %s (want %s), warnings (-want +got):\n%s", again.CardNo, girl.CardNo, diff)
	}

	wantGuardian := &card.Guardian{Name: "李*", IDType: "01", IDNumber: "110***********002X", Phone: "138****5678", Relation: "52"}
	var got getReply
	e.ok(OpGet, map[string]string{"cardNo": girl.CardNo}, &got)
	want := cardView{CardNo: girl.CardNo, Status: "active", Name: "李**女", Phone: "138****5678", Gender: "2",
		Guardian: wantGuardian, BirthOrder: 1, RegisteredAt: testT0, TempCards: []string{}, Masked: true}
	if diff := cmp.Diff(want, got.cardView); diff != "" {
		t.Errorf("ecard.get of the newborn's card (-want +got):\n%s", diff)
	}

	var qr qrReply
	e.ok(OpQRCode, map[string]any{"cardNo": girl.CardNo, "printLabel": true}, &qr)
	if qr.Label.Name != "李**女" || len(qr.LabelPNG) == 0 {
		t.Errorf("printed label %+v (label PNG %d bytes), want the masked name and an image", qr.Label, len(qr.LabelPNG))
	}
	status, rule, m := e.scan(qr.Text)
	if status != sdk.StatusOK || rule != "" || m["cardNo"] != girl.CardNo || m["birthOrder"] != float64(1) {
		t.Errorf("scan of the newborn's code: %s %q %v", status, rule, m)
	}
	if g, _ := m["guardian"].(map[string]any); g["name"] != "李*" || g["idNumber"] != "110***********002X" || g["phone"] != "138****5678" {
		t.Errorf("scan shows the guardian %v, want it masked", m["guardian"])
	}

	var list struct{ Items []recentItem }
	e.ok(OpCardsList, map[string]any{}, &list)
	if len(list.Items) != 3 || list.Items[1].CardNo != twin.CardNo || list.Items[1].GuardianName != "李*" || list.Items[0].GuardianName != "" {
		t.Errorf("work list %+v, want the mother, the twin (guardian 李*) and the girl", list.Items)
	}
	evs := e.eventsOfType("ecard.registered")
	var ev map[string]any
	if len(evs) != 3 || json.Unmarshal(evs[0].Payload, &ev) != nil || ev["newborn"] != true || ev["name"] != "李**女" {
		t.Errorf("ecard.registered events %v, first %v; want three, the first a newborn's, masked", evs, ev)
	}
	raw := []string{"李梅", testResidentID, "13812345678", "李梅之女"}
	for _, ev := range e.host.Events() {
		if n := containsAny(string(ev.Event.Payload), raw...); n != "" {
			t.Errorf("event %s holds %q unmasked: %s", ev.Event.Type, n, ev.Event.Payload)
		}
	}
	for _, x := range e.host.Exchanges() {
		if n := containsAny(string(x.Exchange.Request)+string(x.Exchange.Response), raw...); n != "" {
			t.Errorf("journal entry holds %q unmasked: %s %s", n, x.Exchange.Request, x.Exchange.Response)
		}
	}
}

// TestRegisterNewbornRefusals: what a newborn's registration gets wrong is
// reported at once, with the guardian's fields under $.guardian, and
// nothing is registered.
func TestRegisterNewbornRefusals(t *testing.T) {
	t.Parallel()
	with := func(f func(p, g map[string]any)) map[string]any {
		p := newbornOf("李梅之女", "2", 1)
		g := maps.Clone(p["guardian"].(map[string]any))
		p["guardian"] = g
		f(p, g)
		return p
	}
	testCases := map[string]struct {
		payload map[string]any
		want    []diag
	}{
		"own ID and guardian": {payload: with(func(p, _ map[string]any) { p["idType"], p["idNumber"] = "02", "11010520261124002X" }),
			want: []diag{{Field: "$.idNumber", Rule: "exclusive", Error: true}}},
		"no birth order": {payload: with(func(p, _ map[string]any) { delete(p, "birthOrder") }),
			want: []diag{{Field: "$.birthOrder", Rule: "required", Error: true}}},
		"born more than a year ago": {payload: with(func(p, _ map[string]any) { p["birthDate"] = "2025-11-25" }),
			want: []diag{{Field: "$.birthDate", Rule: "birth_date", Error: true}}},
		"born tomorrow": {payload: with(func(p, _ map[string]any) { p["birthDate"] = "2026-11-27" }),
			want: []diag{{Field: "$.birthDate", Rule: "birth_date", Error: true}}},
		"no gender": {payload: with(func(p, _ map[string]any) { delete(p, "gender") }),
			want: []diag{{Field: "$.gender", Rule: "required", Error: true}}},
		"guardian ID mistyped and no relation": {payload: with(func(_, g map[string]any) { g["idNumber"], g["relation"] = "110105194912310021", "" }),
			want: []diag{{Field: "$.guardian.idNumber", Rule: "check_digit", Error: true}, {Field: "$.guardian.relation", Rule: "required", Error: true}}},
		"guardian field of the wrong type": {payload: with(func(_, g map[string]any) { g["phone"] = 13812345678 }),
			want: []diag{{Field: "$.guardian.phone", Rule: "type", Error: true}}},
		"birth order as text": {payload: with(func(p, _ map[string]any) { p["birthOrder"] = "1" }),
			want: []diag{{Field: "$.birthOrder", Rule: "type", Error: true}}},
		"adult with a birth order": {payload: map[string]any{"name": "张三丰", "idType": "01", "idNumber": testResidentID, "phone": "13812345678", "birthOrder": 1},
			want: []diag{{Field: "$.birthOrder", Rule: "exclusive", Error: true}}},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			for _, op := range []string{OpRegister, OpDesk} {
				e := newEnv(t, testSettings())
				r := e.call(op, tc.payload)
				if diff := cmp.Diff(tc.want, diagsOf(r.Diagnostics)); diff != "" || r.Status != sdk.StatusInvalid {
					t.Errorf("%s: status %s, diagnostics (-want +got):\n%s", op, r.Status, diff)
				}
				if keys := e.keysWithPrefix("card/"); len(keys) != 0 {
					t.Errorf("%s: a card was stored: %v", op, keys)
				}
			}
		})
	}
}

// TestDeskNewborn: the cashier's desk registers a newborn under its
// guardian and prints its label in one step, as for anyone else.
func TestDeskNewborn(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testSettings())
	in := newbornOf("李梅之女", "2", 1)
	in["validity"] = "72h"
	var r deskReply
	e.ok(OpDesk, in, &r)
	if !r.Created || r.CardNo == "" || r.Label.Name != "李**女" || !strings.Contains(r.IDTypeName, "居民身份证") || len(r.PNG) == 0 {
		t.Errorf("desk for a newborn: %+v", r)
	}
	if got := decodeQR(t, r.PNG); got != r.Text {
		t.Errorf("the printed QR code reads %q, want %q", got, r.Text)
	}
	var again deskReply
	e.ok(OpDesk, in, &again)
	if again.Created || again.CardNo != r.CardNo {
		t.Errorf("desk for the same newborn again: created %v card %s, want card %s", again.Created, again.CardNo, r.CardNo)
	}
}

// registerAny registers with a payload of any JSON values and returns the
// reply.
func (e *env) registerAny(p map[string]any) registerReply {
	e.tb.Helper()
	var r registerReply
	e.ok(OpRegister, p, &r)
	return r
}
