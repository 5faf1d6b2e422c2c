package adapter

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/medgate/medgate/plugins/sdk"
)

// TestCorrectionsNeverRollBack: a correction (ecard.rename,
// ecard.phone.correct) handled again after a later correction of the same
// card (a failed message replayed from the DLQ with its id, or one that
// waited on another key) wrote its older value back over the later one, and
// published its event with the later value. Now a message that made a
// correction answers as it did, without writing, however many corrections
// came after it, and a message received before the card's last correction
// but not applied yet is refused (rule superseded) with nothing written,
// naming the later correction; a message received after it applies.
func TestCorrectionsNeverRollBack(t *testing.T) {
	t.Parallel()
	type op struct {
		typ, event, field string
		first, later      string // values set by the first and the later correction
		older             string // value of a message received before the later one
		registered        string // masked value on the card before the first correction
		firstMasked       string // masked value of the first correction
		stored            func(cardRecord) string
	}
	rename := op{typ: OpRename, event: EventRenamed, field: "name", first: "张三丰", later: "张三峰", older: "张山丰",
		registered: "张*风", firstMasked: "张*丰", stored: func(r cardRecord) string { return r.Name }}
	phone := op{typ: OpPhone, event: EventPhoneCorrected, field: "phone", first: "13987654321", later: "13711112222", older: "13633334444",
		registered: "138****5678", firstMasked: "139****4321", stored: func(r cardRecord) string { return r.Phone }}
	tests := map[string]struct {
		op op
		// third is the message handled after the later correction: the
		// first one again, or another received in between.
		replayFirst bool
		want        sdk.Status
		wantRule    string
	}{
		"rename: the first correction replayed":               {op: rename, replayFirst: true, want: sdk.StatusOK, wantRule: "superseded"},
		"rename: an older correction handled after the later": {op: rename, want: sdk.StatusInvalid, wantRule: "superseded"},
		"phone: the first correction replayed":                {op: phone, replayFirst: true, want: sdk.StatusOK, wantRule: "superseded"},
		"phone: an older correction handled after the later":  {op: phone, want: sdk.StatusInvalid, wantRule: "superseded"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, testSettings())
			cardNo := e.register(map[string]string{"name": "张三风", "idType": "01", "idNumber": testResidentID, "phone": "13812345678"}).CardNo
			handle := func(id, value string, received time.Time, attempt int) *sdk.HandleResponse {
				t.Helper()
				payload, _ := json.Marshal(map[string]string{"cardNo": cardNo, "idNumber": testResidentID, tc.op.field: value, "reason": "登记时输错"})
				r, err := e.p.Handle(context.Background(), &sdk.HandleRequest{Site: testSite, Type: tc.op.typ, MessageID: id, Format: "json",
					Payload: payload, Attempt: attempt, ReceivedAt: received, Recovering: attempt > 1})
				if err != nil {
					t.Fatalf("%s %s: %v", tc.op.typ, id, err)
				}
				return r
			}
			t1, t2, t3 := testT0.Add(time.Minute), testT0.Add(2*time.Minute), testT0.Add(3*time.Minute)
			e.clock.Set(t1)
			first := handle("c-1", tc.op.first, t1, 1)
			e.clock.Set(t3)
			later := handle("c-2", tc.op.later, t3, 1)
			if first.Status != sdk.StatusOK || later.Status != sdk.StatusOK {
				t.Fatalf("corrections: %s %s / %s %s, want ok", first.Status, first.Diagnostics, later.Status, later.Diagnostics)
			}
			eventsBefore := len(e.host.Events())

			var third *sdk.HandleResponse
			if tc.replayFirst {
				third = handle("c-1", tc.op.first, t1, 2)
			} else {
				third = handle("c-3", tc.op.older, t2, 1)
			}
			rules := []string{}
			for _, d := range third.Diagnostics {
				rules = append(rules, d.Rule)
			}
			if third.Status != tc.want || len(rules) != 1 || rules[0] != tc.wantRule {
				t.Errorf("third message: %s %v, want %s with rule %s", third.Status, third.Diagnostics, tc.want, tc.wantRule)
			}
			if tc.replayFirst {
				// The reply is the first handling's: corrected, from the
				// registered value.
				var got struct {
					Renamed, Corrected          bool
					PreviousName, PreviousPhone string
				}
				_ = json.Unmarshal(third.Payload, &got)
				if !got.Renamed && !got.Corrected || got.PreviousName+got.PreviousPhone != tc.op.registered {
					t.Errorf("replayed reply %s, want the first handling's (corrected from the registered value)", third.Payload)
				}
			}

			entry, err := e.host.Get(context.Background(), testSite, keyCard+cardNo)
			if err != nil {
				t.Fatal(err)
			}
			var rec cardRecord
			if err := json.Unmarshal(entry.Value, &rec); err != nil {
				t.Fatal(err)
			}
			if got := tc.op.stored(rec); got != tc.op.later {
				t.Errorf("stored %s %q after the third message, want the later correction's %q", tc.op.field, got, tc.op.later)
			}
			// Only the first message's own event may go out again (under
			// its id, so consumers drop it), and with its own value.
			for _, ev := range e.host.Events()[eventsBefore:] {
				var p map[string]any
				_ = json.Unmarshal(ev.Event.Payload, &p)
				if !tc.replayFirst || ev.Event.ID != tc.op.event+"/"+cardNo+"/c-1" || p[tc.op.field] != tc.op.firstMasked {
					t.Errorf("third message published %s %s", ev.Event.ID, ev.Event.Payload)
				}
			}
		})
	}
}

