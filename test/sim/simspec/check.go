package simspec

import (
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// The rules a Violation names, as schemas/README.md calls them.
const (
	RuleRequired = "required"
	RuleLength   = "length"
	RuleType     = "type"
	RuleEnum     = "enum"
	RuleFormat   = "format"
	RuleBatch    = "batch"
	RuleUnknown  = "unknown"
	RulePattern  = "pattern"
)

// Violation is one rule a document breaks.
type Violation struct {
	// Path is the JSON path of the value, e.g. "$.fee[3].qty".
	Path string
	// Rule is one of the Rule constants.
	Rule string
	// Message says what is wrong.
	Message string
}

// Error formats the violation as "path: rule: message".
func (v Violation) Error() string { return v.Path + ": " + v.Rule + ": " + v.Message }

// CheckInput checks a decoded JSON document (map[string]any, []any,
// string, bool, json.Number or float64 values; Go integers and
// []map[string]any are taken too) against the input fields
// and returns every violation, ordered by path (array indices as numbers),
// then rule; nil when there is none.
func (t *Tx) CheckInput(doc any) []Violation { return t.check("input", t.Input, doc) }

// CheckOutput is CheckInput for the output fields.
func (t *Tx) CheckOutput(doc any) []Violation { return t.check("output", t.Output, doc) }

type checker struct {
	tx    *Tx
	batch string // the path of the batch array on this side, e.g. "$.fee"
	out   []Violation
}

func (t *Tx) check(side string, fields []Field, doc any) []Violation {
	c := &checker{tx: t}
	if t.BatchLimit > 0 && t.BatchField != "" {
		p, isOutput := strings.CutPrefix(t.BatchField, "output.")
		if isOutput == (side == "output") {
			c.batch = "$." + p
		}
	}
	m, ok := doc.(map[string]any)
	if !ok {
		c.add("$", RuleType, "the %s of %s must be a JSON object, got %s", side, t.Code, KindOf(doc))
		return c.out
	}
	c.object("$", fields, m)
	sort.SliceStable(c.out, func(i, j int) bool {
		a, b := c.out[i], c.out[j]
		if a.Path != b.Path {
			return lessPath(a.Path, b.Path)
		}
		return a.Rule < b.Rule
	})
	return c.out
}

func (c *checker) add(p, rule, format string, a ...any) {
	c.out = append(c.out, Violation{Path: p, Rule: rule, Message: fmt.Sprintf(format, a...)})
}

func (c *checker) object(at string, fields []Field, m map[string]any) {
	present := 0 // keys of m that are fields
	for i := range fields {
		f := &fields[i]
		v, ok := m[f.Name]
		if ok {
			present++
		}
		// A required value of white space alone holds nothing: it is
		// missing, as "" is (the requirements' 非空校验), whatever the
		// field's type. An optional one is judged by its type.
		blank := f.Required && Blank(v)
		if !ok || v == nil || v == "" || blank {
			if blank {
				c.add(at+"."+f.Name, RuleRequired, "%s is required and holds only white space (spaces, full-width spaces U+3000, no-break spaces, tabs, line breaks or zero-width characters)", name(f))
			} else if f.Required {
				c.add(at+"."+f.Name, RuleRequired, "%s is required and is missing, null or empty", name(f))
			}
			continue
		}
		c.value(at, f, v)
	}
	if present == len(m) {
		return // every key is a field: none unknown
	}
	known := make(map[string]bool, len(fields))
	for i := range fields {
		known[fields[i].Name] = true
	}
	for k := range m {
		if !known[k] {
			c.add(at+"."+k, RuleUnknown, "%s does not declare %q", c.tx.Code, k)
		}
	}
}

// Blank reports whether v is a string, not "", of white space alone:
// characters of Unicode's White_Space property (ASCII space, tab, CR, LF,
// the full-width space U+3000 a Chinese input method types, the no-break
// space U+00A0, …) and the zero-width space U+200B and byte order mark
// U+FEFF that a copy from a document leaves. Such a value holds nothing:
// the simulators refuse it where a value is required. Other zero-width
// characters (U+200C, U+200D, U+2060) are not white space and count as
// content.
func Blank(v any) bool {
	s, ok := v.(string)
	if !ok || s == "" {
		return false
	}
	for _, r := range s {
		if r != '\u200b' && r != '\ufeff' && !unicode.Is(unicode.White_Space, r) {
			return false
		}
	}
	return true
}

// value checks v, the value of field f of the object at path at. The
// value's path is built only when it is needed (a violation, or a nested
// object or array): a 500-line batch has some 20,000 values.
func (c *checker) value(at string, f *Field, v any) {
	p := func() string { return at + "." + f.Name }
	switch f.Kind {
	case "object":
		m, ok := v.(map[string]any)
		if !ok {
			c.add(p(), RuleType, "%s must be an object, got %s", name(f), KindOf(v))
			return
		}
		c.object(p(), f.Fields, m)
	case "array":
		items, ok := v.([]any)
		if ms, isMaps := v.([]map[string]any); isMaps {
			// Go-built input (Server.Apply) rather than decoded JSON.
			items, ok = make([]any, len(ms)), true
			for i, m := range ms {
				items[i] = m
			}
		}
		if !ok {
			c.add(p(), RuleType, "%s must be an array of objects, got %s", name(f), KindOf(v))
			return
		}
		if f.MinItems > 0 && len(items) < f.MinItems {
			c.add(p(), RuleLength, "%s has %d items, at least %d needed", name(f), len(items), f.MinItems)
		}
		if f.MaxItems > 0 && len(items) > f.MaxItems {
			c.add(p(), RuleLength, "%s has %d items, at most %d allowed", name(f), len(items), f.MaxItems)
		}
		if len(items) > c.tx.BatchLimit && p() == c.batch {
			c.add(p(), RuleBatch, "%s has %d items, more than %d per %s call", name(f), len(items), c.tx.BatchLimit, c.tx.Code)
		}
		ap := p()
		for i, it := range items {
			ip := ap + "[" + strconv.Itoa(i) + "]"
			m, ok := it.(map[string]any)
			if !ok {
				c.add(ip, RuleType, "an item of %s must be an object, got %s", name(f), KindOf(it))
				continue
			}
			c.object(ip, f.Fields, m)
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			c.add(p(), RuleType, "%s must be true or false, got %s", name(f), KindOf(v))
		}
	case "integer", "decimal":
		c.number(at, f, v)
	default: // string, enum, date, datetime: JSON strings
		s, ok := v.(string)
		if !ok {
			c.add(p(), RuleType, "%s must be a string, got %s", name(f), KindOf(v))
			return
		}
		n := utf8.RuneCountInString(s)
		unit := "characters"
		if f.Bytes {
			n, unit = len(s), "bytes"
		}
		if f.MaxLength > 0 && n > f.MaxLength {
			c.add(p(), RuleLength, "%s is %d %s long, at most %d allowed", name(f), n, unit, f.MaxLength)
		}
		switch f.Kind {
		case "enum":
			if _, ok := f.Codes[s]; !ok {
				c.add(p(), RuleEnum, "%s: %q is not one of its codes", name(f), s)
			}
		case "date", "datetime":
			if t, err := time.Parse(f.Layout, s); err != nil || t.Format(f.Layout) != s {
				c.add(p(), RuleFormat, "%s: %q is not written as %q", name(f), s, f.Layout)
			}
		}
		if f.Pattern != nil && !f.Pattern.MatchString(s) {
			c.add(p(), RulePattern, "%s does not match %s", name(f), f.Pattern)
		}
	}
}

// number checks an integer or decimal(p,s) value: a JSON number, or a
// string holding a plain decimal number ("-12.50"). The value is read
// exactly (big.Rat), so the checks are about the number, not its text:
// decimal(p,s) holds it when value × 10^s is whole and |value| < 10^(p-s);
// an integer field when it is whole with at most MaxLength digits.
func (c *checker) number(at string, f *Field, v any) {
	p := func() string { return at + "." + f.Name }
	var text string
	switch n := v.(type) {
	case json.Number:
		text = string(n)
	case float64:
		if math.IsNaN(n) || math.IsInf(n, 0) {
			c.add(p(), RuleType, "%s must be a finite number", name(f))
			return
		}
		text = strconv.FormatFloat(n, 'f', -1, 64)
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		text = fmt.Sprint(n) // Go-built input (Server.Apply)
	case string:
		if !plainDecimal(n) {
			c.add(p(), RuleType, "%s: %q is not a decimal number", name(f), n)
			return
		}
		text = n
	default:
		c.add(p(), RuleType, "%s must be a number, got %s", name(f), KindOf(v))
		return
	}
	if len(text) > 100 {
		c.add(p(), RuleType, "%s: a number of %d characters is not taken", name(f), len(text))
		return
	}
	if !jsonNumber(text) {
		c.add(p(), RuleType, "%s: %q is not a number", name(f), text)
		return
	}
	if intDigits, fracDigits, plain := decimalDigits(text); plain {
		// Without an exponent (nearly every number) the digits decide:
		// |x| < 10^n has at most n digits before the point, and x has at
		// most s digits after it once trailing zeros are dropped.
		if f.Kind == "integer" {
			if fracDigits > 0 {
				c.add(p(), RuleType, "%s must be a whole number, got %s", name(f), text)
				return
			}
			if f.MaxLength > 0 && intDigits > f.MaxLength {
				c.add(p(), RuleLength, "%s: %s has more than %d digits", name(f), text, f.MaxLength)
			}
			return
		}
		if fracDigits > f.Scale {
			c.add(p(), RuleType, "%s: %s has more than %d digits after the decimal point (decimal(%d,%d))", name(f), text, f.Scale, f.Precision, f.Scale)
		}
		if intDigits > f.Precision-f.Scale {
			c.add(p(), RuleType, "%s: %s has more than %d digits before the decimal point (decimal(%d,%d))", name(f), text, f.Precision-f.Scale, f.Precision, f.Scale)
		}
		return
	}
	r, ok := new(big.Rat).SetString(text)
	if !ok {
		c.add(p(), RuleType, "%s: %q is not a number", name(f), text)
		return
	}
	abs := new(big.Rat).Abs(r)
	if f.Kind == "integer" {
		if !r.IsInt() {
			c.add(p(), RuleType, "%s must be a whole number, got %s", name(f), text)
			return
		}
		if f.MaxLength > 0 && abs.Cmp(pow10(f.MaxLength)) >= 0 {
			c.add(p(), RuleLength, "%s: %s has more than %d digits", name(f), text, f.MaxLength)
		}
		return
	}
	if !new(big.Rat).Mul(r, pow10(f.Scale)).IsInt() {
		c.add(p(), RuleType, "%s: %s has more than %d digits after the decimal point (decimal(%d,%d))", name(f), text, f.Scale, f.Precision, f.Scale)
	}
	if abs.Cmp(pow10(f.Precision-f.Scale)) >= 0 {
		c.add(p(), RuleType, "%s: %s has more than %d digits before the decimal point (decimal(%d,%d))", name(f), text, f.Precision-f.Scale, f.Precision, f.Scale)
	}
}

// decimalDigits counts the significant digits of a JSON number written
// without an exponent: before the point without leading zeros, after it
// without trailing zeros ("-007.50" is 1 and 1). plain is false for a
// number with an exponent, which the caller reads exactly instead.
func decimalDigits(text string) (intDigits, fracDigits int, plain bool) {
	if strings.ContainsAny(text, "eE") {
		return 0, 0, false
	}
	i, f, _ := strings.Cut(strings.TrimPrefix(text, "-"), ".")
	return len(strings.TrimLeft(i, "0")), len(strings.TrimRight(f, "0")), true
}

func pow10(n int) *big.Rat {
	return new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(n)), nil))
}

