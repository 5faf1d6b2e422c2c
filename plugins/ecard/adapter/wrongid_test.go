package adapter

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/sdk/sdktest"
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

// revokedEvents returns the ecard.revoked events published for cardNo by
// id, failing when one id was published with two payloads.
func revokedEvents(tb testing.TB, evs []sdk.Event, cardNo string) map[string]map[string]any {
	tb.Helper()
	out := map[string]map[string]any{}
	for _, ev := range evs {
		if ev.Type != "ecard.revoked" || ev.Key != cardNo {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(ev.Payload, &m); err != nil {
			tb.Fatalf("event %s: %v", ev.ID, err)
		}
		if prev, ok := out[ev.ID]; ok && !cmp.Equal(prev, m) {
			tb.Errorf("event id %s published with two payloads: %v and %v", ev.ID, prev, m)
		}
		out[ev.ID] = m
	}
	return out
}

// TestWrongIDMarkedLaterAnnounced: a card revoked plainly and marked
// wrongId later (ecard.revoke again with "wrongId": true) published no
// second ecard.revoked, so the platform (A31 with ZEC-5 WRONGID) never
// heard that the card was registered with someone else's ID number. The
// mark now publishes ecard.revoked once more, with wrongId, under an id of
// its own; the payload is the card's revocation as before (its time and
// reason). A redelivered or repeated mark publishes nothing more, nor does
// a card revoked with wrongId at once, or one already replaced.
func TestWrongIDMarkedLaterAnnounced(t *testing.T) {
	t.Parallel()
	type step struct {
		id      string
		attempt int
		payload map[string]any
	}
	plain := map[string]any{"reason": "lost"}
	mark := map[string]any{"reason": "证件号输错", "wrongId": true}
	revoked := func(reason string, wrongID bool) map[string]any {
		m := map[string]any{"status": "revoked", "revokedAt": testT0.Format(time.RFC3339), "reason": reason}
		if wrongID {
			m["wrongId"] = true
		}
		return m
	}
	testCases := map[string]struct {
		steps         []step
		replaceBefore bool // the number's holder registers before the last step
		want          map[string]map[string]any
	}{
		"revoked plainly, marked later": {
			steps: []step{{"rev-1", 1, plain}, {"mark-1", 1, mark}},
			want:  map[string]map[string]any{"": revoked("lost", false), "/wrongId": revoked("lost", true)},
		},
		"the mark redelivered": {
			steps: []step{{"rev-1", 1, plain}, {"mark-1", 1, mark}, {"mark-1", 2, mark}},
			want:  map[string]map[string]any{"": revoked("lost", false), "/wrongId": revoked("lost", true)},
		},
		"marked again by another message": {
			steps: []step{{"rev-1", 1, plain}, {"mark-1", 1, mark}, {"mark-2", 1, mark}, {"rev-2", 1, plain}},
			want:  map[string]map[string]any{"": revoked("lost", false), "/wrongId": revoked("lost", true)},
		},
		"revoked with wrongId at once": {
			steps: []step{{"rev-1", 1, mark}, {"mark-2", 1, mark}},
			want:  map[string]map[string]any{"": revoked("证件号输错", true)},
		},
		"revoked plainly twice": {
			steps: []step{{"rev-1", 1, plain}, {"rev-2", 1, plain}},
			want:  map[string]map[string]any{"": revoked("lost", false)},
		},
		"replaced before the mark: not marked": {
			steps:         []step{{"rev-1", 1, plain}, {"mark-1", 1, mark}},
			replaceBefore: true,
			want:          map[string]map[string]any{"": revoked("lost", false)},
		},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, testSettings())
			cardNo := e.register(map[string]string{"name": "王五", "idType": "01", "idNumber": testResidentID, "phone": "13912345678"}).CardNo
			for i, s := range tc.steps {
				if i == len(tc.steps)-1 && tc.replaceBefore {
					e.register(zhang())
				}
				if i > 0 {
					e.clock.Set(testT0.Add(time.Duration(i) * time.Hour))
				}
				// A copy: the step payloads are shared by the parallel subtests.
				payload := maps.Clone(s.payload)
				payload["cardNo"] = cardNo
				b, _ := json.Marshal(payload)
				r, err := e.p.Handle(context.Background(), &sdk.HandleRequest{Site: testSite, Type: OpRevoke, MessageID: s.id, Format: "json", Payload: b, Attempt: s.attempt, Recovering: s.attempt > 1})
				if err != nil || r.Status != sdk.StatusOK {
					t.Fatalf("step %d (%s): %v %v", i, s.id, err, r)
				}
			}
			want := map[string]map[string]any{}
			for suffix, m := range tc.want {
				m["cardNo"] = cardNo
				want["ecard.revoked/"+cardNo+suffix] = m
			}
			if diff := cmp.Diff(want, revokedEvents(t, e.eventsOfType("ecard.revoked"), cardNo)); diff != "" {
				t.Errorf("ecard.revoked events by id (-want +got):\n%s", diff)
			}
			if n := len(e.eventsOfType("ecard.revoked")); n != len(want) {
				t.Errorf("%d ecard.revoked events published, want %d (one per id)", n, len(want))
			}
		})
	}
}

