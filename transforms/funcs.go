package transforms

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/expr-lang/expr"
	"github.com/shopspring/decimal"

	"github.com/medgate/medgate/schemas"
)

// Errors that functions return and Apply turns into problems with their own
// rule.
type (
	// unmappedError: a code is not in a table (RuleUnmapped).
	unmappedError struct{ table, code string }
	// tableError: a table was not supplied (RuleTable).
	tableError struct{ table string }
	// failError: the mapping rejected the message with fail() (RuleMapping).
	failError struct{ msg string }
	// valueError: a value could not be converted (RuleType). value is
	// the text of the refused value msg shows (quoted, or bare for a
	// number), "" for none: a problem of a personal target masks it.
	valueError struct{ msg, value string }
)

func (e *unmappedError) Error() string {
	return fmt.Sprintf("code %q is not in code table %q", e.code, e.table)
}
func (e *tableError) Error() string { return fmt.Sprintf("code table %q was not supplied", e.table) }
func (e *failError) Error() string  { return e.msg }
func (e *valueError) Error() string { return e.msg }

func valueErrorf(format string, args ...any) error {
	return &valueError{msg: fmt.Sprintf(format, args...)}
}

// valueErrorOn is valueErrorf for a message that shows the value v.
func valueErrorOn(v any, format string, args ...any) error {
	return &valueError{msg: fmt.Sprintf(format, args...), value: textOf(v)}
}

// masked returns the message with the refused value masked
// (schemas.MaskValue), quoted or bare as the message shows it.
func (e *valueError) masked() string {
	if e.value == "" {
		return e.msg
	}
	if q := strconv.Quote(e.value); strings.Contains(e.msg, q) {
		return strings.ReplaceAll(e.msg, q, strconv.Quote(schemas.MaskValue(e.value)))
	}
	return strings.ReplaceAll(e.msg, e.value, schemas.MaskValue(e.value))
}

// plainNumber reports whether s has the syntax of numbers accepted from
// messages: an optional sign, digits with an optional point, no thousands
// separators, and an exponent of at most two digits.
func plainNumber(s string) bool {
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	digits := 0
	for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		digits++
	}
	if i < len(s) && s[i] == '.' {
		i++
		for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
			digits++
		}
	}
	if digits == 0 {
		return false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		n := 0
		for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
			n++
		}
		if n == 0 || n > 2 {
			return false
		}
	}
	return i == len(s)
}

// toDecimal converts a value read from a message, a literal or another
// function's result into an exact decimal.
func toDecimal(v any) (decimal.Decimal, error) {
	switch x := v.(type) {
	case decimal.Decimal:
		return x, nil
	case nil:
		return decimal.Decimal{}, valueErrorf("no value to use as a number")
	case int:
		return decimal.NewFromInt(int64(x)), nil
	case int64:
		return decimal.NewFromInt(x), nil
	case int32:
		return decimal.NewFromInt(int64(x)), nil
	case float64:
		return decimal.NewFromFloat(x), nil
	case json.Number:
		return parseDecimal(string(x))
	case string:
		return parseDecimal(x)
	}
	return decimal.Decimal{}, valueErrorOn(v, "%s is not a number", describe(v))
}

func parseDecimal(s string) (decimal.Decimal, error) {
	t := strings.TrimSpace(s)
	if !plainNumber(t) {
		return decimal.Decimal{}, valueErrorOn(s, "%q is not a number", s)
	}
	d, err := decimal.NewFromString(t)
	if err != nil {
		return decimal.Decimal{}, valueErrorOn(s, "%q is not a number", s)
	}
	return d, nil
}

// toText converts a scalar to its text; ok is false for values that have
// no natural text (times, objects, arrays).
func toText(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case json.Number:
		return string(x), true
	case decimal.Decimal:
		return x.String(), true
	case int:
		return strconv.Itoa(x), true
	case int64:
		return strconv.FormatInt(x, 10), true
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), true
	case bool:
		return strconv.FormatBool(x), true
	}
	return "", false
}

