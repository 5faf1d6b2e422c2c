package adapter

import (
	"context"
	"encoding/json"
	"maps"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/medgate/medgate/plugins/ecard/card"
	"github.com/medgate/medgate/plugins/sdk"
)

func TestRegisterReturnsSameCard(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testSettings())
	first := e.register(zhang())
	if !first.Created || first.Status != "active" || !first.RegisteredAt.Equal(testT0) {
		t.Fatalf("first registration = %+v, want created, active, at %s", first, testT0)
	}
	rule := card.NumberRule{Prefix: "8801", Width: 10, CheckDigit: card.CheckMod11_2, TempPrefixes: []string{"99", "98"}}
	if err := rule.Check(first.CardNo); err != nil {
		t.Errorf("card number %s does not satisfy the default rule: %v", first.CardNo, err)
	}

	// Again, with the ID number in another form (lower-case x, spaces).
	again := zhang()
	again["idNumber"] = " 110105 19491231 002x "
	second := e.register(again)
	want := first
	want.Created = false
	if diff := cmp.Diff(want, second); diff != "" {
		t.Errorf("re-registration (-want +got):\n%s", diff)
	}

	// A household register (02) carries the same citizen number: same person.
	hh := zhang()
	hh["idType"] = "02"
	if got := e.register(hh); got.CardNo != first.CardNo {
		t.Errorf("household-register registration got card %s, want %s", got.CardNo, first.CardNo)
	}

	// A different name for the same ID number returns the card with a warning.
	other := zhang()
	other["name"] = "张三"
	r := e.call(OpRegister, other)
	if diff := cmp.Diff([]diag{{Field: "$.name", Rule: "mismatch"}}, diagsOf(r.Diagnostics)); diff != "" || r.Status != sdk.StatusOK {
		t.Errorf("status %s, diagnostics (-want +got):\n%s", r.Status, diff)
	}

	if got := e.eventsOfType("ecard.registered"); len(got) != 1 || got[0].Key != first.CardNo || got[0].ID != "ecard.registered/"+first.CardNo {
		t.Errorf("registered events = %+v, want one keyed by %s", got, first.CardNo)
	}
	var view cardView
	e.ok(OpGet, map[string]string{"cardNo": first.CardNo}, &view)
	wantView := cardView{CardNo: first.CardNo, Status: "active", Name: "张*丰", IDType: "01", IDNumber: "110***********002X", Phone: "138****5678",
		RegisteredAt: testT0, TempCards: []string{}, Masked: true}
	if diff := cmp.Diff(wantView, view); diff != "" {
		t.Errorf("ecard.get (-want +got):\n%s", diff)
	}
}

// The journal and the events never carry raw ID numbers, phones or names.
func TestRegisterJournalIsMasked(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testSettings())
	reg := e.register(zhang())
	e.register(zhang())
	e.ok(OpRevoke, map[string]string{"cardNo": reg.CardNo, "reason": "duplicate registration"}, nil)

	xs := e.host.Exchanges()
	var codes []string
	for _, x := range xs {
		codes = append(codes, x.Exchange.Code)
		if x.Exchange.System != "ecard" || x.Exchange.Serial != reg.CardNo || x.Exchange.Status != "ok" || x.Site != testSite {
			t.Errorf("exchange %+v: want system ecard, serial %s, status ok", x.Exchange, reg.CardNo)
		}
		text := string(x.Exchange.Request) + string(x.Exchange.Response)
		if leak := containsAny(text, testResidentID, "13812345678", "张三丰"); leak != "" {
			t.Errorf("journal %s holds raw personal data %q: %s", x.Exchange.Code, leak, text)
		}
		if x.Exchange.Code == "register" && !strings.Contains(text, card.MaskIDNumber(testResidentID)) {
			t.Errorf("journal %s lacks the masked ID number: %s", x.Exchange.Code, text)
		}
	}
	if diff := cmp.Diff([]string{"register", "register", "revoke"}, codes); diff != "" {
		t.Errorf("journal codes (-want +got):\n%s", diff)
	}
	for _, p := range e.host.Events() {
		if leak := containsAny(string(p.Event.Payload), testResidentID, "13812345678", "张三丰"); leak != "" {
			t.Errorf("event %s holds raw personal data %q", p.Event.Type, leak)
		}
	}
}

