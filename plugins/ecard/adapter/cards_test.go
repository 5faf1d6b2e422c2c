package adapter

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/medgate/medgate/plugins/ecard/card"
	"github.com/medgate/medgate/plugins/sdk"
)

func TestRevoke(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testSettings())
	cardNo, q := e.issue(nil)
	e.clock.Set(testT0.Add(time.Minute))

	var r revokeReply
	e.ok(OpRevoke, map[string]string{"cardNo": cardNo, "reason": "duplicate registration"}, &r)
	want := revokeReply{CardNo: cardNo, Status: "revoked", RevokedAt: testT0.Add(time.Minute), Reason: "duplicate registration"}
	if diff := cmp.Diff(want, r); diff != "" {
		t.Errorf("revoke (-want +got):\n%s", diff)
	}
	st, rule, m := e.scan(q.Text)
	wantScan := map[string]any{"result": "revoked", "cardNo": cardNo, "revokedAt": testT0.Add(time.Minute).Format(time.RFC3339)}
	if diff := cmp.Diff([]any{sdk.StatusInvalid, "revoked", wantScan}, []any{st, rule, m}); diff != "" {
		t.Errorf("scan after revoke (-want +got):\n%s", diff)
	}

	// Revoking again keeps the first revocation.
	e.clock.Set(testT0.Add(time.Hour))
	e.ok(OpRevoke, map[string]string{"cardNo": cardNo, "reason": "again"}, &r)
	want.AlreadyRevoked = true
	if diff := cmp.Diff(want, r); diff != "" {
		t.Errorf("second revoke (-want +got):\n%s", diff)
	}
	if evs := e.eventsOfType("ecard.revoked"); len(evs) != 1 || evs[0].Key != cardNo {
		t.Errorf("revoked events = %+v, want one keyed by %s", evs, cardNo)
	}
	if r := e.call(OpQRCode, map[string]string{"cardNo": cardNo}); r.Status != sdk.StatusInvalid || r.Diagnostics[0].Rule != "revoked" {
		t.Errorf("qrcode of a revoked card: %s %s, want invalid revoked", r.Status, r.Diagnostics)
	}

	// Registering the person again issues a replacement card.
	again := e.register(zhang())
	if !again.Created || again.CardNo == cardNo || again.PreviousCardNo != cardNo {
		t.Errorf("registration after revoke = %+v, want a new card replacing %s", again, cardNo)
	}
	var old cardView
	e.ok(OpGet, map[string]string{"cardNo": cardNo}, &old)
	if old.Status != "revoked" || old.ReplacedBy != again.CardNo || old.RevokeReason != "duplicate registration" {
		t.Errorf("old card = %+v, want revoked and replaced by %s", old, again.CardNo)
	}
	if got := e.register(zhang()); got.CardNo != again.CardNo || got.Created {
		t.Errorf("third registration = %+v, want the replacement %s", got, again.CardNo)
	}
}

func TestRevokeInvalid(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testSettings())
	cardNo := e.register(zhang()).CardNo
	long := make([]rune, maxReason+1)
	for i := range long {
		long[i] = '错'
	}
	testCases := map[string]struct {
		payload map[string]string
		want    []diag
	}{
		"no reason":      {payload: map[string]string{"cardNo": cardNo}, want: []diag{{"$.reason", "required", true}}},
		"long reason":    {payload: map[string]string{"cardNo": cardNo, "reason": string(long)}, want: []diag{{"$.reason", "length", true}}},
		"control chars":  {payload: map[string]string{"cardNo": cardNo, "reason": "a\x07b"}, want: []diag{{"$.reason", "characters", true}}},
		"nothing at all": {payload: map[string]string{}, want: []diag{{"$.cardNo", "required", true}, {"$.reason", "required", true}}},
		"unknown card":   {payload: map[string]string{"cardNo": "880100000099990", "reason": "x"}, want: []diag{{"$.cardNo", "unknown-card", true}}},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r := e.call(OpRevoke, tc.payload)
			if diff := cmp.Diff(tc.want, diagsOf(r.Diagnostics)); diff != "" || r.Status != sdk.StatusInvalid {
				t.Errorf("status %s, diagnostics (-want +got):\n%s", r.Status, diff)
			}
		})
	}
}

