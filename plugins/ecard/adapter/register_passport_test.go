package adapter

import (
	"context"
	"encoding/json"
	"maps"
	"testing"

	"github.com/medgate/medgate/plugins/ecard/card"
	"github.com/medgate/medgate/plugins/sdk"
)

// TestRegisterPassportIssuingCountry: a passport number is unique only
// within the state that issued it, so two foreigners with the same number
// from different states are two persons with two cards (and two medical
// records), and one of them registering again gets their own card back.
func TestRegisterPassportIssuingCountry(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testSettings())
	smith := map[string]string{"name": "John Smith", "idType": "03", "idNumber": "E12345678", "issuingCountry": "GBR", "phone": "+447911123456"}
	dupont := map[string]string{"name": "Jean Dupont", "idType": "03", "idNumber": "E12345678", "issuingCountry": "FRA", "phone": "+33612345678"}
	a := e.register(smith)
	b := e.register(dupont)
	if !a.Created || !b.Created || a.CardNo == b.CardNo {
		t.Fatalf("GBR and FRA passports E12345678: cards %s (created %v) and %s (created %v), want two new cards", a.CardNo, a.Created, b.CardNo, b.Created)
	}
	again := maps.Clone(smith)
	again["issuingCountry"] = " gbr "
	if r := e.register(again); r.Created || r.CardNo != a.CardNo {
		t.Errorf("GBR passport again (as %q): card %s created %v, want %s, not created", again["issuingCountry"], r.CardNo, r.Created, a.CardNo)
	}
	var got cardView
	e.ok(OpGet, map[string]string{"cardNo": b.CardNo}, &got)
	if got.IssuingCountry != "FRA" {
		t.Errorf("ecard.get of %s: issuingCountry %q, want FRA", b.CardNo, got.IssuingCountry)
	}
}

// TestRegisterPassportIssuingCountryRequired: a passport without its
// issuing state, or with a code that is not one, is refused before
// anything is registered.
func TestRegisterPassportIssuingCountryRequired(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testSettings())
	testCases := map[string]struct {
		change func(map[string]string)
		want   []diag
	}{
		"passport without issuingCountry": {change: func(p map[string]string) { delete(p, "issuingCountry") },
			want: []diag{{Field: "$.issuingCountry", Rule: "required", Error: true}}},
		"alpha-2 code": {change: func(p map[string]string) { p["issuingCountry"] = "GB" },
			want: []diag{{Field: "$.issuingCountry", Rule: "format", Error: true}}},
		"unknown code": {change: func(p map[string]string) { p["issuingCountry"] = "CHA" },
			want: []diag{{Field: "$.issuingCountry", Rule: "code", Error: true}}},
		"resident card with issuingCountry": {change: func(p map[string]string) {
			p["idType"], p["idNumber"], p["phone"] = "01", testResidentID, "13812345678"
		}, want: []diag{{Field: "$.issuingCountry", Rule: "exclusive", Error: true}}},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			p := map[string]string{"name": "John Smith", "idType": "03", "idNumber": "E12345678", "issuingCountry": "GBR", "phone": "+447911123456"}
			tc.change(p)
			r := e.call(OpRegister, p)
			if r.Status != sdk.StatusInvalid {
				t.Fatalf("status %s %s, want invalid", r.Status, r.Payload)
			}
			if got := diagsOf(r.Diagnostics); !equalDiags(got, tc.want) {
				t.Errorf("diagnostics %v, want %v", got, tc.want)
			}
		})
	}
	if keys := e.keysWithPrefix(keyPerson); len(keys) != 0 {
		t.Errorf("person keys after refused registrations: %v, want none", keys)
	}
}

// TestRegisterPassportBeforeIssuingCountry: a passport holder registered
// before the issuing state was recorded (keyed by the number alone) gets
// that card back when registering with the issuing state and the same name,
// and the card then records the state; a holder of the same number with
// another name is another person and gets a card of their own.
func TestRegisterPassportBeforeIssuingCountry(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testSettings())
	ctx := context.Background()
	legacyKey, err := card.IdentityKey([]byte(testIdentity), card.Identity{IDType: "03", IDNumber: "E12345678"})
	if err != nil {
		t.Fatal(err)
	}
	old := cardRecord{CardNo: "880100000000013", Seq: 1, IdentityKey: legacyKey, Name: "John Smith", IDType: "03", IDNumber: "E12345678",
		Phone: "+447911123456", Status: statusLive, RegisteredAt: testT0.Add(-24 * 3600e9), Announced: true}
	for key, v := range map[string]any{keyCard + old.CardNo: old, keyPerson + legacyKey: personRecord{CardNo: old.CardNo}} {
		b, _ := json.Marshal(v)
		if _, err := e.host.Put(ctx, testSite, key, b); err != nil {
			t.Fatal(err)
		}
	}
	smith := map[string]string{"name": "JOHN  SMITH", "idType": "03", "idNumber": "E12345678", "issuingCountry": "GBR", "phone": "+447911123456"}
	if r := e.register(smith); r.Created || r.CardNo != old.CardNo {
		t.Errorf("legacy holder with GBR: card %s created %v, want %s, not created", r.CardNo, r.Created, old.CardNo)
	}
	var got cardView
	e.ok(OpGet, map[string]string{"cardNo": old.CardNo}, &got)
	if got.IssuingCountry != "GBR" {
		t.Errorf("ecard.get of the adopted card %s: issuingCountry %q, want GBR", old.CardNo, got.IssuingCountry)
	}
	dupont := map[string]string{"name": "Jean Dupont", "idType": "03", "idNumber": "E12345678", "issuingCountry": "FRA", "phone": "+33612345678"}
	if r := e.register(dupont); !r.Created || r.CardNo == old.CardNo {
		t.Errorf("another holder of E12345678 (FRA): card %s created %v, want a new card", r.CardNo, r.Created)
	}
	if r := e.register(smith); r.Created || r.CardNo != old.CardNo {
		t.Errorf("legacy holder again: card %s created %v, want %s, not created", r.CardNo, r.Created, old.CardNo)
	}
}

