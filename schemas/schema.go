package schemas

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Direction says what a transaction does, seen from medgate.
type Direction string

// The directions a schema may declare.
const (
	DirectionUpload   Direction = "upload"   // medgate sends business data
	DirectionDownload Direction = "download" // medgate fetches records or files; record batches may need acknowledging
	DirectionQuery    Direction = "query"    // medgate asks and gets an answer, no side effect
	DirectionRevoke   Direction = "revoke"   // medgate cancels an earlier upload
	DirectionFeedback Direction = "feedback" // medgate acknowledges a download
)

var directions = []Direction{DirectionUpload, DirectionDownload, DirectionQuery, DirectionRevoke, DirectionFeedback}

// Valid reports whether d is one of the declared directions.
func (d Direction) Valid() bool { return slices.Contains(directions, d) }

// Kind is the basic type of a field.
type Kind string

// The field kinds a schema may declare. Decimal carries its precision and
// scale in [Type].
const (
	KindString   Kind = "string"
	KindInteger  Kind = "integer"
	KindDecimal  Kind = "decimal"
	KindDate     Kind = "date"
	KindDateTime Kind = "datetime"
	KindEnum     Kind = "enum"
	KindBoolean  Kind = "boolean"
	KindObject   Kind = "object"
	KindArray    Kind = "array"
)

var kinds = []Kind{KindString, KindInteger, KindDecimal, KindDate, KindDateTime, KindEnum, KindBoolean, KindObject, KindArray}

// MaxPrecision is the largest decimal precision a schema may declare.
const MaxPrecision = 38

// Type is a field type: a kind and, for decimals, the precision (total
// significant digits) and scale (digits after the decimal point).
type Type struct {
	Kind      Kind
	Precision int
	Scale     int
}

// String returns the type as written in schema files, for example
// "string" or "decimal(16,2)".
func (t Type) String() string {
	if t.Kind == KindDecimal {
		return fmt.Sprintf("decimal(%d,%d)", t.Precision, t.Scale)
	}
	return string(t.Kind)
}

// Scalar reports whether values of this type are JSON scalars (not objects
// or arrays).
func (t Type) Scalar() bool { return t.Kind != KindObject && t.Kind != KindArray }

// ParseType parses a type as written in schema files: one of string,
// integer, date, datetime, enum, boolean, object, array, or decimal(p,s)
// with 1 <= p <= 38 and 0 <= s <= p. A bare "decimal" is rejected because
// the precision must be stated.
func ParseType(s string) (Type, error) {
	s = strings.TrimSpace(s)
	if rest, ok := strings.CutPrefix(s, "decimal"); ok {
		inner, ok := strings.CutPrefix(rest, "(")
		if ok {
			inner, ok = strings.CutSuffix(inner, ")")
		}
		if !ok {
			return Type{}, fmt.Errorf("type %q: decimal needs precision and scale; write decimal(16,2)", s)
		}
		ps, ss, ok := strings.Cut(inner, ",")
		if !ok {
			ss = "0"
		}
		p, err1 := strconv.Atoi(strings.TrimSpace(ps))
		sc, err2 := strconv.Atoi(strings.TrimSpace(ss))
		if err1 != nil || err2 != nil {
			return Type{}, fmt.Errorf("type %q: precision and scale must be whole numbers; write decimal(16,2)", s)
		}
		if p < 1 || p > MaxPrecision || sc < 0 || sc > p {
			return Type{}, fmt.Errorf("type %q: need 1 <= precision <= %d and 0 <= scale <= precision; write for example decimal(16,2)", s, MaxPrecision)
		}
		return Type{Kind: KindDecimal, Precision: p, Scale: sc}, nil
	}
	k := Kind(s)
	if !slices.Contains(kinds, k) {
		fix := "use one of string, integer, decimal(p,s), date, datetime, enum, boolean, object, array"
		names := make([]string, len(kinds))
		for i, k := range kinds {
			names[i] = string(k)
		}
		if near := Nearest(s, names); near != "" {
			fix = fmt.Sprintf("did you mean %q? %s", near, fix)
		}
		return Type{}, fmt.Errorf("type %q is not known; %s", s, fix)
	}
	return Type{Kind: k}, nil
}

