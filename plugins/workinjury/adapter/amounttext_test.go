package adapter

import (
	"encoding/json"
	"math/big"
	"regexp"
	"strings"
	"testing"
)

// An amount of a downloaded record is read as the decimal it is, however
// the JSON writes it: the download's schema takes a JSON number with an
// exponent (1.205e2 is 120.50) or trailing zeros as that value, so the
// deduction rules must count it so. Before, a downloaded deduction
// (GYD004) of 1.205e2 was recorded as 0.00: it counted nothing towards
// its settlement's limit (rule deduction≤fund-paid) and went into the
// institution's month (GYU003) as 0.00.
func TestDownloadedDeductionAmountIsExact(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		amount any
		want   string
	}{
		"text":                     {amount: "120.50", want: "120.50"},
		"number":                   {amount: json.Number("120.5"), want: "120.50"},
		"number with trailing 0s":  {amount: json.Number("120.5000"), want: "120.50"},
		"exponent":                 {amount: json.Number("1.205e2"), want: "120.50"},
		"upper-case exponent":      {amount: json.Number("12050E-2"), want: "120.50"},
		"exponent with plus sign":  {amount: json.Number("1.205E+2"), want: "120.50"},
		"whole number as exponent": {amount: json.Number("1e2"), want: "100.00"},
		"beyond float64's digits":  {amount: json.Number("12345678901234.56"), want: "12345678901234.56"},
		"negative zero":            {amount: json.Number("-0.00"), want: "0.00"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			a := New(WithLogger(discardLogger()))
			h := hostFor(newHostForTest(), testSite)
			rec := map[string]any{"deduct_no": "KN0001", "settle_no": "JS0001", "akb020": hospital, "deduct_amount": tc.amount,
				"deduct_time": "2025-05-12 10:00:00"}
			if err := a.deductionDownloaded(t.Context(), h, rec); err != nil {
				t.Fatal(err)
			}
			var dl dlDeduction
			if _, err := getJSON(t.Context(), h, "dldeduct/KN0001", &dl); err != nil {
				t.Fatal(err)
			}
			if dl.Amount != tc.want {
				t.Fatalf("deduct_amount %v recorded as %q, want %q", tc.amount, dl.Amount, tc.want)
			}
		})
	}
}

// dec reads exactly the decimals the schema lets through (a JSON number,
// with or without exponent, or a string -?digits[.digits]) and nothing
// else: big.Rat's own syntax (a leading +, base prefixes 0x 0b 0o, binary
// exponents p, underscores, fractions a/b) is not a decimal of any field.
func TestDecReadsPlainDecimalsOnly(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		v    any
		want string // "" when refused
	}{
		"string":                {v: "0.10", want: "1/10"},
		"negative string":       {v: "-12.50", want: "-25/2"},
		"string, spaces around": {v: " 12 ", want: "12"},
		"number":                {v: json.Number("0.333"), want: "333/1000"},
		"number with exponent":  {v: json.Number("3.33e-1"), want: "333/1000"},
		"number, huge exponent": {v: json.Number("1e999999999")},
		"plus sign":             {v: "+1.00"},
		"hexadecimal":           {v: "0x10"},
		"binary":                {v: "0b101"},
		"octal prefix":          {v: "0o17"},
		"binary exponent":       {v: "1p3"},
		"underscore":            {v: "1_000"},
		"fraction":              {v: "1/3"},
		"thousands separator":   {v: "1,000.00"},
		"full-width digits":     {v: "１００"},
		"leading point":         {v: ".5"},
		"trailing point":        {v: "5."},
		"empty":                 {v: ""},
		"float64":               {v: 0.1},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r, ok := dec(map[string]any{"x": tc.v}, "x")
			switch {
			case tc.want == "" && ok:
				t.Fatalf("dec(%#v) = %s, want refused", tc.v, r.RatString())
			case tc.want != "" && !ok:
				t.Fatalf("dec(%#v) refused, want %s", tc.v, tc.want)
			case tc.want != "":
				want, _ := new(big.Rat).SetString(tc.want)
				if r.Cmp(want) != 0 {
					t.Fatalf("dec(%#v) = %s, want %s", tc.v, r.RatString(), tc.want)
				}
			}
		})
	}
}

// plainDecimalRE is the text dec takes from a string field.
var plainDecimalRE = regexp.MustCompile(`^-?[0-9]+(\.[0-9]+)?$`)

// refDecimal is an independent exact reading of a plain decimal (digits
// into a big.Int over a power of ten).
func refDecimal(s string) *big.Rat {
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	ip, fp, _ := strings.Cut(s, ".")
	n, _ := new(big.Int).SetString(ip+fp, 10)
	if neg {
		n.Neg(n)
	}
	d := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(len(fp))), nil)
	return new(big.Rat).SetFrac(n, d)
}

// FuzzDec: dec takes a string field exactly when it is a plain decimal
// (blanks around it aside), and reads it as refDecimal does; money writes
// it back exactly.
func FuzzDec(f *testing.F) {
	for _, s := range []string{"0.01", "-0.00", "12", "+1", "0x10", "1e2", "1_000", ".5", "5.", " 7.25 ", "１００", "1,000.00", "9999999999999999999999.999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, ok := dec(map[string]any{"x": s}, "x")
		text := strings.TrimSpace(s)
		if want := plainDecimalRE.MatchString(text); ok != want {
			t.Fatalf("dec(%q) ok = %v, want %v", s, ok, want)
		}
		if !ok {
			return
		}
		if want := refDecimal(text); r.Cmp(want) != 0 {
			t.Fatalf("dec(%q) = %s, want %s", s, r.RatString(), want.RatString())
		}
		if back, ok := parseDec(money(r)); !ok || back.Cmp(r) != 0 {
			t.Fatalf("money(dec(%q)) = %q does not read back as the same value", s, money(r))
		}
	})
}
