package transforms

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/medgate/medgate/schemas"
)

// coerceError is a value that does not fit its target field.
type coerceError struct {
	rule string
	msg  string
	fix  string
}

func (e *coerceError) Error() string { return e.msg }

// coerce converts a value computed by a mapping into the JSON value the
// target field's type needs: text for strings, enums, dates and datetimes
// (times are formatted with the field's layout), json.Number for integers
// and decimals (decimals written with the field's scale when they have no
// more digits than it allows), bool for booleans.
//
// The value a message shows is masked when f is personal
// (schemas.MaskValue), as the schema's validation shows it.
func coerce(f *schemas.Field, v any) (any, error) {
	describe := describe
	if f.Personal {
		describe = func(v any) string { return (&valueError{msg: describeValue(v), value: textOf(v)}).masked() }
	}
	switch f.Type.Kind {
	case kindAny:
		return keep(v), nil
	case kindHL7:
		return hl7Text(v)
	case schemas.KindString, schemas.KindEnum:
		s, ok := toText(v)
		if !ok {
			fix := "give a text value"
			if _, isTime := v.(time.Time); isTime {
				fix = "format it with formatTime(…, \"layout\")"
			}
			return nil, &coerceError{rule: RuleType, msg: fmt.Sprintf("%s cannot go into a %s field", describe(v), f.Type), fix: fix}
		}
		return s, nil
	case schemas.KindInteger:
		d, err := toDecimal(v)
		if err != nil || !d.IsInteger() {
			return nil, &coerceError{rule: RuleType, msg: fmt.Sprintf("%s is not a whole number", describe(v)), fix: "send a whole number or convert it in the mapping (round(dec(value), 0))"}
		}
		return json.Number(d.String()), nil
	case schemas.KindDecimal:
		d, err := toDecimal(v)
		if err != nil {
			return nil, &coerceError{rule: RuleType, msg: fmt.Sprintf("%s is not a number", describe(v)), fix: "send a plain decimal number such as 12.50"}
		}
		return json.Number(fixed(d, f.Type.Scale)), nil
	case schemas.KindDate, schemas.KindDateTime:
		layout := f.Layout()
		switch x := v.(type) {
		case time.Time:
			return x.Format(layout), nil
		case string:
			if schemas.MatchesLayout(layout, x) {
				return x, nil
			}
			return nil, &coerceError{rule: RuleFormat, msg: fmt.Sprintf("%s is not a %s in the layout %q", describe(x), f.Type, layout),
				fix: "convert it in the mapping, e.g. expr: hl7time(value) for HL7 times or time(value, \"layout\")"}
		}
		return nil, &coerceError{rule: RuleType, msg: fmt.Sprintf("%s is not a %s", describe(v), f.Type), fix: "give a time, e.g. expr: hl7time(value)"}
	case schemas.KindBoolean:
		switch x := v.(type) {
		case bool:
			return x, nil
		case string:
			switch strings.ToLower(strings.TrimSpace(x)) {
			case "true", "1", "y", "yes":
				return true, nil
			case "false", "0", "n", "no":
				return false, nil
			}
		}
		return nil, &coerceError{rule: RuleType, msg: fmt.Sprintf("%s is not a boolean", describe(v)), fix: "give true or false"}
	}
	return nil, &coerceError{rule: RuleType, msg: fmt.Sprintf("%s cannot go into a %s field", describe(v), f.Type), fix: "map the field's children under fields:"}
}

// fixed writes d with exactly scale decimal places when that loses nothing
// ("25" and "25.000" become "25.00" for scale 2); otherwise as is, so that
// validation reports the extra digits rather than the mapping rounding
// money silently.
func fixed(d decimal.Decimal, scale int) string {
	if d.Equal(d.Truncate(int32(scale))) {
		return d.StringFixed(int32(scale))
	}
	return d.String()
}

// keep returns a value computed by an outbound JSON mapping as it is,
// with times as RFC 3339 text and decimals as exact JSON numbers.
func keep(v any) any {
	switch x := v.(type) {
	case time.Time:
		return x.Format(time.RFC3339)
	case decimal.Decimal:
		return json.Number(x.String())
	}
	return v
}

// hl7Text returns the text an HL7 field holds for v: text and numbers as
// written, times as HL7 DTM (YYYYMMDDHHMMSS in their own zone), booleans
// as Y or N.
func hl7Text(v any) (any, error) {
	switch x := v.(type) {
	case time.Time:
		return x.Format("20060102150405"), nil
	case bool:
		if x {
			return "Y", nil
		}
		return "N", nil
	}
	if s, ok := toText(v); ok {
		return s, nil
	}
	return nil, &coerceError{rule: RuleType, msg: fmt.Sprintf("%s cannot go into an HL7 field", describe(v)),
		fix: "give one value per field, component or repetition (PID-3(2).1), or join a list with join(…, \" \")"}
}
