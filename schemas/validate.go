package schemas

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"
)

// The rules a [FieldError] may name.
const (
	RuleRequired = "required" // missing, null, "" or only white space
	RuleLength   = "length"   // too long, too many digits, too few or too many array items
	RuleType     = "type"     // wrong JSON type, not whole, too many digits for decimal(p,s)
	RuleEnum     = "enum"     // not a code of the field's code table
	RuleFormat   = "format"   // a date or datetime that does not match its layout
	RuleBatch    = "batch"    // more array items than the transaction's batch limit
	RuleUnknown  = "unknown"  // a key the schema does not declare
	RulePattern  = "pattern"  // a string that does not match its field's pattern
)

// FieldError is one validation failure.
type FieldError struct {
	// Path is a JSON path to the value, for example "$.fee[3].akc226".
	Path string `json:"field"`
	// Rule is one of the Rule* constants.
	Rule string `json:"rule"`
	// Message says what is wrong and how to fix it.
	Message string `json:"message"`
}

// Error formats the error as "path: rule: message".
func (e FieldError) Error() string { return e.Path + ": " + e.Rule + ": " + e.Message }

// ValidateOptions tune validation.
type ValidateOptions struct {
	// AllowUnknown accepts keys the schema does not declare instead of
	// reporting them with RuleUnknown.
	AllowUnknown bool
}

// ValidateInput checks a decoded JSON document (map[string]any at the top;
// values []any, map[string]any, string, bool, json.Number, float64 or Go
// integers) against the input fields. It returns every error, sorted by
// path, and nil when the document is valid. At most one ValidateOptions
// value is used. It never panics.
func (s *Schema) ValidateInput(v any, opts ...ValidateOptions) []FieldError {
	return s.validate("input", s.Input, v, opts)
}

// ValidateOutput is [Schema.ValidateInput] for the output fields.
func (s *Schema) ValidateOutput(v any, opts ...ValidateOptions) []FieldError {
	return s.validate("output", s.Output, v, opts)
}

func (s *Schema) validate(side string, fields []Field, v any, opts []ValidateOptions) []FieldError {
	vd := validator{schema: s, side: side}
	if len(opts) > 0 {
		vd.opts = opts[0]
	}
	if bs, path := s.BatchPath(); bs == side {
		vd.batch = lookup(fields, path)
	}
	m, ok := v.(map[string]any)
	if !ok {
		vd.add(RuleType, fmt.Sprintf("the %s of %s must be a JSON object, got %s; send {\"field\": value, …}", side, s.Code, kindOf(v)))
	} else {
		vd.object(fields, m)
	}
	slices.SortStableFunc(vd.errs, func(a, b located) int {
		if c := comparePath(a.path, b.path); c != 0 {
			return c
		}
		if c := strings.Compare(a.Rule, b.Rule); c != 0 {
			return c
		}
		return strings.Compare(a.Message, b.Message)
	})
	if len(vd.errs) == 0 {
		return nil
	}
	out := make([]FieldError, len(vd.errs))
	for i, e := range vd.errs {
		out[i] = e.FieldError
	}
	return out
}

// seg is one step of a JSON path: a key or an array index.
type seg struct {
	key   string
	index int
	isIdx bool
}

type located struct {
	path []seg
	FieldError
}

type validator struct {
	schema *Schema
	side   string
	opts   ValidateOptions
	batch  *Field
	errs   []located
	// path is where the validator is: one step is pushed on the way down
	// and popped on the way back, so a path is copied (and allocates) only
	// when an error is reported at it.
	path []seg
}

// push descends one step; pop returns to where push was called.
func (vd *validator) push(s seg) { vd.path = append(vd.path, s) }
func (vd *validator) pop()       { vd.path = vd.path[:len(vd.path)-1] }

// add reports an error at the current path.
func (vd *validator) add(rule, msg string) {
	vd.errs = append(vd.errs, located{path: slices.Clone(vd.path), FieldError: FieldError{Path: formatPath(vd.path), Rule: rule, Message: msg}})
}

