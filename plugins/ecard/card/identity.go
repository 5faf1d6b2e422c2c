package card

import (
	"crypto/hmac"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/emmansun/gmsm/sm3"
	"golang.org/x/text/language"
)

// Identity document types (证件类型). Codes 01–03, 06, 07 and 99 follow the
// health-sector value set for identity document categories (WS 364.3,
// CV02.01.101), taken from background knowledge: confirm them against the
// platform you report to. Codes 08 and 09 are medgate extensions for
// documents that set does not list, so map them at the adapter. Codes 04
// (军官证) and 05 (驾驶证) are not accepted for e-card registration.
const (
	// IDTypeResidentCard is 居民身份证, the 18-character resident ID card.
	IDTypeResidentCard = "01"
	// IDTypeHouseholdRegister is 居民户口簿, which carries the same 18-character
	// citizen number as the ID card (children often have only this).
	IDTypeHouseholdRegister = "02"
	// IDTypePassport is 护照, a passport of any country.
	IDTypePassport = "03"
	// IDTypeHKMacauPermit is 港澳居民来往内地通行证 (Home Return Permit): H or
	// M followed by 8 or 10 digits.
	IDTypeHKMacauPermit = "06"
	// IDTypeTaiwanPermit is 台湾居民来往大陆通行证: 8 or 10 digits.
	IDTypeTaiwanPermit = "07"
	// IDTypeForeignPermanentResident is 外国人永久居留身份证: 18 characters
	// starting with 9 (2023 format, MOD 11-2 check) or 3 letters + 12 digits
	// (2017 format). Medgate extension.
	IDTypeForeignPermanentResident = "08"
	// IDTypeHMTResidencePermit is 港澳台居民居住证: an 18-character number
	// starting 81, 82 or 83. Medgate extension.
	IDTypeHMTResidencePermit = "09"
	// IDTypeOther is 其他法定有效证件, any other legal document (1–30
	// characters).
	IDTypeOther = "99"
)

var idTypeNames = map[string]string{
	IDTypeResidentCard:             "居民身份证",
	IDTypeHouseholdRegister:        "居民户口簿",
	IDTypePassport:                 "护照",
	IDTypeHKMacauPermit:            "港澳居民来往内地通行证",
	IDTypeTaiwanPermit:             "台湾居民来往大陆通行证",
	IDTypeForeignPermanentResident: "外国人永久居留身份证",
	IDTypeHMTResidencePermit:       "港澳台居民居住证",
	IDTypeOther:                    "其他法定有效证件",
}

// IDTypeName returns the Chinese name of an ID type code, or "" when the code
// is not supported.
func IDTypeName(code string) string { return idTypeNames[code] }

// IDTypes returns the supported ID type codes in order.
func IDTypes() []string { return slices.Sorted(maps.Keys(idTypeNames)) }

// Gender codes (GB/T 2261.1).
const (
	GenderUnknown     = "0"
	GenderMale        = "1"
	GenderFemale      = "2"
	GenderUnspecified = "9"
)

// maxNameLen is the longest accepted name, in characters.
const maxNameLen = 50

// Identity is the personal data captured when an e-card is registered.
type Identity struct {
	// Name is the person's name as on the document, 1–50 characters.
	Name string `json:"name"`
	// IDType is an ID type code such as IDTypeResidentCard ("01").
	IDType string `json:"idType"`
	// IDNumber is the document number. It is compared after
	// NormalizeIDNumber.
	IDNumber string `json:"idNumber"`
	// IssuingCountry is the state that issued a passport (IDType 03), as
	// in its machine-readable zone: an ISO 3166-1 alpha-3 code such as
	// "GBR" or "CHN", or one of the ICAO Doc 9303 codes for other issuers
	// (UNO, XXA, GBD, …). A passport number is unique only within its
	// issuing state, so the state is part of the person's key: required
	// with a passport, refused with the other types. It is compared after
	// [NormalizeIssuingCountry].
	IssuingCountry string `json:"issuingCountry,omitempty"`
	// Phone is an 11-digit mainland mobile number starting with 13–19 or,
	// for the document types of [AcceptsInternationalPhone], an
	// international number in E.164 form ("+" and 8–15 digits). It is
	// compared after [NormalizePhone].
	Phone string `json:"phone"`
	// Gender is an optional GB/T 2261.1 code ("0", "1", "2" or "9"). For
	// resident ID numbers it must agree with the number.
	Gender string `json:"gender,omitempty"`
	// BirthDate is an optional "YYYY-MM-DD" date. For resident ID numbers it
	// must agree with the number. A newborn's is required.
	BirthDate string `json:"birthDate,omitempty"`
	// Guardian, when set, makes this the identity of a newborn without an
	// ID of its own, registered under its guardian: IDType, IDNumber and
	// Phone are then left empty (the guardian's phone is the contact),
	// and Gender, BirthDate and BirthOrder are required. See
	// [ValidateIdentityAt] and [IdentityKey].
	Guardian *Guardian `json:"guardian,omitempty"`
	// BirthOrder is a newborn's place in its birth: 1 for a single birth,
	// 1 and 2 for twins (1–9). Only with Guardian.
	BirthOrder int `json:"birthOrder,omitempty"`
}

