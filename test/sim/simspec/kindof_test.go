package simspec

import (
	"encoding/json"
	"testing"
)

// TestKindOf: every kind a JSON decoder gives (with or without UseNumber)
// is named in words; anything else by its Go type.
func TestKindOf(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		v    any
		want string
	}{
		"null":        {nil, "null"},
		"string":      {"x", "a string"},
		"empty":       {"", "a string"},
		"boolean":     {false, "a boolean"},
		"json.Number": {json.Number("12.50"), "a number"},
		"float64":     {12.5, "a number"},
		"array":       {[]any{}, "an array"},
		"object":      {map[string]any{}, "an object"},
		"Go int":      {7, "a Go int"},
		"Go map":      {map[string]string{}, "a Go map[string]string"},
	}
	for name, tc := range cases {
		if got := KindOf(tc.v); got != tc.want {
			t.Errorf("%s: KindOf(%#v) = %q, want %q", name, tc.v, got, tc.want)
		}
	}
}
