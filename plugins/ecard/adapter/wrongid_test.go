package adapter

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/medgate/medgate/plugins/sdk"
)

// TestRevokeWrongIDNumber: a card registered with another person's ID
// number (typed wrong) must be revoked, and both patients registered with
// their own numbers. A plain revocation made the real holder's new card the
// "replacement" of the wrong card: it got previousCardNo, a scan of the
// wrong card's code sent the counter to the holder's card (replacedBy), and
// the wrong patient's temporary card moved to the holder's card when linked
// there. Revoked with "wrongId": true, the card is not the holder's: the
// holder's card replaces nothing, the old code answers revoked without
// replacedBy, the temporary card stays; it moves to the card its own
// patient gets with the right number only when staff name the old card
// (previousCardNo) and the names agree.
func TestRevokeWrongIDNumber(t *testing.T) {
	t.Parallel()
	const temp = "99000123"
	e := newEnv(t, testSettings())
	// 王五 registered with 张三丰's number by mistake, and linked.
	wang := map[string]string{"name": "王五", "idType": "01", "idNumber": testResidentID, "phone": "13912345678"}
	var wrongDesk deskReply
	e.ok(OpDesk, wang, &wrongDesk)
	wrong := wrongDesk.CardNo
	e.ok(OpLink, map[string]string{"cardNo": wrong, "tempCardNo": temp}, nil)

	var rv revokeReply
	e.ok(OpRevoke, map[string]any{"cardNo": wrong, "reason": "证件号输错 wrong ID number typed", "wrongId": true}, &rv)
	if !rv.WrongID {
		t.Errorf("revoke reply %+v, want wrongId", rv)
	}
	var view getReply
	e.ok(OpGet, map[string]string{"cardNo": wrong}, &view)
	if !view.WrongID || view.Status != statusDead {
		t.Errorf("ecard.get of the wrong card: %+v; want revoked with wrongId", view.cardView)
	}

	// The number's holder has no card yet: a scan of the ID number names
	// none (before, the wrong card and its patient's masked name).
	if st, rule, m := e.scan(testResidentID); st != sdk.StatusInvalid || rule != ResultNotECard || m["cardNo"] != nil || m["name"] != nil {
		t.Errorf("scan of the holder's ID number: %s %s %v; want not-ecard naming no card", st, rule, m)
	}

	// The holder of the number registers: a card of their own.
	holder := e.register(zhang())
	if !holder.Created || holder.CardNo == wrong || holder.PreviousCardNo != "" {
		t.Errorf("the number's holder registers: %+v; want a new card replacing nothing", holder)
	}
	st, rule, m := e.scan(wrongDesk.Text)
	if st != sdk.StatusInvalid || rule != "revoked" || m["replacedBy"] != nil {
		t.Errorf("scan of the wrong card's code: %s %s %v; want revoked without replacedBy", st, rule, m)
	}
	if r := e.call(OpLink, map[string]string{"cardNo": holder.CardNo, "tempCardNo": temp}); r.Status != sdk.StatusInvalid {
		t.Errorf("linking 王五's temporary card to the holder's card: %s, want refused (already-linked)", r.Status)
	}

	// 王五 registers with the right number and takes the temporary card.
	right := map[string]string{"name": "王五", "idType": "01", "idNumber": "110105194912310038", "phone": "13912345678"}
	own := e.register(right)
	if !own.Created || own.PreviousCardNo != "" {
		t.Errorf("王五 with the right number: %+v; want a new card", own)
	}
	if r := e.call(OpLink, map[string]string{"cardNo": own.CardNo, "tempCardNo": temp}); r.Status != sdk.StatusInvalid {
		t.Errorf("moving the temporary card without previousCardNo: %s, want refused", r.Status)
	}
	if r := e.call(OpLink, map[string]string{"cardNo": holder.CardNo, "tempCardNo": temp, "previousCardNo": wrong}); r.Status != sdk.StatusInvalid {
		t.Errorf("moving the temporary card to a card of another name: %s, want refused", r.Status)
	}
	var lr linkReply
	e.ok(OpLink, map[string]string{"cardNo": own.CardNo, "tempCardNo": temp, "previousCardNo": wrong}, &lr)
	if st, _, m := e.scan(temp); st != sdk.StatusOK || m["cardNo"] != own.CardNo {
		t.Errorf("scan of the temporary card after the move: %s %v, want card %s", st, m, own.CardNo)
	}

	// A plain revocation still makes the next card its replacement.
	e2 := newEnv(t, testSettings())
	first := e2.register(zhang()).CardNo
	e2.ok(OpRevoke, map[string]any{"cardNo": first, "reason": "lost"}, nil)
	if again := e2.register(zhang()); again.PreviousCardNo != first {
		t.Errorf("registering after a plain revocation: %+v, want previousCardNo %s", again, first)
	}
}

