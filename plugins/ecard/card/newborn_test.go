package card

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// newborn is a valid newborn registered under its mother, born two days
// before now in newbornNow.
func newborn() Identity {
	return Identity{Name: "张三之女", Gender: GenderFemale, BirthDate: "2026-11-24", BirthOrder: 1,
		Guardian: &Guardian{Name: "李梅", IDType: IDTypeResidentCard, IDNumber: "11010519491231002X", Phone: "13812345678", Relation: "52"}}
}

// newbornNow is 2026-11-26 23:30 in Beijing.
var newbornNow = time.Date(2026, 11, 26, 15, 30, 0, 0, time.UTC)

// TestValidateNewborn: a newborn without an ID of its own is checked as
// the child of its guardian, whose identity follows an adult's rules, with
// its name (provisional names accepted), gender, birth date (today back to
// the same date a year earlier) and birth order required.
func TestValidateNewborn(t *testing.T) {
	t.Parallel()
	with := func(f func(*Identity)) Identity {
		id := newborn()
		g := *id.Guardian
		id.Guardian = &g
		f(&id)
		return id
	}
	testCases := map[string]struct {
		id   Identity
		want []FieldError // Message is compared by substring
	}{
		"valid":                 {id: newborn()},
		"valid born today":      {id: with(func(id *Identity) { id.BirthDate = "2026-11-26" })},
		"valid born a year ago": {id: with(func(id *Identity) { id.BirthDate = "2025-11-26" })},
		"valid second twin":     {id: with(func(id *Identity) { id.BirthOrder = 2 })},
		"valid gender unknown":  {id: with(func(id *Identity) { id.Gender = GenderUnknown })},
		"valid foreign guardian": {id: with(func(id *Identity) {
			id.Guardian.IDType, id.Guardian.IDNumber, id.Guardian.IssuingCountry, id.Guardian.Phone = IDTypePassport, "E12345678", "GBR", "+85291234567"
		})},
		"valid grandfather":            {id: with(func(id *Identity) { id.Guardian.Relation = "63" })},
		"valid guardian number spaced": {id: with(func(id *Identity) { id.Guardian.IDNumber = " 110105 19491231002x" })},

		"nothing of the newborn": {id: Identity{Guardian: &Guardian{Name: "李梅", IDType: "01", IDNumber: "11010519491231002X", Phone: "13812345678", Relation: "52"}}, want: []FieldError{
			{Field: "$.name", Rule: "required", Message: "provisional"},
			{Field: "$.gender", Rule: "required", Message: "1 (male)"},
			{Field: "$.birthDate", Rule: "required", Message: "YYYY-MM-DD"},
			{Field: "$.birthOrder", Rule: "required", Message: "1 for a single birth"},
		}},
		"empty guardian": {id: with(func(id *Identity) { id.Guardian = &Guardian{} }), want: []FieldError{
			{Field: "$.guardian.name", Rule: "required", Message: "name is required"},
			{Field: "$.guardian.idType", Rule: "required", Message: "use 01"},
			{Field: "$.guardian.phone", Rule: "required", Message: "13812345678"},
			{Field: "$.guardian.relation", Rule: "required", Message: "52 (母亲)"},
		}},
		"newborn with its own ID": {id: with(func(id *Identity) { id.IDType, id.IDNumber = IDTypeHouseholdRegister, "11010520261124002X" }), want: []FieldError{
			{Field: "$.idNumber", Rule: "exclusive", Message: "without guardian"},
		}},
		"newborn with its own phone": {id: with(func(id *Identity) { id.Phone = "13900000000" }), want: []FieldError{
			{Field: "$.phone", Rule: "exclusive", Message: "guardian.phone"},
		}},
		"born tomorrow": {id: with(func(id *Identity) { id.BirthDate = "2026-11-27" }), want: []FieldError{
			{Field: "$.birthDate", Rule: "birth_date", Message: "after today (2026-11-26)"},
		}},
		"born a year and a day ago": {id: with(func(id *Identity) { id.BirthDate = "2025-11-25" }), want: []FieldError{
			{Field: "$.birthDate", Rule: "birth_date", Message: "its 户口簿 (idType 02) number"},
		}},
		"bad birth date": {id: with(func(id *Identity) { id.BirthDate = "2026-02-30" }), want: []FieldError{
			{Field: "$.birthDate", Rule: "format", Message: "YYYY-MM-DD"},
		}},
		"bad gender": {id: with(func(id *Identity) { id.Gender = "F" }), want: []FieldError{
			{Field: "$.gender", Rule: "format", Message: "GB/T 2261.1"},
		}},
		"birth order 10": {id: with(func(id *Identity) { id.BirthOrder = 10 }), want: []FieldError{
			{Field: "$.birthOrder", Rule: "range", Message: "1 to 9"},
		}},
		"birth order negative": {id: with(func(id *Identity) { id.BirthOrder = -1 }), want: []FieldError{
			{Field: "$.birthOrder", Rule: "range", Message: "out of range"},
		}},
		"garbled newborn name": {id: with(func(id *Identity) { id.Name = "张\uFFFD" }), want: []FieldError{
			{Field: "$.name", Rule: "characters", Message: "UTF-8"},
		}},
		"guardian ID check character": {id: with(func(id *Identity) { id.Guardian.IDNumber = "110105194912310021" }), want: []FieldError{
			{Field: "$.guardian.idNumber", Rule: "check_digit", Message: "mistyped"},
		}},
		"guardian international phone with resident card": {id: with(func(id *Identity) { id.Guardian.Phone = "+85291234567" }), want: []FieldError{
			{Field: "$.guardian.phone", Rule: "format", Message: "11 digits"},
		}},
		"guardian relation unknown": {id: with(func(id *Identity) { id.Guardian.Relation = "01" }), want: []FieldError{
			{Field: "$.guardian.relation", Rule: "code", Message: `relation "01" is not accepted`},
		}},
		"adult with a birth order": {id: Identity{Name: "张三", IDType: "03", IDNumber: "E12345678", IssuingCountry: "GBR", Phone: "13812345678", BirthOrder: 1}, want: []FieldError{
			{Field: "$.birthOrder", Rule: "exclusive", Message: "only for a newborn"},
		}},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got := ValidateIdentityAt(tc.id, newbornNow)
			if len(got) != len(tc.want) {
				t.Fatalf("ValidateIdentityAt = %v, want %d errors %v", got, len(tc.want), tc.want)
			}
			for i, w := range tc.want {
				g := got[i]
				if g.Field != w.Field || g.Rule != w.Rule || !strings.Contains(g.Message, w.Message) {
					t.Errorf("error %d = %+v, want field %s rule %s message containing %q", i, g, w.Field, w.Rule, w.Message)
				}
			}
		})
	}
}

