package card

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// MaxCardNoLen is the longest card number (prefix, sequence and check
// character) that a rule may produce and a [Sealer] may seal. It keeps the QR
// text at 85 characters or fewer, and card numbers can never be mistaken for
// 18-character resident ID numbers or 20-digit drug trace codes.
const MaxCardNoLen = 16

// maxPrefixLen is the longest card or temporary-card prefix.
const maxPrefixLen = 8

// NumberRule describes how hospital e-card numbers are built:
// Prefix + sequence zero-padded to Width digits + one check character.
//
// Example: Prefix "8801", Width 10, CheckDigit "mod11-2" gives 15-character
// numbers such as "880100000000013" (sequence 1) and "88010000000003X"
// (sequence 3).
type NumberRule struct {
	// Prefix is 1–8 digits that start every e-card number. It must not overlap
	// any of TempPrefixes.
	Prefix string `json:"prefix"`
	// Width is the number of sequence digits; sequences run from 0 to
	// 10^Width−1.
	Width int `json:"width"`
	// CheckDigit is the check-character algorithm: CheckMod11_2 ("mod11-2")
	// or CheckLuhn ("luhn"). (The field cannot be called Check because that
	// is the method that verifies a number; its JSON name is "check".)
	CheckDigit string `json:"check"`
	// TempPrefixes lists the prefixes of temporary-card (临时卡) numbers,
	// which must never collide with e-card numbers.
	TempPrefixes []string `json:"tempPrefixes,omitempty"`
}

// Len returns the length of the numbers the rule produces.
func (r NumberRule) Len() int { return len(r.Prefix) + r.Width + 1 }

// Validate reports every problem with the rule, joined into one error. Each
// problem wraps [ErrInvalidRule].
func (r NumberRule) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrInvalidRule}, args...)...))
	}
	if !isDigits(r.Prefix) || len(r.Prefix) > maxPrefixLen {
		bad("prefix %q must be 1–%d digits", r.Prefix, maxPrefixLen)
	}
	if r.Width < 1 {
		bad("width %d must be at least 1; set the number of sequence digits", r.Width)
	}
	switch r.CheckDigit {
	case CheckMod11_2, CheckLuhn:
	default:
		bad("check %q is not supported; use %q or %q", r.CheckDigit, CheckMod11_2, CheckLuhn)
	}
	if n := r.Len(); r.Width >= 1 && n > MaxCardNoLen {
		bad("numbers would be %d characters (prefix %d + width %d + check 1); the maximum is %d, so shorten the prefix or width",
			n, len(r.Prefix), r.Width, MaxCardNoLen)
	}
	seen := make(map[string]bool, len(r.TempPrefixes))
	for i, tp := range r.TempPrefixes {
		switch {
		case !isDigits(tp) || len(tp) > maxPrefixLen:
			bad("tempPrefixes[%d] %q must be 1–%d digits", i, tp, maxPrefixLen)
		case seen[tp]:
			bad("tempPrefixes[%d] %q is listed twice; remove the duplicate", i, tp)
		case r.Prefix != "" && (strings.HasPrefix(r.Prefix, tp) || strings.HasPrefix(tp, r.Prefix)):
			bad("prefix %q overlaps temporary-card prefix %q (tempPrefixes[%d]), so numbers could collide; choose a prefix where neither starts with the other",
				r.Prefix, tp, i)
		}
		seen[tp] = true
	}
	return errors.Join(errs...)
}

// Format builds the card number for sequence seq. It fails with
// [ErrSequenceExhausted] when seq needs more than Width digits, and with the
// rule's problems when the rule is invalid.
func (r NumberRule) Format(seq int64) (string, error) {
	if err := r.Validate(); err != nil {
		return "", err
	}
	if seq < 0 {
		return "", fmt.Errorf("sequence %d is negative; sequences start at 0", seq)
	}
	digits := strconv.FormatInt(seq, 10)
	if len(digits) > r.Width {
		return "", fmt.Errorf("%w: sequence %d needs %d digits but width is %d; widen the rule or start a new prefix",
			ErrSequenceExhausted, seq, len(digits), r.Width)
	}
	payload := r.Prefix + strings.Repeat("0", r.Width-len(digits)) + digits
	c, _ := r.checkChar(payload)
	return payload + string(c), nil
}

// Check reports whether number is a well-formed e-card number under the
// rule. It returns an error wrapping [ErrWrongPrefix] (including for
// temporary-card numbers), [ErrWrongLength], [ErrBadCharacter] or
// [ErrBadCheckDigit], in that order of precedence.
func (r NumberRule) Check(number string) error {
	if err := r.Validate(); err != nil {
		return err
	}
	if tp, ok := r.tempPrefix(number); ok {
		return fmt.Errorf("%w: %q is a temporary-card number (prefix %q); look it up as a temporary card",
			ErrWrongPrefix, number, tp)
	}
	if !strings.HasPrefix(number, r.Prefix) {
		return fmt.Errorf("%w: %q must start with %q; check that it is an e-card number of this hospital",
			ErrWrongPrefix, number, r.Prefix)
	}
	if len(number) != r.Len() {
		return fmt.Errorf("%w: %q has %d characters, want %d; check for missing or extra digits",
			ErrWrongLength, number, len(number), r.Len())
	}
	payload, got := number[:len(number)-1], number[len(number)-1]
	if !isDigits(payload) {
		return fmt.Errorf("%w: %q must be digits except for the check character", ErrBadCharacter, number)
	}
	if got == 'x' && r.CheckDigit == CheckMod11_2 {
		return fmt.Errorf("%w: %q ends in a lowercase x; use an uppercase X", ErrBadCharacter, number)
	}
	if (got < '0' || got > '9') && (got != 'X' || r.CheckDigit != CheckMod11_2) {
		return fmt.Errorf("%w: %q ends in %q, which is not a valid %s check character", ErrBadCharacter, number, got, r.CheckDigit)
	}
	if want, _ := r.checkChar(payload); got != want {
		return fmt.Errorf("%w: %q fails the %s check; a digit is probably mistyped, re-check it against the card",
			ErrBadCheckDigit, number, r.CheckDigit)
	}
	return nil
}

// Sequence returns the sequence that number was formatted from, after
// checking it like [NumberRule.Check].
func (r NumberRule) Sequence(number string) (int64, error) {
	if err := r.Check(number); err != nil {
		return 0, err
	}
	return strconv.ParseInt(number[len(r.Prefix):len(number)-1], 10, 64)
}

// IsTemporary reports whether number starts with one of the rule's
// temporary-card prefixes.
func (r NumberRule) IsTemporary(number string) bool {
	_, ok := r.tempPrefix(number)
	return ok
}

func (r NumberRule) tempPrefix(number string) (string, bool) {
	for _, tp := range r.TempPrefixes {
		if tp != "" && strings.HasPrefix(number, tp) {
			return tp, true
		}
	}
	return "", false
}

func (r NumberRule) checkChar(payload string) (byte, bool) {
	if r.CheckDigit == CheckLuhn {
		return luhn(payload)
	}
	return mod11_2(payload)
}
