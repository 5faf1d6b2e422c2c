package logging

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzMask: the maskers never panic, Mask is idempotent, keeps valid
// UTF-8 valid and changes no character count, and MaskJSON always returns
// JSON.
func FuzzMask(f *testing.F) {
	for _, s := range []string{
		"", "patient 11010519491231002X admitted", "call 138-1234-5678", "%2B8613812345678",
		"１３８１２３４５６７８", `{"name":"张三","phone":13812345678,"token":"x"}`, "110105 19491231 002X",
		"token=abc&x=1", "-----BEGIN PRIVATE KEY-----\nabc", "+85291234567", "\xef\xbc", "%2", "8613",
		`{"body":"{\"name\":\"张三\"}"}`, "姓名：欧阳娜娜，tel=%2B8613812345678", `x "address" : "湖里区" y`,
		// Redacting a bearer token joined digits into an ID number that
		// the next Mask masked.
		"Bearer 0３11010519491231002Xname\n33-----BEGIN PRIVATE KEY-----\"X,",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m := Mask(s)
		if Mask(m) != m {
			t.Errorf("Mask is not idempotent: Mask(%q) = %q, Mask of that = %q", s, m, Mask(m))
		}
		if utf8.ValidString(s) && !utf8.ValidString(m) {
			t.Errorf("Mask(%q) = %q is not valid UTF-8", s, m)
		}
		// Numbers are masked character for character; only the
		// international form and redacted secrets change the length.
		textual := strings.ContainsAny(s, "+:=") || strings.Contains(s, "-----BEGIN") || strings.Contains(strings.ToLower(s), "bearer")
		if !textual && utf8.RuneCountInString(m) != utf8.RuneCountInString(s) {
			t.Errorf("Mask(%q) = %q changed the number of characters", s, m)
		}
		_ = MaskValue(s)
		_ = maskLine([]byte(s))
		if out := MaskJSON([]byte(s)); s != "" && !json.Valid(out) {
			t.Errorf("MaskJSON(%q) = %q is not JSON", s, out)
		}
	})
}

// FuzzMaskFindsNumbers puts an ID or mobile number built from the fuzzer's
// digits, written in one of the ways people and systems write them,
// between arbitrary text without digits, and checks it comes out masked,
// from Mask and from MaskJSON (as a value under an ordinary key).
func FuzzMaskFindsNumbers(f *testing.F) {
	f.Add("患者 ", " 入院", uint64(1010519491231002), uint8(0), uint8(0), true)
	f.Add("tel=", "&x=1", uint64(38123456780), uint8(1), uint8(3), false)
	f.Add(`{"a":"`, `"}`, uint64(99999999999999999), uint8(2), uint8(5), true)
	f.Add("phone=", "abc", uint64(38123456780), uint8(1), uint8(3), false)
	f.Fuzz(func(t *testing.T, before, after string, digits uint64, kind, form uint8, isID bool) {
		before, after = noDigits(before), noDigits(after)
		var num string
		var groups []int
		if isID {
			// 1–9, then 16 digits, then a digit or X.
			d := fmtDigits(digits, 16)
			check := string("0123456789X"[digits%11])
			num = string(rune('1'+kind%9)) + d + check
			groups = []int{6, 8, 4}
		} else {
			num = "1" + string(rune('3'+kind%7)) + fmtDigits(digits, 9)
			groups = []int{3, 4, 4}
		}
		var written string
		switch form % 6 {
		case 0: // as it is
			written = num
		case 1: // full-width digits (and X)
			written = fullWidth(num)
		case 2: // groups separated by spaces
			written = grouped(num, groups, " ")
		case 3: // groups separated by hyphens
			written = grouped(num, groups, "-")
		case 4: // after a URL escape that ends in a digit
			written = "%20" + num
		case 5: // full-width, grouped with full-width spaces
			written = grouped(fullWidth(num), groups, "\u3000")
		}
		// An escape in before that ends in a hex letter glued to the
		// number would make the number longer only for case 4; that is
		// still a URL escape, so nothing to exclude.
		in := before + written + after
		want := masked(num)
		for name, out := range map[string]string{
			"Mask":     Mask(in),
			"MaskJSON": string(MaskJSON(mustJSON(t, map[string]string{"note": in}))),
		} {
			// The number is gone, and its middle is starred (possibly more,
			// when text around it is a personal field's value).
			got := stripSeps(toASCII(out))
			if strings.Contains(got, num) || strings.Count(got, "*") < strings.Count(before+after, "*")+len(num)-7 {
				t.Errorf("%s does not mask %q (to %q) in %q: %q", name, num, want, in, out)
			}
		}
	})
}

// masked returns num as masking writes it: the first 3 and last 4
// characters kept.
func masked(num string) string {
	return num[:3] + strings.Repeat("*", len(num)-7) + num[len(num)-4:]
}

func fmtDigits(v uint64, n int) string {
	b := make([]byte, n)
	for i := n - 1; i >= 0; i-- {
		b[i] = byte('0' + v%10)
		v /= 10
	}
	return string(b)
}

func noDigits(s string) string {
	s = strings.ToValidUTF8(s, "")
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' || r >= '０' && r <= '９' {
			return -1
		}
		return r
	}, s)
}

func fullWidth(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= '0' && r <= '9':
			return r - '0' + '０'
		case r == 'X':
			return 'Ｘ'
		}
		return r
	}, s)
}

func toASCII(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= '０' && r <= '９':
			return r - '０' + '0'
		case r == 'Ｘ':
			return 'X'
		}
		return r
	}, s)
}

func stripSeps(s string) string {
	return strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' || r == '\u3000' {
			return -1
		}
		return r
	}, s)
}

func grouped(s string, groups []int, sep string) string {
	r := []rune(s)
	var parts []string
	at := 0
	for _, g := range groups {
		parts = append(parts, string(r[at:at+g]))
		at += g
	}
	return strings.Join(parts, sep)
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