// TestWrongIDMarkCrashRedelivered lets the instance marking a revoked card
// wrongId die after each state write in turn, then redelivers the mark to
// another instance: wherever the crash fell, the mark is announced, under
// one id. A plain revocation that died before it was announced and is
// overtaken by the mark is announced once, with wrongId.
func TestWrongIDMarkCrashRedelivered(t *testing.T) {
	t.Parallel()
	for _, dyingStep := range []string{"mark", "revocation"} {
		for after := 0; after <= 4; after++ {
			t.Run(fmt.Sprintf("%s dies after %d writes", dyingStep, after), func(t *testing.T) {
				t.Parallel()
				e := newEnv(t, testSettings())
				cardNo := e.register(map[string]string{"name": "王五", "idType": "01", "idNumber": testResidentID, "phone": "13912345678"}).CardNo
				revoke := func(p sdk.Plugin, id string, recovering bool, wrongID bool) (*sdk.HandleResponse, error) {
					b, _ := json.Marshal(map[string]any{"cardNo": cardNo, "reason": "lost", "wrongId": wrongID})
					return p.Handle(context.Background(), &sdk.HandleRequest{Site: testSite, Type: OpRevoke, MessageID: id, Format: "json", Payload: b, Attempt: 1, Recovering: recovering})
				}
				dying := sdktest.Connect(t, New(WithClock(e.clock.Now)), &crashHost{HostServer: e.host, after: after})
				if r, err := dying.Configure(context.Background(), &sdk.ConfigureRequest{Site: testSite, Settings: testSettings()}); err != nil || r.Diagnostics.HasError() {
					t.Fatalf("Configure: %v %v", err, r)
				}
				steps := []struct {
					id      string
					wrongID bool
				}{{"rev-1", false}, {"mark-1", true}}
				for _, s := range steps {
					dies := (s.id == "rev-1") == (dyingStep == "revocation")
					if !dies {
						if r, err := revoke(e.p, s.id, false, s.wrongID); err != nil || r.Status != sdk.StatusOK {
							t.Fatalf("%s: %v %v", s.id, err, r)
						}
						continue
					}
					_, _ = revoke(dying, s.id, false, s.wrongID)
					if dyingStep == "mark" {
						if r, err := revoke(e.p, s.id, true, s.wrongID); err != nil || r.Status != sdk.StatusOK {
							t.Fatalf("%s redelivered: %v %v", s.id, err, r)
						}
					}
				}
				if dyingStep == "revocation" {
					// The revocation is redelivered last.
					if r, err := revoke(e.p, "rev-1", true, false); err != nil || r.Status != sdk.StatusOK {
						t.Fatalf("rev-1 redelivered: %v %v", err, r)
					}
				}
				got := revokedEvents(t, e.eventsOfType("ecard.revoked"), cardNo)
				announced := 0
				for id, m := range got {
					if m["wrongId"] == true {
						announced++
						if id != "ecard.revoked/"+cardNo && id != "ecard.revoked/"+cardNo+"/wrongId" {
							t.Errorf("wrongId announced under id %s", id)
						}
					}
				}
				if announced != 1 {
					t.Errorf("ecard.revoked events by id %v: wrongId announced under %d ids, want 1", got, announced)
				}
				if _, ok := got["ecard.revoked/"+cardNo]; !ok {
					t.Errorf("ecard.revoked events by id %v: the revocation itself is not announced", got)
				}
			})
		}
	}
}
