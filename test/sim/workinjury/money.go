package workinjury

import (
	"encoding/json"
	"fmt"
	"math/big"
	"strconv"
	"strings"
)

// Money is an amount in fen (cents of a yuan). The simulator never uses
// floating point for money: amounts are parsed from their decimal text.
type Money int64

// String formats m as a decimal with two places, e.g. "-12.05".
func (m Money) String() string {
	sign := ""
	v := int64(m)
	if v < 0 {
		sign, v = "-", -v
	}
	return fmt.Sprintf("%s%d.%02d", sign, v/100, v%100)
}

// plus returns m + x, and false when the sum is beyond what Money holds
// (it would wrap round).
func (m Money) plus(x Money) (Money, bool) {
	s := m + x
	if (x > 0 && s < m) || (x < 0 && s > m) {
		return 0, false
	}
	return s, true
}

// Number is m as a JSON number.
func (m Money) Number() json.Number { return json.Number(m.String()) }

// ParseMoney parses a decimal amount with at most two places ("12",
// "12.3", "-0.05"); it refuses anything else, including float noise such
// as "0.1000000001".
func ParseMoney(s string) (Money, error) {
	if m, ok := parseMoneyFast(s); ok {
		return m, nil
	}
	return parseMoneyRat(s)
}

// parseMoneyRat is ParseMoney in big.Rat: it takes every form and words
// every error.
func parseMoneyRat(s string) (Money, error) {
	r, err := parseRat(s)
	if err != nil {
		return 0, err
	}
	c := new(big.Rat).Mul(r, big.NewRat(100, 1))
	if !c.IsInt() {
		return 0, fmt.Errorf("amount %q has more than two decimal places", s)
	}
	if !c.Num().IsInt64() {
		return 0, fmt.Errorf("amount %q is too large", s)
	}
	return Money(c.Num().Int64()), nil
}

// parseRat parses the decimal text of a number exactly.
func parseRat(s string) (*big.Rat, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, fmt.Errorf("no number")
	}
	if len(s) > 60 || strings.ContainsAny(s, "/eE") {
		return nil, fmt.Errorf("%q is not a plain decimal number", s)
	}
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		return nil, fmt.Errorf("%q is not a decimal number", s)
	}
	return r, nil
}

// roundCents rounds r to whole fen, half away from zero.
func roundCents(r *big.Rat) (Money, bool) {
	c := new(big.Rat).Mul(r, big.NewRat(100, 1))
	num, den := new(big.Int).Set(c.Num()), c.Denom()
	neg := num.Sign() < 0
	num.Abs(num)
	q, rem := new(big.Int).QuoRem(num, den, new(big.Int))
	if new(big.Int).Lsh(rem, 1).Cmp(den) >= 0 {
		q.Add(q, big.NewInt(1))
	}
	if neg {
		q.Neg(q)
	}
	if !q.IsInt64() {
		return 0, false
	}
	return Money(q.Int64()), true
}

// num returns the decimal text of a number field (a JSON number or a
// string of digits) and whether the field is present.
func num(m map[string]any, k string) (string, bool) {
	switch v := m[k].(type) {
	case json.Number:
		return string(v), true
	case string:
		return v, v != ""
	case float64:
		// Only for inputs built in Go (tests); the wire gives json.Number.
		return strconv.FormatFloat(v, 'f', -1, 64), true
	case int:
		return strconv.Itoa(v), true
	case int64:
		return strconv.FormatInt(v, 10), true
	case nil:
		return "", false
	default:
		return fmt.Sprint(v), true
	}
}

// moneyField reads an amount field; a missing optional field is 0.
func moneyField(m map[string]any, k string) (Money, error) {
	t, ok := num(m, k)
	if !ok {
		return 0, nil
	}
	v, err := ParseMoney(t)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", k, err)
	}
	return v, nil
}

// ratField reads a decimal field exactly.
func ratField(m map[string]any, k string) (*big.Rat, error) {
	t, ok := num(m, k)
	if !ok {
		return nil, fmt.Errorf("%s is missing", k)
	}
	r, err := parseRat(t)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", k, err)
	}
	return r, nil
}