// TestAddNoteKeepsTheLatest: a card keeps its last correction of a field
// and at most maxEarlierCorrections before it, the oldest dropped, so a
// card's record does not grow with every correction.
func TestAddNoteKeepsTheLatest(t *testing.T) {
	t.Parallel()
	var last *renameNote
	var earlier []renameNote
	n := maxEarlierCorrections + 4
	for i := 1; i <= n; i++ {
		addNote(&last, &earlier, renameNote{correction: correction{By: fmt.Sprint("m-", i)}})
	}
	if last == nil || last.By != fmt.Sprint("m-", n) || len(earlier) != maxEarlierCorrections ||
		earlier[0].By != fmt.Sprint("m-", n-maxEarlierCorrections) || earlier[len(earlier)-1].By != fmt.Sprint("m-", n-1) {
		t.Fatalf("last %+v, earlier %+v; want m-%d last and m-%d … m-%d before it", last, earlier, n, n-maxEarlierCorrections, n-1)
	}
	if _, found := noteBy(last, earlier, "m-1"); found {
		t.Errorf("m-1 still kept")
	}
	if n, found := noteBy(last, earlier, fmt.Sprint("m-", n-1)); !found || n.By != fmt.Sprint("m-", maxEarlierCorrections+3) {
		t.Errorf("m-%d not found: %+v %v", maxEarlierCorrections+3, n, found)
	}
}

// TestCorrectionConfirmedNotRolledBack: a correction that finds the card
// already as it asks (nothing to change) still says, as of its receipt,
// what the card should be; a correction received before it and handled
// after it wrote its older value over the confirmed one. It is refused
// (superseded) now.
func TestCorrectionConfirmedNotRolledBack(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		typ, field, value, older string
		stored                   func(cardRecord) string
	}{
		"rename": {typ: OpRename, field: "name", value: "张三丰", older: "张三峰", stored: func(r cardRecord) string { return r.Name }},
		"phone":  {typ: OpPhone, field: "phone", value: "13987654321", older: "13711112222", stored: func(r cardRecord) string { return r.Phone }},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, testSettings())
			cardNo := e.register(map[string]string{"name": "张三风", "idType": "01", "idNumber": testResidentID, "phone": "13812345678"}).CardNo
			handle := func(id, value string, received time.Time) *sdk.HandleResponse {
				t.Helper()
				e.clock.Set(e.clock.Now().Add(time.Minute))
				payload, _ := json.Marshal(map[string]string{"cardNo": cardNo, "idNumber": testResidentID, tc.field: value, "reason": "登记时输错"})
				r, err := e.p.Handle(context.Background(), &sdk.HandleRequest{Site: testSite, Type: tc.typ, MessageID: id, Format: "json",
					Payload: payload, Attempt: 1, ReceivedAt: received})
				if err != nil {
					t.Fatalf("%s %s: %v", tc.typ, id, err)
				}
				return r
			}
			first := handle("c-1", tc.value, testT0.Add(time.Minute))
			confirm := handle("c-3", tc.value, testT0.Add(5*time.Minute))
			older := handle("c-2", tc.older, testT0.Add(3*time.Minute))
			if first.Status != sdk.StatusOK || confirm.Status != sdk.StatusOK {
				t.Fatalf("first %s %s, confirmation %s %s; want ok", first.Status, first.Diagnostics, confirm.Status, confirm.Diagnostics)
			}
			if older.Status != sdk.StatusInvalid || len(older.Diagnostics) != 1 || older.Diagnostics[0].Rule != "superseded" {
				t.Errorf("the older correction handled last: %s %s, want invalid superseded", older.Status, older.Diagnostics)
			}
			entry, err := e.host.Get(context.Background(), testSite, keyCard+cardNo)
			if err != nil {
				t.Fatal(err)
			}
			var rec cardRecord
			if err := json.Unmarshal(entry.Value, &rec); err != nil {
				t.Fatal(err)
			}
			if got := tc.stored(rec); got != tc.value {
				t.Errorf("stored %s %q, want the confirmed %q", tc.field, got, tc.value)
			}
		})
	}
}
