package code

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParse(t *testing.T) {
	t.Parallel()
	drugOnly := Policy{Consumables: ConsumablesNone}
	gs1 := Policy{Consumables: ConsumablesGS1}
	anyCode := Policy{Consumables: ConsumablesAny}
	testCases := map[string]struct {
		in     string
		policy Policy
		want   Code
		err    error
	}{
		"drug":                     {"81234560000000011234", drugOnly, Code{"81234560000000011234", KindDrug}, nil},
		"drug trimmed":             {"  81234560000000011234\r\n", drugOnly, Code{"81234560000000011234", KindDrug}, nil},
		"empty":                    {"", drugOnly, Code{}, ErrEmpty},
		"blank":                    {" \t", drugOnly, Code{}, ErrEmpty},
		"20 digits not 8":          {"61234560000000011234", anyCode, Code{}, ErrFormat},
		"19 digits with 8":         {"8123456000000001123", drugOnly, Code{}, ErrFormat},
		"21 digits with 8":         {"812345600000000112345", anyCode, Code{}, ErrFormat},
		"ean13 drug only":          {"6901234567892", drugOnly, Code{}, ErrFormat},
		"ean13 any":                {"6901234567892", anyCode, Code{"6901234567892", KindOther}, nil},
		"letters in drug code":     {"8123456000000001123A", drugOnly, Code{}, ErrFormat},
		"inner space":              {"8123456 0000000011234", drugOnly, Code{}, ErrFormat},
		"control char":             {"81234560000000011234\x1d", anyCode, Code{}, ErrFormat},
		"too long":                 {"(01)06901234567892(21)" + string(make([]byte, 90)), anyCode, Code{}, ErrFormat},
		"gs1 accepted":             {"(01)06901234567892(17)271231(10)A1(21)0001", gs1, Code{"(01)06901234567892(17)271231(10)A1(21)0001", KindGS1}, nil},
		"gs1 drug only":            {"(01)06901234567892(21)0001", drugOnly, Code{}, ErrNotAccepted},
		"gs1 bad check digit":      {"(01)06901234567893(21)0001", gs1, Code{}, ErrFormat},
		"gs1 without gtin":         {"(21)0001(10)A1", gs1, Code{}, ErrFormat},
		"gs1 unknown ai":           {"(01)06901234567892(99)x", gs1, Code{}, ErrFormat},
		"gs1 short gtin":           {"(01)0690123456789", gs1, Code{}, ErrFormat},
		"gs1 twice":                {"(01)06901234567892(01)06901234567892", gs1, Code{}, ErrFormat},
		"gs1 unclosed":             {"(01", gs1, Code{}, ErrFormat},
		"gs1 empty value":          {"(01)06901234567892(21)", gs1, Code{}, ErrFormat},
		"udi any":                  {"+H123PQR45678/$$0912345", anyCode, Code{"+H123PQR45678/$$0912345", KindOther}, nil},
		"udi gs1 policy":           {"+H123PQR45678/$$0912345", gs1, Code{}, ErrFormat},
		"list separator":           {"A1,B2", anyCode, Code{}, ErrFormat},
		"non-ascii":                {"８1234560000000011234", anyCode, Code{}, ErrFormat},
		"other digits not 8 short": {"12345", anyCode, Code{"12345", KindOther}, nil},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, err := Parse(tc.in, tc.policy)
			if !errors.Is(err, tc.err) {
				t.Fatalf("Parse(%q) error = %v, want %v", tc.in, err, tc.err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Parse(%q) (-want +got):\n%s", tc.in, diff)
			}
			if err != nil && err.Error() == tc.err.Error() {
				t.Errorf("error %q does not say why or how to fix it", err)
			}
		})
	}
}

func TestProduct(t *testing.T) {
	t.Parallel()
	c, err := Parse("81234560000000011234", Policy{})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Product(); got != "8123456" {
		t.Errorf("Product() = %q, want 8123456", got)
	}
	if got := (Code{Value: "(01)06901234567892", Kind: KindGS1}).Product(); got != "" {
		t.Errorf("GS1 Product() = %q, want empty", got)
	}
}