func TestLinkAndGet(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testSettings())
	cardNo := e.register(zhang()).CardNo
	other := e.register(person(1)).CardNo

	var l linkReply
	e.ok(OpLink, map[string]string{"cardNo": cardNo, "tempCardNo": "99000123"}, &l)
	e.ok(OpLink, map[string]string{"cardNo": cardNo, "tempCardNo": "98-7"}, &l)
	if diff := cmp.Diff([]string{"99000123", "98-7"}, l.TempCards); diff != "" || l.AlreadyLinked {
		t.Errorf("temp cards after linking (-want +got):\n%s", diff)
	}
	// Linking again is idempotent.
	e.ok(OpLink, map[string]string{"cardNo": cardNo, "tempCardNo": "99000123"}, &l)
	if !l.AlreadyLinked || len(l.TempCards) != 2 {
		t.Errorf("relink = %+v, want alreadyLinked and two temp cards", l)
	}

	want := getReply{cardView: cardView{CardNo: cardNo, Status: "active", Name: "张*丰", IDType: "01", IDNumber: "110***********002X",
		Phone: "138****5678", RegisteredAt: testT0, TempCards: []string{"99000123", "98-7"}, Masked: true}}
	testCases := map[string]struct {
		payload map[string]string
		want    getReply
	}{
		"by card number":                      {payload: map[string]string{"cardNo": cardNo}, want: want},
		"by temporary card":                   {payload: map[string]string{"tempCardNo": "98-7"}, want: withMatch(want, "98-7")},
		"temporary card given as card number": {payload: map[string]string{"cardNo": "99000123"}, want: withMatch(want, "99000123")},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var got getReply
			e.ok(OpGet, tc.payload, &got)
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(getReply{})); diff != "" {
				t.Errorf("ecard.get (-want +got):\n%s", diff)
			}
		})
	}

	refusals := map[string]struct {
		op      string
		payload map[string]string
		want    []diag
	}{
		"temp card already linked elsewhere": {op: OpLink, payload: map[string]string{"cardNo": other, "tempCardNo": "99000123"}, want: []diag{{"$.tempCardNo", "already-linked", true}}},
		"not a temporary number":             {op: OpLink, payload: map[string]string{"cardNo": cardNo, "tempCardNo": "12345"}, want: []diag{{"$.tempCardNo", "format", true}}},
		"temporary number as the e-card":     {op: OpLink, payload: map[string]string{"cardNo": "99000123", "tempCardNo": "99000124"}, want: []diag{{"$.cardNo", "temporary-card", true}}},
		"link to an unknown card":            {op: OpLink, payload: map[string]string{"cardNo": "880100000099990", "tempCardNo": "99000125"}, want: []diag{{"$.cardNo", "unknown-card", true}}},
		"link nothing":                       {op: OpLink, payload: map[string]string{}, want: []diag{{"$.cardNo", "required", true}, {"$.tempCardNo", "required", true}}},
		"get unlinked temporary card":        {op: OpGet, payload: map[string]string{"tempCardNo": "99999"}, want: []diag{{"$.tempCardNo", "unknown-card", true}}},
		"get with both numbers":              {op: OpGet, payload: map[string]string{"cardNo": cardNo, "tempCardNo": "99000123"}, want: []diag{{"$.tempCardNo", "exclusive", true}}},
		"get with neither":                   {op: OpGet, payload: map[string]string{}, want: []diag{{"$.cardNo", "required", true}}},
		"get with a path in the number":      {op: OpGet, payload: map[string]string{"cardNo": "x/../y"}, want: []diag{{"$.cardNo", "format", true}}},
	}
	for name, tc := range refusals {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r := e.call(tc.op, tc.payload)
			if diff := cmp.Diff(tc.want, diagsOf(r.Diagnostics)); diff != "" || r.Status != sdk.StatusInvalid {
				t.Errorf("status %s, diagnostics (-want +got):\n%s\n%s", r.Status, diff, r.Diagnostics)
			}
		})
	}
	if evs := e.eventsOfType("ecard.linked"); len(evs) < 2 {
		t.Errorf("%d linked events, want at least 2", len(evs))
	}
	// A revoked card takes no new links.
	revoked := e.register(person(2)).CardNo
	e.ok(OpRevoke, map[string]string{"cardNo": revoked, "reason": "test"}, nil)
	if r := e.call(OpLink, map[string]string{"cardNo": revoked, "tempCardNo": "99000200"}); r.Status != sdk.StatusInvalid || r.Diagnostics[0].Rule != "revoked" {
		t.Errorf("link to a revoked card: %s %s, want invalid revoked", r.Status, r.Diagnostics)
	}
}