func (vd *validator) object(fields []Field, m map[string]any) {
	declared := 0 // keys of m that fields declare
	for i := range fields {
		f := &fields[i]
		val, present := m[f.Name]
		if present {
			declared++
		}
		// A required field's value of white space alone holds nothing:
		// it is missing, as "" is. An optional field's is judged by its
		// type (a string of spaces is a string, not a date).
		blank := f.Required && isBlank(val)
		if !present || val == nil || val == "" || blank {
			if f.Required {
				what := "is missing, null or empty"
				if blank {
					what = "holds only white space (spaces, full-width spaces U+3000, tabs, line breaks or zero-width characters)"
				}
				msg := fmt.Sprintf("%s is required and %s; send %s", title(f), what, expect(f))
				if f.RequiredUnless != "" {
					if alt, given := m[f.RequiredUnless]; given && alt != nil && alt != "" && !isBlank(alt) {
						// The platform-only stand-in is given instead.
						continue
					}
					msg += fmt.Sprintf(", or give %s instead", f.RequiredUnless)
				}
				vd.push(seg{key: f.Name})
				vd.add(RuleRequired, msg)
				vd.pop()
			}
			continue
		}
		vd.push(seg{key: f.Name})
		vd.field(f, val)
		vd.pop()
	}
	// Field names are unique (the loader refuses duplicates), so when
	// every key counted is declared there is nothing unknown to look for.
	if vd.opts.AllowUnknown || declared == len(m) {
		return
	}
	var unknown []string
	for k := range m {
		if find(fields, k) == nil {
			unknown = append(unknown, k)
		}
	}
	sort.Strings(unknown)
	for _, k := range unknown {
		msg := fmt.Sprintf("%s %s does not declare this field; remove it", vd.schema.Code, vd.side)
		if near := Nearest(k, fieldNames(fields)); near != "" {
			msg += fmt.Sprintf(" or rename it to %q", near)
		}
		vd.push(seg{key: k})
		vd.add(RuleUnknown, msg)
		vd.pop()
	}
}

// field checks val at the current path against f.
func (vd *validator) field(f *Field, val any) {
	switch f.Type.Kind {
	case KindObject:
		m, ok := val.(map[string]any)
		if !ok {
			vd.add(RuleType, fmt.Sprintf("%s must be a JSON object, got %s", title(f), kindOf(val)))
			return
		}
		vd.object(f.Fields, m)
	case KindArray:
		items, ok := asArray(val)
		if !ok {
			vd.add(RuleType, fmt.Sprintf("%s must be a JSON array of objects, got %s; wrap a single item in [ ]", title(f), kindOf(val)))
			return
		}
		n := len(items)
		if f.MinItems > 0 && n < f.MinItems {
			vd.add(RuleLength, fmt.Sprintf("%s has %d item(s), at least %d needed; add items", title(f), n, f.MinItems))
		}
		if f.MaxItems > 0 && n > f.MaxItems {
			vd.add(RuleLength, fmt.Sprintf("%s has %d items, at most %d allowed; send fewer", title(f), n, f.MaxItems))
		}
		if f == vd.batch && n > vd.schema.BatchLimit {
			vd.add(RuleBatch, fmt.Sprintf("%s has %d items, more than the batch limit of %d per %s call; split them into several calls of at most %d", title(f), n, vd.schema.BatchLimit, vd.schema.Code, vd.schema.BatchLimit))
		}
		for i, item := range items {
			vd.push(seg{index: i, isIdx: true})
			if m, ok := item.(map[string]any); ok {
				vd.object(f.Fields, m)
			} else {
				vd.add(RuleType, fmt.Sprintf("each item of %s must be a JSON object, got %s", title(f), kindOf(item)))
			}
			vd.pop()
		}
	default:
		for _, e := range checkScalar(f, val) {
			vd.add(e.rule, e.msg)
		}
	}
}