func equalDiags(a, b []diag) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestRegisterPassportBeforeIssuingCountryNames: a passport card registered
// before the issuing state was recorded is adopted when its holder's name
// is the same but written differently: full-width letters or spaces (an
// IME left in full-width mode), "SURNAME, GIVEN" or the machine-readable
// zone's "SURNAME<<GIVEN" for "SURNAME GIVEN", hyphens and dots; in another
// order only when both registrations state the same birth date. Two
// different birth dates, or another name, leave the card alone: the
// registration gets a card of its own.
func TestRegisterPassportBeforeIssuingCountryNames(t *testing.T) {
	t.Parallel()
	testCases := map[string]struct {
		oldName, oldBirth string // the card registered before issuing states
		name, birth       string // the registration with issuingCountry
		adopt             bool
	}{
		"case and spaces":                          {oldName: "John Smith", name: "JOHN  SMITH", adopt: true},
		"full-width letters and space":             {oldName: "JOHN SMITH", name: "ＪＯＨＮ　ＳＭＩＴＨ", adopt: true},
		"surname, given":                           {oldName: "SMITH JOHN", name: "SMITH, JOHN", adopt: true},
		"full-width comma":                         {oldName: "SMITH, JOHN", name: "SMITH，JOHN", adopt: true},
		"machine-readable zone fillers":            {oldName: "SMITH JOHN PAUL", name: "SMITH<<JOHN<PAUL", adopt: true},
		"hyphen and dot":                           {oldName: "Anne-Marie J. Smith", name: "ANNE MARIE J SMITH", adopt: true},
		"same name, same birth date":               {oldName: "John Smith", oldBirth: "1980-05-01", name: "john smith", birth: "1980-05-01", adopt: true},
		"same name, birth date on one side only":   {oldName: "John Smith", oldBirth: "1980-05-01", name: "JOHN SMITH", adopt: true},
		"other order, same birth date":             {oldName: "John Smith", oldBirth: "1980-05-01", name: "SMITH, JOHN", birth: "1980-05-01", adopt: true},
		"other order, no birth date":               {oldName: "John Smith", name: "SMITH, JOHN"},
		"other order, birth date on one side only": {oldName: "John Smith", oldBirth: "1980-05-01", name: "SMITH JOHN"},
		"same name, another birth date":            {oldName: "John Smith", oldBirth: "1980-05-01", name: "JOHN SMITH", birth: "1981-05-01"},
		"another name":                             {oldName: "John Smith", name: "Jean Dupont"},
		"another name, same birth date":            {oldName: "John Smith", oldBirth: "1980-05-01", name: "Jon Smith", birth: "1980-05-01"},
		"a name of more words":                     {oldName: "John Smith", oldBirth: "1980-05-01", name: "John Smith Jones", birth: "1980-05-01"},
		"a word twice for two":                     {oldName: "Smith Smith", oldBirth: "1980-05-01", name: "Smith John", birth: "1980-05-01"},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, testSettings())
			ctx := context.Background()
			legacyKey, err := card.IdentityKey([]byte(testIdentity), card.Identity{IDType: "03", IDNumber: "E12345678"})
			if err != nil {
				t.Fatal(err)
			}
			old := cardRecord{CardNo: "880100000000013", Seq: 1, IdentityKey: legacyKey, Name: tc.oldName, IDType: "03", IDNumber: "E12345678",
				BirthDate: tc.oldBirth, Phone: "+447911123456", Status: statusLive, RegisteredAt: testT0.Add(-24 * 3600e9), Announced: true}
			for key, v := range map[string]any{keyCard + old.CardNo: old, keyPerson + legacyKey: personRecord{CardNo: old.CardNo}} {
				b, _ := json.Marshal(v)
				if _, err := e.host.Put(ctx, testSite, key, b); err != nil {
					t.Fatal(err)
				}
			}
			p := map[string]string{"name": tc.name, "idType": "03", "idNumber": "E12345678", "issuingCountry": "GBR", "phone": "+447911123456"}
			if tc.birth != "" {
				p["birthDate"] = tc.birth
			}
			r := e.register(p)
			var got cardView
			e.ok(OpGet, map[string]string{"cardNo": old.CardNo}, &got)
			if tc.adopt {
				if r.Created || r.CardNo != old.CardNo || got.IssuingCountry != "GBR" {
					t.Errorf("%q (%s) for card of %q (%s): card %s created %v, old card's issuingCountry %q; want %s adopted with GBR",
						tc.name, tc.birth, tc.oldName, tc.oldBirth, r.CardNo, r.Created, got.IssuingCountry, old.CardNo)
				}
				return
			}
			if !r.Created || r.CardNo == old.CardNo || got.IssuingCountry != "" {
				t.Errorf("%q (%s) for card of %q (%s): card %s created %v, old card's issuingCountry %q; want a new card, the old one untouched",
					tc.name, tc.birth, tc.oldName, tc.oldBirth, r.CardNo, r.Created, got.IssuingCountry)
			}
		})
	}
}

