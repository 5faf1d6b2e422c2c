package card

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestCheckDigitVectors(t *testing.T) {
	t.Parallel()
	testCases := map[string]struct {
		algo    func(string) (byte, bool)
		payload string
		want    byte
	}{
		// The example resident ID number of GB 11643.
		"mod11-2 resident ID": {algo: mod11_2, payload: "11010519491231002", want: 'X'},
		// ORCID iDs use ISO 7064 MOD 11-2.
		"mod11-2 ORCID 0097": {algo: mod11_2, payload: "000000021825009", want: '7'},
		"mod11-2 ORCID 233X": {algo: mod11_2, payload: "000000021694233", want: 'X'},
		"mod11-2 ISO 079":    {algo: mod11_2, payload: "079", want: 'X'},
		"mod11-2 ISO 0794":   {algo: mod11_2, payload: "0794", want: '0'},
		"mod11-2 empty":      {algo: mod11_2, payload: "", want: '1'},
		"luhn wikipedia":     {algo: luhn, payload: "7992739871", want: '3'},
		"luhn visa test":     {algo: luhn, payload: "411111111111111", want: '1'},
		"luhn zeros":         {algo: luhn, payload: "0000", want: '0'},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, ok := tc.algo(tc.payload)
			if !ok {
				t.Fatalf("rejected %q", tc.payload)
			}
			if diff := cmp.Diff(string(tc.want), string(got)); diff != "" {
				t.Errorf("check char (-want +got):\n%s", diff)
			}
		})
	}
	for _, algo := range []func(string) (byte, bool){mod11_2, luhn} {
		if _, ok := algo("12a"); ok {
			t.Error("non-digit payload accepted")
		}
	}
}

func validRule() NumberRule {
	return NumberRule{Prefix: "8801", Width: 10, CheckDigit: CheckMod11_2, TempPrefixes: []string{"99", "8802"}}
}

func TestNumberRuleValidate(t *testing.T) {
	t.Parallel()
	testCases := map[string]struct {
		rule NumberRule
		want []string // one substring per problem; nil means valid
	}{
		"valid":      {rule: validRule()},
		"valid luhn": {rule: NumberRule{Prefix: "7", Width: 8, CheckDigit: CheckLuhn}},
		"max length": {rule: NumberRule{Prefix: "12345", Width: 10, CheckDigit: CheckLuhn}},
		"temp is a prefix of card prefix": {
			rule: NumberRule{Prefix: "8801", Width: 8, CheckDigit: CheckLuhn, TempPrefixes: []string{"88"}},
			want: []string{`prefix "8801" overlaps temporary-card prefix "88" (tempPrefixes[0])`},
		},
		"card prefix is a prefix of temp": {
			rule: NumberRule{Prefix: "88", Width: 8, CheckDigit: CheckLuhn, TempPrefixes: []string{"8801"}},
			want: []string{`prefix "88" overlaps temporary-card prefix "8801"`},
		},
		"equal prefixes": {
			rule: NumberRule{Prefix: "88", Width: 8, CheckDigit: CheckLuhn, TempPrefixes: []string{"77", "88"}},
			want: []string{`overlaps temporary-card prefix "88" (tempPrefixes[1])`},
		},
		"every problem listed": {
			rule: NumberRule{Prefix: "A1", Width: 0, CheckDigit: "crc", TempPrefixes: []string{"", "9", "9", "123456789"}},
			want: []string{
				`prefix "A1" must be 1–8 digits`,
				"width 0 must be at least 1",
				`check "crc" is not supported`,
				`tempPrefixes[0] "" must be 1–8 digits`,
				`tempPrefixes[2] "9" is listed twice`,
				`tempPrefixes[3] "123456789" must be 1–8 digits`,
			},
		},
		"too long": {
			rule: NumberRule{Prefix: "8801", Width: 12, CheckDigit: CheckLuhn},
			want: []string{"numbers would be 17 characters"},
		},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			err := tc.rule.Validate()
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Validate = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidRule) {
				t.Fatalf("Validate = %v, want ErrInvalidRule", err)
			}
			if got := strings.Count(err.Error(), "\n") + 1; got != len(tc.want) {
				t.Errorf("got %d problems, want %d:\n%v", got, len(tc.want), err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not mention %q:\n%v", w, err)
				}
			}
		})
	}
}

func TestNumberRuleFormat(t *testing.T) {
	t.Parallel()
	testCases := map[string]struct {
		rule    NumberRule
		seq     int64
		want    string
		wantErr error
	}{
		"first":         {rule: validRule(), seq: 1, want: "880100000000013"},
		"ends in X":     {rule: validRule(), seq: 3, want: "88010000000003X"},
		"zero":          {rule: validRule(), seq: 0, want: "880100000000005"},
		"largest":       {rule: validRule(), seq: 9999999999, want: "880199999999995"},
		"overflow":      {rule: validRule(), seq: 10000000000, wantErr: ErrSequenceExhausted},
		"luhn":          {rule: NumberRule{Prefix: "7", Width: 9, CheckDigit: CheckLuhn}, seq: 992739871, want: "79927398713"},
		"luhn overflow": {rule: NumberRule{Prefix: "7", Width: 2, CheckDigit: CheckLuhn}, seq: 100, wantErr: ErrSequenceExhausted},
		"invalid rule":  {rule: NumberRule{Prefix: "7", Width: 2, CheckDigit: "x"}, seq: 1, wantErr: ErrInvalidRule},
		"negative":      {rule: validRule(), seq: -1},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, err := tc.rule.Format(tc.seq)
			if tc.want == "" {
				if err == nil || (tc.wantErr != nil && !errors.Is(err, tc.wantErr)) {
					t.Fatalf("Format = %q, %v; want error %v", got, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Format: %v", err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if err := tc.rule.Check(got); err != nil {
				t.Errorf("Check(Format(%d)) = %v", tc.seq, err)
			}
			if seq, err := tc.rule.Sequence(got); err != nil || seq != tc.seq {
				t.Errorf("Sequence(%q) = %d, %v; want %d", got, seq, err, tc.seq)
			}
		})
	}
}