// LengthUnit says how maxLength is counted.
type LengthUnit string

// Length units. Chars counts Unicode code points (UTF-8 runes); Bytes counts
// the bytes of the UTF-8 encoding, so a Chinese character counts 3.
const (
	UnitChars LengthUnit = "chars"
	UnitBytes LengthUnit = "bytes"
)

// Default layouts for date and datetime fields without a format.
const (
	DefaultDateFormat     = "2006-01-02"
	DefaultDateTimeFormat = "2006-01-02 15:04:05"
)

// Schema describes one external transaction: its identity and its business
// input and output fields. Envelope fields (transaction code, message id,
// signature…) are not part of a schema.
type Schema struct {
	// Code is the transaction code, for example "GYU101". It equals the file
	// name without ".yaml".
	Code string
	// Name is the transaction's name, in Chinese as the specification has it.
	Name string
	// System is the external system, for example "workinjury". It equals the
	// directory the file is in.
	System string
	// Direction says what the transaction does.
	Direction Direction
	// BatchLimit is the most items the array named by BatchField may hold in
	// one call; 0 means no limit.
	BatchLimit int
	// BatchField is a dotted path to the array BatchLimit applies to, in the
	// input ("fee") or, with the prefix "output.", in the output
	// ("output.records").
	BatchField string
	// Source says where the field list comes from.
	Source string
	// Reconstructed is true when the official field list is not available
	// and the fields are medgate's reconstruction.
	Reconstructed bool
	// ReconstructionNote explains what was reconstructed and how to replace it.
	ReconstructionNote string
	// Description is optional free text.
	Description string
	// Input lists the business fields medgate sends.
	Input []Field
	// Output lists the business fields the external system returns.
	Output []Field
	// File is where the schema was loaded from, for messages; empty for
	// schemas that were built in memory (for example by Import).
	File string
}

// Field describes one input or output field.
type Field struct {
	// Name is the field's JSON key.
	Name string
	// Label is the human name, usually Chinese.
	Label string
	// Type is the field's type.
	Type Type
	// MaxLength is the longest allowed value, 0 for no limit. For strings,
	// enums, dates and datetimes it counts LengthUnit; for integers it counts
	// digits. Decimals are bounded by their precision instead.
	MaxLength int
	// LengthUnit is how MaxLength counts; empty means chars.
	LengthUnit LengthUnit
	// Required means the field must be present, not null, not "" and not
	// white space alone (ASCII or full-width spaces, tabs, line breaks,
	// zero-width characters): the requirements' non-empty check.
	Required bool
	// Format is the Go time layout of a date or datetime field; empty means
	// DefaultDateFormat or DefaultDateTimeFormat.
	Format string
	// Codes is the enum code table, code → label (resolved from CodesRef
	// when the file names a shared table).
	Codes map[string]string
	// CodesRef is the name of the shared code table, empty when the codes
	// are written inline.
	CodesRef string
	// Example is an example value, of the Go type the validator accepts for
	// the field: string (string, enum, date, datetime), int64 (integer),
	// json.Number (decimal) or bool (boolean); nil when there is none.
	Example any
	// Fields are the children of an object, or of each item of an array.
	Fields []Field
	// MinItems and MaxItems bound the number of items of an array; 0 means
	// no bound.
	MinItems int
	MaxItems int
	// Description is optional free text.
	Description string
	// PlatformOnly marks a medgate extension: a scalar input field the
	// platform message may carry, validated by its own rules, that the
	// external system does not know. The adapter acts on it and removes it
	// ([Schema.StripPlatformOnly]) before the request is sent.
	PlatformOnly bool
	// RequiredUnless names a PlatformOnly sibling that stands in for this
	// required field: the field may be missing when the sibling is given
	// (the adapter fills it before sending). Empty for none.
	RequiredUnless string
	// Pattern is a regular expression (Go regexp, RE2 syntax) the whole
	// value of a string field must match; empty for none. It is anchored
	// at both ends: "https://\S+" means ^(?:https://\S+)$.
	Pattern string
	// Personal marks a scalar field that may carry personal data (an ID,
	// social-security card or phone number, a name, a birth date, an
	// address, medical record content). The validator's messages never
	// quote its value: they show it masked as the logs do (first and last
	// characters, separators kept), with what is wrong.
	Personal bool
}