// TestDeskCanRevokeWrongID: the desk that finds a card registered with a
// wrong ID number must be able to revoke it as such; no console page or
// command sent ecard.revoke, so only the HIS could. The revoke page and
// command send the declared fields, wrongId among them, and the card is
// revoked so.
func TestDeskCanRevokeWrongID(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testSettings())
	values := func(cardNo string) map[string]any {
		return map[string]any{"cardNo": cardNo, "reason": "证件号输错 wrong ID number", "wrongId": true}
	}
	var sent []string
	check := func(where string, op string, args []sdk.Argument) {
		t.Helper()
		if op != OpRevoke {
			return
		}
		sent = append(sent, where)
		reg := e.register(person(len(sent)))
		payload := map[string]any{}
		for _, a := range args {
			v, ok := values(reg.CardNo)[a.Name]
			if !ok {
				t.Fatalf("%s declares field %q the test does not fill", where, a.Name)
			}
			payload[a.Name] = v
		}
		var rv revokeReply
		e.ok(OpRevoke, payload, &rv)
		if !rv.WrongID || rv.Status != statusDead {
			t.Errorf("%s: revoke reply %+v, want revoked with wrongId", where, rv)
		}
	}
	for _, f := range forms() {
		check("form "+f.Name, f.Operation, f.Fields)
	}
	for _, c := range commands() {
		check("command "+c.Name, c.Operation, c.Arguments)
	}
	if len(sent) != 2 {
		t.Errorf("ecard.revoke is sent by %v; want a console page and a command", sent)
	}
}

// TestRevokeWrongIDAfterReplacement: a card revoked plainly and replaced
// when the number's holder registered cannot be marked wrongId any more
// (the replacement stays); the revocation used to answer as if nothing
// had been asked, without wrongId and without a word. It now warns, naming
// the replacement.
func TestRevokeWrongIDAfterReplacement(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testSettings())
	wrong := e.register(map[string]string{"name": "王五", "idType": "01", "idNumber": testResidentID, "phone": "13912345678"}).CardNo
	e.ok(OpRevoke, map[string]any{"cardNo": wrong, "reason": "lost"}, nil)
	holder := e.register(zhang())
	r := e.call(OpRevoke, map[string]any{"cardNo": wrong, "reason": "证件号输错", "wrongId": true})
	var rv revokeReply
	_ = json.Unmarshal(r.Payload, &rv)
	if got, want := diagsOf(r.Diagnostics), []diag{{"$.wrongId", "replaced", false}}; r.Status != sdk.StatusOK || rv.WrongID || !slices.Equal(got, want) {
		t.Errorf("wrongId on a replaced card: %s %+v %v; want ok without wrongId, warning %v", r.Status, rv, got, want)
	}
	if len(r.Diagnostics) == 1 && !strings.Contains(r.Diagnostics[0].Summary+r.Diagnostics[0].Detail, holder.CardNo) {
		t.Errorf("the warning %+v does not name the replacement %s", r.Diagnostics[0], holder.CardNo)
	}
}
