package store

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestPrefixEnd(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		prefix, want string
		ok           bool
	}{
		"empty":               {"", "", false},
		"ascii":               {"ab", "ac", true},
		"wildcards literal":   {"a%", "a&", true},
		"ascii to multibyte":  {"a\x7f", "a\u0080", true},
		"multibyte":           {"日本", "日札", true},
		"skips surrogates":    {"x\ud7ff", "x\ue000", true},
		"max rune carries":    {"a\U0010FFFF", "b", true},
		"only max runes":      {"\U0010FFFF\U0010FFFF", "", false},
		"invalid utf-8":       {"a\xfe", "a\xff", true},
		"invalid utf-8 carry": {"a\xff\xff", "b", true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, ok := prefixEnd(tc.prefix)
			if got != tc.want || ok != tc.ok {
				t.Errorf("prefixEnd(%q) = %q, %v; want %q, %v", tc.prefix, got, ok, tc.want, tc.ok)
			}
			if ok && utf8.ValidString(tc.prefix) && !utf8.ValidString(got) {
				t.Errorf("prefixEnd(%q) = %q is not valid UTF-8", tc.prefix, got)
			}
			if ok && !(tc.prefix < got) {
				t.Errorf("prefixEnd(%q) = %q is not above the prefix", tc.prefix, got)
			}
		})
	}
}

// FuzzPrefixEnd checks the defining property: s starts with prefix exactly
// when prefix <= s < end (or prefix <= s when there is no end).
func FuzzPrefixEnd(f *testing.F) {
	for _, s := range [][2]string{{"a%", "a%b"}, {"ab", "ac"}, {"日本", "日本語"}, {"\U0010FFFF", "\U0010FFFFx"}, {"", "x"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, prefix, s string) {
		if utf8.ValidString(prefix) && !utf8.ValidString(s) {
			t.Skip("keys are valid UTF-8 when the prefix is")
		}
		end, ok := prefixEnd(prefix)
		in := prefix <= s && (!ok || s < end)
		if in != strings.HasPrefix(s, prefix) {
			t.Errorf("prefixEnd(%q) = %q, %v: range says %v for %q, HasPrefix says %v", prefix, end, ok, in, s, !in)
		}
	})
}
