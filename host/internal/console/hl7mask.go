package console

import (
	"bytes"
	"encoding/json"
	"strings"

	"github.com/medgate/medgate/host/internal/logging"
)

// The message page masks personal data in HL7 v2 text too: the payload
// of a message sent with format hl7v2 (a JSON string in the request), or
// a body that is HL7 itself. logging.MaskJSON masks values by their JSON
// key and ID or mobile numbers by their pattern, which leaves an HL7
// message's names, passport numbers, addresses and other phones as
// received; here they are masked by the segment field that holds them.

// hl7Field says how a personal HL7 field is masked.
type hl7Field int

const (
	// hl7Text masks every component and subcomponent (names, addresses,
	// phones): each keeps only its edges (logging.MaskValue).
	hl7Text hl7Field = iota + 1
	// hl7IDs masks the identifier (first component) of each repetition,
	// keeping its assigning authority and type code, except the
	// hospital's own numbers (hl7OwnIDTypes), which the console shows as
	// business keys anyway.
	hl7IDs
)

// hl7Personal lists the fields (HL7 v2.5 numbering) that hold personal
// data, by segment: patient (PID), next of kin (NK1), guarantor (GT1),
// insured (IN1) and merged patient (MRG).
var hl7Personal = map[string]map[int]hl7Field{
	"PID": {2: hl7IDs, 3: hl7IDs, 4: hl7IDs, 5: hl7Text, 6: hl7Text, 9: hl7Text, 11: hl7Text, 13: hl7Text, 14: hl7Text,
		19: hl7IDs, 20: hl7IDs, 21: hl7IDs},
	"NK1": {2: hl7Text, 4: hl7Text, 5: hl7Text, 6: hl7Text, 30: hl7Text, 31: hl7Text, 32: hl7Text, 33: hl7IDs, 37: hl7IDs},
	"GT1": {3: hl7Text, 4: hl7Text, 5: hl7Text, 6: hl7Text, 7: hl7Text, 12: hl7IDs},
	"IN1": {16: hl7Text, 19: hl7Text, 49: hl7IDs},
	"MRG": {1: hl7IDs, 2: hl7IDs, 4: hl7IDs, 7: hl7Text},
}

// hl7OwnIDTypes are identifier type codes (CX.5) of the hospital's own
// numbers: patient internal, medical record, visit and account numbers.
var hl7OwnIDTypes = map[string]bool{"PI": true, "MR": true, "VN": true, "AN": true}

// hl7Separators are a message's delimiters, read from its header.
type hl7Separators struct{ field, comp, rep, sub byte }

// hl7Header returns the separators of s when s is an HL7 v2 message or
// batch (it starts with MSH, BHS or FHS and its field separator).
func hl7Header(s string) (hl7Separators, bool) {
	if len(s) < 5 || (s[:3] != "MSH" && s[:3] != "BHS" && s[:3] != "FHS") {
		return hl7Separators{}, false
	}
	sep := hl7Separators{field: s[3], comp: '^', rep: '~', sub: '&'}
	if c := sep.field; c == '\r' || c == '\n' || c == ' ' || ('0' <= c && c <= '9') || ('A' <= c && c <= 'Z') || ('a' <= c && c <= 'z') {
		return hl7Separators{}, false
	}
	enc := s[4:]
	if i := strings.IndexAny(enc, string(sep.field)+"\r\n"); i >= 0 {
		enc = enc[:i]
	}
	for i, p := range []*byte{&sep.comp, &sep.rep, nil, &sep.sub} { // the third is the escape character
		if i < len(enc) && p != nil {
			*p = enc[i]
		}
	}
	return sep, true
}

// maskHL7 returns s with the personal fields of its segments masked
// (hl7Personal), or s unchanged when it is not an HL7 v2 message.
// Segments may end in \r (the standard), \n or \r\n; every separator and
// line break stays where it was.
func maskHL7(s string) string {
	sep, ok := hl7Header(s)
	if !ok {
		return s
	}
	var b strings.Builder
	for len(s) > 0 {
		end := strings.IndexAny(s, "\r\n")
		if end < 0 {
			end = len(s)
		}
		b.WriteString(maskSegment(s[:end], sep))
		s = s[end:]
		for len(s) > 0 && (s[0] == '\r' || s[0] == '\n') {
			b.WriteByte(s[0])
			s = s[1:]
		}
	}
	return b.String()
}

// maskSegment masks the personal fields of one segment.
func maskSegment(seg string, sep hl7Separators) string {
	name, _, _ := strings.Cut(seg, string(sep.field))
	fields := hl7Personal[name]
	if fields == nil {
		return seg
	}
	parts := strings.Split(seg, string(sep.field))
	for i := 1; i < len(parts); i++ {
		switch fields[i] {
		case hl7Text:
			parts[i] = maskEach(parts[i], sep.rep, sep.comp, sep.sub)
		case hl7IDs:
			reps := strings.Split(parts[i], string(sep.rep))
			for j, r := range reps {
				comps := strings.Split(r, string(sep.comp))
				if len(comps) > 4 && hl7OwnIDTypes[strings.ToUpper(strings.TrimSpace(comps[4]))] {
					continue
				}
				comps[0] = maskEach(comps[0], sep.sub)
				reps[j] = strings.Join(comps, string(sep.comp))
			}
			parts[i] = strings.Join(reps, string(sep.rep))
		}
	}
	return strings.Join(parts, string(sep.field))
}

// maskEach masks every non-empty piece of s split by the separators, in
// turn, keeping the separators.
func maskEach(s string, seps ...byte) string {
	if len(seps) == 0 {
		if s == "" {
			return s
		}
		return logging.MaskValue(s)
	}
	pieces := strings.Split(s, string(seps[0]))
	for i, p := range pieces {
		pieces[i] = maskEach(p, seps[1:]...)
	}
	return strings.Join(pieces, string(seps[0]))
}

// maskHL7InJSON returns the JSON document b with every string value that
// is an HL7 v2 message masked (maskHL7); b itself when it holds none.
func maskHL7InJSON(b []byte) []byte {
	if !bytes.Contains(b, []byte("MSH")) && !bytes.Contains(b, []byte("BHS")) && !bytes.Contains(b, []byte("FHS")) {
		return b
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return b
	}
	changed := false
	var walk func(any) any
	walk = func(v any) any {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				x[k] = walk(e)
			}
		case []any:
			for i, e := range x {
				x[i] = walk(e)
			}
		case string:
			if m := maskHL7(x); m != x {
				changed = true
				return m
			}
		}
		return v
	}
	v = walk(v)
	if !changed {
		return b
	}
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return b
	}
	return bytes.TrimRight(out.Bytes(), "\n")
}
