package adapter

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/medgate/medgate/plugins/sdk"
)

// TestRelinkTemporaryCardToReplacement: a temporary card linked to an
// e-card that was revoked, and replaced when the patient registered again,
// moves to the replacement card when it is linked there (with the tempCardNo
// of the registration or with ecard.link), also after several replacements;
// before, the link stayed on the revoked card for good: linking refused
// already-linked and a scan of the temporary card answered revoked. A
// revoked card that is not the new card's predecessor keeps its link.
func TestRelinkTemporaryCardToReplacement(t *testing.T) {
	t.Parallel()
	const temp = "99000123"
	linked := func(e *env, cardNo string) {
		t.Helper()
		st, rule, m := e.scan(temp)
		if st != sdk.StatusOK || m["cardNo"] != cardNo || m["status"] != "active" {
			t.Errorf("scan of temporary card %s: %s %s %v, want ok with card %s", temp, st, rule, m, cardNo)
		}
		var v getReply
		e.ok(OpGet, map[string]string{"tempCardNo": temp}, &v)
		if v.CardNo != cardNo || !cmp.Equal(v.TempCards, []string{temp}) {
			t.Errorf("ecard.get of temporary card %s = card %s with %v, want card %s listing it", temp, v.CardNo, v.TempCards, cardNo)
		}
	}
	revoke := func(e *env, cardNo string) {
		e.ok(OpRevoke, map[string]string{"cardNo": cardNo, "reason": "lost phone"}, nil)
	}

	t.Run("ecard.link", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, testSettings())
		first := e.register(zhang()).CardNo
		e.ok(OpLink, map[string]string{"cardNo": first, "tempCardNo": temp}, nil)
		revoke(e, first)
		second := e.register(zhang()).CardNo
		revoke(e, second)
		third := e.register(zhang()).CardNo
		var r linkReply
		e.ok(OpLink, map[string]string{"cardNo": third, "tempCardNo": temp}, &r)
		if r.CardNo != third || r.AlreadyLinked {
			t.Errorf("link to the replacement = %+v, want a new link to %s", r, third)
		}
		linked(e, third)
		// The move is a new event (its own id), naming the revoked card.
		evs := e.eventsOfType("ecard.linked")
		if len(evs) != 2 || evs[1].Key != third || evs[1].ID != "ecard.linked/"+temp+"/"+third || evs[0].ID == evs[1].ID ||
			!strings.Contains(string(evs[1].Payload), `"previousCardNo":"`+first+`"`) {
			t.Errorf("linked events = %+v, want a second one keyed by %s, with its own id, naming %s", evs, third, first)
		}
		// Linking the pair again publishes the move's event again (same id).
		e.ok(OpLink, map[string]string{"cardNo": third, "tempCardNo": temp}, &r)
		if evs := e.eventsOfType("ecard.linked"); len(evs) != 3 || evs[2].ID != evs[1].ID || !r.AlreadyLinked {
			t.Errorf("linking again: %+v, events %+v, want alreadyLinked and the move's event id", r, evs)
		}
	})
	t.Run("register with tempCardNo", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, testSettings())
		first := e.register(zhang()).CardNo
		e.ok(OpLink, map[string]string{"cardNo": first, "tempCardNo": temp}, nil)
		revoke(e, first)
		in := zhang()
		in["tempCardNo"] = temp
		r := e.call(OpRegister, in)
		if r.Status != sdk.StatusOK || len(r.Diagnostics) != 0 {
			t.Fatalf("registration with the temporary card: %s %v, want ok without warnings", r.Status, r.Diagnostics)
		}
		linked(e, e.register(zhang()).CardNo)
	})
	t.Run("another person's revoked card keeps the link", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, testSettings())
		first := e.register(zhang()).CardNo
		e.ok(OpLink, map[string]string{"cardNo": first, "tempCardNo": temp}, nil)
		revoke(e, first)
		other := e.register(person(1)).CardNo
		r := e.call(OpLink, map[string]string{"cardNo": other, "tempCardNo": temp})
		if diff := cmp.Diff([]diag{{Field: "$.tempCardNo", Rule: "already-linked", Error: true}}, diagsOf(r.Diagnostics)); diff != "" {
			t.Errorf("link to another person's card (-want +got):\n%s", diff)
		}
	})
}

// TestScanOfReplacedCard: a scan of the QR code of a revoked card that was
// replaced (the patient registered again), or of a temporary card still
// linked to it, names the replacement (replacedBy) and tells the counter
// to use it (scan its code; link the temporary card to it), instead of
// "register the patient again", which only returns the same replacement.
func TestScanOfReplacedCard(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testSettings())
	old, q := e.issue(nil)
	e.ok(OpLink, map[string]string{"cardNo": old, "tempCardNo": "99000123"}, nil)
	e.ok(OpRevoke, map[string]string{"cardNo": old, "reason": "lost"}, nil)
	replacement := e.register(zhang()).CardNo
	var got struct{ Result, ReplacedBy, Message string }
	for _, tc := range []struct{ text, message string }{
		{q.Text, "电子卡 " + old + " 已于 2026-11-26 20:00 注销，已由新电子卡 " + replacement + " 取代，请扫描新卡的二维码（可在收费处打印）。"},
		{"99000123", "临时卡 99000123 关联的电子卡 " + old + " 已于 2026-11-26 20:00 注销，已由新电子卡 " + replacement +
			" 取代，请将临时卡关联到新卡。"},
	} {
		r := e.call(OpScan, map[string]string{"text": tc.text})
		got.ReplacedBy = ""
		if err := json.Unmarshal(r.Payload, &got); err != nil {
			t.Fatal(err)
		}
		if r.Status != sdk.StatusInvalid || got.Result != "revoked" || got.ReplacedBy != replacement || got.Message != tc.message {
			t.Errorf("scan of %s: %s %s, want revoked, replacedBy %s and %q", tc.text, r.Status, r.Payload, replacement, tc.message)
		}
	}
}
