package jsonscan

import (
	"encoding/json"
	"testing"
)

func TestNumberEnd(t *testing.T) {
	for _, c := range []struct {
		in  string
		end int
		ok  bool
	}{
		{"0", 1, true},
		{"-12.50,", 6, true},
		{"1e9}", 3, true},
		{"3.25E-2]", 7, true},
		{"007", 1, true}, // a number ends after the leading 0
		{"-", 0, false},
		{"1.", 0, false},
		{"1e", 0, false},
		{".5", 0, false},
		{"x", 0, false},
	} {
		end, ok := NumberEnd([]byte(c.in), 0)
		if end != c.end || ok != c.ok {
			t.Errorf("NumberEnd(%q) = %d, %v; want %d, %v", c.in, end, ok, c.end, c.ok)
		}
	}
}

// FuzzNumberEnd holds NumberEnd to encoding/json: what it accepts as a
// whole input is a valid JSON number, and every valid JSON number is
// accepted whole.
func FuzzNumberEnd(f *testing.F) {
	for _, s := range []string{"0", "-1.5e+3", "12", "1.", "--1", "0.0001"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if s == "" {
			return
		}
		end, ok := NumberEnd([]byte(s), 0)
		// A valid JSON text that starts with '-' or a digit and ends with a
		// digit is a number with no whitespace around it.
		isDigit := func(c byte) bool { return c >= '0' && c <= '9' }
		valid := json.Valid([]byte(s)) && (s[0] == '-' || isDigit(s[0])) && isDigit(s[len(s)-1])
		whole := ok && end == len(s)
		if whole != valid {
			t.Fatalf("NumberEnd(%q) = %d, %v; encoding/json says valid=%v", s, end, ok, valid)
		}
	})
}