// isBlank reports whether v is a string of white space alone (and not
// ""): Unicode white space (ASCII space, tab, CR, LF, the full-width space
// U+3000, the no-break space U+00A0…) and the zero-width space U+200B and
// BOM U+FEFF that copies from documents leave. Such a value holds nothing,
// so a required field given one is missing. Most values stop at their
// first character.
func isBlank(v any) bool {
	s, ok := v.(string)
	return ok && s != "" && Blank(s)
}

// Blank reports whether s holds nothing: "" or white space alone, as
// isBlank counts it (Unicode white space, U+3000 and U+00A0 among it, and
// the zero-width U+200B and U+FEFF). It is the 非空校验 the validator
// makes on a required field, for adapters whose own rules make a field
// required (an opinion when an application is refused, a reason when a
// record failed).
func Blank(s string) bool {
	for _, r := range s {
		if !unicode.IsSpace(r) && r != '\u200b' && r != '\ufeff' {
			return false
		}
	}
	return true
}

func asArray(v any) ([]any, bool) {
	switch a := v.(type) {
	case []any:
		return a, true
	case []map[string]any:
		out := make([]any, len(a))
		for i := range a {
			out[i] = a[i]
		}
		return out, true
	}
	return nil, false
}

type scalarError struct{ rule, msg string }

// checkScalar checks one non-null, non-empty scalar value against a field.
func checkScalar(f *Field, val any) []scalarError {
	switch f.Type.Kind {
	case KindBoolean:
		if _, ok := val.(bool); !ok {
			return []scalarError{{RuleType, fmt.Sprintf("%s must be true or false, got %s", title(f), describe(f, val))}}
		}
		return nil
	case KindInteger, KindDecimal:
		return checkNumber(f, val)
	}
	s, ok := val.(string)
	if !ok {
		msg := fmt.Sprintf("%s must be a JSON string, got %s", title(f), describe(f, val))
		if n, isNum := numberText(val); isNum {
			if f.Personal {
				msg += "; send it quoted, as a JSON string"
			} else {
				msg += fmt.Sprintf("; send it quoted, as %q", n)
			}
		}
		return []scalarError{{RuleType, msg}}
	}
	var errs []scalarError
	// A string of at most MaxLength bytes has at most as many characters.
	if f.MaxLength > 0 && len(s) > f.MaxLength {
		n := utf8.RuneCountInString(s)
		if f.Unit() == UnitBytes {
			n = len(s)
		}
		if n > f.MaxLength {
			errs = append(errs, scalarError{RuleLength, fmt.Sprintf("%s is %d %s long, at most %d allowed; shorten it", title(f), n, f.Unit(), f.MaxLength)})
		}
	}
	switch f.Type.Kind {
	case KindEnum:
		if _, ok := f.Codes[s]; !ok {
			errs = append(errs, scalarError{RuleEnum, fmt.Sprintf("%s: %s is not a known code; use one of %s", title(f), shown(f, s), codeList(f))})
		}
	case KindDate, KindDateTime:
		layout := f.Layout()
		if !MatchesLayout(layout, s) {
			errs = append(errs, scalarError{RuleFormat, fmt.Sprintf("%s: %s does not match the layout %q; write it like %q", title(f), shown(f, s), layout, sampleTime.Format(layout))})
		}
	}
	if f.Pattern != "" {
		// The value is not shown: what fails a pattern may be anything
		// (a link with a token in its query, an identity number).
		switch re, err := compilePattern(f.Pattern); {
		case err != nil:
			// A schema built in memory with a broken pattern (files are
			// refused when loaded): no value can be judged, none passes.
			errs = append(errs, scalarError{RulePattern, fmt.Sprintf("%s cannot be checked: the schema's pattern `%s` is not a valid regular expression (%v); fix the schema", title(f), f.Pattern, err)})
		case !re.MatchString(s):
			errs = append(errs, scalarError{RulePattern, fmt.Sprintf("%s does not match the pattern `%s` its schema declares (the whole value must match); send a value of that form", title(f), f.Pattern)})
		}
	}
	return errs
}

// patterns caches the compiled patterns by their text.
var patterns sync.Map // string → *regexp.Regexp

