package hsa

import (
	"regexp"
	"strings"

	"github.com/medgate/medgate/plugins/sdk/pii"
)

// MaskName keeps the first and last character of a name: 张三丰 → 张*丰,
// 张三 → 张*.
func MaskName(s string) string {
	r := []rune(strings.TrimSpace(s))
	switch len(r) {
	case 0:
		return ""
	case 1:
		return "*"
	case 2:
		return string(r[0]) + "*"
	}
	return string(r[0]) + strings.Repeat("*", len(r)-2) + string(r[len(r)-1])
}

// MaskID keeps the first 3 and last 4 characters of an ID or phone
// number: 350203198001011234 → 350***********1234.
func MaskID(s string) string {
	r := []rune(strings.TrimSpace(s))
	if len(r) <= 7 {
		return strings.Repeat("*", len(r))
	}
	return string(r[:3]) + strings.Repeat("*", len(r)-7) + string(r[len(r)-4:])
}

// digitRun is a maximal run of digits, with the X a resident ID number may
// end in. Runs are taken whole: a run longer than any personal number (the
// self-pay msgid's 29 digits after the institution code's letter) is an
// operational identifier, not an ID number with digits around it.
var digitRun = regexp.MustCompile(`\d+[Xx]?`)

// oldIDDate is the birth date yymmdd of a 15-digit resident ID number.
var oldIDDate = regexp.MustCompile(`^\d{6}\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}$`)

// personalNumber tells whether a run of digits is a personal number: a
// resident ID number (18 characters whose GB 11643 check character is
// right, or the old 15 digits with a birth date), a mainland mobile
// number (11 digits 13–19, or 13 with the country code 86) or a
// fixed-line number with its area code (11 or 12 digits starting 0).
// Other runs (msgids, institution codes, visit numbers, amounts) are not.
func personalNumber(s string) bool {
	switch n := len(s); {
	case n == 18:
		return idCheckOK(s)
	case n == 15:
		return oldIDDate.MatchString(s)
	case n == 11 && s[0] == '1' && s[1] >= '3':
		return true
	case n == 13 && strings.HasPrefix(s, "861") && s[3] >= '3':
		return true
	case (n == 11 || n == 12) && s[0] == '0':
		return true
	}
	return false
}

// idCheckOK tells whether an 18-character resident ID number has the
// check character GB 11643 gives its first 17 digits.
func idCheckOK(s string) bool {
	weights := [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
	sum := 0
	for i, w := range weights {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
		sum += int(s[i]-'0') * w
	}
	return strings.EqualFold(s[17:], string("10X98765432"[sum%11]))
}

// MaskText masks personal numbers inside free text (error messages from
// the platform) before it is logged or put into a reply's detail: resident
// ID numbers and mobile phone numbers (personalNumber), also glued to
// Latin letters, fixed-line numbers unless they follow a Latin letter
// (then they are the digits of a code: XJ01CAA040A001010100001), and, through pii.Text, ID numbers whose check
// character is wrong but whose birth date reads, and the names, social
// security card numbers and birth dates such text quotes after their
// labels (患者张三丰, 社保卡号…, 出生日期…). Operational identifiers an
// operator looks calls up by (msgid, institution code, visit number) stay
// readable, and so do the platform's own words after 病人 (自费病人住院费用明细,
// 自费病人就诊信息: platformWords), which pii.Text would take for a name.
func MaskText(s string) string {
	// A word joiner between the label and the platform's word keeps
	// pii.Text from reading the word as a name; it is taken out after.
	s = platformWords.ReplaceAllString(s, "$1"+wordJoiner+"$2")
	return strings.ReplaceAll(maskText(s), wordJoiner, "")
}

// wordJoiner (U+2060) separates a label from the word after it while
// MaskText runs; it shows nothing.
const wordJoiner = "\u2060"

// platformWords are words of the platform's refusals that follow a name
// label (自费病人 is the platform's name for the patients of 4201A–4209) and
// are no name: 住院, 就诊, 费用, 信息 …
var platformWords = regexp.MustCompile(`(姓名|患者|病人|参保人|就诊人)(住院|门诊|就诊|就医|费用|信息|明细|诊断|数据|记录|上传)`)

func maskText(s string) string {
	var b strings.Builder
	prev := 0
	for _, m := range digitRun.FindAllStringIndex(s, -1) {
		run := s[m[0]:m[1]]
		masked := run
		switch last := len(run) - 1; {
		case run[0] == '0' && m[0] > 0 && isLatinLetter(s[m[0]-1]):
			// Digits led by 0 right after a Latin letter are part of a
			// code (the national drug code XJ01CAA040A001010100001, a
			// consumable code C0592…), not a fixed-line number.
		case personalNumber(run):
			masked = MaskID(run)
		case run[last] == 'X' || run[last] == 'x':
			// A number glued to a word that starts with x: 13812345678xyz.
			if personalNumber(run[:last]) {
				masked = MaskID(run[:last]) + run[last:]
			}
		}
		b.WriteString(s[prev:m[0]])
		b.WriteString(masked)
		prev = m[1]
	}
	b.WriteString(s[prev:])
	return pii.Text(b.String())
}

func isLatinLetter(c byte) bool { return 'a' <= c|0x20 && c|0x20 <= 'z' }
