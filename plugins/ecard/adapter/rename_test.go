package adapter

import (
	"context"
	"encoding/json"
	"maps"
	"slices"
	"testing"

	"github.com/medgate/medgate/plugins/sdk"
)

// TestRenameCorrectsStoredName: a name mistyped at the first registration,
// or changed since, could not be corrected: every later registration got
// the card back with a mismatch warning and the desk printed the stored
// name. ecard.rename changes it, given the card number and the ID number on
// the card (for a newborn's card, the guardian's) and a reason; the old
// name is kept in the journal, masked like the new one; the work list and
// ecard.get show the new name, ecard.renamed tells the HIS (masked), and the
// desk then prints the label without a warning.
func TestRenameCorrectsStoredName(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		first     map[string]any
		idNumber  string
		name      string
		deskAgain map[string]any
		wantName  string // masked
		wantOld   string // masked
	}{
		"a typo at the first registration": {
			first:    map[string]any{"name": "张三风", "idType": "01", "idNumber": testResidentID, "phone": "13812345678"},
			idNumber: " 110105 19491231002x", name: "张三丰",
			deskAgain: map[string]any{"name": "张三丰", "idType": "01", "idNumber": testResidentID, "phone": "13812345678"},
			wantName:  "张*丰", wantOld: "张*风",
		},
		"a name changed since": {
			first:    map[string]any{"name": "John Smith", "idType": "03", "idNumber": "E12345678", "issuingCountry": "GBR", "phone": "+447911123456"},
			idNumber: "E12345678", name: "John Brown",
			deskAgain: map[string]any{"name": "John Brown", "idType": "03", "idNumber": "E12345678", "issuingCountry": "GBR", "phone": "+447911123456"},
			wantName:  "J********n", wantOld: "J********h",
		},
		"a newborn's provisional name": {
			first:    newbornOf("李梅之女", "2", 1),
			idNumber: testResidentID, name: "王小红",
			deskAgain: func() map[string]any { m := newbornOf("王小红", "2", 1); return m }(),
			wantName:  "王*红", wantOld: "李**女",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, testSettings())
			var first deskReply
			e.ok(OpDesk, tc.first, &first)
			if r := e.call(OpDesk, tc.deskAgain); r.Status != sdk.StatusInvalid {
				t.Fatalf("desk before the correction: %s, want invalid (mismatch)", r.Status)
			}

			var got renameReply
			e.ok(OpRename, map[string]any{"cardNo": first.CardNo, "idNumber": tc.idNumber, "name": tc.name, "reason": "登记时姓名输错 typo"}, &got)
			if got.CardNo != first.CardNo || got.Name != tc.wantName || got.PreviousName != tc.wantOld || !got.Renamed || !got.Masked {
				t.Errorf("rename reply %+v; want card %s renamed %q from %q, masked", got, first.CardNo, tc.wantName, tc.wantOld)
			}

			var view getReply
			e.ok(OpGet, map[string]string{"cardNo": first.CardNo}, &view)
			if view.Name != tc.wantName {
				t.Errorf("ecard.get name %q, want %q", view.Name, tc.wantName)
			}
			var list struct{ Items []recentItem }
			e.ok(OpCardsList, map[string]any{}, &list)
			if len(list.Items) != 1 || list.Items[0].Name != tc.wantName {
				t.Errorf("work list %+v, want one row named %q", list.Items, tc.wantName)
			}

			var journaled map[string]any
			for _, x := range e.host.Exchanges() {
				if x.Exchange.Code == "rename" && x.Exchange.Serial == first.CardNo {
					_ = json.Unmarshal(x.Exchange.Request, &journaled)
				}
			}
			if journaled["previousName"] != tc.wantOld || journaled["name"] != tc.wantName || journaled["reason"] == "" {
				t.Errorf("journal of the rename %v; want previousName %q, name %q and the reason", journaled, tc.wantOld, tc.wantName)
			}
			evs := e.eventsOfType(EventRenamed)
			if len(evs) != 1 || evs[0].Key != first.CardNo {
				t.Errorf("renamed events %+v, want one keyed by %s", evs, first.CardNo)
			}

			raw := []string{tc.first["name"].(string), tc.name, testResidentID, "E12345678", "13812345678"}
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

			r := e.call(OpDesk, tc.deskAgain)
			var again deskReply
			_ = json.Unmarshal(r.Payload, &again)
			if r.Status != sdk.StatusOK || again.CardNo != first.CardNo || again.Label.Name != tc.wantName || len(r.Diagnostics) != 0 {
				t.Errorf("desk after the correction: %s card %s label %q %s; want ok, card %s, label %q, no warning",
					r.Status, again.CardNo, again.Label.Name, r.Diagnostics, first.CardNo, tc.wantName)
			}
		})
	}
}