// compilePattern compiles a field's pattern, anchored at both ends.
func compilePattern(p string) (*regexp.Regexp, error) {
	if re, ok := patterns.Load(p); ok {
		return re.(*regexp.Regexp), nil
	}
	re, err := regexp.Compile(`^(?:` + p + `)$`)
	if err != nil {
		// Report the error of the pattern as written, not of the wrapper.
		if _, perr := regexp.Compile(p); perr != nil {
			err = perr
		}
		return nil, err
	}
	patterns.Store(p, re)
	return re, nil
}

// MatchesLayout reports whether s is a time written exactly in the Go time
// layout: it parses, and writing the time back in the layout gives s.
// time.Parse alone also takes fractional seconds (".123", ",5") that the
// layout does not have, which the receiving systems refuse. A numeric zone
// of zero may be written +00:00 where the layout says Z07:00.
func MatchesLayout(layout, s string) bool {
	t, err := time.Parse(layout, s)
	if err != nil {
		return false
	}
	if t.Format(layout) == s {
		return true
	}
	numeric := strings.NewReplacer("Z07:00:00", "-07:00:00", "Z07:00", "-07:00", "Z0700", "-0700", "Z07", "-07").Replace(layout)
	return numeric != layout && t.Format(numeric) == s
}

var sampleTime = time.Date(2025, 4, 1, 8, 30, 0, 0, time.UTC)

// maxNumberText bounds the numbers the validator will look at, so that
// hostile input cannot cost time or memory.
const maxNumberText = 200

func checkNumber(f *Field, val any) []scalarError {
	text, isNum := numberText(val)
	if !isNum {
		s, ok := val.(string)
		if !ok || !plainNumber(s) {
			return []scalarError{{RuleType, fmt.Sprintf("%s must be a number, or a string of ASCII digits with an optional sign and decimal point such as \"1234.56\" (no thousands separators, spaces or full-width digits), got %s", title(f), describe(f, val))}}
		}
		text = s
	}
	d, ok := parseDecimal(text)
	if !ok {
		return []scalarError{{RuleType, fmt.Sprintf("%s: %s is not a number this field can hold; send a plain decimal number", title(f), shown(f, text))}}
	}
	if f.Type.Kind == KindInteger {
		if d.frac != "" {
			return []scalarError{{RuleType, fmt.Sprintf("%s must be a whole number, got %s; drop the fraction", title(f), shown(f, text))}}
		}
		if f.MaxLength > 0 && len(d.int) > f.MaxLength {
			return []scalarError{{RuleLength, fmt.Sprintf("%s has %d digits, at most %d allowed", title(f), len(d.int), f.MaxLength)}}
		}
		return nil
	}
	var errs []scalarError
	intDigits := len(d.int)
	if d.int == "0" {
		intDigits = 0
	}
	if room := f.Type.Precision - f.Type.Scale; intDigits > room {
		errs = append(errs, scalarError{RuleType, fmt.Sprintf("%s has %d digits before the decimal point, %s allows %d; the value is too large", title(f), intDigits, f.Type, room)})
	}
	if len(d.frac) > f.Type.Scale {
		errs = append(errs, scalarError{RuleType, fmt.Sprintf("%s has %d digits after the decimal point, %s allows %d; round it to %d places", title(f), len(d.frac), f.Type, f.Type.Scale, f.Type.Scale)})
	}
	return errs
}

// numberText returns the decimal text of a JSON or Go number.
func numberText(v any) (string, bool) {
	switch n := v.(type) {
	case json.Number:
		return string(n), true
	case float64:
		if math.IsNaN(n) || math.IsInf(n, 0) {
			return "NaN", true
		}
		return strconv.FormatFloat(n, 'g', -1, 64), true
	case float32:
		return numberText(float64(n))
	case int:
		return strconv.Itoa(n), true
	case int8, int16, int32, int64:
		return fmt.Sprint(n), true
	case uint, uint8, uint16, uint32, uint64:
		return fmt.Sprint(n), true
	}
	return "", false
}

// plainNumber reports whether s is an optionally negative decimal number
// without exponent, such as "12", "-0.50".
func plainNumber(s string) bool {
	s = strings.TrimPrefix(s, "-")
	ip, fp, dot := strings.Cut(s, ".")
	return AllDigits(ip) && (!dot || AllDigits(fp))
}

