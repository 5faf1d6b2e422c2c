package adapter

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/medgate/medgate/plugins/sdk"
)

// TestWrongIDMarkBeforeTheReplacementIsRecorded: a registration that
// replaces a plainly revoked card writes the new card (previousCardNo) and
// then records the replacement on the old card (replacedBy). If the old
// card is marked wrongId in between (the instance died between the two
// writes, or the mark ran at that moment), the mark was accepted (no
// replacement recorded yet) and the redelivered registration then recorded
// the replacement anyway: a card both registered with another person's ID
// number and replaced by the number holder's card, so a scan of its code
// sent the counter to the holder's card and its temporary cards would move
// there, what wrongId exists to prevent. The mark and the replacement each
// change the old card by compare-and-set, so whichever comes first stands:
// here the mark, so the new card replaces nothing.
func TestWrongIDMarkBeforeTheReplacementIsRecorded(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, testSettings())
	old := e.register(zhang())
	e.ok(OpRevoke, map[string]any{"cardNo": old.CardNo, "reason": "duplicate"}, nil)
	var replaced registerReply
	e.ok(OpRegister, zhang(), &replaced)
	if replaced.PreviousCardNo != old.CardNo {
		t.Fatalf("registration after a plain revocation: previousCardNo %q, want %q", replaced.PreviousCardNo, old.CardNo)
	}

	// Back to the moment between the two writes: the old card without its
	// replacement, then the wrongId mark, accepted.
	entry, err := e.host.Get(ctx, testSite, keyCard+old.CardNo)
	if err != nil {
		t.Fatal(err)
	}
	var rec cardRecord
	if err := json.Unmarshal(entry.Value, &rec); err != nil {
		t.Fatal(err)
	}
	rec.ReplacedBy = ""
	b, _ := json.Marshal(rec)
	if _, err := e.host.Put(ctx, testSite, keyCard+old.CardNo, b); err != nil {
		t.Fatal(err)
	}
	var mark revokeReply
	e.ok(OpRevoke, map[string]any{"cardNo": old.CardNo, "reason": "证件号输错", "wrongId": true}, &mark)
	if !mark.WrongID {
		t.Fatalf("the mark before the replacement was recorded: %+v, want wrongId", mark)
	}

	// The registration is redelivered (its outcome was never stored).
	entry, err = e.host.Get(ctx, testSite, keyCard+replaced.CardNo)
	if err != nil {
		t.Fatal(err)
	}
	var newRec cardRecord
	if err := json.Unmarshal(entry.Value, &newRec); err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(zhang())
	r, err := e.p.Handle(ctx, &sdk.HandleRequest{Site: testSite, Type: OpRegister, MessageID: newRec.RegisteredBy, Format: "json", Payload: payload, Attempt: 2, Recovering: true})
	if err != nil || r.Status != sdk.StatusOK {
		t.Fatalf("redelivered registration: %v %+v", err, r)
	}
	var again registerReply
	_ = json.Unmarshal(r.Payload, &again)

	var oldView, newView getReply
	e.ok(OpGet, map[string]string{"cardNo": old.CardNo}, &oldView)
	e.ok(OpGet, map[string]string{"cardNo": replaced.CardNo}, &newView)
	if oldView.ReplacedBy != "" || !oldView.WrongID {
		t.Errorf("the card marked wrongId: replacedBy %q, wrongId %v; want no replacement, wrongId", oldView.ReplacedBy, oldView.WrongID)
	}
	if again.PreviousCardNo != "" || newView.PreviousCardNo != "" {
		t.Errorf("the number holder's card: previousCardNo %q (reply) %q (card); want none, it replaces no card registered with a wrong ID number",
			again.PreviousCardNo, newView.PreviousCardNo)
	}
}
