// Package pii masks personal data inside the free text an external system
// answers with (err_msg, message, fail_reason), before an adapter logs it
// or puts it into an error the host logs, and before it puts it into a
// reply (the host publishes and stores replies: external.message,
// diagnostics, steps). Only the exchange journal keeps the answer as it
// came. The host passes a plugin's call error through it too before logging it, and
// a vendor's adapter can use it as the four adapters do.
//
// PersonalKey is the other half: the JSON keys whose values medgate masks
// wherever it shows a request, a reply or a journal entry, besides the
// fields a plugin declares personal (its schemas' `personal: true`, its
// sdk.Column.Personal). A plugin puts the personal data a reply quotes
// under such keys or declared fields, never into free text.
package pii

import (
	"regexp"
	"strings"
	"unicode/utf8"
)

const monthDay = `(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])`

var (
	// idNumber: a resident ID number, 18 characters (a birth date
	// 18xx–20xx at 7–14; the last may be X) or the old 15 digits (a birth
	// date yymmdd at 7–12), or a mainland mobile number (11 digits,
	// 13–19), with no digit or Latin letter glued before or after it, so
	// longer codes (visit ids, trace codes), other numbers and amounts are
	// left alone.
	idNumber = regexp.MustCompile(`(^|[^0-9A-Za-z])([1-9]\d{5}(?:18|19|20)\d{2}` + monthDay + `\d{3}[\dXx]|[1-9]\d{5}\d{2}` + monthDay + `\d{3}|1[3-9]\d{9})($|[^0-9A-Za-z])`)
	// mobile: a mainland mobile number written with the country code
	// (+86, 0086 or 86, with or without a space or '-' after it) or in
	// groups (138-1234-5678, 138 1234 5678), with no digit or Latin
	// letter glued before or after it; idNumber masks the plain form.
	mobile = regexp.MustCompile(`(^|[^0-9A-Za-z+])((?:\+|00)?86[- ]?)?(1[3-9]\d)([- ]?)(\d{4})([- ]?)(\d{4})($|[^0-9A-Za-z])`)
	// nameAfter: a person's name (2–4 Han characters) after 姓名, 患者,
	// 病人, 参保人 or 就诊人, or after the two together (患者姓名,
	// 参保人姓名: the label is not taken for the name), with or without a
	// colon; after a label ending in 姓名 also after 为 or 是 (参保人姓名为张三).
	nameAfter = regexp.MustCompile(`((?:患者|病人|参保人|就诊人)?姓名)([:：]?\s*(?:[为是][:：]?\s*)?)(\p{Han}{2,4})|(患者|病人|参保人|就诊人)([:：]?\s*)(\p{Han}{2,4})`)
	// cardAfter: a social-security or medical-insurance card number, a
	// passport number, or the number of an identity document of any type
	// (证件号码: a dispensing record's customer may be identified by any)
	// after its label. A resident ID number there is masked as such
	// already (idNumber).
	cardAfter = regexp.MustCompile(`(社会保障卡卡号|社会保障卡号|社保卡卡号|社保卡号|社保卡|医保卡卡号|医保卡号|医保卡|护照号码|护照号|护照|证件号码|证件号)([:：]?\s*)([0-9A-Za-z]{6,})`)
	// addressAfter: an address after its label, up to the next space or
	// punctuation (4 characters at least: 地址不详 is no address).
	addressAfter = regexp.MustCompile(`(联系地址|家庭住址|居住地址|通讯地址|户籍地址|地址|住址)([:：]?\s*)([^\s，,。;；、:：()（）]{4,})`)
	// birthAfter: a birth date after its label, in any of the usual forms.
	birthAfter = regexp.MustCompile(`(出生日期|出生年月日|出生年月|出生|生日)([:：]?\s*)(\d{4}\s*[-/.年]?\s*\d{1,2}\s*[-/.月]?\s*(?:\d{1,2}\s*日?)?)`)
)

// notAddress are words that follow 地址 in a refusal and are no address:
// 地址信息不完整, 地址与证件不符, 地址格式错误.
var notAddress = []string{"信息", "格式", "字段", "长度", "不", "无", "未", "已", "与", "和", "为", "是", "有", "须", "需", "应", "错", "过", "超"}

// notName are words that follow 患者 or 姓名 in a refusal and are no
// name: 患者身份证号…, 患者信息不存在, 姓名不一致.
var notName = []string{"身份", "证件", "社保", "社会", "医保", "电话", "手机", "出生", "信息", "姓名", "的", "不", "无", "未", "已", "与", "和", "在", "为", "是", "有", "须", "需", "应", "空"}

// Text returns s with personal data masked: ID numbers (18 and 15
// characters) and mobile numbers (also with +86 or in groups,
// 138-1234-5678) keep their first 3 and last 4 characters (and the
// country code); a name after 姓名/患者/病人/参保人/就诊人 (or 患者姓名 …,
// 姓名为 …) keeps its first character; a social-security or medical-insurance card
// number, a passport number or another identity document's number
// (证件号码) after its label keeps its first and last character; an
// address after 地址/住址 (联系地址 …) keeps its first 3 characters, up to
// the next space or punctuation; a birth date after 出生日期/出生/生日 is
// replaced with asterisks. Other numbers (visit ids, amounts, codes) are
// kept.
func Text(s string) string {
	if s == "" {
		return s
	}
	// Twice: two numbers separated by one character share that character
	// between two matches.
	for range 2 {
		s = idNumber.ReplaceAllStringFunc(s, func(m string) string {
			g := idNumber.FindStringSubmatch(m)
			return g[1] + keepEdges(g[2], 3, 4) + g[3]
		})
	}
	for range 2 {
		s = mobile.ReplaceAllStringFunc(s, func(m string) string {
			g := mobile.FindStringSubmatch(m)
			return g[1] + g[2] + g[3] + g[4] + "****" + g[6] + g[7] + g[8]
		})
	}
	if !strings.ContainsFunc(s, func(r rune) bool { return r >= 0x4e00 }) {
		return s
	}
	s = nameAfter.ReplaceAllStringFunc(s, func(m string) string {
		g := nameAfter.FindStringSubmatch(m)
		label, sep, name := g[1], g[2], g[3]
		if label == "" {
			label, sep, name = g[4], g[5], g[6]
		}
		for _, w := range notName {
			if strings.HasPrefix(name, w) {
				return m
			}
		}
		r := []rune(name)
		return label + sep + string(r[0]) + strings.Repeat("*", len(r)-1)
	})
	s = cardAfter.ReplaceAllStringFunc(s, func(m string) string {
		g := cardAfter.FindStringSubmatch(m)
		return g[1] + g[2] + keepEdges(g[3], 1, 1)
	})
	s = addressAfter.ReplaceAllStringFunc(s, func(m string) string {
		g := addressAfter.FindStringSubmatch(m)
		for _, w := range notAddress {
			if strings.HasPrefix(g[3], w) {
				return m
			}
		}
		r := []rune(g[3])
		return g[1] + g[2] + string(r[:3]) + strings.Repeat("*", len(r)-3)
	})
	s = birthAfter.ReplaceAllStringFunc(s, func(m string) string {
		g := birthAfter.FindStringSubmatch(m)
		return g[1] + g[2] + strings.Repeat("*", utf8.RuneCountInString(g[3]))
	})
	return s
}

// keepEdges keeps the first head and last tail characters of s and
// masks the rest; a value too short for that is masked whole.
func keepEdges(s string, head, tail int) string {
	n := len(s)
	if n <= head+tail {
		return strings.Repeat("*", n)
	}
	return s[:head] + strings.Repeat("*", n-head-tail) + s[n-tail:]
}
