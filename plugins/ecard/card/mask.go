package card

import "strings"

// MaskName hides a name for logs and labels. A single character is kept,
// two characters keep the first (张三 → 张*), and longer names keep the first
// and last (欧阳娜娜 → 欧**娜). Surrounding spaces are trimmed.
func MaskName(name string) string {
	r := []rune(strings.TrimSpace(name))
	switch len(r) {
	case 0, 1:
		return string(r)
	case 2:
		return string(r[0]) + "*"
	}
	return string(r[0]) + strings.Repeat("*", len(r)-2) + string(r[len(r)-1])
}

// MaskIDNumber hides an ID number for logs, keeping the first 3 and last 4
// characters (110***********002X). Fewer are kept for short numbers so that
// at least 6 characters stay hidden.
func MaskIDNumber(s string) string { return maskMiddle(s, 3, 4, 6) }

// MaskPhone hides a phone number for logs, keeping the first 3 and last 4
// digits (138****5678). Fewer are kept for short numbers so that at least 4
// digits stay hidden.
func MaskPhone(s string) string { return maskMiddle(s, 3, 4, 4) }

// maskMiddle keeps head and tail runes of s, reducing them (head first) until
// at least minHidden runes are hidden or nothing is kept.
func maskMiddle(s string, head, tail, minHidden int) string {
	r := []rune(strings.TrimSpace(s))
	for head+tail > 0 && len(r)-head-tail < minHidden {
		if head > 0 {
			head--
		} else {
			tail--
		}
	}
	if head+tail >= len(r) {
		return strings.Repeat("*", len(r))
	}
	return string(r[:head]) + strings.Repeat("*", len(r)-head-tail) + string(r[len(r)-tail:])
}
