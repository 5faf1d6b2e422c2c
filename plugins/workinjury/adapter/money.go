package adapter

import (
	"encoding/json"
	"math/big"
	"strings"
)

// Money and quantities are exact decimals (math/big.Rat), never float64:
// 0.1 + 0.2 must equal 0.3 and one cent off must be one cent off. Values
// come from the decoded payload as json.Number or string, exactly as
// written; the schema has already checked their form (decimal(p,s)).

// dec parses a decimal field of doc; ok is false when the field is absent
// or not a plain decimal number.
func dec(doc map[string]any, k string) (*big.Rat, bool) {
	var s string
	switch v := doc[k].(type) {
	case json.Number:
		s = v.String()
	case string:
		s = strings.TrimSpace(v)
	default:
		return nil, false
	}
	return parseDec(s)
}

// parseDec parses a plain decimal ("12", "-0.50", "3.333333"); exponents,
// fractions and blanks are refused.
func parseDec(s string) (*big.Rat, bool) {
	if s == "" || strings.ContainsAny(s, "eE/ ") {
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

// money formats r with two decimals (for messages and stored sums).
func money(r *big.Rat) string { return r.FloatString(2) }

// plain formats r without trailing zeros beyond what it needs (quantities
// and prices in messages).
func plain(r *big.Rat) string {
	s := r.FloatString(6)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
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