func withMatch(r getReply, temp string) getReply {
	r.MatchedTempCardNo = temp
	return r
}

func TestCardsList(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testSettings())
	var numbers []string
	for i := range 3 {
		e.clock.Set(testT0.Add(time.Duration(i) * time.Minute))
		numbers = append(numbers, e.register(person(i)).CardNo)
	}
	e.ok(OpRevoke, map[string]string{"cardNo": numbers[0], "reason": "test"}, nil)
	e.register(person(1)) // a re-registration adds nothing

	revokedAt := testT0.Add(2 * time.Minute) // the clock when numbers[0] was revoked
	item := func(i int, status string) recentItem {
		id := person(i)
		it := recentItem{CardNo: numbers[i], Name: card.MaskName(id["name"]), IDType: "03", IDNumber: card.MaskIDNumber(id["idNumber"]),
			Phone: card.MaskPhone(id["phone"]), Status: status, RegisteredAt: testT0.Add(time.Duration(i) * time.Minute)}
		if status == statusDead {
			it.RevokedAt = &revokedAt
		}
		return it
	}
	testCases := map[string]struct {
		payload any
		want    []recentItem
	}{
		"default limit, newest first": {payload: map[string]any{}, want: []recentItem{item(2, "active"), item(1, "active"), item(0, "revoked")}},
		"empty payload":               {payload: "", want: []recentItem{item(2, "active"), item(1, "active"), item(0, "revoked")}},
		"limit":                       {payload: map[string]any{"limit": 2}, want: []recentItem{item(2, "active"), item(1, "active")}},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var got struct{ Items []recentItem }
			e.ok(OpCardsList, tc.payload, &got)
			if diff := cmp.Diff(tc.want, got.Items); diff != "" {
				t.Errorf("items (-want +got):\n%s", diff)
			}
		})
	}
	if r := e.call(OpCardsList, map[string]any{"limit": 501}); r.Status != sdk.StatusInvalid {
		t.Errorf("limit 501: status %s, want invalid", r.Status)
	}
}

// A registration that stopped before announcing the card is announced by a
// later registration of the person once the first one has surely failed,
// and not before.
func TestRegisterRepairsAnnouncement(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testSettings())
	cardNo := e.register(zhang()).CardNo
	ctx := context.Background()
	entry, err := e.host.Get(ctx, testSite, keyCard+cardNo)
	if err != nil {
		t.Fatal(err)
	}
	var rec cardRecord
	if err := json.Unmarshal(entry.Value, &rec); err != nil {
		t.Fatal(err)
	}
	rec.Announced = false
	b, _ := json.Marshal(rec)
	if _, err := e.host.Put(ctx, testSite, keyCard+cardNo, b); err != nil {
		t.Fatal(err)
	}

	e.register(zhang()) // concurrent-looking: the creator may still be announcing
	if n := len(e.eventsOfType("ecard.registered")); n != 1 {
		t.Fatalf("%d registered events after an early re-registration, want 1", n)
	}
	payload, _ := json.Marshal(zhang())
	r, err := e.p.Handle(ctx, &sdk.HandleRequest{Site: testSite, Type: OpRegister, MessageID: "redelivered", Format: "json", Payload: payload, Attempt: 2})
	if err != nil || r.Status != sdk.StatusOK {
		t.Fatalf("redelivered registration: %v %v", err, r)
	}
	if n := len(e.eventsOfType("ecard.registered")); n != 2 {
		t.Fatalf("%d registered events after a redelivered registration, want 2", n)
	}
	e.register(zhang())
	if n := len(e.eventsOfType("ecard.registered")); n != 2 {
		t.Errorf("%d registered events once announced, want still 2", n)
	}
}

