package store

import (
	"errors"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// defaultLimit is the number of rows list methods return when asked for 0.
const defaultLimit = 100

// listLimit turns a caller's limit into the one used: 0 (or less) means
// defaultLimit.
func listLimit(n int) int {
	if n <= 0 {
		return defaultLimit
	}
	return n
}

// now is the store's clock for the times it sets itself. Both engines keep
// microseconds, so times are truncated to them and read back equal.
func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

// normTime brings a caller's time to what the store keeps: UTC, microseconds.
func normTime(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// nullBytes keeps nil as SQL NULL and everything else as a blob.
func nullBytes(b []byte) any {
	if b == nil {
		return nil
	}
	return b
}

// prefixEnd returns the smallest string greater than every string that
// starts with prefix, in byte order, so that "k >= prefix AND k < end"
// selects exactly the keys starting with prefix. No character of prefix
// is special: this is not LIKE, so '%', '_' and '\' are literal.
// ok is false when there is no upper bound (the prefix is empty or made of
// the largest character only); then "k >= prefix" alone is exact.
//
// For valid UTF-8 the bound is valid UTF-8 too (PostgreSQL rejects
// anything else): the last character is replaced by the next one, and
// UTF-8 byte order is code point order. Invalid UTF-8 (possible in SQLite
// only) falls back to incrementing the last byte.
func prefixEnd(prefix string) (end string, ok bool) {
	if !utf8.ValidString(prefix) {
		b := []byte(prefix)
		for i := len(b) - 1; i >= 0; i-- {
			if b[i] < 0xff {
				b[i]++
				return string(b[:i+1]), true
			}
		}
		return "", false
	}
	for p := prefix; p != ""; {
		r, size := utf8.DecodeLastRuneInString(p)
		p = p[:len(p)-size]
		next := r + 1
		if next >= 0xD800 && next <= 0xDFFF { // surrogates are not characters
			next = 0xE000
		}
		if next <= utf8.MaxRune {
			return p + string(next), true
		}
	}
	return "", false
}

// cursor is a search page's position: the received time in unix
// microseconds and the id of its last message.
func cursor(at time.Time, id string) string {
	return strconv.FormatInt(at.UnixMicro(), 10) + "." + id
}

// errCursor says a search cursor was not one the store returned.
var errCursor = errors.New("the page cursor is not one medgate returned; start the search again from the first page")

// parseCursor reads a cursor.
func parseCursor(c string) (time.Time, string, error) {
	micros, id, ok := strings.Cut(c, ".")
	n, err := strconv.ParseInt(micros, 10, 64)
	if !ok || err != nil || id == "" {
		return time.Time{}, "", errCursor
	}
	return time.UnixMicro(n).UTC(), id, nil
}