// Guardian is the adult under whom a newborn without an ID of its own is
// registered. Name, IDType, IDNumber and Phone follow the rules of an
// adult's [Identity].
type Guardian struct {
	Name     string `json:"name"`
	IDType   string `json:"idType"`
	IDNumber string `json:"idNumber"`
	// IssuingCountry is the issuing state of the guardian's passport, as
	// [Identity.IssuingCountry].
	IssuingCountry string `json:"issuingCountry,omitempty"`
	Phone          string `json:"phone"`
	// Relation is the guardian's relation to the newborn, a code of
	// [RelationName].
	Relation string `json:"relation"`
}

// Relation codes of a guardian to a newborn: the two-digit codes of
// GB/T 4761-2008 家庭关系代码 (the guardian's relation to the child). Only
// the relations a newborn's guardian can have are accepted. Every other
// code is refused: among them 50 父母 and 60 祖父母或外祖父母 (which do not
// say which one), 53 公公 … 56 岳母, 59 其他父母关系, 65–69, the siblings
// 70–79 and the other relatives 80–96, and 98: 保姆 in the 1984 edition,
// deleted by the 2008 edition (its foreword) and absent from the complete
// copies of the 2008 table below.
//
// The searches found no official copy of the standard's text; the codes
// were checked against these public copies, which agree on every code here:
//   - the standard as reproduced at siduwenku.com/98025 (title page and
//     foreword: replaces GB/T 4761-1984, deletes 小集体户户主 and 保姆) and
//     m.bubsandbeans.com/paper/208963960.html (the two-digit table, OCR:
//     51, 57, 58, 61–64, 97 and 99 as here; the name of 52 is lost in the
//     scan);
//   - github.com/mabo0001/csharpforqingce mabo0001/DicRelation.cs (commit
//     4f11c140), the complete two-digit table: all ten codes;
//   - github.com/bailei1987/dotnet
//     src/Commons/BL.StandardDictionary/GBT/DicFamilyRelation.cs, a part
//     of the table labelled GB/T 4761-2008: 51, 52, 97 and 99;
//   - github.com/rw-bsoft/his chis/src/main/java/chis/source/dic/RelatedCode.java
//     (a community-health system): 51 父亲 and 52 母亲.
//
// Where the public record disagrees or is silent: one copy of the table in
// a public repository (a land-survey front end, found by text search) has
// 98 非亲属 and 99 其他关系, against every other source; 98 is refused, so
// a sender that follows that copy is told rather than misread. The HL7
// China FHIR guides (fhir.yeyanbo.cn, CodeSystems gb4761 and gb4761-2008,
// the latter for health records) carry the table, but write 01 and 02 as
// 1 and 2 and give 20 the name of 49; their entries for the codes here
// could not be read. The searches found no table in WS 364 (卫生健康信息
// 数据元值域代码) or in the national medical-insurance code sets that
// defines these relations itself. Confirm the codes against the platform
// you report to.
var relationNames = map[string]string{
	"51": "父亲",
	"52": "母亲",
	"57": "继父或养父",
	"58": "继母或养母",
	"61": "祖父",
	"62": "祖母",
	"63": "外祖父",
	"64": "外祖母",
	"97": "其他亲属",
	"99": "非亲属",
}

// RelationName returns the Chinese name of a guardian relation code, or ""
// when the code is not accepted.
func RelationName(code string) string { return relationNames[code] }

// MaxBirthOrder is the highest birth order a newborn may have.
const MaxBirthOrder = 9

// NewbornMaxAge is how long after birth a child without an ID of its own
// may be registered under a guardian: up to the same date one year later
// (China Standard Time). An older child has a 户口簿 (idType 02) number,
// registered within a month of birth, and is registered with it.
const NewbornMaxAge = "1 year"

// FieldError is one problem found by [ValidateIdentity].
type FieldError struct {
	// Field is the JSON path of the field, such as "$.idNumber".
	Field string `json:"field"`
	// Rule is a stable code for the failed rule: required, max_length,
	// characters, id_type, length, format, placeholder, region, birth_date,
	// check_digit or mismatch.
	Rule string `json:"rule"`
	// Message says what is wrong and how to fix it.
	Message string `json:"message"`
}