// empty reports whether v counts as no value: nil or "".
func empty(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return x == ""
	case json.Number:
		return x == ""
	}
	return false
}

func describe(v any) string { return describeValue(v) }

// textOf is the text of a scalar value as describe shows it, "" for
// others.
func textOf(v any) string {
	switch v.(type) {
	case map[string]any, []any, time.Time, nil:
		return ""
	}
	s, _ := toText(v)
	return s
}

func describeValue(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return strconv.Quote(x)
	case time.Time:
		return "a time (" + x.Format(time.RFC3339) + ")"
	case map[string]any:
		return "an object"
	case []any:
		return "a list"
	case decimal.Decimal:
		return x.String()
	}
	if s, ok := toText(v); ok {
		return s
	}
	return fmt.Sprintf("a %T", v)
}

// parseHL7Time parses an HL7 DTM/TS value: YYYY[MM[DD[HH[MM[SS[.S…]]]]]]
// with an optional +/-ZZZZ offset (minutes below 60, at most 14 hours
// either way). Values without an offset are in loc; the result is in loc.
func parseHL7Time(s string, loc *time.Location) (time.Time, error) {
	s = strings.TrimSpace(s)
	body, zone := s, ""
	if i := strings.LastIndexAny(s, "+-"); i >= 4 {
		body, zone = s[:i], s[i:]
	}
	frac := ""
	if i := strings.IndexByte(body, '.'); i >= 0 {
		body, frac = body[:i], body[i+1:]
	}
	layouts := map[int]string{4: "2006", 6: "200601", 8: "20060102", 10: "2006010215", 12: "200601021504", 14: "20060102150405"}
	layout, ok := layouts[len(body)]
	if !ok || !schemas.AllDigits(body) || (frac != "" && (len(body) != 14 || len(frac) > 4 || !schemas.AllDigits(frac))) {
		return time.Time{}, valueErrorOn(s, "%q is not an HL7 date/time (YYYYMMDD[HHMM[SS[.SSSS]]][+ZZZZ])", s)
	}
	in := loc
	if zone != "" {
		if len(zone) != 5 || !schemas.AllDigits(zone[1:]) {
			return time.Time{}, valueErrorOn(s, "%q is not an HL7 date/time (YYYYMMDD[HHMM[SS[.SSSS]]][+ZZZZ])", s)
		}
		h, _ := strconv.Atoi(zone[1:3])
		m, _ := strconv.Atoi(zone[3:5])
		off := h*3600 + m*60
		if m >= 60 || off > 14*3600 {
			return time.Time{}, valueErrorOn(s, "%q has UTC offset %s, which is not one: minutes must be below 60 and the offset at most 14 hours either way (e.g. +0800, -0330)", s, zone)
		}
		if zone[0] == '-' {
			off = -off
		}
		in = time.FixedZone("", off)
	}
	t, err := time.ParseInLocation(layout, body, in)
	if err != nil {
		// Not err itself: it quotes the date part without the offset, which
		// the masking of a personal value (valueError.masked) would miss.
		why := "a part is out of range"
		var pe *time.ParseError
		if errors.As(err, &pe) && pe.Message != "" {
			why = strings.TrimPrefix(pe.Message, ": ")
		}
		return time.Time{}, valueErrorOn(s, "%q is not a valid HL7 date/time: %s (months 01-12, days within the month, hours 00-23, minutes and seconds 00-59)", s, why)
	}
	if frac != "" {
		n, _ := strconv.Atoi((frac + "000")[:4])
		t = t.Add(time.Duration(n) * 100 * time.Microsecond)
	}
	return t.In(loc), nil
}

// timeLayouts are names accepted in place of a Go layout.
var timeLayouts = map[string]string{"RFC3339": time.RFC3339, "DateTime": time.DateTime, "DateOnly": time.DateOnly}

func layoutOf(s string) string {
	if l, ok := timeLayouts[s]; ok {
		return l
	}
	return s
}

