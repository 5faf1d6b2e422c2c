package logging

import (
	"strings"
	"unicode/utf8"
)

// This file finds resident ID numbers and mainland mobile numbers however
// they are written: glued to letters ("idNo11010519491231002X"), after a
// URL escape ("%2013812345678"), in full-width digits (１３８…), and with
// the separators people type ("138-1234-5678", "110105 19491231 002X").
// A number is one only when no digit stands right before or after it, so
// longer codes (20-digit trace codes) are left alone.

// digitAt reports whether s[i:] starts with a digit, ASCII or full-width
// (U+FF10–U+FF19), its value and its width in bytes.
func digitAt(s string, i int) (d, w int, ok bool) {
	if i >= len(s) {
		return 0, 0, false
	}
	if c := s[i]; c >= '0' && c <= '9' {
		return int(c - '0'), 1, true
	}
	// U+FF10–U+FF19 are EF BC 90–99.
	if i+2 < len(s) && s[i] == 0xEF && s[i+1] == 0xBC && s[i+2] >= 0x90 && s[i+2] <= 0x99 {
		return int(s[i+2] - 0x90), 3, true
	}
	return 0, 0, false
}

// checkAt reports the width of the ID number check character X (x, Ｘ,
// ｘ) at s[i:], or 0.
func checkAt(s string, i int) int {
	if i < len(s) && (s[i] == 'X' || s[i] == 'x') {
		return 1
	}
	if strings.HasPrefix(s[i:], "Ｘ") || strings.HasPrefix(s[i:], "ｘ") {
		return 3
	}
	return 0
}

// sepAt returns the width of a separator between digit groups at s[i:]
// (space, hyphen, their full-width and no-break forms, dashes), or 0.
func sepAt(s string, i int) int {
	if i >= len(s) {
		return 0
	}
	switch s[i] {
	case ' ', '-':
		return 1
	}
	r, w := utf8.DecodeRuneInString(s[i:])
	switch r {
	case '\u00a0', '\u3000', '\uff0d', '\u2010', '\u2011', '\u2012', '\u2013', '\u2014', '\u2212':
		return w
	}
	return 0
}

// span is one character of a matched number: its byte range and whether
// it is a digit (separators are kept as they are).
type span struct {
	from, to int
	digit    bool
}

// numberAt matches n digits at s[i:] (the last may be the check character
// X when check is set), with one separator allowed after the digit counts
// in seps, and checks the first digits with first. It returns the digits'
// spans and the end of the match, or ok false. A digit right after the
// match makes it no match: the number is longer.
func numberAt(s string, i, n int, seps []int, check bool, first func(pos, d int) bool, out []span) ([]span, int, bool) {
	out = out[:0]
	count := 0
	for count < n {
		if count > 0 && len(seps) > 0 && containsInt(seps, count) {
			if w := sepAt(s, i); w > 0 {
				if _, _, ok := digitAt(s, i+w); ok || (check && count == n-1 && checkAt(s, i+w) > 0) {
					out = append(out, span{from: i, to: i + w})
					i += w
				}
			}
		}
		d, w, ok := digitAt(s, i)
		if !ok {
			if check && count == n-1 {
				if cw := checkAt(s, i); cw > 0 {
					out = append(out, span{from: i, to: i + cw, digit: true})
					i += cw
					count++
					continue
				}
			}
			return out, 0, false
		}
		if first != nil && !first(count, d) {
			return out, 0, false
		}
		out = append(out, span{from: i, to: i + w, digit: true})
		i += w
		count++
	}
	if _, _, ok := digitAt(s, i); ok {
		return out, 0, false
	}
	return out, i, true
}

func containsInt(xs []int, x int) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

var (
	// An ID number: 18 characters, the first 1–9, the last a digit or X,
	// written whole or in groups of 6-8-4 (or 6-4-4-4).
	idSeps  = []int{6, 10, 14}
	idFirst = func(pos, d int) bool { return pos != 0 || d != 0 }
	// A mobile number: 11 digits starting 13–19, whole or 3-4-4.
	mobileSeps  = []int{3, 7}
	mobileFirst = func(pos, d int) bool { return (pos != 0 || d == 1) && (pos != 1 || d >= 3) }
	// With the country code 86 before it: 86 138 1234 5678.
	mobile86Seps  = []int{2, 5, 9}
	mobile86First = func(pos, d int) bool {
		switch pos {
		case 0:
			return d == 8
		case 1:
			return d == 6
		case 2:
			return d == 1
		case 3:
			return d >= 3
		}
		return true
	}
)

// maskNumbers masks every ID number (keeping its first 3 and last 4
// characters) and mobile number (keeping the first 3 digits, after an 86
// country code, and the last 4) in s; separators stay as they were.
func maskNumbers(s string) string {
	var (
		b     strings.Builder
		done  int // s[:done] is in b
		spans []span
		prev  = false // the character before i is a digit
	)
	for i := 0; i < len(s); {
		_, w, isDigit := digitAt(s, i)
		if !isDigit {
			prev = false
			_, rw := utf8.DecodeRuneInString(s[i:])
			i += rw
			continue
		}
		// A number starts where no digit is before it, or right after a
		// URL escape (%20, %2B): its hex digits are not part of it.
		if !prev || afterEscape(s, i) {
			var end, keepHead int
			var ok bool
			if spans, end, ok = numberAt(s, i, 18, idSeps, true, idFirst, spans); ok {
				keepHead = 3
			} else if spans, end, ok = numberAt(s, i, 13, mobile86Seps, false, mobile86First, spans); ok {
				keepHead = 5
			} else if spans, end, ok = numberAt(s, i, 11, mobileSeps, false, mobileFirst, spans); ok {
				keepHead = 3
			}
			if ok {
				b.WriteString(s[done:i])
				digits := 0
				total := 0
				for _, sp := range spans {
					if sp.digit {
						total++
					}
				}
				for _, sp := range spans {
					if !sp.digit {
						b.WriteString(s[sp.from:sp.to])
						continue
					}
					if digits < keepHead || digits >= total-4 {
						b.WriteString(s[sp.from:sp.to])
					} else {
						b.WriteByte('*')
					}
					digits++
				}
				done, i, prev = end, end, false
				continue
			}
		}
		prev = true
		i += w
	}
	if done == 0 {
		return s
	}
	b.WriteString(s[done:])
	return b.String()
}

// afterEscape reports whether s[i] is right after a URL escape %XX whose
// last hex digit is a digit (so s[i] looks like it continues a number),
// or is itself the second hex digit of one ("%2" before 5607…: whether
// %25 is an escape or the number's first digit cannot be told, so the
// number is looked for there too).
func afterEscape(s string, i int) bool {
	return i >= 3 && s[i-3] == '%' && isHex(s[i-2]) && isHex(s[i-1]) ||
		i >= 2 && s[i-2] == '%' && isHex(s[i-1])
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}
