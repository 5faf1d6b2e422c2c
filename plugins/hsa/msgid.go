package hsa

import (
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"
)

// MsgIDSequence is the name of the host counter the msgid's 4-digit
// sequence comes from.
const MsgIDSequence = "hsa.msgid"

// FormatMsgID builds a msgid: the 12-character institution code, the time
// in UTC+8 as yyyyMMddHHmmss and the 4-digit sequence value
// base + (n-1) mod span, where n counts from 1.
func FormatMsgID(fixmedinsCode string, t time.Time, n int64, base, span int) string {
	if span < 1 {
		span = 10000
	}
	seq := int64(base) + (n-1)%int64(span)
	if seq < 0 {
		seq = -seq
	}
	return fmt.Sprintf("%s%s%04d", fixmedinsCode, t.In(cst).Format("20060102150405"), seq%10000)
}

// ParseMsgID splits a msgid into its institution code, time and sequence.
func ParseMsgID(id string) (code string, t time.Time, seq int, err error) {
	if utf8.RuneCountInString(id) != 30 || len(id) != 30 {
		return "", time.Time{}, 0, fmt.Errorf("msgid %q has %d characters, want 30 (institution code 12 + time 14 + sequence 4)", snippet([]byte(id)), utf8.RuneCountInString(id))
	}
	code = id[:12]
	t, err = time.ParseInLocation("20060102150405", id[12:26], cst)
	if err != nil {
		return "", time.Time{}, 0, fmt.Errorf("msgid %q: characters 13-26 are not a time yyyyMMddHHmmss", id)
	}
	if !digits(id[26:]) {
		return "", time.Time{}, 0, fmt.Errorf("msgid %q: the last 4 characters are not digits", id)
	}
	seq, _ = strconv.Atoi(id[26:])
	return code, t, seq, nil
}