// Error implements error.
func (e FieldError) Error() string { return e.Field + ": " + e.Rule + ": " + e.Message }

// NormalizeIDNumber returns s with all whitespace removed, full-width ASCII
// characters (such as "１２３") folded to half-width and letters in upper
// case. Store and compare ID numbers in this form.
func NormalizeIDNumber(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		switch {
		case unicode.IsSpace(r):
			continue
		case r >= 0xFF01 && r <= 0xFF5E:
			r -= 0xFEE0
		}
		b.WriteRune(unicode.ToUpper(r))
	}
	return b.String()
}

// ValidateIdentity checks id and returns every problem found, or nil. The ID
// number is checked after [NormalizeIDNumber]. The check of a birth date
// only covers its shape and calendar validity, because the package has no
// clock: use [ValidateIdentityAt] to refuse birth dates in the future too.
func ValidateIdentity(id Identity) []FieldError { return validateIdentity(id, time.Time{}) }

// ValidateIdentityAt is [ValidateIdentity] that also refuses a birth date,
// encoded in the ID number or given as BirthDate, after the day of now in
// China Standard Time (rule birth_date): such a number is mistyped or made
// up, even when its check character matches. A newborn registered on the
// day of birth passes.
func ValidateIdentityAt(id Identity, now time.Time) []FieldError {
	return validateIdentity(id, now)
}

// validateIdentity checks id; a non-zero now also refuses future birth
// dates.
func validateIdentity(id Identity, now time.Time) []FieldError {
	var today time.Time // the day of now in China, as a UTC midnight
	if !now.IsZero() {
		y, m, d := now.In(chinaTime).Date()
		today = time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	}
	future := func(birth time.Time) bool { return !today.IsZero() && birth.After(today) }
	var errs []FieldError
	add := func(field, rule, format string, args ...any) {
		errs = append(errs, FieldError{Field: field, Rule: rule, Message: fmt.Sprintf(format, args...)})
	}

	if id.Guardian != nil {
		return validateNewborn(id, now, today)
	}
	if id.BirthOrder != 0 {
		add("$.birthOrder", "exclusive", "birthOrder is only for a newborn registered under a guardian; remove it, or give the guardian")
	}
	if fe := checkName("$.name", id.Name); fe != nil {
		errs = append(errs, *fe)
	}

	num := NormalizeIDNumber(id.IDNumber)
	var ric *ricInfo // set when num is a valid resident-ID-style number
	switch {
	case id.IDType == "":
		add("$.idType", "required", "ID type is required; use %s", idTypeList())
	case idTypeNames[id.IDType] == "":
		add("$.idType", "id_type", "ID type %q is not supported; use %s", id.IDType, idTypeList())
	case num == "":
		add("$.idNumber", "required", "ID number is required; enter the number on the %s", idTypeNames[id.IDType])
	default:
		var fe *FieldError
		ric, fe = validateIDNumber(id.IDType, num)
		if fe != nil {
			errs = append(errs, *fe)
		}
		if ric != nil && future(ric.birth) {
			add("$.idNumber", "birth_date", "digits 7–14 of the ID number give a birth date after today (%s); re-check the number against the card",
				today.Format(time.DateOnly))
		}
	}

	if fe := checkIssuingCountry(id.IDType, id.IssuingCountry); fe != nil {
		errs = append(errs, *fe)
	}

	if fe := checkPhone("$.phone", id.IDType, id.Phone); fe != nil {
		errs = append(errs, *fe)
	}

	switch id.Gender {
	case "":
	case GenderUnknown, GenderUnspecified:
	case GenderMale, GenderFemale:
		if ric != nil && ric.gender != id.Gender {
			add("$.gender", "mismatch", "gender %s does not match the ID number (digit 17 gives %s); correct the gender or the ID number",
				genderName(id.Gender), genderName(ric.gender))
		}
	default:
		add("$.gender", "format", "gender %q is not a GB/T 2261.1 code; use 1 (male), 2 (female), 0 (unknown) or 9 (unspecified)", id.Gender)
	}

	if id.BirthDate != "" {
		bd, err := time.Parse(time.DateOnly, id.BirthDate)
		switch {
		case err != nil:
			add("$.birthDate", "format", "the birth date is not a valid YYYY-MM-DD date, such as 1949-12-31")
		case future(bd) && (ric == nil || bd.Equal(ric.birth)):
			add("$.birthDate", "birth_date", "the birth date is after today (%s); enter the date of birth as on the document", today.Format(time.DateOnly))
		case ric != nil && !bd.Equal(ric.birth):
			add("$.birthDate", "mismatch", "the birth date does not match the one in the ID number (digits 7–14); correct the birth date or the ID number")
		}
	}
	return errs
}

