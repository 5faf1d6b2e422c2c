package code

import (
	"errors"
	"strings"
	"testing"
)

// FuzzParse checks that Parse never panics, that what it accepts is
// trimmed, printable, within MaxLength and of a kind the policy allows,
// and that every rejection wraps one of the package's errors.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"81234560000000011234", " 81234560000000011234 ", "61234560000000011234",
		"(01)06901234567892(17)271231(10)A1(21)0001", "(01)", "(01)0690123456789(", "+H123PQR45678/$$0912345", "", "8"} {
		f.Add(s, uint8(0))
		f.Add(s, uint8(2))
	}
	policies := []Consumables{ConsumablesNone, ConsumablesGS1, ConsumablesAny}
	f.Fuzz(func(t *testing.T, s string, p uint8) {
		pol := Policy{Consumables: policies[int(p)%len(policies)]}
		c, err := Parse(s, pol)
		if err != nil {
			if !errors.Is(err, ErrEmpty) && !errors.Is(err, ErrFormat) && !errors.Is(err, ErrNotAccepted) {
				t.Fatalf("Parse(%q): error %v wraps no package error", s, err)
			}
			return
		}
		if c.Value != strings.TrimSpace(c.Value) || c.Value == "" || len(c.Value) > MaxLength {
			t.Fatalf("Parse(%q) accepted %q", s, c.Value)
		}
		switch c.Kind {
		case KindDrug:
			if len(c.Value) != DrugLength || c.Value[0] != '8' || !allDigits(c.Value) {
				t.Fatalf("Parse(%q) = drug %q", s, c.Value)
			}
		case KindGS1:
			if pol.Consumables == ConsumablesNone {
				t.Fatalf("policy none accepted GS1 %q", c.Value)
			}
		case KindOther:
			if pol.Consumables != ConsumablesAny {
				t.Fatalf("policy %s accepted other %q", pol.Consumables, c.Value)
			}
		default:
			t.Fatalf("unknown kind %q", c.Kind)
		}
		// Parsing the result again gives the same code.
		again, err := Parse(c.Value, pol)
		if err != nil || again != c {
			t.Fatalf("Parse(Parse(%q)) = %v, %v", s, again, err)
		}
	})
}

// FuzzParseRatio checks that accepted ratios give sensible counts.
func FuzzParseRatio(f *testing.F) {
	for _, s := range []string{"1:5:50", "1:5:10", "1", "1：4：40", "1:0", "2:4", "1:1000000:1000000", ":"} {
		f.Add(s, true)
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, s string, cumulative bool) {
		mode := RatioPerLevel
		if cumulative {
			mode = RatioCumulative
		}
		r, err := ParseRatio(s, mode)
		if err != nil {
			if !errors.Is(err, ErrRatio) {
				t.Fatalf("ParseRatio(%q): %v does not wrap ErrRatio", s, err)
			}
			return
		}
		prev := maxSmallest + 1
		for l := 1; l <= r.Levels(); l++ {
			n, err := r.SmallestPer(l)
			if err != nil || n < 1 || n > prev {
				t.Fatalf("ParseRatio(%q) level %d: %d, %v (previous %d)", s, l, n, err, prev)
			}
			prev = n
		}
		if n, _ := r.SmallestPer(r.Levels()); n != 1 {
			t.Fatalf("ParseRatio(%q): smallest level holds %d", s, n)
		}
		if again, err := ParseRatio(r.String(), mode); err != nil || again.String() != r.String() {
			t.Fatalf("round trip of %q: %v %v", s, again, err)
		}
	})
}

// FuzzExpand feeds arbitrary parent links to Expand: it must terminate,
// count every smallest code once and never panic.
func FuzzExpand(f *testing.F) {
	f.Add([]byte{0, 1, 1, 2, 2, 3}, "1:2:6")
	f.Add([]byte{1, 0, 0, 1}, "1:5")
	f.Fuzz(func(t *testing.T, links []byte, ratio string) {
		if len(links) > 400 {
			links = links[:400]
		}
		var nodes []Node
		for i := 0; i+1 < len(links); i += 2 {
			n := Node{Code: string(rune('A' + links[i]%40)), Ratio: ratio, DisplayLevel: int(links[i+1] % 4)}
			if p := links[i+1] % 41; p < 40 {
				n.Parent = string(rune('A' + p))
			}
			nodes = append(nodes, n)
		}
		ex := Expand(nodes, RatioCumulative)
		seen := map[string]bool{}
		for _, s := range ex.Smallest {
			if seen[s] {
				t.Fatalf("smallest code %s listed twice", s)
			}
			seen[s] = true
		}
	})
}
