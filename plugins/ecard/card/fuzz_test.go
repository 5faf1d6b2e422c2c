package card

import (
	"strings"
	"testing"
	"time"
	"unicode"
)

func FuzzOpen(f *testing.F) {
	clock := newFakeClock(testT0)
	// Deterministic nonces: every fuzz worker process must seal the same
	// seed texts.
	s := newTestSealer(f, clock, []Key{testKey("A", 1), testKey("B", 2)}, "A", WithRand(&seqReader{}))
	valid := map[string]bool{}
	for _, card := range []string{"1", "88010000000003X", "8801234567890123"} {
		text, _, err := s.Seal(card, time.Hour)
		if err != nil {
			f.Fatal(err)
		}
		valid[text] = true
		f.Add(text)
		f.Add(text[:len(text)-1])
		f.Add(strings.ToLower(text))
	}
	for _, seed := range []string{"", "MGE", "MGE1", "MGE9AAAA", ehcStatic, ehcDynamic, "11010519491231002X", "81234567890123456789", "MGE1" + strings.Repeat("A", 74), "MGE1" + strings.Repeat("7", 300)} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, text string) {
		c, err := s.Open(text)
		if err == nil {
			// ASCII letter case aside: a sealed text typed in lower
			// case is that text (TestOpenCapsLock).
			upper := strings.Map(func(r rune) rune {
				if r >= 'a' && r <= 'z' {
					return r - 'a' + 'A'
				}
				return r
			}, strings.TrimSpace(text))
			if !valid[upper] {
				t.Fatalf("Open accepted %q as card %q, which was never sealed", text, c.CardNo)
			}
			return
		}
		if !isRejection(err) {
			t.Fatalf("Open(%q) = %v, an unexpected error", text, err)
		}
		if err.Error() == "" {
			t.Fatal("empty error message")
		}
	})
}

func FuzzClassify(f *testing.F) {
	for _, seed := range []string{"", "MGE1" + strings.Repeat("A", 72), ehcID, ehcStatic, ehcDynamic, ehcDynamic + ":4400A0062FWHB0187", "11010519491231002X", "110105194912310021", "81234567890123456789", ":::", "MGE2"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, text string) {
		k := Classify(text)
		trimmed := strings.TrimSpace(text)
		switch k {
		case KindECard:
			if !strings.HasPrefix(trimmed, DefaultPrefix) {
				t.Errorf("ECard without prefix: %q", text)
			}
		case KindNationalHealthCard:
			if len(trimmed) < 64 || !isHex(trimmed[:64]) {
				t.Errorf("NationalHealthCard without 64 hex: %q", text)
			}
		case KindResidentID:
			if len(trimmed) != 18 {
				t.Errorf("ResidentID with length %d: %q", len(trimmed), text)
			}
		case KindTraceCode:
			if len(trimmed) != 20 || trimmed[0] != '8' {
				t.Errorf("TraceCode %q", text)
			}
		case KindUnknown:
		default:
			t.Errorf("Classify returned %d", k)
		}
		_ = k.String()
		if ResidentIDCheckFails(text) {
			if k == KindResidentID || len(trimmed) != 18 || !isDigits(trimmed[:17]) {
				t.Errorf("ResidentIDCheckFails(%q) is true, Classify says %v", text, k)
			}
		}
	})
}

func FuzzNumberRuleCheck(f *testing.F) {
	r := validRule()
	for _, seed := range []string{"", "88010000000003X", "99000000000001X", "8801000000000X1", "x"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, number string) {
		if err := r.Check(number); err != nil {
			return
		}
		seq, err := r.Sequence(number)
		if err != nil {
			t.Fatalf("Check accepted %q but Sequence failed: %v", number, err)
		}
		again, err := r.Format(seq)
		if err != nil || again != number {
			t.Fatalf("Format(Sequence(%q)) = %q, %v", number, again, err)
		}
	})
}