// AcceptsInternationalPhone reports whether a person identified by a
// document of type idType may give an international mobile number: the
// documents that are not mainland ones (03, 06, 07, 08, 09 and 99), whose
// holders (foreigners, Hong Kong, Macao and Taiwan residents) often have no
// mainland number. Holders of 01 and 02 give a mainland number.
func AcceptsInternationalPhone(idType string) bool {
	switch idType {
	case IDTypePassport, IDTypeHKMacauPermit, IDTypeTaiwanPermit, IDTypeForeignPermanentResident, IDTypeHMTResidencePermit, IDTypeOther:
		return true
	}
	return false
}

// Lengths of an international (E.164) number: the digits after "+",
// country code included.
const (
	minIntlDigits = 8
	maxIntlDigits = 15
)

// MaxPhoneLen is the longest phone number accepted, in characters: "+"
// and 15 digits.
const MaxPhoneLen = 1 + maxIntlDigits

// NormalizePhone returns phone without surrounding spaces and, when it is
// a mainland mobile number written internationally ("+86" and 11 digits
// starting with 13–19), as the 11 digits. Store and compare phone numbers
// in this form, after [ValidateIdentity].
func NormalizePhone(phone string) string {
	phone = strings.TrimSpace(phone)
	if rest, ok := strings.CutPrefix(phone, "+86"); ok && isMainlandMobile(rest) {
		return rest
	}
	return phone
}

// isMainlandMobile reports whether s is an 11-digit mainland mobile number
// starting with 13–19.
func isMainlandMobile(s string) bool {
	return len(s) == 11 && s[0] == '1' && s[1] >= '3' && isDigits(s)
}

// checkPhone checks the phone of a person identified by a document of type
// idType, reported at field. Every person may give a mainland mobile
// number; holders of the documents of AcceptsInternationalPhone may give
// an international number in E.164 form instead: "+" and 8–15 digits,
// the first not 0, and after "+86" only a mainland mobile number.
func checkPhone(field, idType, phone string) *FieldError {
	fe := func(rule, format string, args ...any) *FieldError {
		return &FieldError{Field: field, Rule: rule, Message: fmt.Sprintf(format, args...)}
	}
	phone = strings.TrimSpace(phone)
	intl := AcceptsInternationalPhone(idType)
	switch {
	case phone == "" && intl:
		return fe("required", "mobile number is required; enter an 11-digit mainland number such as 13812345678, or an international number such as +85291234567")
	case phone == "":
		return fe("required", "mobile number is required; enter an 11-digit number such as 13812345678")
	case isMainlandMobile(phone):
		return nil
	case !intl:
		return fe("format", "mobile number must be 11 digits starting with 13–19, such as 13812345678; remove +86, spaces and dashes (international numbers are accepted only with a passport or a document of Hong Kong, Macao, Taiwan or foreign residents)")
	}
	digits, plus := strings.CutPrefix(phone, "+")
	switch {
	case !plus || !isDigits(digits) || len(digits) < minIntlDigits || len(digits) > maxIntlDigits || digits[0] == '0':
		return fe("format", "mobile number must be 11 digits starting with 13–19, such as 13812345678, or an international number in E.164 form, + and %d–%d digits starting with the country code, such as +85291234567; remove spaces, dashes, brackets and a leading 00",
			minIntlDigits, maxIntlDigits)
	case strings.HasPrefix(digits, "86") && !isMainlandMobile(digits[2:]):
		return fe("format", "a number starting with +86 must be a mainland mobile number, +86 and 11 digits starting with 13–19, such as +8613812345678; check the number, or give a number of another country with its own code")
	}
	return nil
}

// icaoIssuers are the ICAO Doc 9303 codes of issuers of travel documents
// that ISO 3166-1 does not list.
var icaoIssuers = map[string]string{
	"GBD": "British Overseas Territories citizen",
	"GBN": "British National (Overseas)",
	"GBO": "British Overseas citizen",
	"GBP": "British protected person",
	"GBS": "British subject",
	"UNO": "United Nations Organization",
	"UNA": "United Nations specialized agency",
	"UNK": "UN Interim Administration Mission in Kosovo",
	"RKS": "Kosovo",
	"EUE": "European Union",
	"XXA": "stateless person",
	"XXB": "refugee (1951 Convention)",
	"XXC": "refugee (other)",
	"XXX": "unspecified nationality",
}

// NormalizeIssuingCountry returns an issuing-state code without
// surrounding whitespace and in upper case. Store and compare codes in
// this form.
func NormalizeIssuingCountry(s string) string { return strings.ToUpper(strings.TrimSpace(s)) }