// layoutExample is a time written in layout, for an error to show what
// the layout's name alone does not ("RFC3339": 2026-04-01T10:15:30+08:00),
// in the mapping's time zone loc.
func layoutExample(layout string, loc *time.Location) string {
	return time.Date(2026, 4, 1, 10, 15, 30, 0, loc).Format(layoutOf(layout))
}

// parseAnyTime reads a time written as RFC 3339 (medgate's own times), a
// date and time ("2006-01-02 15:04:05"), a date, or an HL7 date/time;
// times without an offset are in loc.
func parseAnyTime(s string, loc *time.Location) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, layout := range []string{time.RFC3339Nano, time.DateTime, time.DateOnly} {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t, nil
		}
	}
	if t, err := parseHL7Time(s, loc); err == nil {
		return t, nil
	}
	return time.Time{}, valueErrorOn(s, "%q is not a time (RFC 3339, 2006-01-02 15:04:05, 2006-01-02 or an HL7 date/time)", s)
}

func toTime(v any) (time.Time, error) {
	if t, ok := v.(time.Time); ok {
		return t, nil
	}
	return time.Time{}, valueErrorOn(v, "%s is not a time; convert it with hl7time() or time()", describe(v))
}

// residentID returns an 18- or 15-character mainland resident ID number's
// birth date and gender code (GB/T 2261.1: "1" male, "2" female).
func residentID(v any, loc *time.Location) (birth time.Time, gender string, ok bool) {
	s, _ := toText(v)
	s = strings.ToUpper(strings.TrimSpace(s))
	var date string
	var g byte
	switch {
	case len(s) == 18 && schemas.AllDigits(s[:17]) && (schemas.AllDigits(s[17:]) || s[17] == 'X'):
		date, g = s[6:14], s[16]
	case len(s) == 15 && schemas.AllDigits(s):
		date, g = "19"+s[6:12], s[14]
	default:
		return time.Time{}, "", false
	}
	t, err := time.ParseInLocation("20060102", date, loc)
	if err != nil {
		return time.Time{}, "", false
	}
	if (g-'0')%2 == 1 {
		return t, "1", true
	}
	return t, "2", true
}

// funcNames lists every function the library adds, for the README and for
// load errors that suggest a name.
var funcNames = []string{
	"dec", "round", "sum", "add", "sub", "mul", "div",
	"hl7time", "time", "formatTime", "days",
	"pad", "substr", "str", "coalesce",
	"idBirth", "idGender", "fail",
	"src", "list", "lookup", "lookupOr", "reverseLookup", "hl7ts",
}

// disabledBuiltins are expr builtins that compute with binary floating
// point or read the clock; mappings use dec(), round() and sum() instead,
// and stay pure functions of their input.
var disabledBuiltins = []string{"now", "date", "timezone", "abs", "ceil", "floor", "mean", "median", "float"}

type dec = decimal.Decimal

// divisionPlaces is how many decimal places a division keeps; round the
// result to what the target needs.
const divisionPlaces = 16

