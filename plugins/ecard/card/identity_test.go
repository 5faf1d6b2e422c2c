package card

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func validIdentity() Identity {
	return Identity{Name: "张三", IDType: IDTypeResidentCard, IDNumber: "11010519491231002X", Phone: "13812345678"}
}

func TestValidateIdentity(t *testing.T) {
	t.Parallel()
	with := func(f func(*Identity)) Identity {
		id := validIdentity()
		f(&id)
		return id
	}
	testCases := map[string]struct {
		id   Identity
		want []FieldError // Message is compared by substring; see below
	}{
		"valid": {id: validIdentity()},
		"valid with matching gender and birth date": {id: with(func(id *Identity) {
			id.IDNumber, id.Gender, id.BirthDate = "11010519491231002X", GenderFemale, "1949-12-31"
		})},
		"valid lower x and spaces": {id: with(func(id *Identity) { id.IDNumber = " 110105 19491231 002x " })},
		"valid full-width digits":  {id: with(func(id *Identity) { id.IDNumber = "１１０１０５１９４９１２３１００２Ｘ" })},
		"valid household register": {id: with(func(id *Identity) { id.IDType = IDTypeHouseholdRegister })},
		"valid minority name":      {id: with(func(id *Identity) { id.Name = "阿卜杜拉·买买提" })},
		"valid 50-char name":       {id: with(func(id *Identity) { id.Name = strings.Repeat("名", 50) })},
		"valid passport":           {id: with(func(id *Identity) { id.IssuingCountry = "GBR"; id.IDType, id.IDNumber = IDTypePassport, "E12345678" })},
		"valid home return permit": {id: with(func(id *Identity) { id.IDType, id.IDNumber = IDTypeHKMacauPermit, "H12345678" })},
		"valid old home permit":    {id: with(func(id *Identity) { id.IDType, id.IDNumber = IDTypeHKMacauPermit, "M1234567890" })},
		"valid Taiwan permit":      {id: with(func(id *Identity) { id.IDType, id.IDNumber = IDTypeTaiwanPermit, "12345678" })},
		"valid foreign PR 2017":    {id: with(func(id *Identity) { id.IDType, id.IDNumber = IDTypeForeignPermanentResident, "USA110085061234" })},
		"valid foreign PR 2023": {id: with(func(id *Identity) {
			id.IDType, id.IDNumber = IDTypeForeignPermanentResident, "91184019850101012"+string(mustCheck("91184019850101012"))
		})},
		"valid HMT residence permit": {id: with(func(id *Identity) {
			id.IDType, id.IDNumber = IDTypeHMTResidencePermit, "810000199408230021"[:17]+string(mustCheck("81000019940823002"))
		})},
		"valid other": {id: with(func(id *Identity) { id.IDType, id.IDNumber = IDTypeOther, "军字第123号" })},

		"everything missing": {id: Identity{}, want: []FieldError{
			{Field: "$.name", Rule: "required", Message: "name is required"},
			{Field: "$.idType", Rule: "required", Message: "use 01 (居民身份证)"},
			{Field: "$.phone", Rule: "required", Message: "13812345678"},
		}},
		"name too long": {id: with(func(id *Identity) { id.Name = strings.Repeat("名", 51) }), want: []FieldError{
			{Field: "$.name", Rule: "max_length", Message: "51 characters, the maximum is 50"},
		}},
		"name with control char": {id: with(func(id *Identity) { id.Name = "张\x00三" }), want: []FieldError{
			{Field: "$.name", Rule: "characters", Message: "retype"},
		}},
		"name garbled by a wrong encoding": {id: with(func(id *Identity) { id.Name = "张\uFFFD\uFFFD" }), want: []FieldError{
			{Field: "$.name", Rule: "characters", Message: "send the request in UTF-8"},
		}},
		"valid name with an extension-B character": {id: with(func(id *Identity) { id.Name = "𠮷野" })},
		"unsupported id type": {id: with(func(id *Identity) { id.IDType = "04" }), want: []FieldError{
			{Field: "$.idType", Rule: "id_type", Message: `ID type "04" is not supported`},
		}},
		"id number missing": {id: with(func(id *Identity) { id.IDNumber = "  " }), want: []FieldError{
			{Field: "$.idNumber", Rule: "required", Message: "居民身份证"},
		}},
		"15-digit resident ID": {id: with(func(id *Identity) { id.IDNumber = "110105491231002" }), want: []FieldError{
			{Field: "$.idNumber", Rule: "length", Message: "15-digit numbers are no longer valid"},
		}},
		"17 characters": {id: with(func(id *Identity) { id.IDNumber = "11010519491231002" }), want: []FieldError{
			{Field: "$.idNumber", Rule: "length", Message: "got 17"},
		}},
		"letter inside": {id: with(func(id *Identity) { id.IDNumber = "1101051949123A002X" }), want: []FieldError{
			{Field: "$.idNumber", Rule: "format", Message: "17 digits followed by a digit or X"},
		}},
		"bad province": {id: with(func(id *Identity) { id.IDNumber = "00010519491231002X" }), want: []FieldError{
			{Field: "$.idNumber", Rule: "region", Message: `"00" is not one`},
		}},
		"bad birth date": {id: with(func(id *Identity) { id.IDNumber = "11010519490231002X" }), want: []FieldError{
			{Field: "$.idNumber", Rule: "birth_date", Message: "digits 7–14 of the resident ID number (居民身份证号) are not a valid birth date"},
		}},
		"bad check character": {id: with(func(id *Identity) { id.IDNumber = "110105194912310021" }), want: []FieldError{
			{Field: "$.idNumber", Rule: "check_digit", Message: "re-check the number"},
		}},
		"single digit typo": {id: with(func(id *Identity) { id.IDNumber = "11010519491231003X" }), want: []FieldError{
			{Field: "$.idNumber", Rule: "check_digit", Message: "mistyped"},
		}},
		"phone with +86": {id: with(func(id *Identity) { id.Phone = "+8613812345678" }), want: []FieldError{
			{Field: "$.phone", Rule: "format", Message: "remove +86"},
		}},
		"phone starting 12": {id: with(func(id *Identity) { id.Phone = "12812345678" }), want: []FieldError{
			{Field: "$.phone", Rule: "format", Message: "11 digits"},
		}},
		"phone 10 digits": {id: with(func(id *Identity) { id.Phone = "1381234567" }), want: []FieldError{
			{Field: "$.phone", Rule: "format", Message: "11 digits"},
		}},
		"phone with +86 and a passport": {id: with(func(id *Identity) {
			id.IssuingCountry = "GBR"
			id.IDType, id.IDNumber, id.Phone = IDTypePassport, "E12345678", "+8613812345678"
		})},
		"phone of Hong Kong with a home return permit": {id: with(func(id *Identity) {
			id.IDType, id.IDNumber, id.Phone = IDTypeHKMacauPermit, "H12345678", "+85291234567"
		})},
		"phone of the UK with a passport": {id: with(func(id *Identity) {
			id.IssuingCountry = "GBR"
			id.IDType, id.IDNumber, id.Phone = IDTypePassport, "E12345678", " +447911123456 "
		})},
		"phone of Taiwan with a Taiwan permit": {id: with(func(id *Identity) {
			id.IDType, id.IDNumber, id.Phone = IDTypeTaiwanPermit, "12345678", "+886912345678"
		})},
		"phone of 15 digits with other document": {id: with(func(id *Identity) { id.IDType, id.IDNumber, id.Phone = IDTypeOther, "X1", "+123456789012345" })},
		"phone of 8 digits with a residence permit": {id: with(func(id *Identity) {
			id.IDType, id.IDNumber, id.Phone = IDTypeHMTResidencePermit, "81000019940823002"+string(mustCheck("81000019940823002")), "+85312345"
		})},
		"mainland phone with a foreign PR card": {id: with(func(id *Identity) { id.IDType, id.IDNumber = IDTypeForeignPermanentResident, "USA110085061234" })},
		"international phone with a resident ID": {id: with(func(id *Identity) { id.Phone = "+85291234567" }), want: []FieldError{
			{Field: "$.phone", Rule: "format", Message: "international numbers are accepted only with"},
		}},
		"international phone with a household register": {id: with(func(id *Identity) { id.IDType, id.Phone = IDTypeHouseholdRegister, "+447911123456" }), want: []FieldError{
			{Field: "$.phone", Rule: "format", Message: "11 digits starting with 13–19"},
		}},
		"international phone without +": {id: with(func(id *Identity) {
			id.IssuingCountry = "GBR"
			id.IDType, id.IDNumber, id.Phone = IDTypePassport, "E12345678", "85291234567"
		}), want: []FieldError{
			{Field: "$.phone", Rule: "format", Message: "E.164"},
		}},
		"international phone with 00": {id: with(func(id *Identity) {
			id.IssuingCountry = "GBR"
			id.IDType, id.IDNumber, id.Phone = IDTypePassport, "E12345678", "+0085291234567"
		}), want: []FieldError{
			{Field: "$.phone", Rule: "format", Message: "leading 00"},
		}},
		"international phone of 7 digits": {id: with(func(id *Identity) {
			id.IssuingCountry = "GBR"
			id.IDType, id.IDNumber, id.Phone = IDTypePassport, "E12345678", "+8529123"
		}), want: []FieldError{
			{Field: "$.phone", Rule: "format", Message: "8–15 digits"},
		}},
		"international phone of 16 digits": {id: with(func(id *Identity) {
			id.IssuingCountry = "GBR"
			id.IDType, id.IDNumber, id.Phone = IDTypePassport, "E12345678", "+1234567890123456"
		}), want: []FieldError{
			{Field: "$.phone", Rule: "format", Message: "8–15 digits"},
		}},
		"international phone with spaces": {id: with(func(id *Identity) {
			id.IssuingCountry = "GBR"
			id.IDType, id.IDNumber, id.Phone = IDTypePassport, "E12345678", "+852 9123 4567"
		}), want: []FieldError{
			{Field: "$.phone", Rule: "format", Message: "remove spaces"},
		}},
		"+86 landline with a passport": {id: with(func(id *Identity) {
			id.IssuingCountry = "GBR"
			id.IDType, id.IDNumber, id.Phone = IDTypePassport, "E12345678", "+861062345678"
		}), want: []FieldError{
			{Field: "$.phone", Rule: "format", Message: "+86 and 11 digits"},
		}},
		"+86 and 12 digits with a passport": {id: with(func(id *Identity) {
			id.IssuingCountry = "GBR"
			id.IDType, id.IDNumber, id.Phone = IDTypePassport, "E12345678", "+86138123456789"
		}), want: []FieldError{
			{Field: "$.phone", Rule: "format", Message: "+86 and 11 digits"},
		}},
		"phone missing with a passport": {id: with(func(id *Identity) {
			id.IssuingCountry = "GBR"
			id.IDType, id.IDNumber, id.Phone = IDTypePassport, "E12345678", ""
		}), want: []FieldError{
			{Field: "$.phone", Rule: "required", Message: "+85291234567"},
		}},
		"gender mismatch": {id: with(func(id *Identity) { id.Gender = GenderMale }), want: []FieldError{
			{Field: "$.gender", Rule: "mismatch", Message: "gender male does not match the ID number (digit 17 gives female)"},
		}},
		"gender bad code": {id: with(func(id *Identity) { id.Gender = "M" }), want: []FieldError{
			{Field: "$.gender", Rule: "format", Message: "1 (male), 2 (female)"},
		}},
		"gender unknown is fine": {id: with(func(id *Identity) { id.Gender = GenderUnknown })},
		"birth date mismatch": {id: with(func(id *Identity) { id.BirthDate = "1949-12-30" }), want: []FieldError{
			{Field: "$.birthDate", Rule: "mismatch", Message: "does not match the one in the ID number (digits 7–14)"},
		}},
		"birth date bad format": {id: with(func(id *Identity) { id.BirthDate = "19491231" }), want: []FieldError{
			{Field: "$.birthDate", Rule: "format", Message: "YYYY-MM-DD"},
		}},
		"passport bad": {id: with(func(id *Identity) { id.IssuingCountry = "GBR"; id.IDType, id.IDNumber = IDTypePassport, "E12-34" }), want: []FieldError{
			{Field: "$.idNumber", Rule: "format", Message: "5–20 letters and digits"},
		}},
		"home return permit bad": {id: with(func(id *Identity) { id.IDType, id.IDNumber = IDTypeHKMacauPermit, "A12345678" }), want: []FieldError{
			{Field: "$.idNumber", Rule: "format", Message: "H or M followed by 8 digits"},
		}},
		"Taiwan permit bad": {id: with(func(id *Identity) { id.IDType, id.IDNumber = IDTypeTaiwanPermit, "1234567" }), want: []FieldError{
			{Field: "$.idNumber", Rule: "format", Message: "8 digits"},
		}},
		"foreign PR bad": {id: with(func(id *Identity) { id.IDType, id.IDNumber = IDTypeForeignPermanentResident, "11010519491231002X" }), want: []FieldError{
			{Field: "$.idNumber", Rule: "format", Message: "starting with 9"},
		}},
		"foreign PR 2023 bad check": {id: with(func(id *Identity) {
			id.IDType, id.IDNumber = IDTypeForeignPermanentResident, "91184019850101012"+wrongCheck("91184019850101012")
		}), want: []FieldError{
			{Field: "$.idNumber", Rule: "check_digit", Message: "permanent residence"},
		}},
		"HMT permit with mainland number": {id: with(func(id *Identity) { id.IDType = IDTypeHMTResidencePermit }), want: []FieldError{
			{Field: "$.idNumber", Rule: "region", Message: "starts with 81, 82 or 83"},
		}},
		"gender not checked for passports": {id: with(func(id *Identity) {
			id.IssuingCountry = "GBR"
			id.IDType, id.IDNumber, id.Gender, id.BirthDate = IDTypePassport, "E12345678", GenderMale, "2000-01-01"
		})},
		"other too long": {id: with(func(id *Identity) { id.IDType, id.IDNumber = IDTypeOther, strings.Repeat("1", 31) }), want: []FieldError{
			{Field: "$.idNumber", Rule: "format", Message: "at most 30"},
		}},
		"other placeholder word": {id: with(func(id *Identity) { id.IDType, id.IDNumber = IDTypeOther, "无" }), want: []FieldError{
			{Field: "$.idNumber", Rule: "placeholder", Message: "temporary card"},
		}},
		"other placeholder zeros": {id: with(func(id *Identity) { id.IDType, id.IDNumber = IDTypeOther, "０００ ０００" }), want: []FieldError{
			{Field: "$.idNumber", Rule: "placeholder", Message: "placeholder"},
		}},
		"passport placeholder": {id: with(func(id *Identity) { id.IssuingCountry = "GBR"; id.IDType, id.IDNumber = IDTypePassport, "xxxxx" }), want: []FieldError{
			{Field: "$.idNumber", Rule: "placeholder", Message: "placeholder"},
		}},
		// Invisible format characters (Unicode Cf) come along when a name
		// or number is pasted from a spreadsheet, a web page or a chat:
		// the text looks the same, so the same person registered once
		// with them and once without would not be the same, and a bidi
		// control makes a name show other than it is.
		"name with a byte-order mark": {id: with(func(id *Identity) { id.Name = "\uFEFF张三" }), want: []FieldError{
			{Field: "$.name", Rule: "characters", Message: "invisible"},
		}},
		"name with a zero-width space": {id: with(func(id *Identity) { id.Name = "张\u200B三" }), want: []FieldError{
			{Field: "$.name", Rule: "characters", Message: "invisible"},
		}},
		"name with a right-to-left override": {id: with(func(id *Identity) { id.Name = "张\u202E丰三" }), want: []FieldError{
			{Field: "$.name", Rule: "characters", Message: "invisible"},
		}},
		"name of a zero-width space only": {id: with(func(id *Identity) { id.Name = "\u200B" }), want: []FieldError{
			{Field: "$.name", Rule: "characters", Message: "invisible"},
		}},
		"guardian name with a zero-width space": {id: Identity{Name: "李梅之女", Gender: GenderFemale, BirthDate: "2026-11-24", BirthOrder: 1,
			Guardian: &Guardian{Name: "李\u200B梅", IDType: IDTypeResidentCard, IDNumber: "11010519491231002X", Phone: "13812345678", Relation: "52"}},
			want: []FieldError{{Field: "$.guardian.name", Rule: "characters", Message: "invisible"}}},
		"other with a zero-width space": {id: with(func(id *Identity) { id.IDType, id.IDNumber = IDTypeOther, "军字第\u200B123号" }), want: []FieldError{
			{Field: "$.idNumber", Rule: "format", Message: "invisible"},
		}},
		"other with a byte-order mark": {id: with(func(id *Identity) { id.IDType, id.IDNumber = IDTypeOther, "\uFEFFAB12345" }), want: []FieldError{
			{Field: "$.idNumber", Rule: "format", Message: "invisible"},
		}},
		"other with a digit":      {id: with(func(id *Identity) { id.IDType, id.IDNumber = IDTypeOther, "军字第1号" })},
		"other of two characters": {id: with(func(id *Identity) { id.IDType, id.IDNumber = IDTypeOther, "A1" })},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got := ValidateIdentity(tc.id)
			// Compare messages by substring: each want message must appear in
			// the corresponding got message.
			opt := cmp.Comparer(func(a, b FieldError) bool {
				return a.Field == b.Field && a.Rule == b.Rule &&
					(strings.Contains(a.Message, b.Message) || strings.Contains(b.Message, a.Message))
			})
			if diff := cmp.Diff(tc.want, got, opt); diff != "" {
				t.Errorf("ValidateIdentity (-want +got):\n%s", diff)
			}
		})
	}
}

