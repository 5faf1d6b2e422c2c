package code

import (
	"errors"
	"fmt"
	"strings"
)

// MaxLength is the longest code accepted, in bytes: the national
// medical-insurance field drug_trac_codg is 字符型 100 in current versions.
const MaxLength = 100

// DrugLength is the length of a drug trace code.
const DrugLength = 20

// ProductLength is the length of the product identifier (药品标识码) at the
// start of a drug trace code.
const ProductLength = 7

// Kind says which code system a code belongs to.
type Kind string

// Kinds of codes.
const (
	// KindDrug is a 20-digit drug trace code starting with 8.
	KindDrug Kind = "drug"
	// KindGS1 is a GS1 element string with an (01) GTIN, written with
	// parentheses, e.g. "(01)06901234567892(17)271231(10)A1(21)0001".
	KindGS1 Kind = "gs1"
	// KindOther is any other printable code (medical-device UDI of other
	// issuers, in-house codes), accepted only when the policy says so.
	KindOther Kind = "other"
)

// Consumables says which codes other than drug trace codes a site accepts.
type Consumables string

// Consumable policies.
const (
	// ConsumablesNone accepts drug trace codes only.
	ConsumablesNone Consumables = "none"
	// ConsumablesGS1 also accepts GS1 element strings with a valid GTIN.
	ConsumablesGS1 Consumables = "gs1"
	// ConsumablesAny also accepts any printable ASCII code of at most
	// MaxLength bytes that is not a malformed drug code.
	ConsumablesAny Consumables = "any"
)

// ParseConsumables parses a policy name.
func ParseConsumables(s string) (Consumables, error) {
	switch c := Consumables(s); c {
	case ConsumablesNone, ConsumablesGS1, ConsumablesAny:
		return c, nil
	}
	return "", fmt.Errorf("consumable code policy %q is not known; use none, gs1 or any", s)
}

// Policy decides which codes are valid.
type Policy struct {
	Consumables Consumables
}

// Errors returned by Parse, wrapped with the reason and the fix.
var (
	// ErrEmpty: the code is empty or blank.
	ErrEmpty = errors.New("trace code is empty")
	// ErrFormat: the code is not a valid code of any accepted kind.
	ErrFormat = errors.New("trace code is malformed")
	// ErrNotAccepted: the code is well formed but the site's policy does
	// not accept its kind.
	ErrNotAccepted = errors.New("trace code kind is not accepted")
)

// Code is a parsed, valid trace code.
type Code struct {
	// Value is the code as it must be sent and stored: trimmed, otherwise
	// unchanged.
	Value string
	Kind  Kind
}

// String returns the code's value.
func (c Code) String() string { return c.Value }

// Product returns the 7-digit product identifier (药品标识码) of a drug
// code, or "" for other kinds.
func (c Code) Product() string {
	if c.Kind != KindDrug {
		return ""
	}
	return c.Value[:ProductLength]
}

