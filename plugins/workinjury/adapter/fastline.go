package adapter

import (
	"encoding/json"
	"math"
	"math/big"
	"strings"
)

// fixed is an exact decimal m / 10^s, for the common path of the line
// checks: amounts and quantities that fit an int64 once scaled.
type fixed struct {
	m int64
	s int
}

// parseFixed reads -?[0-9]+(\.[0-9]{1,9})? with at most 18 digits; for
// anything else it returns false (and the caller uses big.Rat).
func parseFixed(t string) (fixed, bool) {
	var f fixed
	neg := strings.HasPrefix(t, "-")
	if neg {
		t = t[1:]
	}
	intPart, frac, hasDot := strings.Cut(t, ".")
	if intPart == "" || (hasDot && (frac == "" || len(frac) > 9)) || len(intPart)+len(frac) > 18 {
		return f, false
	}
	for _, part := range [2]string{intPart, frac} {
		for i := 0; i < len(part); i++ {
			c := part[i]
			if c < '0' || c > '9' {
				return f, false
			}
			f.m = f.m*10 + int64(c-'0')
		}
	}
	f.s = len(frac)
	if neg {
		f.m = -f.m
	}
	return f, true
}

// at returns f.m scaled to s decimals (s ≥ f.s), or false on overflow.
func (f fixed) at(s int) (int64, bool) {
	m := f.m
	for range s - f.s {
		if m > math.MaxInt64/10 || m < math.MinInt64/10 {
			return 0, false
		}
		m *= 10
	}
	return m, true
}

// fixedOfRat returns r as a fixed when it is one (its denominator divides
// 10^9; 0.005 is 1/200).
func fixedOfRat(r *big.Rat) (fixed, bool) {
	if r == nil || !r.Num().IsInt64() || !r.Denom().IsInt64() {
		return fixed{}, false
	}
	n, d := r.Num().Int64(), r.Denom().Int64()
	for s, p := 0, int64(1); s <= 9; s, p = s+1, p*10 {
		if p%d == 0 {
			k := p / d
			if n > math.MaxInt64/k || n < math.MinInt64/k {
				return fixed{}, false
			}
			return fixed{m: n * k, s: s}, true
		}
	}
	return fixed{}, false
}

// decText is the text dec parses for field k.
func decText(doc map[string]any, k string) string {
	switch v := doc[k].(type) {
	case json.Number:
		return v.String()
	case string:
		return strings.TrimSpace(v)
	}
	return ""
}

// lineFits reports whether a priced line with fund and self parts passes
// every check of lineCheck (withSplit), decided with int64 arithmetic.
// False means "not decided here": lineCheck decides, with big.Rat, and
// reports what fails. tol is the site's tolerance as a fixed.
func lineFits(line map[string]any, tol fixed) bool {
	var v [5]fixed
	for i, k := range [5]string{"qty", "price", "amount", "fund_pay", "self_pay"} {
		f, ok := parseFixed(decText(line, k))
		if !ok {
			return false
		}
		v[i] = f
	}
	qty, price, amount, fund, self := v[0], v[1], v[2], v[3], v[4]
	if qty.m <= 0 || price.m < 0 || amount.m < 0 || fund.m < 0 || self.m < 0 || tol.m < 0 {
		return false
	}
	if price.m != 0 && qty.m > math.MaxInt64/price.m {
		return false
	}
	prod := fixed{m: price.m * qty.m, s: price.s + qty.s}
	s := max(prod.s, amount.s, fund.s, self.s, tol.s)
	var x [5]int64
	for i, f := range [5]fixed{prod, amount, fund, self, tol} {
		m, ok := f.at(s)
		if !ok {
			return false
		}
		x[i] = m
	}
	p, a, fu, se, t := x[0], x[1], x[2], x[3], x[4]
	diff := p - a // both ≥ 0: no overflow
	if diff < 0 {
		diff = -diff
	}
	if diff > t {
		return false
	}
	return fu <= math.MaxInt64-se && fu+se == a
}
