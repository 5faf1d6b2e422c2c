package adapter

import (
	"encoding/json"
	"math/big"
	"strconv"
	"strings"

	"github.com/medgate/medgate/schemas"
)

// Money and quantities are exact decimals (math/big.Rat), never float64:
// 0.1 + 0.2 must equal 0.3 and one cent off must be one cent off. Values
// come from the decoded payload as json.Number or string, exactly as
// written; the schema has already checked their form (decimal(p,s)).

// dec parses a decimal field of doc; ok is false when the field is absent
// or not a decimal number. A JSON number written with an exponent is read
// as the decimal it is (1.205e2 is 120.5), as the schema reads it: a
// payload's numbers were rewritten so already (plainNumbers), a downloaded
// record's were not.
func dec(doc map[string]any, k string) (*big.Rat, bool) {
	var s string
	switch v := doc[k].(type) {
	case json.Number:
		s = v.String()
		if p, ok := expandExponent(s); ok {
			s = p
		}
	case string:
		s = strings.TrimSpace(v)
	default:
		return nil, false
	}
	return parseDec(s)
}

// parseDec parses a plain decimal, -?[0-9]+(\.[0-9]+)? ("12", "-0.50",
// "3.333333"); anything else – exponents, fractions, a leading "+", the
// base prefixes, binary exponents and underscores big.Rat takes, blanks –
// is refused.
func parseDec(s string) (*big.Rat, bool) {
	ip, fp, dot := strings.Cut(strings.TrimPrefix(s, "-"), ".")
	if !schemas.AllDigits(ip) || (dot && !schemas.AllDigits(fp)) {
		return nil, false
	}
	r, ok := new(big.Rat).SetString(s)
	return r, ok
}

// decOr is dec with zero for an absent field.
func decOr0(doc map[string]any, k string) *big.Rat {
	if r, ok := dec(doc, k); ok {
		return r
	}
	return new(big.Rat)
}

// moneyOf is money(decOr0(doc, k)) without the big.Rat when the field is
// already written as money writes it: digits (no leading zero) and
// exactly two decimals, not negative.
func moneyOf(doc map[string]any, k string) string {
	var s string
	switch v := doc[k].(type) {
	case json.Number:
		s = v.String()
	case string:
		s = strings.TrimSpace(v)
	}
	if isMoneyText(s) {
		return s
	}
	return money(decOr0(doc, k))
}

// isMoneyText reports whether s matches (0|[1-9][0-9]*)\.[0-9]{2}.
func isMoneyText(s string) bool {
	n := len(s)
	if n < 4 || s[n-3] != '.' || (s[0] == '0' && n != 4) {
		return false
	}
	for i := range n {
		if i != n-3 && (s[i] < '0' || s[i] > '9') {
			return false
		}
	}
	return true
}

func ratAdd(a, b *big.Rat) *big.Rat { return new(big.Rat).Add(a, b) }
func ratSub(a, b *big.Rat) *big.Rat { return new(big.Rat).Sub(a, b) }
func ratMul(a, b *big.Rat) *big.Rat { return new(big.Rat).Mul(a, b) }

// ratAbsDiff is |a − b|.
func ratAbsDiff(a, b *big.Rat) *big.Rat { return new(big.Rat).Abs(ratSub(a, b)) }

// money formats r with two decimals (for messages and stored sums), or
// with every decimal it has when it has more: an amount its field cannot
// hold (which the schema refuses) is shown as it is, never rounded to the
// cent – "15.00 + 5.00 = 20.00 but amount is 20.00" would say nothing.
func money(r *big.Rat) string { return r.FloatString(decimalsOf(r, 2)) }

