package workinjury

import (
	"math"
	"math/bits"
)

// This file is the exact int64 arithmetic behind ParseMoney and the fee
// line checks. It only ever answers for plain decimals ("-12.05", "3",
// "0.125") whose digits fit in int64; for anything else it says it
// cannot, and the caller uses big.Rat, which also words the errors. Its
// answers agree with big.Rat's (FuzzParseMoney and FuzzLineCheck check
// that).

// maxScale is the most decimal places (and maxDigits the most digits) the
// int64 path takes: 10^18 < 2^63.
const (
	maxScale  = 18
	maxDigits = 18
)

// pow10 holds 10^0 … 10^18.
var pow10 = func() (p [maxScale + 1]int64) {
	p[0] = 1
	for i := 1; i < len(p); i++ {
		p[i] = p[i-1] * 10
	}
	return p
}()

// decimal is the value m / 10^scale.
type decimal struct {
	m     int64
	scale int
}

// parseDecimal reads s as [-]digits[.digits] with at most maxDigits
// digits in all. ok is false for anything else (signs other than a
// leading '-', spaces, exponents, an empty integer or fraction part),
// which the caller then hands to big.Rat.
func parseDecimal(s string) (d decimal, ok bool) {
	neg := false
	if len(s) > 0 && s[0] == '-' {
		neg, s = true, s[1:]
	}
	intPart, frac := s, ""
	for i := 0; i < len(s); i++ {
		if s[i] == '.' {
			intPart, frac = s[:i], s[i+1:]
			if frac == "" {
				return decimal{}, false
			}
			break
		}
	}
	if intPart == "" || len(intPart)+len(frac) > maxDigits {
		return decimal{}, false
	}
	var m int64
	for _, part := range [2]string{intPart, frac} {
		for i := 0; i < len(part); i++ {
			c := part[i]
			if c < '0' || c > '9' {
				return decimal{}, false
			}
			m = m*10 + int64(c-'0') // at most 18 digits: no overflow
		}
	}
	if neg {
		m = -m
	}
	return decimal{m: m, scale: len(frac)}, true
}

// fen returns d in fen when it is a whole number of fen.
func (d decimal) fen() (Money, bool) {
	if d.scale <= 2 {
		return mul(d.m, pow10[2-d.scale])
	}
	p := pow10[d.scale-2]
	if d.m%p != 0 {
		return 0, false
	}
	return Money(d.m / p), true
}

// mul returns a × b when it fits in int64.
func mul(a, b int64) (Money, bool) {
	neg := (a < 0) != (b < 0)
	hi, lo := bits.Mul64(abs64(a), abs64(b))
	if hi != 0 || lo > math.MaxInt64 {
		return 0, false
	}
	if neg {
		return Money(-int64(lo)), true
	}
	return Money(lo), true
}

// abs64 is |v| as a uint64 (also for math.MinInt64).
func abs64(v int64) uint64 {
	if v < 0 {
		return uint64(-(v + 1)) + 1
	}
	return uint64(v)
}

// parseMoneyFast is ParseMoney for plain decimals that fit in int64.
// ok is false when it cannot tell; the value is then left to big.Rat.
func parseMoneyFast(s string) (Money, bool) {
	d, ok := parseDecimal(s)
	if !ok {
		return 0, false
	}
	return d.fen()
}

// maxFastTolerance is the largest amount tolerance (in fen) the int64 line
// check takes; larger ones go to big.Rat.
const maxFastTolerance = 1_000_000

// fastLine checks a fee line as checkLine does, in int64, and answers
// only when the line passes: ok is true and l is what checkLine returns.
// When ok is false the line may or may not pass, and checkLine decides
// (and words the problem).
func fastLine(r map[string]any, split bool, tol Money) (l line, ok bool) {
	if tol < 0 || tol > maxFastTolerance {
		return l, false
	}
	price, ok := decimalField(r, "price")
	if !ok || price.m < 0 {
		return l, false
	}
	qty, ok := decimalField(r, "qty")
	if !ok || qty.m <= 0 {
		return l, false
	}
	amount, ok := moneyFast(r, "amount")
	if !ok || amount < 0 {
		return l, false
	}
	// |price × qty − amount/100| ≤ (2·tol + 1)/200, with S = the scale of
	// the product, multiplied by 200·10^S:
	// |200·price·qty − 2·amount·10^S| ≤ (2·tol + 1)·10^S.
	scale := price.scale + qty.scale
	if scale > maxScale {
		return l, false
	}
	p, ok := mul(price.m, qty.m)
	if !ok {
		return l, false
	}
	lhs, ok := mul(int64(p), 200)
	if !ok {
		return l, false
	}
	rhs, ok := mul(int64(amount), 2*pow10[scale])
	if !ok {
		return l, false
	}
	limit, ok := mul(int64(2*tol+1), pow10[scale])
	if !ok {
		return l, false
	}
	off := int64(lhs) - int64(rhs) // both ≥ 0: no overflow
	if off < 0 {
		off = -off
	}
	if off > int64(limit) {
		return l, false
	}
	l = line{serial: str(r, "detail_no"), amount: amount}
	if !split {
		return l, true
	}
	if l.fund, ok = moneyFast(r, "fund_pay"); !ok {
		return l, false
	}
	if l.self, ok = moneyFast(r, "self_pay"); !ok {
		return l, false
	}
	// fund + self = amount, written so that it cannot overflow.
	if l.fund < 0 || l.self < 0 || l.fund > l.amount || l.self != l.amount-l.fund {
		return l, false
	}
	return l, true
}

// decimalField reads a number field as a plain decimal.
func decimalField(r map[string]any, k string) (decimal, bool) {
	t, ok := num(r, k)
	if !ok {
		return decimal{}, false
	}
	return parseDecimal(t)
}

// moneyFast is moneyField in int64: a missing field is 0.
func moneyFast(r map[string]any, k string) (Money, bool) {
	t, ok := num(r, k)
	if !ok {
		return 0, true
	}
	return parseMoneyFast(t)
}