// funcOptions returns the expression library for a mapping whose times are
// in loc.
func funcOptions(loc *time.Location) []expr.Option {
	binary := func(name string, op func(a, b dec) (any, error), types ...any) expr.Option {
		return expr.Function(name, func(p ...any) (any, error) {
			a, err := toDecimal(p[0])
			if err != nil {
				return nil, err
			}
			b, err := toDecimal(p[1])
			if err != nil {
				return nil, err
			}
			return op(a, b)
		}, types...)
	}
	anyArgs := new(func(any, any) dec)
	decArgs := []any{new(func(dec, dec) dec), new(func(dec, int) dec), new(func(int, dec) dec)}
	compare := []any{new(func(dec, dec) bool), new(func(dec, int) bool), new(func(int, dec) bool)}
	quo := func(a, b dec) (any, error) {
		if b.IsZero() {
			return nil, valueErrorf("division by zero")
		}
		return a.DivRound(b, divisionPlaces), nil
	}
	opts := []expr.Option{
		expr.Function("dec", func(p ...any) (any, error) { return toDecimal(p[0]) }, new(func(any) dec)),
		expr.Function("round", func(p ...any) (any, error) {
			d, err := toDecimal(p[0])
			if err != nil {
				return nil, err
			}
			places, _ := p[1].(int)
			return d.Round(int32(places)), nil
		}, new(func(any, int) dec)),
		expr.Function("sum", func(p ...any) (any, error) {
			total := decimal.Zero
			list, _ := p[0].([]any)
			for _, v := range list {
				if empty(v) {
					continue
				}
				d, err := toDecimal(v)
				if err != nil {
					return nil, err
				}
				total = total.Add(d)
			}
			return total, nil
		}, new(func([]any) dec)),
		binary("add", func(a, b dec) (any, error) { return a.Add(b), nil }, anyArgs),
		binary("sub", func(a, b dec) (any, error) { return a.Sub(b), nil }, anyArgs),
		binary("mul", func(a, b dec) (any, error) { return a.Mul(b), nil }, anyArgs),
		binary("div", quo, anyArgs),
		// Operators on decimals. Both sides must be decimals (or a decimal
		// and an integer literal); values read from a message are text, so
		// convert them with dec() first.
		binary("decAdd", func(a, b dec) (any, error) { return a.Add(b), nil }, decArgs...),
		binary("decSub", func(a, b dec) (any, error) { return a.Sub(b), nil }, decArgs...),
		binary("decMul", func(a, b dec) (any, error) { return a.Mul(b), nil }, decArgs...),
		binary("decDiv", quo, decArgs...),
		binary("decLess", func(a, b dec) (any, error) { return a.LessThan(b), nil }, compare...),
		binary("decLessEq", func(a, b dec) (any, error) { return a.LessThanOrEqual(b), nil }, compare...),
		binary("decMore", func(a, b dec) (any, error) { return a.GreaterThan(b), nil }, compare...),
		binary("decMoreEq", func(a, b dec) (any, error) { return a.GreaterThanOrEqual(b), nil }, compare...),
		binary("decEq", func(a, b dec) (any, error) { return a.Equal(b), nil }, compare...),
		binary("decNotEq", func(a, b dec) (any, error) { return !a.Equal(b), nil }, compare...),
		expr.Operator("+", "decAdd"),
		expr.Operator("-", "decSub"),
		expr.Operator("*", "decMul"),
		expr.Operator("/", "decDiv"),
		expr.Operator("<", "decLess"),
		expr.Operator("<=", "decLessEq"),
		expr.Operator(">", "decMore"),
		expr.Operator(">=", "decMoreEq"),
		expr.Operator("==", "decEq"),
		expr.Operator("!=", "decNotEq"),

		expr.Function("hl7time", func(p ...any) (any, error) {
			if empty(p[0]) {
				return nil, nil
			}
			s, ok := toText(p[0])
			if !ok {
				return nil, valueErrorOn(p[0], "%s is not an HL7 date/time", describe(p[0]))
			}
			return parseHL7Time(s, loc)
		}, new(func(any) any)),
		expr.Function("hl7ts", func(p ...any) (any, error) {
			if empty(p[0]) {
				return nil, nil
			}
			t, ok := p[0].(time.Time)
			if !ok {
				s, _ := toText(p[0])
				var err error
				if t, err = parseAnyTime(s, loc); err != nil {
					return nil, err
				}
			}
			return t.In(loc).Format("20060102150405"), nil
		}, new(func(any) any)),
		expr.Function("time", func(p ...any) (any, error) {
			if empty(p[0]) {
				return nil, nil
			}
			s, ok := toText(p[0])
			layout, _ := p[1].(string)
			if !ok {
				return nil, valueErrorOn(p[0], "%s is not a date/time text", describe(p[0]))
			}
			t, err := time.ParseInLocation(layoutOf(layout), strings.TrimSpace(s), loc)
			if err != nil {
				return nil, valueErrorOn(s, "%q does not match the layout %q (write it like %s)", s, layout, layoutExample(layout, loc))
			}
			return t.In(loc), nil
		}, new(func(any, string) any)),
		expr.Function("formatTime", func(p ...any) (any, error) {
			if empty(p[0]) {
				return nil, nil
			}
			t, err := toTime(p[0])
			if err != nil {
				return nil, err
			}
			layout, _ := p[1].(string)
			return t.In(loc).Format(layoutOf(layout)), nil
		}, new(func(any, string) any)),
		expr.Function("days", func(p ...any) (any, error) {
			a, err := toTime(p[0])
			if err != nil {
				return nil, err
			}
			b, err := toTime(p[1])
			if err != nil {
				return nil, err
			}
			ay, am, ad := a.In(loc).Date()
			by, bm, bd := b.In(loc).Date()
			da := time.Date(ay, am, ad, 0, 0, 0, 0, time.UTC)
			db := time.Date(by, bm, bd, 0, 0, 0, 0, time.UTC)
			return int(db.Sub(da).Hours() / 24), nil
		}, new(func(any, any) int)),

		expr.Function("pad", func(p ...any) (any, error) {
			s, ok := toText(p[0])
			if !ok {
				return nil, valueErrorOn(p[0], "%s cannot be padded", describe(p[0]))
			}
			n, _ := p[1].(int)
			if k := utf8.RuneCountInString(s); k < n {
				s = strings.Repeat("0", n-k) + s
			}
			return s, nil
		}, new(func(any, int) string)),
		expr.Function("substr", func(p ...any) (any, error) {
			if empty(p[0]) {
				return nil, nil
			}
			s, ok := toText(p[0])
			if !ok {
				return nil, valueErrorOn(p[0], "%s is not text", describe(p[0]))
			}
			start, _ := p[1].(int)
			n, _ := p[2].(int)
			r := []rune(s)
			start = min(max(start, 0), len(r))
			end := min(start+max(n, 0), len(r))
			return string(r[start:end]), nil
		}, new(func(any, int, int) any)),
		expr.Function("str", func(p ...any) (any, error) {
			if p[0] == nil {
				return nil, nil
			}
			s, ok := toText(p[0])
			if !ok {
				return nil, valueErrorOn(p[0], "%s has no text form", describe(p[0]))
			}
			return s, nil
		}, new(func(any) any)),
		expr.Function("coalesce", func(p ...any) (any, error) {
			for _, v := range p {
				if !empty(v) {
					return v, nil
				}
			}
			return nil, nil
		}, new(func(...any) any)),
		expr.Function("idBirth", func(p ...any) (any, error) {
			if t, _, ok := residentID(p[0], loc); ok {
				return t, nil
			}
			return nil, nil
		}, new(func(any) any)),
		expr.Function("idGender", func(p ...any) (any, error) {
			if _, g, ok := residentID(p[0], loc); ok {
				return g, nil
			}
			return nil, nil
		}, new(func(any) any)),
		expr.Function("fail", func(p ...any) (any, error) {
			msg, _ := p[0].(string)
			return nil, &failError{msg: msg}
		}, new(func(string) any)),
	}
	for _, name := range disabledBuiltins {
		opts = append(opts, expr.DisableBuiltin(name))
	}
	return opts
}

// errRule maps an error from an expression to a problem rule.
func errRule(err error) string {
	var ue *unmappedError
	var te *tableError
	var fe *failError
	var ve *valueError
	var re *reverseError
	switch {
	case errors.As(err, &re) && len(re.codes) > 0:
		return RuleTable
	case errors.As(err, &re):
		return RuleUnmapped
	case errors.As(err, &ue):
		return RuleUnmapped
	case errors.As(err, &te):
		return RuleTable
	case errors.As(err, &fe):
		return RuleMapping
	case errors.As(err, &ve):
		return RuleType
	}
	return RuleExpression
}