func TestRegisterInvalid(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testSettings())
	with := func(k, v string) map[string]string {
		m := zhang()
		m[k] = v
		return m
	}
	testCases := map[string]struct {
		payload any
		want    []diag
	}{
		"check digit":     {payload: with("idNumber", "110105194912310021"), want: []diag{{"$.idNumber", "check_digit", true}}},
		"missing name":    {payload: with("name", " "), want: []diag{{"$.name", "required", true}}},
		"bad phone":       {payload: with("phone", "+86 138 1234 5678"), want: []diag{{"$.phone", "format", true}}},
		"unknown id type": {payload: with("idType", "04"), want: []diag{{"$.idType", "id_type", true}}},
		"several fields at once": {
			payload: map[string]string{"name": "", "idType": "01", "idNumber": "11010519491231", "phone": ""},
			want:    []diag{{"$.name", "required", true}, {"$.idNumber", "length", true}, {"$.phone", "required", true}},
		},
		"gender disagrees with the ID number": {payload: with("gender", "1"), want: []diag{{"$.gender", "mismatch", true}}},
		"unknown field":                       {payload: with("email", "a@b.c"), want: []diag{{"$.email", "unknown", true}}},
		"wrong type":                          {payload: `{"name": 1, "idType": "01", "idNumber": "x", "phone": "1"}`, want: []diag{{"$.name", "type", true}}},
		"not an object":                       {payload: `["x"]`, want: []diag{{"$", "type", true}}},
		"not JSON":                            {payload: `{"name":`, want: []diag{{"$", "type", true}}},
		"trailing data":                       {payload: `{} {}`, want: []diag{{"$", "type", true}}},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r := e.call(OpRegister, tc.payload)
			if r.Status != sdk.StatusInvalid {
				t.Fatalf("status %s, want invalid", r.Status)
			}
			if diff := cmp.Diff(tc.want, diagsOf(r.Diagnostics)); diff != "" {
				t.Errorf("diagnostics (-want +got):\n%s\n%s", diff, r.Diagnostics)
			}
			for _, d := range r.Diagnostics {
				if d.Summary == "" {
					t.Errorf("diagnostic %+v has no summary", d)
				}
			}
		})
	}
	if n := len(e.keysWithPrefix(keyCard)); n != 0 {
		t.Errorf("%d card records after invalid registrations, want 0", n)
	}
}

// 50 different people registered from 8 goroutines never share a number.
func TestRegisterConcurrentPeople(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testSettings())
	const people, workers = 50, 8
	numbers := make([]string, people)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < people; i += workers {
				numbers[i] = e.register(person(i)).CardNo
			}
		})
	}
	wg.Wait()
	seen := map[string]int{}
	for i, n := range numbers {
		if j, dup := seen[n]; dup {
			t.Errorf("people %d and %d share card %s", j, i, n)
		}
		seen[n] = i
	}
	if got := len(e.keysWithPrefix(keyCard)); got != people {
		t.Errorf("%d card records, want %d", got, people)
	}
	if got := len(e.eventsOfType("ecard.registered")); got != people {
		t.Errorf("%d registered events, want %d", got, people)
	}
}