// checkIssuingCountry checks the issuing state of a document of type
// idType: required for a passport, whose number is unique only within its
// issuing state, and refused with other types, whose numbers are unique
// on their own (a state given with them would not be part of the key).
func checkIssuingCountry(idType, code string) *FieldError {
	fe := func(rule, format string, args ...any) *FieldError {
		return &FieldError{Field: "$.issuingCountry", Rule: rule, Message: fmt.Sprintf(format, args...)}
	}
	code = NormalizeIssuingCountry(code)
	switch {
	case idType != IDTypePassport && code != "":
		return fe("exclusive", "issuingCountry is only for a passport (idType 03), whose number is unique only within the issuing state; leave it empty for idType %s", idType)
	case idType != IDTypePassport:
		return nil
	case code == "":
		return fe("required", "the passport's issuing state is required, because passport numbers are unique only within each state; "+
			"enter the 3-letter code printed after P< in the first line of the machine-readable zone, such as GBR, USA or CHN")
	case len(code) != 3 || !isUpperLetters(code):
		return fe("format", "issuing state %q is not a 3-letter code; enter the ISO 3166-1 alpha-3 code printed after P< in the machine-readable zone, such as GBR, USA or CHN (D< is Germany: DEU)", code)
	case icaoIssuers[code] != "":
		return nil
	}
	if r, err := language.ParseRegion(code); err != nil || !r.IsCountry() || r.ISO3() != code {
		return fe("code", "issuing state %q is not an ISO 3166-1 alpha-3 country code; copy the 3 letters after P< in the passport's machine-readable zone, such as GBR, USA or CHN", code)
	}
	return nil
}

// ValidateName checks a person's name given at field (a JSON path such as
// "$.name") by the rules of a registration's name, for a correction of the
// name on a card; nil when it is valid.
func ValidateName(field, name string) *FieldError { return checkName(field, name) }

// checkName checks a person's name given at field.
func checkName(field, name string) *FieldError {
	fe := func(rule, format string, args ...any) *FieldError {
		return &FieldError{Field: field, Rule: rule, Message: fmt.Sprintf(format, args...)}
	}
	name = strings.TrimSpace(name)
	switch {
	case name == "":
		return fe("required", "name is required; enter the name exactly as on the ID document")
	case !utf8.ValidString(name) || strings.IndexFunc(name, unicode.IsControl) >= 0:
		return fe("characters", "name contains control or invalid characters; retype it")
	case invisibleRune(name) >= 0:
		// Pasted from a spreadsheet (a byte-order mark), a web page or a
		// chat (a zero-width space, a bidi control): the name looks the
		// same without it, but is not, and a bidi control shows it in
		// another order.
		return fe("characters", "name contains an invisible formatting character (U+%04X), usually pasted along with the text; retype the name", invisibleRune(name))
	case strings.ContainsRune(name, utf8.RuneError):
		// What is left of a name sent in GBK or GB 18030 as if it were
		// UTF-8: registered, the card would keep it for good.
		return fe("characters", "name contains U+FFFD (�), the mark of characters lost to a wrong text encoding; send the request in UTF-8 (not GBK or GB 18030) and retype the name")
	case utf8.RuneCountInString(name) > maxNameLen:
		return fe("max_length", "name has %d characters, the maximum is %d; enter the name as on the ID document",
			utf8.RuneCountInString(name), maxNameLen)
	}
	return nil
}