// Unit returns the effective length unit (chars when none is set).
func (f *Field) Unit() LengthUnit {
	if f.LengthUnit == "" {
		return UnitChars
	}
	return f.LengthUnit
}

// Layout returns the effective time layout of a date or datetime field and
// "" for other types.
func (f *Field) Layout() string {
	switch {
	case f.Type.Kind != KindDate && f.Type.Kind != KindDateTime:
		return ""
	case f.Format != "":
		return f.Format
	case f.Type.Kind == KindDate:
		return DefaultDateFormat
	default:
		return DefaultDateTimeFormat
	}
}

// BatchPath splits BatchField into the side it applies to ("input" or
// "output") and the dotted path of field names inside that side. It returns
// empty values when no batch limit is set.
func (s *Schema) BatchPath() (side string, path []string) {
	if s.BatchLimit <= 0 || s.BatchField == "" {
		return "", nil
	}
	if rest, ok := strings.CutPrefix(s.BatchField, "output."); ok {
		return "output", strings.Split(rest, ".")
	}
	return "input", strings.Split(s.BatchField, ".")
}

// ExampleInput builds an input document from the fields' examples: objects
// from their children, arrays with max(1, minItems) items. Fields without an
// example are left out. The result is suitable for [Schema.ValidateInput]
// and for documentation.
func (s *Schema) ExampleInput() map[string]any { return exampleObject(s.Input) }

// ExampleOutput is [Schema.ExampleInput] for the output fields.
func (s *Schema) ExampleOutput() map[string]any { return exampleObject(s.Output) }

func exampleObject(fields []Field) map[string]any {
	doc := make(map[string]any, len(fields))
	for i := range fields {
		f := &fields[i]
		if f.PlatformOnly {
			// A stand-in for a field that has its own example.
			continue
		}
		switch f.Type.Kind {
		case KindObject:
			doc[f.Name] = exampleObject(f.Fields)
		case KindArray:
			n := max(1, f.MinItems)
			items := make([]any, n)
			for j := range items {
				items[j] = exampleObject(f.Fields)
			}
			doc[f.Name] = items
		default:
			if f.Example != nil {
				doc[f.Name] = f.Example
			}
		}
	}
	return doc
}

// StripPlatformOnly removes the PlatformOnly input fields (present,
// null or empty alike) from a decoded input document, in objects and
// array items at any depth, so that what is sent holds only the external
// system's fields. It reports whether it removed anything. Call it after
// [Schema.ValidateInput] and after acting on the fields.
func (s *Schema) StripPlatformOnly(doc map[string]any) bool {
	return stripPlatformOnly(s.Input, doc)
}

func stripPlatformOnly(fields []Field, m map[string]any) bool {
	removed := false
	for i := range fields {
		f := &fields[i]
		v, ok := m[f.Name]
		switch {
		case !ok:
		case f.PlatformOnly:
			delete(m, f.Name)
			removed = true
		case f.Type.Kind == KindObject:
			if child, ok := v.(map[string]any); ok && stripPlatformOnly(f.Fields, child) {
				removed = true
			}
		case f.Type.Kind == KindArray:
			items, _ := asArray(v)
			for _, item := range items {
				if child, ok := item.(map[string]any); ok && stripPlatformOnly(f.Fields, child) {
					removed = true
				}
			}
		}
	}
	return removed
}

// find returns the field with the given name among fields.
func find(fields []Field, name string) *Field {
	for i := range fields {
		if fields[i].Name == name {
			return &fields[i]
		}
	}
	return nil
}

// lookup follows a dotted path of field names through objects and arrays.
func lookup(fields []Field, path []string) *Field {
	var f *Field
	for i, name := range path {
		f = find(fields, name)
		if f == nil {
			return nil
		}
		if i < len(path)-1 {
			fields = f.Fields
		}
	}
	return f
}
