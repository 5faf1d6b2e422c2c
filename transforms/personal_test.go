package transforms

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

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

// TestHL7TimeProblemMasksTheValue: an HL7 date/time that cannot be read
// is quoted in the problem; for a personal target (a birth date) the
// problem shows it masked (valueError.masked, as the RuleType problem of a
// personal target does), so no part of the date may appear in it, with
// or without a UTC offset.
func TestHL7TimeProblemMasksTheValue(t *testing.T) {
	t.Parallel()
	testCases := map[string]struct {
		value, date string // date: the part that must not show
	}{
		"day out of range":                {"19800231", "19800231"},
		"day out of range with offset":    {"19800231+0800", "19800231"},
		"month out of range with offset":  {"19801301-0500", "19801301"},
		"hour out of range with offset":   {"1980013125+0800", "1980013125"},
		"minute out of range with offset": {"198001312361+0800", "198001312361"},
		"offset out of range":             {"19800131+1500", "19800131"},
		"not digits with offset":          {"1980AB31+0800", "1980AB31"},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := parseHL7Time(tc.value, time.UTC)
			var ve *valueError
			if !errors.As(err, &ve) {
				t.Fatalf("parseHL7Time(%q) = %v, want a value error", tc.value, err)
			}
			if msg := ve.masked(); strings.Contains(msg, tc.date) {
				t.Errorf("the masked problem shows %q: %s", tc.date, msg)
			}
		})
	}
}