// TestRenameRefusals: a rename changes nothing unless the card is live, the
// ID number is the one on the card (the clerk holds the document), the new
// name is a valid name and a reason is given; every problem is reported.
func TestRenameRefusals(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testSettings())
	reg := e.register(zhang())
	gone := e.register(person(7))
	e.ok(OpRevoke, map[string]string{"cardNo": gone.CardNo, "reason": "duplicate"}, nil)
	good := map[string]any{"cardNo": reg.CardNo, "idNumber": testResidentID, "name": "张三", "reason": "typo"}
	with := func(kv ...any) map[string]any {
		m := maps.Clone(good)
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == nil {
				delete(m, kv[i].(string))
				continue
			}
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	tests := map[string]struct {
		payload map[string]any
		want    []diag
	}{
		"another ID number":      {with("idNumber", "110105194912310038"), []diag{{"$.idNumber", "mismatch", true}}},
		"no ID number":           {with("idNumber", nil), []diag{{"$.idNumber", "required", true}}},
		"no name, no reason":     {with("name", " ", "reason", nil), []diag{{"$.name", "required", true}, {"$.reason", "required", true}}},
		"an invisible character": {with("name", "张\u200b三"), []diag{{"$.name", "characters", true}}},
		"an unknown card":        {with("cardNo", "880100000000013"), []diag{{"$.cardNo", "unknown-card", true}}},
		"a revoked card":         {with("cardNo", gone.CardNo, "idNumber", "E00000007"), []diag{{"$.cardNo", "revoked", true}}},
		"an unknown field":       {with("idType", "01"), []diag{{"$.idType", "unknown", true}}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r := e.call(OpRename, tc.payload)
			if got := diagsOf(r.Diagnostics); r.Status != sdk.StatusInvalid || !slices.Equal(got, tc.want) {
				t.Errorf("rename: %s %v, want invalid %v", r.Status, got, tc.want)
			}
		})
	}
	var view getReply
	e.ok(OpGet, map[string]string{"cardNo": reg.CardNo}, &view)
	if view.Name != "张*丰" || len(e.eventsOfType(EventRenamed)) != 0 {
		t.Errorf("after refused renames: name %q, %d renamed events; want 张*丰 and none", view.Name, len(e.eventsOfType(EventRenamed)))
	}
}

// TestRenameRedeliveredReply: a rename message redelivered (the instance
// died after the change, before the reply was stored) answers as the first
// handling did, renamed from the same previous name, and publishes its
// event under the same id; another message with the same name changes
// nothing.
func TestRenameRedeliveredReply(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testSettings())
	cardNo := e.register(map[string]string{"name": "张三风", "idType": "01", "idNumber": testResidentID, "phone": "13812345678"}).CardNo
	payload, _ := json.Marshal(map[string]string{"cardNo": cardNo, "idNumber": testResidentID, "name": "张三丰", "reason": "typo"})
	handle := func(id string, attempt int) renameReply {
		t.Helper()
		r, err := e.p.Handle(context.Background(), &sdk.HandleRequest{Site: testSite, Type: OpRename, MessageID: id, Format: "json", Payload: payload, Attempt: attempt})
		if err != nil || r.Status != sdk.StatusOK {
			t.Fatalf("rename %s attempt %d: %v %v", id, attempt, err, r)
		}
		var out renameReply
		if err := json.Unmarshal(r.Payload, &out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	first, again, other := handle("ren-1", 1), handle("ren-1", 2), handle("ren-2", 1)
	if !first.Renamed || !again.Renamed || other.Renamed || first.PreviousName != "张*风" || again.PreviousName != "张*风" || other.PreviousName != "张*丰" {
		t.Errorf("renamed/previous: first %v %q, redelivered %v %q, another message %v %q; want true 张*风, true 张*风, false 张*丰",
			first.Renamed, first.PreviousName, again.Renamed, again.PreviousName, other.Renamed, other.PreviousName)
	}
	ids := map[string]bool{}
	for _, ev := range e.eventsOfType(EventRenamed) {
		ids[ev.ID] = true
	}
	if len(ids) != 1 {
		t.Errorf("renamed event ids %v, want one", ids)
	}
}