// wrongCheck returns a check character that does not match payload.
func wrongCheck(payload string) string {
	if mustCheck(payload) == '0' {
		return "1"
	}
	return "0"
}

func mustCheck(payload string) byte {
	c, ok := mod11_2(payload)
	if !ok {
		panic("bad payload " + payload)
	}
	return c
}

func TestFieldErrorError(t *testing.T) {
	t.Parallel()
	e := FieldError{Field: "$.phone", Rule: "format", Message: "fix it"}
	if diff := cmp.Diff("$.phone: format: fix it", e.Error()); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestNormalizeIDNumber(t *testing.T) {
	t.Parallel()
	testCases := map[string]struct{ in, want string }{
		"already normal":   {in: "11010519491231002X", want: "11010519491231002X"},
		"lower x":          {in: "11010519491231002x", want: "11010519491231002X"},
		"spaces and tabs":  {in: " 110105\t1949 1231 002X\n", want: "11010519491231002X"},
		"full width":       {in: "１１０１０５　１９４９Ｅｘ", want: "1101051949EX"},
		"passport letters": {in: "e1234567", want: "E1234567"},
		"empty":            {in: "", want: ""},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tc.want, NormalizeIDNumber(tc.in)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestIdentityKey(t *testing.T) {
	t.Parallel()
	secret := []byte("0123456789abcdef")
	base, err := IdentityKey(secret, validIdentity())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(base, "ik1_") || len(base) != 4+64 {
		t.Fatalf("key %q, want ik1_ + 64 hex", base)
	}
	if strings.Contains(base, "11010519491231002X") {
		t.Fatal("key contains the raw ID number")
	}
	testCases := map[string]struct {
		secret  []byte
		id      Identity
		same    bool // same key as base
		wantErr string
	}{
		"same person, other name and phone": {secret: secret, id: Identity{Name: "张叁", IDType: "01", IDNumber: "11010519491231002X", Phone: "13900000000"}, same: true},
		"same person, lower x and spaces":   {secret: secret, id: Identity{IDType: "01", IDNumber: " 110105 19491231002x"}, same: true},
		"same person, household register":   {secret: secret, id: Identity{IDType: "02", IDNumber: "11010519491231002X"}, same: true},
		"same number, other document type":  {secret: secret, id: Identity{IDType: "99", IDNumber: "11010519491231002X"}},
		"other person":                      {secret: secret, id: Identity{IDType: "01", IDNumber: "110105194912310037"}},
		"other site secret":                 {secret: []byte("fedcba9876543210"), id: validIdentity()},
		"short secret":                      {secret: []byte("short"), id: validIdentity(), wantErr: "at least 16"},
		"missing number":                    {secret: secret, id: Identity{IDType: "01"}, wantErr: "validate the identity first"},
		"missing type":                      {secret: secret, id: Identity{IDNumber: "1"}, wantErr: "validate the identity first"},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, err := IdentityKey(tc.secret, tc.id)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("IdentityKey error = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if (got == base) != tc.same {
				t.Errorf("key %q vs base %q: same = %v, want %v", got, base, got == base, tc.same)
			}
		})
	}
}

func TestIDTypeName(t *testing.T) {
	t.Parallel()
	testCases := map[string]struct{ code, want string }{
		"resident card": {code: "01", want: "居民身份证"},
		"passport":      {code: "03", want: "护照"},
		"unsupported":   {code: "04", want: ""},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tc.want, IDTypeName(tc.code)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestValidateIdentityAtRefusesFutureBirth: a birth date after today (in
// China Standard Time), from the ID number or the birthDate field, is a
// typo, never a patient; a newborn registered on the day of birth is fine.
func TestValidateIdentityAtRefusesFutureBirth(t *testing.T) {
	t.Parallel()
	// 2026-11-26 23:30 in Beijing is still 15:30 UTC on the 26th.
	now := time.Date(2026, 11, 26, 15, 30, 0, 0, time.UTC)
	ric := func(birth string) string { p := "110105" + birth + "002"; return p + string(mustCheck(p)) }
	testCases := map[string]struct {
		id   Identity
		want []FieldError
	}{
		"born today, household register":          {id: Identity{Name: "张宝宝", IDType: IDTypeHouseholdRegister, IDNumber: ric("20261126"), Phone: "13812345678", BirthDate: "2026-11-26"}},
		"born today in Beijing, tomorrow nowhere": {id: Identity{Name: "张三", IDType: IDTypePassport, IssuingCountry: "GBR", IDNumber: "E12345678", Phone: "13812345678", BirthDate: "2026-11-26"}},
		"ID number born tomorrow": {id: Identity{Name: "张三", IDType: IDTypeResidentCard, IDNumber: ric("20261127"), Phone: "13812345678"}, want: []FieldError{
			{Field: "$.idNumber", Rule: "birth_date", Message: "give a birth date after today (2026-11-26)"},
		}},
		"ID number born 2099": {id: Identity{Name: "张三", IDType: IDTypeResidentCard, IDNumber: ric("20990101"), Phone: "13812345678"}, want: []FieldError{
			{Field: "$.idNumber", Rule: "birth_date", Message: "give a birth date after today"},
		}},
		"permanent residence ID born tomorrow": {id: Identity{Name: "JOHN SMITH", IDType: IDTypeForeignPermanentResident,
			IDNumber: "911840" + "20261127" + "012" + string(mustCheck("91184020261127012")), Phone: "13812345678"}, want: []FieldError{
			{Field: "$.idNumber", Rule: "birth_date", Message: "after today"},
		}},
		"birthDate tomorrow": {id: Identity{Name: "张三", IDType: IDTypePassport, IssuingCountry: "GBR", IDNumber: "E12345678", Phone: "13812345678", BirthDate: "2026-11-27"}, want: []FieldError{
			{Field: "$.birthDate", Rule: "birth_date", Message: "the birth date is after today (2026-11-26)"},
		}},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got := ValidateIdentityAt(tc.id, now)
			opt := cmp.Comparer(func(a, b FieldError) bool {
				return a.Field == b.Field && a.Rule == b.Rule &&
					(strings.Contains(a.Message, b.Message) || strings.Contains(b.Message, a.Message))
			})
			if diff := cmp.Diff(tc.want, got, opt); diff != "" {
				t.Errorf("ValidateIdentityAt (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNormalizePhone(t *testing.T) {
	t.Parallel()
	testCases := map[string]struct{ in, want string }{
		"mainland":              {in: "13812345678", want: "13812345678"},
		"mainland spaces":       {in: " 13812345678\n", want: "13812345678"},
		"+86 mainland mobile":   {in: "+8613812345678", want: "13812345678"},
		"+86 landline kept":     {in: "+861062345678", want: "+861062345678"},
		"Hong Kong":             {in: "+85291234567", want: "+85291234567"},
		"UK trimmed":            {in: " +447911123456 ", want: "+447911123456"},
		"86 without + kept":     {in: "8613812345678", want: "8613812345678"},
		"+86 too long kept":     {in: "+86138123456789", want: "+86138123456789"},
		"+86 not a mobile kept": {in: "+8612812345678", want: "+8612812345678"},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if got := NormalizePhone(tc.in); got != tc.want {
				t.Errorf("NormalizePhone(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

// TestValidateIssuingCountry: a passport needs its issuing state, an ISO
// 3166-1 alpha-3 code or an ICAO Doc 9303 issuer code, and no other type
// takes one.
func TestValidateIssuingCountry(t *testing.T) {
	t.Parallel()
	passport := func(country string) Identity {
		return Identity{Name: "John Smith", IDType: IDTypePassport, IDNumber: "E12345678", IssuingCountry: country, Phone: "+447911123456"}
	}
	testCases := map[string]struct {
		id   Identity
		rule string // "" when valid
	}{
		"GBR":                      {id: passport("GBR")},
		"lower case and spaces":    {id: passport(" chn ")},
		"Hong Kong":                {id: passport("HKG")},
		"ICAO: stateless":          {id: passport("XXA")},
		"ICAO: United Nations":     {id: passport("UNO")},
		"ICAO: British (Overseas)": {id: passport("GBN")},
		"missing":                  {id: passport(""), rule: "required"},
		"alpha-2":                  {id: passport("GB"), rule: "format"},
		"MRZ Germany":              {id: passport("D"), rule: "format"},
		"digits":                   {id: passport("826"), rule: "format"},
		"not a country":            {id: passport("CHA"), rule: "code"},
		"private use":              {id: passport("ZZZ"), rule: "code"},
		"with a resident card": {id: Identity{Name: "张三", IDType: IDTypeResidentCard, IDNumber: "11010519491231002X", IssuingCountry: "CHN", Phone: "13812345678"},
			rule: "exclusive"},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got := ValidateIdentity(tc.id)
			switch {
			case tc.rule == "" && len(got) != 0:
				t.Fatalf("ValidateIdentity = %v, want no error", got)
			case tc.rule == "":
			case len(got) != 1 || got[0].Field != "$.issuingCountry" || got[0].Rule != tc.rule || got[0].Message == "":
				t.Fatalf("ValidateIdentity = %v, want one error $.issuingCountry %s", got, tc.rule)
			}
		})
	}
}

// TestIdentityKeyPassportIssuingCountry: passport numbers are unique only
// within the issuing state, so the same number from two states is two
// persons (and a guardian's passport, two newborns'); the code is compared
// after normalisation, and a passport without a state keeps the key of
// before states were recorded.
func TestIdentityKeyPassportIssuingCountry(t *testing.T) {
	t.Parallel()
	secret := []byte("0123456789abcdef0123")
	key := func(id Identity) string {
		t.Helper()
		k, err := IdentityKey(secret, id)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	gbr := key(Identity{IDType: IDTypePassport, IDNumber: "E12345678", IssuingCountry: "GBR"})
	fra := key(Identity{IDType: IDTypePassport, IDNumber: "E12345678", IssuingCountry: "FRA"})
	legacy := key(Identity{IDType: IDTypePassport, IDNumber: "E12345678"})
	if gbr == fra || gbr == legacy || fra == legacy {
		t.Errorf("keys of E12345678 from GBR %s, FRA %s and without a state %s: want three keys", gbr, fra, legacy)
	}
	if k := key(Identity{IDType: IDTypePassport, IDNumber: "e1234 5678", IssuingCountry: " gbr"}); k != gbr {
		t.Errorf("key of e1234 5678 from \" gbr\" = %s, want that of E12345678 from GBR %s", k, gbr)
	}
	newborn := func(country string) string {
		return key(Identity{Guardian: &Guardian{IDType: IDTypePassport, IDNumber: "E12345678", IssuingCountry: country}, BirthDate: "2026-11-24", BirthOrder: 1})
	}
	if a, b := newborn("GBR"), newborn("FRA"); a == b {
		t.Errorf("newborns of guardians with E12345678 from GBR and FRA share key %s", a)
	}
}