// TestNewbornIdentityKey: a newborn is keyed by its guardian's ID, birth
// date and birth order: the same newborn has one key whatever its
// (provisional) name and its guardian's name and phone, twins have two,
// and no newborn has its guardian's key.
func TestNewbornIdentityKey(t *testing.T) {
	t.Parallel()
	secret := []byte("0123456789abcdef")
	key := func(id Identity) string {
		t.Helper()
		k, err := IdentityKey(secret, id)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	base := key(newborn())
	with := func(f func(*Identity)) Identity {
		id := newborn()
		g := *id.Guardian
		id.Guardian = &g
		f(&id)
		return id
	}
	testCases := map[string]struct {
		id   Identity
		same bool
	}{
		"renamed, other gender and guardian phone": {id: with(func(id *Identity) {
			id.Name, id.Gender, id.Guardian.Name, id.Guardian.Phone, id.Guardian.Relation = "张小花", GenderUnknown, "李 梅", "13900000000", "51"
		}), same: true},
		"guardian number lower x, spaces":   {id: with(func(id *Identity) { id.Guardian.IDNumber = " 110105 19491231002x" }), same: true},
		"guardian household register":       {id: with(func(id *Identity) { id.Guardian.IDType = IDTypeHouseholdRegister }), same: true},
		"second twin":                       {id: with(func(id *Identity) { id.BirthOrder = 2 })},
		"born another day":                  {id: with(func(id *Identity) { id.BirthDate = "2026-11-25" })},
		"other guardian":                    {id: with(func(id *Identity) { id.Guardian.IDNumber = "110105194912310037" })},
		"guardian's number as another type": {id: with(func(id *Identity) { id.Guardian.IDType = IDTypeOther })},
		"the guardian":                      {id: Identity{IDType: IDTypeResidentCard, IDNumber: "11010519491231002X"}},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if got := key(tc.id); (got == base) != tc.same {
				t.Errorf("key %q vs base %q: same = %v, want %v", got, base, got == base, tc.same)
			}
		})
	}
	permit := "81000019940823002" + string(mustCheck("81000019940823002"))
	asPermit, asResident := newborn(), newborn()
	asPermit.Guardian = &Guardian{IDType: IDTypeHMTResidencePermit, IDNumber: permit}
	asResident.Guardian = &Guardian{IDType: IDTypeResidentCard, IDNumber: permit}
	if diff := cmp.Diff(key(asPermit), key(asResident)); diff != "" {
		t.Errorf("a guardian's residence permit number as 09 and as 01 gives two newborns (-09 +01):\n%s", diff)
	}
	for _, missing := range []func(*Identity){
		func(id *Identity) { id.BirthDate = "" },
		func(id *Identity) { id.BirthOrder = 0 },
		func(id *Identity) { id.Guardian.IDNumber = "" },
	} {
		if _, err := IdentityKey(secret, with(missing)); err == nil || !strings.Contains(err.Error(), "validate the identity first") {
			t.Errorf("IdentityKey of an incomplete newborn: %v, want an error", err)
		}
	}
}
