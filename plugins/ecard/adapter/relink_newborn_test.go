package adapter

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/medgate/medgate/plugins/sdk"
)

// TestRelinkNewbornTemporaryCard: once a newborn registered under its
// guardian has its own ID, staff revoke the newborn card and register the
// child with its ID; the temporary card linked to the newborn card then
// moves to the new card when ecard.link names the newborn card as
// previousCardNo. Before, the link was refused as already-linked for good.
// The move is refused, and the link stays, unless the named card is the
// revoked newborn card the temporary card is linked to and the new card
// is the same child's (own ID, same birth date and gender).
func TestRelinkNewbornTemporaryCard(t *testing.T) {
	t.Parallel()
	const temp = "99000123"
	child := func(idNumber, gender, birthDate string) map[string]any {
		return map[string]any{"name": "王小美", "idType": "01", "idNumber": idNumber, "gender": gender, "birthDate": birthDate, "phone": "13812345678"}
	}
	girl := child("110105202611240029", "2", "2026-11-24")
	testCases := map[string]struct {
		keepNewborn bool           // the newborn card is not revoked
		target      map[string]any // the card the link should move to
		previous    string         // previousCardNo; "<newborn>" is the newborn card, "<target>" the target card
		wantRule    string         // "" when the link moves
	}{
		"the child with its own ID": {target: girl, previous: "<newborn>"},
		"the child, birth date and gender read from its ID number": {target: map[string]any{"name": "王小美", "idType": "01", "idNumber": "110105202611240029", "phone": "13812345678"},
			previous: "<newborn>"},
		"no previousCardNo":                        {target: girl, wantRule: "already-linked"},
		"previousCardNo is not the linked card":    {target: girl, previous: "<target>", wantRule: "previous-card"},
		"newborn card not revoked":                 {keepNewborn: true, target: girl, previous: "<newborn>", wantRule: "previous-card"},
		"another gender":                           {target: child("110105202611240010", "1", "2026-11-24"), previous: "<newborn>", wantRule: "previous-card"},
		"another birth date":                       {target: child("110105202611230023", "2", "2026-11-23"), previous: "<newborn>", wantRule: "previous-card"},
		"to another newborn card (a twin)":         {target: newbornOf("李梅之子", "1", 2), previous: "<newborn>", wantRule: "previous-card"},
		"an adult's card, not the child's own one": {target: map[string]any{"name": "张三丰", "idType": "01", "idNumber": "440524188001010014", "phone": "13812345678"}, previous: "<newborn>", wantRule: "previous-card"},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, testSettings())
			newborn := e.registerAny(newbornOf("李梅之女", "2", 1)).CardNo
			e.ok(OpLink, map[string]string{"cardNo": newborn, "tempCardNo": temp}, nil)
			if !tc.keepNewborn {
				e.ok(OpRevoke, map[string]string{"cardNo": newborn, "reason": "child registered with own ID"}, nil)
			}
			target := e.registerAny(tc.target).CardNo
			req := map[string]string{"cardNo": target, "tempCardNo": temp}
			switch tc.previous {
			case "<newborn>":
				req["previousCardNo"] = newborn
			case "<target>":
				req["previousCardNo"] = target
			}
			r := e.call(OpLink, req)
			rule := ""
			if len(r.Diagnostics) > 0 {
				rule = r.Diagnostics[0].Rule
			}
			if rule != tc.wantRule || (tc.wantRule == "") != (r.Status == sdk.StatusOK) {
				t.Fatalf("ecard.link %v: %s %s, want rule %q", req, r.Status, r.Diagnostics, tc.wantRule)
			}
			var get getReply
			e.ok(OpGet, map[string]string{"tempCardNo": temp}, &get)
			evs := e.eventsOfType("ecard.linked")
			if tc.wantRule != "" {
				if get.CardNo != newborn || len(evs) != 1 {
					t.Errorf("after a refused move the temporary card is linked to %s with %d linked events, want %s with 1", get.CardNo, len(evs), newborn)
				}
				if tc.wantRule == "already-linked" && !strings.Contains(r.Diagnostics[0].Detail, `"previousCardNo": "`+newborn+`"`) {
					t.Errorf("already-linked detail %q does not say how to move the link from the newborn card", r.Diagnostics[0].Detail)
				}
				return
			}
			if get.CardNo != target {
				t.Errorf("the temporary card is linked to %s, want %s", get.CardNo, target)
			}
			if st, rule, m := e.scan(temp); st != sdk.StatusOK || m["cardNo"] != target {
				t.Errorf("scan of the temporary card: %s %q %v, want ok with card %s", st, rule, m, target)
			}
			var moved map[string]any
			if len(evs) != 2 || evs[1].ID != "ecard.linked/"+temp+"/"+target || json.Unmarshal(evs[1].Payload, &moved) != nil || moved["previousCardNo"] != newborn {
				t.Errorf("linked events %+v, want a second one %s naming previousCardNo %s", evs, "ecard.linked/"+temp+"/"+target, newborn)
			}
			// Sent again, the link is there already; the newborn card keeps
			// the temporary card as history.
			var again linkReply
			e.ok(OpLink, req, &again)
			if again.CardNo != target || !again.AlreadyLinked {
				t.Errorf("the same link again = %+v, want alreadyLinked to %s", again, target)
			}
			var old getReply
			e.ok(OpGet, map[string]string{"cardNo": newborn}, &old)
			if len(old.TempCards) != 1 || old.TempCards[0] != temp {
				t.Errorf("newborn card's tempCards = %v, want [%s] as history", old.TempCards, temp)
			}
		})
	}
}