// AllDigits reports whether s is not empty and holds only the ASCII
// digits 0-9.
func AllDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// decimal is a parsed number: integer digits without leading zeros ("0" for
// none) and fraction digits without trailing zeros.
type decimal struct {
	neg       bool
	int, frac string
}

// parseDecimal parses JSON number grammar (sign, digits, fraction,
// exponent). It refuses texts and exponents that are absurdly large.
func parseDecimal(s string) (decimal, bool) {
	if len(s) == 0 || len(s) > maxNumberText {
		return decimal{}, false
	}
	var d decimal
	if s[0] == '-' || s[0] == '+' {
		d.neg = s[0] == '-'
		s = s[1:]
	}
	mant, expText, hasExp := strings.Cut(strings.ToLower(s), "e")
	ip, fp, dot := strings.Cut(mant, ".")
	if !AllDigits(ip) || (dot && !AllDigits(fp)) {
		return decimal{}, false
	}
	if !hasExp {
		// No exponent: the digits stay where they are (no concatenation).
		if d.int = strings.TrimLeft(ip, "0"); d.int == "" {
			d.int = "0"
		}
		d.frac = strings.TrimRight(fp, "0")
		return d, true
	}
	exp, err := strconv.Atoi(expText)
	if err != nil || exp > maxNumberText || exp < -maxNumberText {
		return decimal{}, false
	}
	digits := ip + fp
	point := len(ip) + exp // position of the decimal point within digits
	switch {
	case point <= 0:
		digits = strings.Repeat("0", -point) + digits
		point = 0
	case point > len(digits):
		digits += strings.Repeat("0", point-len(digits))
	}
	d.int = strings.TrimLeft(digits[:point], "0")
	if d.int == "" {
		d.int = "0"
	}
	d.frac = strings.TrimRight(digits[point:], "0")
	return d, true
}

func title(f *Field) string {
	if f.Label != "" {
		return fmt.Sprintf("%s (%s)", f.Label, f.Name)
	}
	return f.Name
}

// expect describes what a field wants, for "required" messages.
func expect(f *Field) string {
	switch f.Type.Kind {
	case KindObject:
		return "an object"
	case KindArray:
		return "an array of objects"
	case KindBoolean:
		return "true or false"
	case KindInteger:
		return "a whole number"
	case KindDecimal:
		return "a number of type " + f.Type.String()
	case KindDate, KindDateTime:
		return fmt.Sprintf("a %s like %q", f.Type.Kind, sampleTime.Format(f.Layout()))
	case KindEnum:
		return "one of " + codeList(f)
	}
	if f.MaxLength > 0 {
		return fmt.Sprintf("a string of at most %d %s", f.MaxLength, f.Unit())
	}
	return "a string"
}

// describe describes a value given to the scalar field f: its JSON kind
// and the value, masked when f is personal ([shown]).
func describe(f *Field, v any) string {
	switch x := v.(type) {
	case string:
		return "string " + shown(f, x)
	case bool:
		return "boolean " + strconv.FormatBool(x)
	}
	if n, ok := numberText(v); ok {
		if f.Personal {
			return "number " + shorten(MaskValue(n))
		}
		return "number " + shorten(n)
	}
	return kindOf(v)
}

// kindOf names the JSON kind of a value without quoting it: what an
// object or array field, or a document, got instead. The value itself
// does not help there, and it may be anything (a name or an ID number
// mapped to the wrong place).
func kindOf(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case map[string]any:
		return "an object"
	case []any, []map[string]any:
		return "an array"
	}
	if _, ok := numberText(v); ok {
		return "a number"
	}
	return fmt.Sprintf("a value of Go type %T (decode the JSON into map[string]any first)", v)
}

// shown quotes a value refused at field f for a message: as it is, or
// masked ([MaskValue]) when f is personal.
func shown(f *Field, s string) string {
	if f.Personal {
		return strconv.Quote(shorten(MaskValue(s)))
	}
	return quoteShort(s)
}