// validateNewborn checks the identity of a newborn registered under its
// guardian (id.Guardian is set); a non-zero today (the day of now in
// China, as a UTC midnight) also bounds the birth date.
func validateNewborn(id Identity, now, today time.Time) []FieldError {
	var errs []FieldError
	add := func(field, rule, format string, args ...any) {
		errs = append(errs, FieldError{Field: field, Rule: rule, Message: fmt.Sprintf(format, args...)})
	}
	if fe := checkName("$.name", id.Name); fe != nil {
		fe.Message = strings.Replace(fe.Message, "enter the name exactly as on the ID document", "enter the newborn's name, or a provisional one such as 张三之女", 1)
		errs = append(errs, *fe)
	}
	if strings.TrimSpace(id.IDType) != "" || strings.TrimSpace(id.IDNumber) != "" {
		add("$.idNumber", "exclusive", "a newborn registered under a guardian has no ID of its own; leave idType and idNumber empty, or register the child with its own ID and without guardian")
	}
	if strings.TrimSpace(id.Phone) != "" {
		add("$.phone", "exclusive", "a newborn registered under a guardian is reached at the guardian's phone; give it as guardian.phone and leave phone empty")
	}
	switch id.Gender {
	case "":
		add("$.gender", "required", "a newborn's gender is required; use 1 (male), 2 (female), 0 (unknown) or 9 (unspecified)")
	case GenderUnknown, GenderUnspecified, GenderMale, GenderFemale:
	default:
		add("$.gender", "format", "gender %q is not a GB/T 2261.1 code; use 1 (male), 2 (female), 0 (unknown) or 9 (unspecified)", id.Gender)
	}
	if id.BirthDate == "" {
		add("$.birthDate", "required", "a newborn's birth date is required; enter it as YYYY-MM-DD, such as 2026-11-20")
	} else if bd, err := time.Parse(time.DateOnly, id.BirthDate); err != nil {
		add("$.birthDate", "format", "the birth date is not a valid YYYY-MM-DD date, such as 2026-11-20")
	} else if !today.IsZero() && bd.After(today) {
		add("$.birthDate", "birth_date", "the birth date is after today (%s); enter the date of birth", today.Format(time.DateOnly))
	} else if oldest := today.AddDate(-1, 0, 0); !today.IsZero() && bd.Before(oldest) {
		add("$.birthDate", "birth_date", "the birth date is more than %s before today (%s): only a newborn without an ID is registered under a guardian; register the child with its own ID, such as its 户口簿 (idType 02) number",
			NewbornMaxAge, today.Format(time.DateOnly))
	}
	switch {
	case id.BirthOrder == 0:
		add("$.birthOrder", "required", "a newborn's birth order is required; use 1 for a single birth, and 1, 2, … in order of birth for twins and other multiple births")
	case id.BirthOrder < 1 || id.BirthOrder > MaxBirthOrder:
		add("$.birthOrder", "range", "birth order %d is out of range; use 1 for a single birth, and 1 to %d in order of birth for a multiple birth", id.BirthOrder, MaxBirthOrder)
	}
	g := id.Guardian
	for _, fe := range validateIdentity(Identity{Name: g.Name, IDType: g.IDType, IDNumber: g.IDNumber, IssuingCountry: g.IssuingCountry, Phone: g.Phone}, now) {
		fe.Field = "$.guardian." + strings.TrimPrefix(fe.Field, "$.")
		errs = append(errs, fe)
	}
	switch {
	case g.Relation == "":
		add("$.guardian.relation", "required", "the guardian's relation to the newborn is required; use %s", relationList())
	case relationNames[g.Relation] == "":
		add("$.guardian.relation", "code", "relation %q is not accepted; use %s", g.Relation, relationList())
	}
	return errs
}

func relationList() string {
	return "51 (父亲), 52 (母亲), 57 (继父或养父), 58 (继母或养母), 61 (祖父), 62 (祖母), 63 (外祖父), 64 (外祖母), 97 (其他亲属) or 99 (非亲属)"
}

func idTypeList() string {
	return "01 (居民身份证), 02 (居民户口簿), 03 (护照), 06 (港澳居民来往内地通行证), 07 (台湾居民来往大陆通行证), " +
		"08 (外国人永久居留身份证), 09 (港澳台居民居住证) or 99 (其他法定有效证件)"
}

func genderName(code string) string {
	if code == GenderMale {
		return "male"
	}
	return "female"
}

// ricInfo is what an 18-character resident-ID-style number encodes.
type ricInfo struct {
	birth  time.Time
	gender string
}

// provinces holds the valid first two digits of a resident ID number,
// including 71 (Taiwan) and 81–83 (Hong Kong, Macau and Taiwan residence
// permits).
var provinces = map[string]bool{
	"11": true, "12": true, "13": true, "14": true, "15": true,
	"21": true, "22": true, "23": true,
	"31": true, "32": true, "33": true, "34": true, "35": true, "36": true, "37": true,
	"41": true, "42": true, "43": true, "44": true, "45": true, "46": true,
	"50": true, "51": true, "52": true, "53": true, "54": true,
	"61": true, "62": true, "63": true, "64": true, "65": true,
	"71": true, "81": true, "82": true, "83": true,
}

