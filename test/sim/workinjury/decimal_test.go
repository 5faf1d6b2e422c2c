package workinjury

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// FuzzParseMoney: whenever the int64 path answers, big.Rat gives the same
// amount.
//
//	go test ./test/sim/workinjury -run '^$' -fuzz FuzzParseMoney -fuzztime 30s
func FuzzParseMoney(f *testing.F) {
	for _, s := range []string{"12", "12.3", "-0.05", "0.1000000001", "20.000", "20.001", "-0", "007.10",
		"999999999999999999", "99999999999999999.99", "92233720368547758.07", "92233720368547758.08",
		"1e2", "1.", ".5", "+1", " 1", "0x10", "1/2", "", "-", "--1", "1.2.3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		fast, ok := parseMoneyFast(s)
		slow, err := parseMoneyRat(s)
		if ok && (err != nil || slow != fast) {
			t.Fatalf("%q: int64 path %d, big.Rat %d, %v", s, fast, slow, err)
		}
		got, gerr := ParseMoney(s)
		if got != slow || (gerr == nil) != (err == nil) {
			t.Fatalf("%q: ParseMoney %d, %v; big.Rat %d, %v", s, got, gerr, slow, err)
		}
	})
}

// FuzzLineCheck: whenever the int64 line check passes a line, checkLine
// (big.Rat) passes it too, with the same amounts.
//
//	go test ./test/sim/workinjury -run '^$' -fuzz FuzzLineCheck -fuzztime 30s
func FuzzLineCheck(f *testing.F) {
	f.Add("10.00", "2", "20.00", "15.00", "5.00", uint16(0), true)
	f.Add("0.125", "1", "0.13", "0.13", "0", uint16(0), true)
	f.Add("0.125", "1", "0.12", "0.12", "0", uint16(0), true)
	f.Add("0.1251", "1", "0.12", "0.12", "0", uint16(0), true)
	f.Add("3.333333", "3", "10.00", "10.00", "0", uint16(0), true)
	f.Add("10.00", "2", "20.03", "20.03", "0", uint16(3), false)
	f.Add("92233720368.54775807", "100000000", "9223372036854775807", "0", "9223372036854775807", uint16(0), true)
	f.Add("-0", "1", "0", "0", "0", uint16(0), true)
	f.Fuzz(func(t *testing.T, price, qty, amount, fund, self string, tol uint16, split bool) {
		r := map[string]any{"detail_no": "D1"}
		for k, v := range map[string]string{"price": price, "qty": qty, "amount": amount, "fund_pay": fund, "self_pay": self} {
			if v != "" {
				r[k] = json.Number(v)
			}
		}
		checkAgree(t, r, split, Money(tol))
	})
}

// checkAgree fails when fastLine passes a line that checkLine does not,
// or with other amounts.
func checkAgree(t *testing.T, r map[string]any, split bool, tol Money) (fast bool) {
	t.Helper()
	fl, ok := fastLine(r, split, tol)
	sl, be := checkLine("line", r, split, tol)
	if ok && (be != nil || fl != sl) {
		t.Fatalf("line %v (split %v, tol %d): int64 path passes it as %+v, big.Rat says %+v, %v", r, split, tol, fl, sl, be)
	}
	return ok
}