// TestGetMasksUnlessRevealed: ecard.get masks the identity unless the site
// allows revealing it and the request asks.
func TestGetMasksUnlessRevealed(t *testing.T) {
	t.Parallel()
	full := cardView{Status: "active", Name: "张三丰", IDType: "01", IDNumber: testResidentID, Phone: "13812345678", BirthDate: "1949-12-31",
		RegisteredAt: testT0, TempCards: []string{}}
	masked := cardView{Status: "active", Name: "张*丰", IDType: "01", IDNumber: "110***********002X", Phone: "138****5678",
		RegisteredAt: testT0, TempCards: []string{}, Masked: true}
	testCases := map[string]struct {
		siteAllows string
		payload    map[string]any
		want       *cardView
		rule       string
	}{
		"default: masked":                     {"", map[string]any{}, &masked, ""},
		"reveal asked, site does not allow":   {"false", map[string]any{"reveal": true}, nil, "not-allowed"},
		"site allows, not asked: masked":      {"true", map[string]any{}, &masked, ""},
		"site allows and asked: the identity": {"true", map[string]any{"reveal": true}, &full, ""},
		"by temporary card: masked":           {"true", map[string]any{"tempCardNo": "99000123"}, &masked, ""},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := testSettings()
			s[setRevealIdentity] = tc.siteAllows
			e := newEnv(t, s)
			person := zhang()
			person["birthDate"] = "1949-12-31"
			cardNo := e.register(person).CardNo
			e.ok(OpLink, map[string]string{"cardNo": cardNo, "tempCardNo": "99000123"}, nil)
			if _, ok := tc.payload["tempCardNo"]; !ok {
				tc.payload["cardNo"] = cardNo
			}
			r := e.call(OpGet, tc.payload)
			if tc.rule != "" {
				if r.Status != sdk.StatusInvalid || r.Diagnostics[0].Rule != tc.rule || r.Diagnostics[0].Field != "$.reveal" {
					t.Fatalf("status %s %s, want invalid %s at $.reveal", r.Status, r.Diagnostics, tc.rule)
				}
				if strings.Contains(string(r.Payload), "13812345678") || strings.Contains(string(r.Payload), "张三丰") {
					t.Errorf("a refused reveal leaked the identity: %s", r.Payload)
				}
				return
			}
			var got getReply
			if err := json.Unmarshal(r.Payload, &got); err != nil || r.Status != sdk.StatusOK {
				t.Fatalf("status %s %s: %v", r.Status, r.Diagnostics, err)
			}
			want := *tc.want
			want.CardNo, want.TempCards = cardNo, []string{"99000123"}
			if diff := cmp.Diff(want, got.cardView); diff != "" {
				t.Errorf("ecard.get (-want +got):\n%s", diff)
			}
		})
	}
}

// TestRevokeAndLinkRedeliveredReply: a revoke or link message redelivered
// after its write (the instance died before the outcome was stored) gets
// the reply of the first handling, not "already" as another message would.
func TestRevokeAndLinkRedeliveredReply(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testSettings())
	cardNo := e.register(zhang()).CardNo
	ctx := context.Background()
	handle := func(typ, id string, attempt int, payload map[string]string, out any) {
		t.Helper()
		b, _ := json.Marshal(payload)
		r, err := e.p.Handle(ctx, &sdk.HandleRequest{Site: testSite, Type: typ, MessageID: id, Format: "json", Payload: b, Attempt: attempt})
		if err != nil || r.Status != sdk.StatusOK {
			t.Fatalf("%s attempt %d: %v %v", typ, attempt, err, r)
		}
		if err := json.Unmarshal(r.Payload, out); err != nil {
			t.Fatal(err)
		}
	}
	link := map[string]string{"cardNo": cardNo, "tempCardNo": "99000123"}
	var l1, l2, l3 linkReply
	handle(OpLink, "link-1", 1, link, &l1)
	handle(OpLink, "link-1", 2, link, &l2)
	handle(OpLink, "link-2", 1, link, &l3)
	if l1.AlreadyLinked || l2.AlreadyLinked || !l3.AlreadyLinked {
		t.Errorf("alreadyLinked: first %v, redelivered %v, another message %v; want false, false, true", l1.AlreadyLinked, l2.AlreadyLinked, l3.AlreadyLinked)
	}
	revoke := map[string]string{"cardNo": cardNo, "reason": "lost"}
	var r1, r2, r3 revokeReply
	handle(OpRevoke, "rev-1", 1, revoke, &r1)
	handle(OpRevoke, "rev-1", 2, revoke, &r2)
	handle(OpRevoke, "rev-2", 1, revoke, &r3)
	if r1.AlreadyRevoked || r2.AlreadyRevoked || !r3.AlreadyRevoked {
		t.Errorf("alreadyRevoked: first %v, redelivered %v, another message %v; want false, false, true", r1.AlreadyRevoked, r2.AlreadyRevoked, r3.AlreadyRevoked)
	}
}