func TestNumberRuleCheck(t *testing.T) {
	t.Parallel()
	luhnRule := NumberRule{Prefix: "7", Width: 9, CheckDigit: CheckLuhn, TempPrefixes: []string{"9"}}
	testCases := map[string]struct {
		rule    NumberRule
		number  string
		wantErr error
		wantMsg string
	}{
		"valid":              {rule: validRule(), number: "88010000000003X"},
		"temporary number":   {rule: validRule(), number: "99000000000001X", wantErr: ErrWrongPrefix, wantMsg: "temporary-card number"},
		"temporary 8802":     {rule: validRule(), number: "8802000001", wantErr: ErrWrongPrefix, wantMsg: `prefix "8802"`},
		"other prefix":       {rule: validRule(), number: "77010000000001X", wantErr: ErrWrongPrefix, wantMsg: `must start with "8801"`},
		"empty":              {rule: validRule(), number: "", wantErr: ErrWrongPrefix},
		"too short":          {rule: validRule(), number: "8801000000001X", wantErr: ErrWrongLength, wantMsg: "want 15"},
		"too long":           {rule: validRule(), number: "880100000000001X", wantErr: ErrWrongLength},
		"letter inside":      {rule: validRule(), number: "88010000A00001X", wantErr: ErrBadCharacter},
		"lower x":            {rule: validRule(), number: "88010000000003x", wantErr: ErrBadCharacter, wantMsg: "uppercase X"},
		"wrong check":        {rule: validRule(), number: "880100000000031", wantErr: ErrBadCheckDigit, wantMsg: "mistyped"},
		"luhn valid":         {rule: luhnRule, number: "79927398713"},
		"luhn X not allowed": {rule: luhnRule, number: "7992739871X", wantErr: ErrBadCharacter},
		"luhn wrong check":   {rule: luhnRule, number: "79927398710", wantErr: ErrBadCheckDigit},
		"luhn adjacent swap": {rule: luhnRule, number: "79927398173", wantErr: ErrBadCheckDigit},
		"invalid rule":       {rule: NumberRule{}, number: "1", wantErr: ErrInvalidRule},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			err := tc.rule.Check(tc.number)
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
				t.Fatalf("Check(%q) = %v, want %v", tc.number, err, tc.wantErr)
			}
			if err != nil && !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("error %q does not contain %q", err, tc.wantMsg)
			}
		})
	}
}

// TestSingleDigitErrors replaces every character of valid numbers with every
// other digit (and X) and requires Check to reject each one.
func TestSingleDigitErrors(t *testing.T) {
	t.Parallel()
	testCases := map[string]struct {
		rule NumberRule
		seqs []int64
	}{
		"mod11-2": {rule: validRule(), seqs: []int64{0, 1, 2, 9, 12345, 9876543210, 9999999999}},
		"luhn":    {rule: NumberRule{Prefix: "66", Width: 8, CheckDigit: CheckLuhn}, seqs: []int64{0, 1, 90, 9927398, 99999999}},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			// Add every sequence whose number ends in X (mod11-2) or 0.
			seqs := append([]int64(nil), tc.seqs...)
			for s := int64(0); s < 200; s++ {
				seqs = append(seqs, s)
			}
			for _, seq := range seqs {
				num, err := tc.rule.Format(seq)
				if err != nil {
					t.Fatal(err)
				}
				for i := range len(num) {
					for _, c := range "0123456789X" {
						if byte(c) == num[i] {
							continue
						}
						bad := num[:i] + string(c) + num[i+1:]
						if err := tc.rule.Check(bad); err == nil {
							t.Errorf("Check(%q) accepted a single-character error in %q", bad, num)
						}
					}
				}
			}
		})
	}
	// Every single-digit error in the resident ID check digit is caught too.
	const id = "11010519491231002X"
	for i := range 17 {
		for c := byte('0'); c <= '9'; c++ {
			if c != id[i] && isResidentIDShape(id[:i]+string(c)+id[i+1:]) {
				t.Errorf("resident ID check missed %c at %d", c, i)
			}
		}
	}
}

func TestIsTemporary(t *testing.T) {
	t.Parallel()
	testCases := map[string]struct {
		number string
		want   bool
	}{
		"temp 99":   {number: "990001", want: true},
		"temp 8802": {number: "88020001", want: true},
		"card":      {number: "88010000000003X", want: false},
		"short":     {number: "9", want: false},
		"empty":     {number: "", want: false},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tc.want, validRule().IsTemporary(tc.number)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