// The same person registered at once from several goroutines on two
// instances gets one card, and the losers leave no record behind.
func TestRegisterConcurrentSamePerson(t *testing.T) {
	t.Parallel()
	e1 := newEnv(t, testSettings())
	e2 := e1.instance(testSettings())
	const perInstance = 4
	var mu sync.Mutex
	got := map[string]int{}
	created := 0
	var wg sync.WaitGroup
	for _, inst := range []*env{e1, e2} {
		for range perInstance {
			wg.Go(func() {
				r := inst.register(zhang())
				mu.Lock()
				defer mu.Unlock()
				got[r.CardNo]++
				if r.Created {
					created++
				}
			})
		}
	}
	wg.Wait()
	if len(got) != 1 || created != 1 {
		t.Fatalf("cards %v, created %d; want one card created once", got, created)
	}
	if keys := e1.keysWithPrefix(keyCard); len(keys) != 1 {
		t.Errorf("card records %v, want exactly one", keys)
	}
	if evs := e1.eventsOfType("ecard.registered"); len(evs) != 1 {
		t.Errorf("%d registered events, want 1", len(evs))
	}
	// Numbers drawn by the losers are skipped, never reused: the next card
	// takes the next sequence.
	used, err := e1.host.NextSequence(context.Background(), testSite, seqCardNo)
	if err != nil {
		t.Fatal(err)
	}
	next := e1.register(person(1)).CardNo
	rule := card.NumberRule{Prefix: "8801", Width: 10, CheckDigit: card.CheckMod11_2}
	perm, err := card.NewPermutation([]byte(testIdentity), 10)
	if err != nil {
		t.Fatal(err)
	}
	shuffled, err := rule.Sequence(next)
	if err != nil {
		t.Fatal(err)
	}
	if seq, err := perm.Invert(shuffled); err != nil || seq != used+1 {
		t.Errorf("next card %s has sequence %d (%v), want %d", next, seq, err, used+1)
	}
	t.Logf("%d registrations of one person drew %d sequence numbers", 2*perInstance, used-1)
}

// Numbers are never reused: a later registration gets the next sequence
// even after registrations were lost to a race. Shuffled numbers (the
// default) are that sequence under the site's permutation: same prefix,
// width and check character, not in order.
func TestRegisterNumbersFollowSequence(t *testing.T) {
	t.Parallel()
	rule := card.NumberRule{Prefix: "7", Width: 3, CheckDigit: card.CheckLuhn}
	perm, err := card.NewPermutation([]byte(testIdentity), 3)
	if err != nil {
		t.Fatal(err)
	}
	testCases := map[string]struct {
		mode   string
		format func(seq int64) (string, error)
	}{
		"shuffled (default)": {"", func(seq int64) (string, error) { return rule.FormatShuffled(seq, perm) }},
		"sequential":         {numbersSequential, rule.Format},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := testSettings()
			maps.Copy(s, map[string]string{setCardPrefix: "7", setCardWidth: "3", setCardCheck: card.CheckLuhn, setCardNumbers: tc.mode})
			e := newEnv(t, s)
			var got, want []string
			for i := range 3 {
				got = append(got, e.register(person(i)).CardNo)
				n, err := tc.format(int64(i + 1))
				if err != nil {
					t.Fatal(err)
				}
				want = append(want, n)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("card numbers (-want +got):\n%s", diff)
			}
			for _, n := range got {
				if err := rule.Check(n); err != nil {
					t.Errorf("card %s breaks the hospital's rule: %v", n, err)
				}
			}
		})
	}
}

// TestRegisterNumbersCannotBeGuessed registers 200 people and checks that
// card numbers do not follow each other, as sequential numbers would.
func TestRegisterNumbersCannotBeGuessed(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testSettings())
	rule := card.NumberRule{Prefix: "8801", Width: 10, CheckDigit: card.CheckMod11_2, TempPrefixes: []string{"99", "98"}}
	var prev int64
	near := 0
	for i := range 200 {
		n := e.register(person(i)).CardNo
		if err := rule.Check(n); err != nil {
			t.Fatalf("card %s breaks the rule: %v", n, err)
		}
		body, _ := rule.Sequence(n)
		if d := body - prev; i > 0 && d > -1000 && d < 1000 {
			near++
		}
		prev = body
	}
	if near > 2 {
		t.Errorf("%d of 199 consecutive registrations got card numbers within 1000 of each other", near)
	}
}

