package transforms

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/medgate/medgate/schemas"
)

// TestCoerceMasksPersonalValues: a mapped value that does not fit its
// target was quoted in the problem (an invalid reply), a birth date in
// another layout or an ID number that is not a whole number among them;
// a target the schema marks personal shows it masked, as the schema's
// validation does, and other targets keep it.
func TestCoerceMasksPersonalValues(t *testing.T) {
	t.Parallel()
	date := schemas.Type{Kind: schemas.KindDate}
	integer := schemas.Type{Kind: schemas.KindInteger}
	testCases := map[string]struct {
		field      schemas.Field
		value      any
		leak, want string
	}{
		"personal date in another layout": {schemas.Field{Name: "brdy", Type: date, Personal: true}, "1980/01/31", "1980/01/31", `"1***/**/*1" is not a date`},
		"date in another layout":          {schemas.Field{Name: "day", Type: date}, "2025/01/31", "", `"2025/01/31" is not a date`},
		"personal number with a fraction": {schemas.Field{Name: "cardno", Type: integer, Personal: true}, json.Number("350203198001011234.5"), "350203198001011234", "350*"},
		"number with a fraction":          {schemas.Field{Name: "count", Type: integer}, json.Number("12.5"), "", "12.5 is not a whole number"},
		"personal date given a list":      {schemas.Field{Name: "brdy", Type: date, Personal: true}, []any{"x"}, "", "a list is not a date"},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := coerce(&tc.field, tc.value)
			if err == nil {
				t.Fatal("coerce took the value")
			}
			msg := err.Error()
			if tc.leak != "" && strings.Contains(msg, tc.leak) {
				t.Errorf("the problem quotes %q: %s", tc.leak, msg)
			}
			if !strings.Contains(msg, tc.want) {
				t.Errorf("the problem lacks %q: %s", tc.want, msg)
			}
		})
	}
}