// TestFastLineAgrees generates lines around the limits (amounts a fen or
// less off the rounded product, scales 0–6, split or not) and checks
// both ways: what the int64 path passes, big.Rat passes; and every line of
// this size that big.Rat passes, the int64 path passes too, so that the
// fast path is the one taken in practice.
func TestFastLineAgrees(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	dec := func(m int64, scale int) string {
		neg := m < 0
		if neg {
			m = -m
		}
		s := fmt.Sprint(m)
		if scale > 0 {
			for len(s) <= scale {
				s = "0" + s
			}
			s = s[:len(s)-scale] + "." + s[len(s)-scale:]
		}
		if neg {
			s = "-" + s
		}
		return s
	}
	passed, fast := 0, 0
	for range 20000 {
		ps, qs := rng.IntN(7), rng.IntN(4)
		pm, qm := rng.Int64N(2_000_000)-100, rng.Int64N(5000)-2
		tol := Money(rng.IntN(3))
		// The product in fen, rounded down, then moved by −2 … +2 fen.
		prodFen := pm * qm * 100 / pow10[ps+qs]
		amt := prodFen + rng.Int64N(5) - 2
		fund := rng.Int64N(max(amt, 0) + 1)
		self := amt - fund
		if rng.IntN(8) == 0 {
			self += rng.Int64N(3) - 1
		}
		r := map[string]any{"detail_no": "D1", "price": json.Number(dec(pm, ps)), "qty": json.Number(dec(qm, qs)),
			"amount": json.Number(dec(amt, 2)), "fund_pay": json.Number(dec(fund, 2)), "self_pay": json.Number(dec(self, 2))}
		split := rng.IntN(4) != 0
		ok := checkAgree(t, r, split, tol)
		if _, be := checkLine("line", r, split, tol); be == nil {
			passed++
			if !ok {
				t.Fatalf("line %v (split %v, tol %d) passes big.Rat but not the int64 path", r, split, tol)
			}
		}
		if ok {
			fast++
		}
	}
	if passed < 5000 {
		t.Fatalf("only %d of 20000 generated lines passed: the generator misses the interesting cases", passed)
	}
	t.Logf("%d lines passed, all by the int64 path (%d)", passed, fast)
}

// TestParseDecimal: the forms the int64 path takes, and those it leaves
// to big.Rat.
func TestParseDecimal(t *testing.T) {
	t.Parallel()
	for s, want := range map[string]decimal{"0": {0, 0}, "-0": {0, 0}, "12.05": {1205, 2}, "-3.1": {-31, 1}, "007": {7, 0},
		"999999999999999999": {999999999999999999, 0}, "0.00000000000000001": {1, 17}} {
		if got, ok := parseDecimal(s); !ok || got != want {
			t.Errorf("parseDecimal(%q) = %+v, %v; want %+v", s, got, ok, want)
		}
	}
	for _, s := range []string{"", "-", ".5", "5.", "+5", " 5", "5 ", "1e3", "1.2.3", "1,5", "0x1", "1000000000000000000", "--1", "٣"} {
		if got, ok := parseDecimal(s); ok {
			t.Errorf("parseDecimal(%q) = %+v, want it left to big.Rat", s, got)
		}
	}
}

func TestDetailID(t *testing.T) {
	for _, n := range []int{0, 1, 9, 10, 99, 100, 999, 1000, 9999, 10000, 123456} {
		if got, want := detailID("ZY01", n), fmt.Sprintf("%s-%04d", "ZY01", n); got != want {
			t.Errorf("detailID(ZY01, %d) = %q, want %q", n, got, want)
		}
	}
}

// TestMoneyPlus: plus adds exactly and says when the sum would wrap round.
func TestMoneyPlus(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		a, b, want Money
		ok         bool
	}{
		"small":              {a: 1050, b: 25, want: 1075, ok: true},
		"negative":           {a: -5, b: -7, want: -12, ok: true},
		"up to the largest":  {a: math.MaxInt64 - 1, b: 1, want: math.MaxInt64, ok: true},
		"one past largest":   {a: math.MaxInt64, b: 1},
		"down to the least":  {a: math.MinInt64 + 1, b: -1, want: math.MinInt64, ok: true},
		"one past the least": {a: math.MinInt64, b: -1},
		"two large ones":     {a: 9_999_999_999_999_999 * 500, b: 9_999_999_999_999_999 * 500},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, ok := tc.a.plus(tc.b)
			if ok != tc.ok || (ok && got != tc.want) {
				t.Fatalf("%d.plus(%d) = %d, %v; want %d, %v", tc.a, tc.b, got, ok, tc.want, tc.ok)
			}
		})
	}
}
