package adapter

import (
	"regexp"
	"strings"
	"time"
)

// How a 4208 answer is matched with the visit medgate sent. A platform
// may mask personal data in its answers ("张*", "350***********1234")
// and write times its own way (seconds dropped, "/" or "T" separators,
// no separators at all); neither may make an applied 4202 look absent,
// or the reconciliation would send it again: a second visit at the
// provincial platform.

// maskedFields are the personal fields a platform may answer masked: a
// masked answer agrees with the value sent when its unmasked characters
// do (sameMasked).
var maskedFields = map[string]bool{"psn_name": true, "coner_name": true, "certno": true, "tel": true, "addr": true}

// isMask tells whether r masks a character.
func isMask(r rune) bool { return r == '*' || r == '＊' || r == '×' }

// sameMasked reports whether answer, as the platform returns a value it
// may have masked, agrees with sent: equal, or every character the mask
// leaves agrees in place. A run of mask characters stands for one or
// more characters ("张*" agrees with "张三" and "张三丰", "*三" with
// "张三", not with "李三丰"); an answer of nothing but masks agrees with
// any value sent, and an empty answer only with an empty value.
func sameMasked(answer, sent string) bool {
	answer, sent = strings.TrimSpace(answer), strings.TrimSpace(sent)
	if answer == sent {
		return true
	}
	if !strings.ContainsFunc(answer, isMask) || sent == "" {
		return false
	}
	// Each run of masks takes one or more characters of sent, the
	// characters between the runs must agree in place.
	var re strings.Builder
	re.WriteString(`^(?s)`)
	masked := false
	for _, r := range answer {
		if isMask(r) {
			if !masked {
				re.WriteString(`.+`)
			}
			masked = true
			continue
		}
		masked = false
		re.WriteString(regexp.QuoteMeta(string(r)))
	}
	re.WriteString(`$`)
	return regexp.MustCompile(re.String()).MatchString(sent)
}

// platformTime is a date or time as read from a record.
type platformTime struct {
	t       time.Time
	date    bool // a date without a time of day
	seconds bool // the seconds were written
}

// cst is the time zone of the platform's times (UTC+8).
var cst = time.FixedZone("UTC+8", 8*3600)

// shownTime writes a time medgate shows staff as the platform writes its
// own, without a zone: so it is read in UTC+8, the platform's and the
// hospital's time, not in UTC as medgate keeps it.
func shownTime(t time.Time) string { return t.In(cst).Format("2006-01-02 15:04:05") }

// timeLayouts are the ways a platform may write a date or a time; those
// without separators are tried only on a value the other side wrote with
// them (sameTime), so that numbers are not read as dates.
var timeLayouts = []struct {
	layout        string
	date, seconds bool
}{
	{"2006-1-2 15:04:05", false, true},
	{"2006/1/2 15:04:05", false, true},
	{"2006-1-2T15:04:05", false, true},
	{time.RFC3339, false, true},
	{"2006-1-2 15:04", false, false},
	{"2006/1/2 15:04", false, false},
	{"2006-1-2T15:04", false, false},
	{"2006-1-2", true, false},
	{"2006/1/2", true, false},
	{"20060102150405", false, true},
	{"200601021504", false, false},
	{"20060102", true, false},
}

// parseTime reads s as a date or time in one of timeLayouts.
func parseTime(s string) (platformTime, bool) {
	for _, l := range timeLayouts {
		t, err := time.ParseInLocation(l.layout, s, cst)
		if err == nil {
			return platformTime{t: t.In(cst), date: l.date, seconds: l.seconds}, true
		}
	}
	return platformTime{}, false
}

// sameTime reports whether a and b, both dates or times, name the same
// moment as far as both tell: to the second when both write seconds, to
// the minute when one drops them; a date agrees with the same date at
// midnight. ok is false when either is not a date or time, or neither is
// written with separators ("-", "/", ":"), which keeps two numbers from
// being compared as dates.
func sameTime(a, b string) (same, ok bool) {
	if !strings.ContainsAny(a, "-/:") && !strings.ContainsAny(b, "-/:") {
		return false, false
	}
	ta, ok1 := parseTime(a)
	tb, ok2 := parseTime(b)
	if !ok1 || !ok2 {
		return false, false
	}
	switch {
	case ta.date || tb.date:
		return ta.t.Equal(tb.t), true
	case ta.seconds && tb.seconds:
		return ta.t.Equal(tb.t), true
	default:
		return ta.t.Truncate(time.Minute).Equal(tb.t.Truncate(time.Minute)), true
	}
}

// sameMinute reports whether a and b are times in the same minute.
func sameMinute(a, b string) bool {
	ta, ok1 := parseTime(strings.TrimSpace(a))
	tb, ok2 := parseTime(strings.TrimSpace(b))
	return ok1 && ok2 && !ta.date && !tb.date && ta.t.Truncate(time.Minute).Equal(tb.t.Truncate(time.Minute))
}
