package selfpay

import (
	"regexp"
	"sort"
	"strings"
	"unicode/utf8"
)

// The simulator's own log masking, so that its log lines show no personal
// data whatever medgate's masking does: names, ID numbers and phone
// numbers in err_msg (a fault's message may carry them) are masked before
// a line is written. Answers are not masked: they are what the platform
// would send.

// nameFields and numberFields are the input fields that hold a person's
// name, or an ID or phone number, in the transactions served.
var (
	nameFields   = []string{"psn_name", "coner_name", "bilg_dr_name", "acord_dr_name", "diag_dr_name", "chfpdr_name", "opter_name"}
	numberFields = []string{"certno", "tel"}
)

// personal collects the names (of two characters or more) and numbers (of
// five or more) in a decoded input, at any depth, each with its masked
// form, so that they are masked wherever they appear in a line; m may be
// nil.
func personal(v any, m map[string]string) map[string]string {
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			s, ok := val.(string)
			switch {
			case !ok || strings.TrimSpace(s) == "":
			case contains(nameFields, k) && len([]rune(s)) >= 2:
				if m == nil {
					m = map[string]string{}
				}
				m[s] = maskName(s)
			case contains(numberFields, k) && len(s) >= 5:
				if m == nil {
					m = map[string]string{}
				}
				m[s] = maskNumber(s)
			}
			m = personal(val, m)
		}
	case []any:
		for _, it := range x {
			m = personal(it, m)
		}
	}
	return m
}

// maskName keeps the first character of a name of two, and the first and
// last of a longer one: 张三 → 张*, 欧阳娜娜 → 欧**娜; a single character
// is a star.
func maskName(s string) string {
	if utf8.RuneCountInString(strings.TrimSpace(s)) == 2 {
		return starsBetween(s, 1, 0)
	}
	return starsBetween(s, 1, 1)
}

// maskNumber keeps the first 3 and last 4 characters of an ID or phone
// number: 350203198001011234 → 350***********1234; shorter ones are all
// stars.
func maskNumber(s string) string { return starsBetween(s, 3, 4) }

// starsBetween writes s (trimmed) with a star for every character but its
// first head and last tail; a value of head+tail characters or fewer would
// show whole, so it is all stars.
func starsBetween(s string, head, tail int) string {
	r := []rune(strings.TrimSpace(s))
	if len(r) <= head+tail {
		return strings.Repeat("*", len(r))
	}
	for i := head; i < len(r)-tail; i++ {
		r[i] = '*'
	}
	return string(r)
}

var (
	// digitRun is a run of digits, possibly ending in the X of an ID card.
	digitRun = regexp.MustCompile(`[0-9]+[Xx]?`)
	// landline is an area code, a dash and a number: 0592-1234567.
	landline = regexp.MustCompile(`\b0[0-9]{2,3}-[0-9]{7,8}\b`)
	// labelledName is a name written after a label that says it is one.
	labelledName = regexp.MustCompile(`(姓名|人员姓名|患者姓名|联系人|psn_name|name)(\s*[:：=]\s*)(\p{Han}{2,4})`)
)

// maskLog masks personal data in one log value: the known values first
// (from the call's input and the visit it names), then ID-card numbers
// (15 digits, or 17 and a digit or X), mobile numbers (11 digits from 1),
// landline numbers and names after a label such as 姓名: or psn_name=.
// Other digit runs (msgids, serial numbers) are left as they are.
func maskLog(s string, known map[string]string) string {
	if len(known) > 0 {
		vals := make([]string, 0, len(known))
		for k := range known {
			vals = append(vals, k)
		}
		// The longest first, so that a name inside a longer value is not
		// masked on its own first.
		sort.Slice(vals, func(i, j int) bool { return len(vals[i]) > len(vals[j]) })
		for _, v := range vals {
			s = strings.ReplaceAll(s, v, known[v])
		}
	}
	s = landline.ReplaceAllStringFunc(s, func(p string) string {
		area, num, _ := strings.Cut(p, "-")
		return area + "-" + starsBetween(num, 0, 4)
	})
	s = digitRun.ReplaceAllStringFunc(s, func(p string) string {
		digits := strings.TrimRight(p, "Xx")
		switch {
		case len(p) == 18 && len(digits) >= 17, len(p) == 15 && len(digits) == 15:
			return maskNumber(p)
		case len(p) == 11 && len(digits) == 11 && p[0] == '1':
			return maskNumber(p)
		}
		return p
	})
	return labelledName.ReplaceAllStringFunc(s, func(p string) string {
		g := labelledName.FindStringSubmatch(p)
		return g[1] + g[2] + maskName(g[3])
	})
}