// TestRegisterPassportBeforeIssuingCountryRevoked: a passport card
// registered before the issuing state was recorded and since revoked is
// replaced, as any revoked card is, when its holder registers again with the
// issuing state: the new card has previousCardNo, the old one replacedBy,
// and a temporary card linked to the old card moves to the new one. Before,
// the holder got a card unconnected to the old one, and the temporary card
// stayed linked to the revoked card for good (already-linked). Another
// holder of the number gets a card of their own, replacing nothing.
func TestRegisterPassportBeforeIssuingCountryRevoked(t *testing.T) {
	t.Parallel()
	testCases := map[string]struct {
		name, country, birth string
		replaces             bool
	}{
		"the holder":                          {name: "JOHN  SMITH", country: "GBR", replaces: true},
		"another holder of the number":        {name: "Jean Dupont", country: "FRA"},
		"the same name, another birth date":   {name: "John Smith", country: "FRA", birth: "1990-01-01"},
		"the holder, with the same birthDate": {name: "john smith", country: "GBR", birth: "1980-05-01", replaces: true},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, testSettings())
			ctx := context.Background()
			legacyKey, err := card.IdentityKey([]byte(testIdentity), card.Identity{IDType: "03", IDNumber: "E12345678"})
			if err != nil {
				t.Fatal(err)
			}
			old := cardRecord{CardNo: "880100000000013", Seq: 1, IdentityKey: legacyKey, Name: "John Smith", IDType: "03", IDNumber: "E12345678",
				BirthDate: "1980-05-01", Phone: "+447911123456", Status: statusLive, RegisteredAt: testT0.Add(-24 * 3600e9), Announced: true}
			for key, v := range map[string]any{keyCard + old.CardNo: old, keyPerson + legacyKey: personRecord{CardNo: old.CardNo}} {
				b, _ := json.Marshal(v)
				if _, err := e.host.Put(ctx, testSite, key, b); err != nil {
					t.Fatal(err)
				}
			}
			const temp = "99000123"
			e.ok(OpLink, map[string]string{"cardNo": old.CardNo, "tempCardNo": temp}, nil)
			e.ok(OpRevoke, map[string]string{"cardNo": old.CardNo, "reason": "lost"}, nil)

			p := map[string]string{"name": tc.name, "idType": "03", "idNumber": "E12345678", "issuingCountry": tc.country, "phone": "+447911123456"}
			if tc.birth != "" {
				p["birthDate"] = tc.birth
			}
			r := e.register(p)
			if !r.Created || r.CardNo == old.CardNo {
				t.Fatalf("registration: card %s created %v, want a new card", r.CardNo, r.Created)
			}
			var got getReply
			e.ok(OpGet, map[string]string{"cardNo": old.CardNo}, &got)
			link := e.call(OpLink, map[string]string{"cardNo": r.CardNo, "tempCardNo": temp})
			if !tc.replaces {
				if r.PreviousCardNo != "" || got.ReplacedBy != "" || got.IssuingCountry != "" || link.Status == sdk.StatusOK {
					t.Errorf("another person: previousCardNo %q, old card's replacedBy %q and issuingCountry %q, link of the old card's temporary card %s; want none, none, none, refused",
						r.PreviousCardNo, got.ReplacedBy, got.IssuingCountry, link.Status)
				}
				return
			}
			if r.PreviousCardNo != old.CardNo || got.ReplacedBy != r.CardNo || got.IssuingCountry != tc.country {
				t.Errorf("the holder: previousCardNo %q, old card's replacedBy %q and issuingCountry %q; want %s, %s, %s",
					r.PreviousCardNo, got.ReplacedBy, got.IssuingCountry, old.CardNo, r.CardNo, tc.country)
			}
			if link.Status != sdk.StatusOK {
				t.Errorf("link of the old card's temporary card to the replacement: %s %s, want ok", link.Status, link.Diagnostics)
			}
			// Registering again finds the replacement.
			if again := e.register(p); again.Created || again.CardNo != r.CardNo {
				t.Errorf("registering again: card %s created %v, want %s, not created", again.CardNo, again.Created, r.CardNo)
			}
		})
	}
}
