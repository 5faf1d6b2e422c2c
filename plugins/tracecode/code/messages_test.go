package code

import (
	"errors"
	"strings"
	"testing"
)

// TestParseSaysWhatWasScanned: the refusal of a code names what the
// scanner sent as staff see it and what to do. A full-width digit (a
// Chinese input method left in 全角) was named by its first UTF-8 byte,
// 'ï', at a byte position; the GS1 group separator of a raw DataMatrix
// read, and a GS1 code sent without its parentheses (01…17…21…, as
// scanners send it by default), were told to scan "the trace code, not
// the product barcode", which is what staff had done.
func TestParseSaysWhatWasScanned(t *testing.T) {
	t.Parallel()
	gs1 := Policy{Consumables: ConsumablesGS1}
	cases := map[string]struct {
		in   string
		want []string
		not  []string
	}{
		"full-width digit":      {"8１234560000000011234", []string{"'１' at position 2", "full-width", "半角"}, []string{"ï"}},
		"full-width first":      {"８1234560000000011234", []string{"'８' at position 1", "半角"}, nil},
		"other non-ascii":       {"81234560000000011234é", []string{"'é' at position 21"}, []string{"半角"}},
		"group separator":       {"0106901234567892\x1d21ABC", []string{"group separator", "with parentheses"}, nil},
		"gs1 without brackets":  {"0106901234567892172812312100002", []string{"GS1 code without its parentheses", "(01)06901234567892"}, []string{"not the product barcode"}},
		"gtin alone still told": {"6901234567892", []string{"not the product barcode"}, nil},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse(tc.in, gs1)
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("Parse(%q) error = %v, want ErrFormat", tc.in, err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Parse(%q) = %q, want it to say %q", tc.in, err, w)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(err.Error(), n) {
					t.Errorf("Parse(%q) = %q, should not say %q", tc.in, err, n)
				}
			}
		})
	}
}