func validateIDNumber(idType, num string) (*ricInfo, *FieldError) {
	fe := func(rule, format string, args ...any) *FieldError {
		return &FieldError{Field: "$.idNumber", Rule: rule, Message: fmt.Sprintf(format, args...)}
	}
	switch idType {
	case IDTypeResidentCard, IDTypeHouseholdRegister:
		return checkRIC(num, "resident ID number (居民身份证号)", true)
	case IDTypeHMTResidencePermit:
		if len(num) == 18 && num[:2] != "81" && num[:2] != "82" && num[:2] != "83" {
			return nil, fe("region", "a residence permit number (港澳台居民居住证号) starts with 81, 82 or 83; check that the ID type is right")
		}
		return checkRIC(num, "residence permit number (港澳台居民居住证号)", true)
	case IDTypeForeignPermanentResident:
		if len(num) == 15 && isUpperLetters(num[:3]) && isDigits(num[3:]) {
			return nil, nil
		}
		if len(num) == 18 && num[0] == '9' {
			info, e := checkRIC(num, "permanent residence ID number (外国人永久居留身份证号)", false)
			return info, e
		}
		return nil, fe("format", "a permanent residence ID number is 18 characters starting with 9, or 3 letters and 12 digits (older cards); copy it from the card")
	case IDTypePassport:
		if len(num) < 5 || len(num) > 20 || !isUpperAlnum(num) {
			return nil, fe("format", "a passport number is 5–20 letters and digits; copy it from the passport's data page without spaces")
		}
	case IDTypeHKMacauPermit:
		if (len(num) != 9 && len(num) != 11) || (num[0] != 'H' && num[0] != 'M') || !isDigits(num[1:]) {
			return nil, fe("format", "a Home Return Permit number is H or M followed by 8 digits (10 on older permits), such as H12345678; copy it from the permit")
		}
	case IDTypeTaiwanPermit:
		if (len(num) != 8 && len(num) != 10) || !isDigits(num) {
			return nil, fe("format", "a Taiwan compatriot permit number is 8 digits (10 on older permits); copy it from the permit without letters in brackets")
		}
	case IDTypeOther:
		if utf8.RuneCountInString(num) > 30 || strings.IndexFunc(num, unicode.IsControl) >= 0 {
			return nil, fe("format", "a document number is at most 30 printable characters; copy it from the document")
		}
		if r := invisibleRune(num); r >= 0 {
			// The number keys the person as it is: pasted with it and
			// typed without, one person would get two cards.
			return nil, fe("format", "the document number contains an invisible formatting character (U+%04X), usually pasted along with the text; type the number as on the document", r)
		}
	}
	if isPlaceholder(num) {
		// These types have no check character, so a placeholder passes
		// their format; keyed as a person, it would give every patient
		// entered with it the first one's card and medical record.
		return nil, fe("placeholder", "the ID number is a placeholder (no letter or digit, or one character repeated), not the number of a document: "+
			"every patient registered with it would get the same card; enter the number on the patient's document, "+
			"or register a newborn under its guardian; a patient without a document keeps a temporary card (临时卡)")
	}
	return nil, nil
}

// invisibleRune returns the first invisible formatting character of s
// (Unicode category Cf: a byte-order mark, a zero-width space or joiner, a
// bidi mark, embedding, override or isolate, a soft hyphen, …), or -1 when
// there is none. Text pasted from a spreadsheet, a web page or a chat
// brings them along; they do not show, so two strings that look alike
// would not be equal.
func invisibleRune(s string) rune {
	for _, r := range s {
		if unicode.Is(unicode.Cf, r) {
			return r
		}
	}
	return -1
}

// isPlaceholder reports whether a normalized document number of a type
// without a check character is what staff type when there is no number:
// no ASCII letter or digit at all (无, 不详, -), or one character repeated
// (0, 000000, XXXXXX).
func isPlaceholder(num string) bool {
	alnum, same := false, true
	first, _ := utf8.DecodeRuneInString(num)
	for _, r := range num {
		if r < utf8.RuneSelf && (r >= '0' && r <= '9' || r >= 'A' && r <= 'Z') {
			alnum = true
		}
		if r != first {
			same = false
		}
	}
	return !alnum || same
}

// checkRIC validates an 18-character resident-ID-style number: 17 digits,
// a birth date in digits 7–14 and a MOD 11-2 check character.
func checkRIC(num, what string, checkRegion bool) (*ricInfo, *FieldError) {
	fe := func(rule, format string, args ...any) (*ricInfo, *FieldError) {
		return nil, &FieldError{Field: "$.idNumber", Rule: rule, Message: fmt.Sprintf(format, args...)}
	}
	if len(num) != 18 {
		if len(num) == 15 && isDigits(num) {
			return fe("length", "%s must be 18 characters; 15-digit numbers are no longer valid, so ask for the number on the current card", what)
		}
		return fe("length", "%s must be 18 characters, got %d; check for missing or extra characters", what, utf8.RuneCountInString(num))
	}
	if !isDigits(num[:17]) || !(num[17] == 'X' || num[17] >= '0' && num[17] <= '9') {
		return fe("format", "%s must be 17 digits followed by a digit or X; remove any other letters or symbols", what)
	}
	if checkRegion && !provinces[num[:2]] {
		return fe("region", "%s must start with a province code, and %q is not one; re-check the first digits against the card", what, num[:2])
	}
	birth, err := time.Parse("20060102", num[6:14])
	if err != nil || birth.Year() < 1880 {
		return fe("birth_date", "digits 7–14 of the %s are not a valid birth date YYYYMMDD; re-check them against the card", what)
	}
	if want, _ := mod11_2(num[:17]); num[17] != want {
		return fe("check_digit", "the last character of the %s does not match the other 17; a digit is probably mistyped, re-check the number against the card", what)
	}
	g := GenderFemale
	if (num[16]-'0')%2 == 1 {
		g = GenderMale
	}
	return &ricInfo{birth: birth, gender: g}, nil
}