func TestRegisterSequenceExhausted(t *testing.T) {
	t.Parallel()
	s := testSettings()
	maps.Copy(s, map[string]string{setCardPrefix: "7", setCardWidth: "1"})
	e := newEnv(t, s)
	for i := range 9 {
		e.register(person(i))
	}
	r := e.call(OpRegister, person(9))
	if r.Status != sdk.StatusFailed || r.Retryable || len(r.Diagnostics) != 1 || r.Diagnostics[0].Rule != "sequence" {
		t.Errorf("10th registration with width 1 = %s retryable %v %s; want failed, not retryable, rule sequence", r.Status, r.Retryable, r.Diagnostics)
	}
}

// TestRegisterResidencePermitUnderEitherType: a 港澳台居民居住证 number
// (81/82/83…) is accepted under idType 09 and, as the same GB 11643 number
// space, under 01 and 02; it is one person whichever type the counter
// picks, so the second registration gets the first card back.
func TestRegisterResidencePermitUnderEitherType(t *testing.T) {
	t.Parallel()
	for _, order := range [][2]string{{"09", "01"}, {"01", "09"}, {"02", "09"}} {
		e := newEnv(t, testSettings())
		id := map[string]string{"name": "陈大文", "idType": order[0], "idNumber": "810000199408230021", "phone": "13812345679"}
		first := e.register(id)
		id["idType"] = order[1]
		second := e.register(id)
		if second.CardNo != first.CardNo || second.Created {
			t.Errorf("registered as %s, then as %s: cards %s and %s (created %v); want the first card back",
				order[0], order[1], first.CardNo, second.CardNo, second.Created)
		}
	}
}

// TestRegisterRedeliveredReply: a registration message redelivered after
// the card was created (the instance died before the outcome was stored)
// gets the reply of the first handling, created: true, not the reply of a
// person registering again, and the revoked card it replaces is marked.
func TestRegisterRedeliveredReply(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testSettings())
	old := e.register(zhang()).CardNo
	e.ok(OpRevoke, map[string]string{"cardNo": old, "reason": "lost"}, nil)
	payload, _ := json.Marshal(zhang())
	ctx := context.Background()
	handle := func(attempt int) registerReply {
		t.Helper()
		r, err := e.p.Handle(ctx, &sdk.HandleRequest{Site: testSite, Type: OpRegister, MessageID: "reg-1", Format: "json", Payload: payload, Attempt: attempt})
		if err != nil || r.Status != sdk.StatusOK {
			t.Fatalf("attempt %d: %v %v", attempt, err, r)
		}
		var out registerReply
		if err := json.Unmarshal(r.Payload, &out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	first := handle(1)
	// The instance died after the person was claimed, before the old card
	// was marked as replaced.
	entry, err := e.host.Get(ctx, testSite, keyCard+old)
	if err != nil {
		t.Fatal(err)
	}
	var rec cardRecord
	if err := json.Unmarshal(entry.Value, &rec); err != nil {
		t.Fatal(err)
	}
	rec.ReplacedBy = ""
	b, _ := json.Marshal(rec)
	if _, err := e.host.Put(ctx, testSite, keyCard+old, b); err != nil {
		t.Fatal(err)
	}

	again := handle(2)
	if diff := cmp.Diff(first, again); diff != "" || !again.Created {
		t.Errorf("redelivered registration reply (-first +again):\n%s", diff)
	}
	var view cardView
	e.ok(OpGet, map[string]string{"cardNo": old}, &view)
	if view.ReplacedBy != first.CardNo {
		t.Errorf("old card %s replacedBy %q after the redelivery, want %s", old, view.ReplacedBy, first.CardNo)
	}
	// Another message of the same person is a re-registration.
	if r := e.register(zhang()); r.Created || r.CardNo != first.CardNo {
		t.Errorf("a new message of the same person: %+v, want the card with created false", r)
	}
}
