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

// longNumber matches runs that look like ID card or phone numbers.
var longNumber = regexp.MustCompile(`\d{10,17}[\dXx]`)

// MaskText masks ID-card and phone-like numbers inside free text (error
// messages from the platform) before it is logged, and the names, social
// security card numbers and birth dates such text quotes after their
// labels (患者张三丰, 社保卡号…, 出生日期…; pii.Text).
func MaskText(s string) string {
	return pii.Text(longNumber.ReplaceAllStringFunc(s, MaskID))
}