// plain formats r without trailing zeros beyond what it needs (quantities
// and prices in messages), exactly.
func plain(r *big.Rat) string {
	s := r.FloatString(decimalsOf(r, 0))
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

// maxShownDecimals bounds the decimals decimalsOf gives: far beyond any
// decimal(p,s) field and any product of two of them.
const maxShownDecimals = 40

// decimalsOf returns the number of decimals, at least least, that writes r
// exactly; a value that needs more than maxShownDecimals (or is no finite
// decimal) gets maxShownDecimals, rounded.
func decimalsOf(r *big.Rat, least int) int {
	d := r.Denom()
	if d.IsInt64() {
		// The usual case without big.Int: 10^k fits an int64 for k ≤ 18.
		dv, p := d.Int64(), int64(1)
		for k := 0; k <= 18; k, p = k+1, p*10 {
			if k >= least && p%dv == 0 {
				return k
			}
		}
	}
	p := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(least)), nil)
	ten, rem := big.NewInt(10), new(big.Int)
	for k := least; k < maxShownDecimals; k++ {
		if rem.Rem(p, d).Sign() == 0 {
			return k
		}
		p.Mul(p, ten)
	}
	return maxShownDecimals
}

// cents parses a stored two-decimal amount ("123.45"); it panics on a
// malformed stored value only in tests, never on input (stored values were
// written by money()).
func cents(s string) *big.Rat {
	r, ok := parseDec(s)
	if !ok {
		return new(big.Rat)
	}
	return r
}

// sumOf adds amounts.
type sumOf struct{ r big.Rat }

func (s *sumOf) add(x *big.Rat) { s.r.Add(&s.r, x) }
func (s *sumOf) rat() *big.Rat  { return new(big.Rat).Set(&s.r) }

// maxExponent bounds the exponent plainNumbers writes out: a larger one
// is left as written (the schema reports it as too large or too precise
// for any decimal(p,s) field), so a hostile 1e999999999 costs nothing.
const maxExponent = 40

// plainNumbers rewrites, in place, every JSON number in v (a decoded
// payload: maps, slices, json.Number) that is written with an exponent as
// the plain decimal it is exactly (9.9999e2 → 999.99, -2E0 → -2), and
// reports whether it changed anything. The schema takes such a number as
// its value, but the money rules (dec) and the national system read plain
// decimals only: unrewritten, the rules would skip it and the national
// system refuse it.
func plainNumbers(v any) bool {
	changed := false
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if n, ok := e.(json.Number); ok {
				if p, ok := expandExponent(string(n)); ok {
					x[k], changed = json.Number(p), true
				}
				continue
			}
			changed = plainNumbers(e) || changed
		}
	case []any:
		for i, e := range x {
			if n, ok := e.(json.Number); ok {
				if p, ok := expandExponent(string(n)); ok {
					x[i], changed = json.Number(p), true
				}
				continue
			}
			changed = plainNumbers(e) || changed
		}
	}
	return changed
}

// expandExponent returns the plain decimal of a JSON number written with
// an exponent; ok is false when s has none, is not a JSON number, or its
// exponent is beyond maxExponent.
func expandExponent(s string) (string, bool) {
	i := strings.IndexAny(s, "eE")
	if i < 0 || len(s) > 64 {
		return "", false
	}
	mant, expText := s[:i], s[i+1:]
	exp, err := strconv.Atoi(expText)
	if err != nil || exp > maxExponent || exp < -maxExponent {
		return "", false
	}
	sign := ""
	if strings.HasPrefix(mant, "-") {
		sign, mant = "-", mant[1:]
	}
	ip, fp, _ := strings.Cut(mant, ".")
	if !schemas.AllDigits(ip) || (fp != "" && !schemas.AllDigits(fp)) || strings.HasSuffix(mant, ".") {
		return "", false
	}
	digits := ip + fp
	point := len(ip) + exp // where the decimal point goes in digits
	switch {
	case point <= 0:
		digits = strings.Repeat("0", 1-point) + digits
		point = 1
	case point > len(digits):
		digits += strings.Repeat("0", point-len(digits))
	}
	intPart := strings.TrimLeft(digits[:point], "0")
	if intPart == "" {
		intPart = "0"
	}
	out := sign + intPart
	if frac := strings.TrimRight(digits[point:], "0"); frac != "" {
		out += "." + frac
	}
	return out, true
}