func isUpperLetters(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 'A' || s[i] > 'Z' {
			return false
		}
	}
	return s != ""
}

func isUpperAlnum(s string) bool {
	for i := 0; i < len(s); i++ {
		if !(s[i] >= 'A' && s[i] <= 'Z' || s[i] >= '0' && s[i] <= '9') {
			return false
		}
	}
	return s != ""
}

// minIdentitySecret is the shortest secret IdentityKey accepts.
const minIdentitySecret = 16

// IdentityKey returns a stable key for the person behind id: "ik1_" followed
// by the hex HMAC-SM3, under secret, of the ID type namespace and the
// normalized ID number. Types 01 and 02 share a namespace because they carry
// the same citizen number. A store can index cards by this key to enforce
// one card per person without keeping raw ID numbers as keys. Validate id
// first; IdentityKey only needs IDType and IDNumber to be non-empty. The
// secret must be at least 16 bytes and must never change, or every person
// gets a new key.
//
// A passport's key also covers its issuing state (IssuingCountry, after
// [NormalizeIssuingCountry]): passport numbers are unique only within each
// state, so two holders of one number from two states have two keys. A
// passport without IssuingCountry has the key passports had before the
// issuing state was recorded (the number alone); use it only to find cards
// registered then.
//
// The key of a newborn registered under a guardian (id.Guardian set) is
// that of the guardian's ID (types 01, 02 and 09 in one namespace: a 09
// number is also valid as 01; a passport with its issuing state), the
// birth date and the birth order, in a domain of its own: the same
// newborn registered twice has one key, twins (birth orders 1 and 2) have
// two, and no newborn's key is an adult's.
func IdentityKey(secret []byte, id Identity) (string, error) {
	if len(secret) < minIdentitySecret {
		return "", fmt.Errorf("identity key secret has %d bytes; configure at least %d random bytes", len(secret), minIdentitySecret)
	}
	if g := id.Guardian; g != nil {
		num := NormalizeIDNumber(g.IDNumber)
		if g.IDType == "" || num == "" || id.BirthDate == "" || id.BirthOrder < 1 {
			return "", errors.New("a newborn's identity key needs the guardian's ID type and number, the birth date and the birth order; validate the identity first")
		}
		ns := g.IDType
		if ns == IDTypeHouseholdRegister || ns == IDTypeHMTResidencePermit {
			ns = IDTypeResidentCard
		}
		m := hmac.New(sm3.New, secret)
		m.Write([]byte("medgate/ecard/newborn/v1\x00"))
		for _, part := range []string{ns, num, id.BirthDate, strconv.Itoa(id.BirthOrder)} {
			m.Write([]byte(part))
			m.Write([]byte{0})
		}
		if c := NormalizeIssuingCountry(g.IssuingCountry); c != "" && g.IDType == IDTypePassport {
			// After the parts above, as one more: keys of guardians
			// registered before the issuing state was recorded stay as
			// they were.
			m.Write([]byte(c))
			m.Write([]byte{0})
		}
		return "ik1_" + hex.EncodeToString(m.Sum(nil)), nil
	}
	num := NormalizeIDNumber(id.IDNumber)
	if id.IDType == "" || num == "" {
		return "", errors.New("identity key needs an ID type and an ID number; validate the identity first")
	}
	ns := id.IDType
	if ns == IDTypeHouseholdRegister {
		ns = IDTypeResidentCard
	}
	m := hmac.New(sm3.New, secret)
	m.Write([]byte("medgate/ecard/identity/v1\x00"))
	m.Write([]byte(ns))
	m.Write([]byte{0})
	m.Write([]byte(num))
	if c := NormalizeIssuingCountry(id.IssuingCountry); c != "" && id.IDType == IDTypePassport {
		// A passport number has letters and digits only, so the NUL
		// keeps "number, state" apart from any number of before.
		m.Write([]byte{0})
		m.Write([]byte(c))
	}
	return "ik1_" + hex.EncodeToString(m.Sum(nil)), nil
}

// ValidatePhone checks phone, given for a person identified by a document
// of type idType (for a newborn's card, the guardian's), as a
// registration checks it, reported at field: a mainland mobile number, or
// for the documents of [AcceptsInternationalPhone] an international number
// in E.164 form. nil when it is valid; store it after [NormalizePhone].
func ValidatePhone(field, idType, phone string) *FieldError {
	return checkPhone(field, idType, phone)
}