// plainDecimal: an optional minus, digits, and optionally a point and
// digits ("12", "-0.50"); no exponent, no plus, no spaces.
func plainDecimal(s string) bool {
	s = strings.TrimPrefix(s, "-")
	i, f, dot := strings.Cut(s, ".")
	return digits(i) && (!dot || digits(f))
}

// jsonNumber: the grammar of a JSON number (big.Rat also reads "1/2",
// "0x1f" and "Inf", which no JSON number is).
func jsonNumber(s string) bool {
	s = strings.TrimPrefix(s, "-")
	mant, exp, hasExp := strings.Cut(strings.ToLower(s), "e")
	i, f, dot := strings.Cut(mant, ".")
	if !digits(i) || dot && !digits(f) {
		return false
	}
	if hasExp {
		exp = strings.TrimLeft(exp, "+-")
		return digits(exp) && len(exp) <= 3
	}
	return true
}

func digits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

func name(f *Field) string {
	if f.Label != "" {
		return f.Label + " (" + f.Name + ")"
	}
	return f.Name
}

// KindOf names the JSON kind of a decoded value for a message ("a
// string", "a number", "null", …): the words every simulator uses when a
// value has the wrong type. A value no JSON decoder gives is named by its
// Go type.
func KindOf(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case json.Number, float64:
		return "a number"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("a Go %T", v)
}

// lessPath orders paths by their steps, array indices as numbers.
func lessPath(a, b string) bool {
	as, bs := splitPath(a), splitPath(b)
	for i := 0; i < len(as) && i < len(bs); i++ {
		if as[i] == bs[i] {
			continue
		}
		ai, aerr := strconv.Atoi(as[i])
		bi, berr := strconv.Atoi(bs[i])
		if aerr == nil && berr == nil {
			return ai < bi
		}
		return as[i] < bs[i]
	}
	return len(as) < len(bs)
}

func splitPath(p string) []string {
	return strings.FieldsFunc(p, func(r rune) bool { return r == '.' || r == '[' || r == ']' })
}