// FuzzPhone: a phone ValidateIdentity accepts normalises, once and for
// good, to an 11-digit mainland mobile number or, for the documents of
// AcceptsInternationalPhone only, to "+" and 8–15 digits that do not start
// with 86.
func FuzzPhone(f *testing.F) {
	for _, seed := range []string{"13812345678", "+8613812345678", "+861062345678", "+85291234567", "+0085291234567", "+", "+86", " +447911123456 ", "+１２３４５６７８９", "８６13812345678"} {
		f.Add(IDTypePassport, seed)
		f.Add(IDTypeResidentCard, seed)
	}
	f.Fuzz(func(t *testing.T, idType, phone string) {
		fe := checkPhone("$.phone", idType, phone)
		if fe != nil {
			if fe.Message == "" || fe.Field != "$.phone" {
				t.Fatalf("checkPhone(%q, %q) = %+v, an incomplete error", idType, phone, fe)
			}
			return
		}
		n := NormalizePhone(phone)
		if NormalizePhone(n) != n {
			t.Fatalf("NormalizePhone(%q) = %q is not stable", phone, n)
		}
		if len(n) > MaxPhoneLen {
			t.Fatalf("accepted phone %q normalises to %q, longer than %d", phone, n, MaxPhoneLen)
		}
		if isMainlandMobile(n) {
			return
		}
		digits, plus := strings.CutPrefix(n, "+")
		if !AcceptsInternationalPhone(idType) || !plus || !isDigits(digits) || len(digits) < 8 || strings.HasPrefix(digits, "86") {
			t.Fatalf("checkPhone accepted %q for ID type %q, normalised to %q", phone, idType, n)
		}
	})
}

// FuzzValidateIdentity: whatever a registration form holds,
// ValidateIdentityAt answers with errors that name a field, a known rule
// and a message, never panics, and an identity it accepts has a stable
// key, a name without control or invisible characters, and a phone that
// NormalizePhone keeps at most MaxPhoneLen long.
func FuzzValidateIdentity(f *testing.F) {
	f.Add("张三丰", IDTypeResidentCard, "11010519491231002X", "", "13812345678", "2", "1949-12-31", "", "", "", 0)
	f.Add("John Smith", IDTypePassport, "E12345678", "GBR", "+447911123456", "", "", "", "", "", 0)
	f.Add("王五", IDTypeOther, "军字第\u200b2046号", "", "13912345678", "", "", "", "", "", 0)
	f.Add("\ufeff李\u202e四", IDTypeHMTResidencePermit, "810000199408230021", "", "+85291234567", "1", "", "", "", "", 0)
	f.Add("李梅之女", "", "", "", "", "2", "2026-11-24", "李梅", "11010519491231002X", "52", 1)
	f.Add("x", "08", "USA110085061234", "", "１３８１２３４５６７８", "9", "2026-11-27", "", "", "", 10)
	rules := map[string]bool{"required": true, "max_length": true, "characters": true, "id_type": true, "length": true, "format": true,
		"placeholder": true, "region": true, "birth_date": true, "check_digit": true, "mismatch": true, "exclusive": true, "code": true, "range": true}
	secret := []byte("0123456789abcdef0123")
	f.Fuzz(func(t *testing.T, name, idType, idNumber, country, phone, gender, birth, gName, gNumber, relation string, order int) {
		id := Identity{Name: name, IDType: idType, IDNumber: idNumber, IssuingCountry: country, Phone: phone, Gender: gender, BirthDate: birth, BirthOrder: order}
		if gName != "" || gNumber != "" {
			id.Guardian = &Guardian{Name: gName, IDType: IDTypeResidentCard, IDNumber: gNumber, Phone: phone, Relation: relation}
			id.IDType, id.IDNumber, id.Phone = "", "", ""
		}
		errs := ValidateIdentityAt(id, testT0)
		for _, e := range errs {
			if !strings.HasPrefix(e.Field, "$.") || !rules[e.Rule] || e.Message == "" {
				t.Fatalf("error %+v: want a $. field, a known rule and a message", e)
			}
		}
		if len(errs) > 0 {
			return
		}
		names := []string{id.Name}
		if id.Guardian != nil {
			names = append(names, id.Guardian.Name)
		}
		for _, n := range names {
			if strings.IndexFunc(n, unicode.IsControl) >= 0 || invisibleRune(n) >= 0 {
				t.Fatalf("accepted the name %q with a control or invisible character", n)
			}
		}
		k1, err := IdentityKey(secret, id)
		if err != nil {
			t.Fatalf("accepted identity %+v has no key: %v", id, err)
		}
		if k2, _ := IdentityKey(secret, id); k2 != k1 {
			t.Fatalf("the key of %+v is not stable", id)
		}
		if p := NormalizePhone(id.Phone); len(p) > MaxPhoneLen {
			t.Fatalf("accepted phone %q normalises to %q", id.Phone, p)
		}
	})
}