// Parse checks one scanned code against the policy. Surrounding white
// space is removed; anything else that is wrong is an error wrapping
// ErrEmpty, ErrFormat or ErrNotAccepted that says what to do.
func Parse(s string, p Policy) (Code, error) {
	v := strings.TrimSpace(s)
	if v == "" {
		return Code{}, fmt.Errorf("%w: scan the code again", ErrEmpty)
	}
	if len(v) > MaxLength {
		return Code{}, fmt.Errorf("%w: %d bytes, longer than the %d allowed; check that two codes were not scanned into one field", ErrFormat, len(v), MaxLength)
	}
	pos := 0
	for _, c := range v {
		pos++
		switch {
		case c >= 0x21 && c <= 0x7e:
		case c >= 0xff01 && c <= 0xff5e:
			return Code{}, fmt.Errorf("%w: character %q at position %d is a full-width (全角) character, %q in half-width; switch the input method or the scanner to half-width (半角) and scan again", ErrFormat, c, pos, c-0xfee0)
		case c == 0x1d:
			return Code{}, fmt.Errorf("%w: character at position %d is the GS1 group separator (GS, 0x1D) of a raw DataMatrix read; configure the scanner to send GS1 codes in their human-readable form, with parentheses: (01)…(17)…(21)…", ErrFormat, pos)
		default:
			return Code{}, fmt.Errorf("%w: character %q at position %d is not printable ASCII; configure the scanner to send plain text (GS1 codes with parentheses)", ErrFormat, c, pos)
		}
	}
	if allDigits(v) {
		switch {
		case len(v) == DrugLength && v[0] == '8':
			return Code{Value: v, Kind: KindDrug}, nil
		case len(v) == DrugLength:
			return Code{}, fmt.Errorf("%w: a 20-digit drug trace code starts with 8, %q starts with %c; scan the trace code (追溯码), not another barcode", ErrFormat, v, v[0])
		case p.Consumables == ConsumablesAny && v[0] != '8':
			return Code{Value: v, Kind: KindOther}, nil
		case v[0] == '8':
			return Code{}, fmt.Errorf("%w: drug trace codes are 20 digits, %q has %d; scan the whole code", ErrFormat, v, len(v))
		case len(v) > 16 && strings.HasPrefix(v, "01") && gtinCheckOK(v[2:16]):
			return Code{}, fmt.Errorf("%w: %q looks like a GS1 code without its parentheses: (01)%s followed by %q; configure the scanner to send GS1 codes in their human-readable form, with parentheses, e.g. (01)%s(17)…(21)…", ErrFormat, v, v[2:16], v[16:], v[2:16])
		default:
			return Code{}, fmt.Errorf("%w: %q is not a drug trace code (20 digits starting with 8); scan the trace code (追溯码), not the product barcode", ErrFormat, v)
		}
	}
	if strings.HasPrefix(v, "(") {
		if err := checkGS1(v); err != nil {
			return Code{}, err
		}
		if p.Consumables == ConsumablesNone {
			return Code{}, fmt.Errorf("%w: %q is a GS1 consumable code and this site accepts drug trace codes only; set consumableCodes to gs1 or any to accept it", ErrNotAccepted, v)
		}
		return Code{Value: v, Kind: KindGS1}, nil
	}
	if p.Consumables == ConsumablesAny {
		if strings.ContainsAny(v, ",;") {
			return Code{}, fmt.Errorf("%w: %q contains a list separator; send one code per array item", ErrFormat, v)
		}
		return Code{Value: v, Kind: KindOther}, nil
	}
	return Code{}, fmt.Errorf("%w: %q is neither a drug trace code (20 digits starting with 8) nor a GS1 code; scan the trace code again, or set consumableCodes to any to accept other codes", ErrFormat, v)
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// gs1AI describes the application identifiers Parse understands: fixed
// length (n > 0) or variable up to max.
var gs1AI = map[string]struct {
	fixed, max int
	numeric    bool
}{
	"01":  {fixed: 14, numeric: true}, // GTIN
	"10":  {max: 20},                  // batch/lot
	"11":  {fixed: 6, numeric: true},  // production date YYMMDD
	"17":  {fixed: 6, numeric: true},  // expiry date YYMMDD
	"21":  {max: 20},                  // serial
	"240": {max: 30},                  // additional product id
	"30":  {max: 8, numeric: true},    // count
}

// checkGS1 checks a parenthesised GS1 element string: known AIs, lengths,
// and the GTIN check digit. It must carry (01).
func checkGS1(v string) error {
	rest := v
	seen := map[string]bool{}
	for rest != "" {
		if rest[0] != '(' {
			return fmt.Errorf("%w: GS1 code %q: expected \"(\" at %q; write each element as (AI)value", ErrFormat, v, rest)
		}
		end := strings.IndexByte(rest, ')')
		if end < 0 {
			return fmt.Errorf("%w: GS1 code %q: unclosed \"(\"", ErrFormat, v)
		}
		ai := rest[1:end]
		rest = rest[end+1:]
		next := strings.IndexByte(rest, '(')
		if next < 0 {
			next = len(rest)
		}
		val := rest[:next]
		rest = rest[next:]
		spec, ok := gs1AI[ai]
		if !ok {
			return fmt.Errorf("%w: GS1 code %q: application identifier (%s) is not supported; supported: (01) (10) (11) (17) (21) (240) (30)", ErrFormat, v, ai)
		}
		if seen[ai] {
			return fmt.Errorf("%w: GS1 code %q: (%s) appears twice", ErrFormat, v, ai)
		}
		seen[ai] = true
		switch {
		case val == "":
			return fmt.Errorf("%w: GS1 code %q: (%s) has no value", ErrFormat, v, ai)
		case spec.fixed > 0 && len(val) != spec.fixed:
			return fmt.Errorf("%w: GS1 code %q: (%s) must have %d characters, has %d", ErrFormat, v, ai, spec.fixed, len(val))
		case spec.max > 0 && len(val) > spec.max:
			return fmt.Errorf("%w: GS1 code %q: (%s) allows at most %d characters, has %d", ErrFormat, v, ai, spec.max, len(val))
		case spec.numeric && !allDigits(val):
			return fmt.Errorf("%w: GS1 code %q: (%s) must be digits", ErrFormat, v, ai)
		}
		if ai == "01" && !gtinCheckOK(val) {
			return fmt.Errorf("%w: GS1 code %q: the GTIN check digit is wrong; scan the code again", ErrFormat, v)
		}
	}
	if !seen["01"] {
		return fmt.Errorf("%w: GS1 code %q has no (01) GTIN", ErrFormat, v)
	}
	return nil
}

// gtinCheckOK verifies the GS1 mod-10 check digit of a GTIN-14.
func gtinCheckOK(g string) bool {
	sum := 0
	for i := 0; i < len(g)-1; i++ {
		d := int(g[i] - '0')
		if (len(g)-1-i)%2 == 1 {
			d *= 3
		}
		sum += d
	}
	return (10-sum%10)%10 == int(g[len(g)-1]-'0')
}