// MaskValue masks a personal value as medgate's logs do: a value of up
// to 4 characters keeps its first, one of up to 10 its first and last,
// a longer one its first 3 and last 4 (350203198001011234 →
// 350***********1234); every other letter, digit or character is a *.
// ASCII separators (space, - / : . and other punctuation) are kept, so
// that a date written in another layout shows which (1980/01/31 →
// 1***/**/*1). It is medgate's own helper (the transforms show a
// personal target's value with it), not one kept stable for vendors.
func MaskValue(s string) string {
	r := []rune(s)
	n := len(r)
	head, tail := 3, 4
	switch {
	case n <= 4:
		head, tail = 1, 0
	case n < 11:
		head, tail = 1, 1
	}
	for i, c := range r {
		if i < head || i >= n-tail {
			continue
		}
		if c < utf8.RuneSelf && c > ' ' && !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') || c == ' ' {
			continue
		}
		r[i] = '*'
	}
	return string(r)
}

func shorten(s string) string {
	const max = 40
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	r := []rune(s)
	return string(r[:max]) + "…"
}

func quoteShort(s string) string { return strconv.Quote(shorten(s)) }

// codeList lists a code table for messages, in code order, at most ten
// entries.
func codeList(f *Field) string {
	codes := make([]string, 0, len(f.Codes))
	for c := range f.Codes {
		codes = append(codes, c)
	}
	sort.Strings(codes)
	parts := make([]string, 0, 11)
	for i, c := range codes {
		if i == 10 {
			parts = append(parts, fmt.Sprintf("… (%d codes in all", len(codes))+tableSuffix(f)+")")
			break
		}
		parts = append(parts, fmt.Sprintf("%q (%s)", c, f.Codes[c]))
	}
	if len(parts) == 0 {
		return "nothing (the code table is empty)"
	}
	return strings.Join(parts, ", ")
}

func tableSuffix(f *Field) string {
	if f.CodesRef != "" {
		return ", see code table " + f.CodesRef
	}
	return ""
}

func fieldNames(fields []Field) []string {
	names := make([]string, len(fields))
	for i := range fields {
		names[i] = fields[i].Name
	}
	return names
}

func formatPath(path []seg) string {
	var b strings.Builder
	b.WriteString("$")
	for _, s := range path {
		switch {
		case s.isIdx:
			fmt.Fprintf(&b, "[%d]", s.index)
		case isIdent(s.key):
			b.WriteString(".")
			b.WriteString(s.key)
		default:
			fmt.Fprintf(&b, "[%s]", strconv.Quote(s.key))
		}
	}
	return b.String()
}

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		letter := r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z')
		if !letter && (i == 0 || r < '0' || r > '9') {
			return false
		}
	}
	return true
}

// comparePath orders paths step by step; indices compare as numbers, so
// $.fee[2] sorts before $.fee[10].
func comparePath(a, b []seg) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		x, y := a[i], b[i]
		var c int
		switch {
		case x.isIdx && y.isIdx:
			c = cmp.Compare(x.index, y.index)
		case x.isIdx != y.isIdx:
			if x.isIdx {
				c = 1
			} else {
				c = -1
			}
		default:
			c = strings.Compare(x.key, y.key)
		}
		if c != 0 {
			return c
		}
	}
	return cmp.Compare(len(a), len(b))
}

// Nearest returns the candidate closest to s by edit distance, ignoring
// case, when it is close enough to be a likely typo, or "": the suggestion
// of a "did you mean" fix.
func Nearest(s string, candidates []string) string {
	best, bestD := "", 0
	for _, c := range candidates {
		d := editDistance(strings.ToLower(s), strings.ToLower(c))
		if best == "" || d < bestD {
			best, bestD = c, d
		}
	}
	if best == "" || bestD > max(1, len(best)/3) {
		return ""
	}
	return best
}

// editDistance is the optimal-string-alignment distance: insertions,
// deletions, substitutions and swaps of neighbours each cost one.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return math.MaxInt32
	}
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}