func TestParseConsumables(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{"none", "gs1", "any"} {
		if _, err := ParseConsumables(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	if _, err := ParseConsumables("udi"); err == nil {
		t.Error("udi accepted")
	}
}

func TestRatio(t *testing.T) {
	t.Parallel()
	testCases := map[string]struct {
		in    string
		mode  RatioMode
		want  []int // smallest units per display level 1..n
		error bool
	}{
		"cumulative three levels": {"1:5:50", RatioCumulative, []int{50, 10, 1}, false},
		"per-level three levels":  {"1:5:10", RatioPerLevel, []int{50, 10, 1}, false},
		"full-width colon":        {"1：4：40", RatioCumulative, []int{40, 10, 1}, false},
		"two levels":              {"1:20", RatioCumulative, []int{20, 1}, false},
		"single level":            {"1", RatioPerLevel, []int{1}, false},
		"spaces":                  {" 1 : 10 ", RatioPerLevel, []int{10, 1}, false},
		"cumulative uneven":       {"1:3:10", RatioCumulative, nil, true},
		"not starting with 1":     {"2:10", RatioCumulative, nil, true},
		"zero":                    {"1:0", RatioPerLevel, nil, true},
		"negative":                {"1:-5", RatioPerLevel, nil, true},
		"empty":                   {"", RatioPerLevel, nil, true},
		"text":                    {"1:five", RatioPerLevel, nil, true},
		"overflow":                {"1:1000000:1000000", RatioPerLevel, nil, true},
		"unknown mode":            {"1:5", RatioMode("sideways"), nil, true},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r, err := ParseRatio(tc.in, tc.mode)
			if tc.error {
				if err == nil {
					t.Fatalf("ParseRatio(%q) accepted: %v", tc.in, r)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []int
			for l := 1; l <= r.Levels(); l++ {
				n, err := r.SmallestPer(l)
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, n)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("smallest per level (-want +got):\n%s", diff)
			}
			if _, err := r.SmallestPer(r.Levels() + 1); err == nil {
				t.Error("a level below the smallest was accepted")
			}
		})
	}
}

func TestExpand(t *testing.T) {
	t.Parallel()
	// A case of 2 middles × 3 smalls, ratio 1:2:6 (cumulative).
	full := []Node{
		{Code: "C1", DisplayLevel: 1, Ratio: "1:2:6", BoxStatus: "0"},
		{Code: "M1", Parent: "C1", DisplayLevel: 2},
		{Code: "M2", Parent: "C1", DisplayLevel: 2},
		{Code: "S1", Parent: "M1", Smallest: true},
		{Code: "S2", Parent: "M1", Smallest: true},
		{Code: "S3", Parent: "M1", Smallest: true},
		{Code: "S4", Parent: "M2", PackLevel: 1},
		{Code: "S5", Parent: "M2", PackLevel: 1},
		{Code: "S6", Parent: "M2", PackLevel: 1},
	}
	testCases := map[string]struct {
		nodes         []Node
		mode          RatioMode
		wantSmallest  []string
		wantTops      []Count
		wantMismatch  int
		problemSubstr string
	}{
		"full case": {
			nodes: full, mode: RatioCumulative,
			wantSmallest: []string{"S1", "S2", "S3", "S4", "S5", "S6"},
			wantTops:     []Count{{Code: "C1", Level: 1, PackRatio: "1:2:6", Expected: 6, Smallest: 6, BoxStatus: "0"}},
		},
		"partial case": {
			nodes: append(append([]Node{}, full[:8]...), Node{Code: "C1x"}), mode: RatioCumulative,
			wantSmallest: []string{"S1", "S2", "S3", "S4", "S5", "C1x"},
			wantMismatch: 1, problemSubstr: "found 5 smallest unit(s)",
		},
		"per-level reading of the same ratio": {
			nodes: full, mode: RatioPerLevel,
			wantSmallest: []string{"S1", "S2", "S3", "S4", "S5", "S6"},
			wantMismatch: 1, problemSubstr: "holds 12",
		},
		"pack level instead of display level": {
			nodes: []Node{
				{Code: "M", PackLevel: 2, Ratio: "1:4"},
				{Code: "a", Parent: "M", Smallest: true}, {Code: "b", Parent: "M", Smallest: true},
				{Code: "c", Parent: "M", Smallest: true}, {Code: "d", Parent: "M", Smallest: true},
			},
			mode:         RatioCumulative,
			wantSmallest: []string{"a", "b", "c", "d"},
			wantTops:     []Count{{Code: "M", Level: 1, PackRatio: "1:4", Expected: 4, Smallest: 4}},
		},
		"loose smallest unit": {
			nodes:        []Node{{Code: "S", Smallest: true, Ratio: "1:10", DisplayLevel: 2}},
			mode:         RatioCumulative,
			wantSmallest: []string{"S"},
			wantTops:     []Count{{Code: "S", Level: 2, PackRatio: "1:10", Expected: 1, Smallest: 1}},
		},
		// A package whose own level says it is not the smallest, listed
		// without its contents, is not a smallest unit: the expansion is
		// short, and the case's count says so.
		"pack without its units": {
			nodes: full[:6], mode: RatioCumulative,
			wantSmallest: []string{"S1", "S2", "S3"},
			wantMismatch: 1, problemSubstr: "found 3 smallest unit(s)",
		},
		"case without its contents": {
			nodes: []Node{{Code: "C", DisplayLevel: 1, PackLevel: 3, Ratio: "1:5:50"}},
			mode:  RatioCumulative, wantMismatch: 1, problemSubstr: "found 0 smallest unit(s)",
		},
		"case without contents or ratio": {
			nodes: []Node{{Code: "C", DisplayLevel: 1, PackLevel: 3}},
			mode:  RatioCumulative, wantMismatch: 1, problemSubstr: "no smallest unit",
		},
		// A platform that answers a top code with itself as its parent: the
		// case is a top code, its units under it. Before, the case was
		// taken for a code under another in the list (itself), never a
		// top, so neither it nor any unit under it was reached: every
		// smallest sub-code of the case was lost.
		"top code answered as its own parent": {
			nodes: []Node{
				{Code: "C", Parent: "C", DisplayLevel: 1, Ratio: "1:2"},
				{Code: "a", Parent: "C", Smallest: true}, {Code: "b", Parent: "C", Smallest: true},
			},
			mode:         RatioCumulative,
			wantSmallest: []string{"a", "b"},
			wantTops:     []Count{{Code: "C", Level: 1, PackRatio: "1:2", Expected: 2, Smallest: 2}},
		},
		"cycle": {
			nodes: []Node{{Code: "A", Parent: "B"}, {Code: "B", Parent: "A"}},
			mode:  RatioCumulative, wantMismatch: 1, problemSubstr: "loop",
		},
		"duplicates": {
			nodes: []Node{{Code: "A", Smallest: true}, {Code: "A", Smallest: true}},
			mode:  RatioCumulative, wantSmallest: []string{"A"}, wantMismatch: 1, problemSubstr: "more than once",
		},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ex := Expand(tc.nodes, tc.mode)
			if diff := cmp.Diff(tc.wantSmallest, ex.Smallest); diff != "" {
				t.Errorf("smallest (-want +got):\n%s", diff)
			}
			if tc.wantTops != nil {
				if diff := cmp.Diff(tc.wantTops, ex.Tops); diff != "" {
					t.Errorf("tops (-want +got):\n%s", diff)
				}
			}
			if len(ex.Mismatches) != tc.wantMismatch {
				t.Fatalf("mismatches = %+v, want %d", ex.Mismatches, tc.wantMismatch)
			}
			if tc.problemSubstr != "" && !containsProblem(ex.Mismatches, tc.problemSubstr) {
				t.Errorf("no mismatch mentions %q: %+v", tc.problemSubstr, ex.Mismatches)
			}
		})
	}
}

func containsProblem(cs []Count, sub string) bool {
	for _, c := range cs {
		if len(c.Problem) >= len(sub) && contains(c.Problem, sub) {
			return true
		}
	}
	return false
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}
