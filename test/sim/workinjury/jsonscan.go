package workinjury

import (
	"encoding/json"
	"unicode/utf8"
)

// This file reads the JSON of a request in one pass: the envelope's
// string members, and the business data as encoding/json with UseNumber
// decodes it. It takes plain JSON only (strings without escapes, valid
// UTF-8, nesting up to maxDepth) and says so when it meets anything else;
// the caller then uses encoding/json, which gives the same result or the
// error. FuzzDecodeObject and FuzzEnvelopeFields compare the two.

// maxDepth is the deepest nesting the one-pass reader takes.
const maxDepth = 64

type jsonScanner struct {
	b    []byte
	i    int
	keys map[string]string // member names met so far: one string each
	// text is b as a string when set: strings and numbers are then its
	// substrings (one copy of the data, not one allocation per value).
	text string
	// shared holds short values already in an interface (a string or a
	// json.Number), keyed by kind and text: fee lines repeat most of them.
	shared map[sharedKey]any
}

type sharedKey struct {
	text   string
	number bool
}

// share returns v (t as a string or json.Number) in an interface, the
// same one for equal short values of one request.
func (s *jsonScanner) share(t string, number bool) any {
	if len(t) > 32 || s.text == "" {
		if number {
			return json.Number(t)
		}
		return t
	}
	k := sharedKey{t, number}
	if v, ok := s.shared[k]; ok {
		return v
	}
	var v any = t
	if number {
		v = json.Number(t)
	}
	if s.shared == nil {
		s.shared = make(map[sharedKey]any, 64)
	}
	if len(s.shared) < 4096 {
		s.shared[k] = v
	}
	return v
}

// sub returns b[start:end] as a string.
func (s *jsonScanner) sub(start, end int) string {
	if s.text != "" {
		return s.text[start:end]
	}
	return string(s.b[start:end])
}

func (s *jsonScanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// colon consumes the ':' after an object member's name, with the
// whitespace around it, and reports whether it was there.
func (s *jsonScanner) colon() bool {
	s.ws()
	if s.i >= len(s.b) || s.b[s.i] != ':' {
		return false
	}
	s.i++
	s.ws()
	return true
}

// separator consumes what follows a member or element: a ',' (more
// follows) or the closing byte end of its object or array (none follows).
// ok is false for anything else.
func (s *jsonScanner) separator(end byte) (more, ok bool) {
	s.ws()
	if s.i >= len(s.b) {
		return false, false
	}
	switch s.b[s.i] {
	case ',':
		s.i++
		return true, true
	case end:
		s.i++
		return false, true
	}
	return false, false
}

// rawString scans a string without escapes at s.i (the opening quote) and
// returns its bytes.
func (s *jsonScanner) rawString() ([]byte, bool) {
	if s.i >= len(s.b) || s.b[s.i] != '"' {
		return nil, false
	}
	start := s.i + 1
	ascii := true
	for j := start; j < len(s.b); j++ {
		c := s.b[j]
		switch {
		case c == '"':
			s.i = j + 1
			t := s.b[start:j]
			if !ascii && !utf8.Valid(t) {
				return nil, false
			}
			return t, true
		case c == '\\' || c < 0x20:
			return nil, false
		case c >= 0x80:
			ascii = false
		}
	}
	return nil, false
}

// key scans a member name, one string per distinct name.
func (s *jsonScanner) key() (string, bool) {
	t, ok := s.rawString()
	if !ok {
		return "", false
	}
	if k, ok := s.keys[string(t)]; ok {
		return k, true
	}
	k := string(t)
	if s.keys == nil {
		s.keys = map[string]string{}
	}
	if len(s.keys) < 1024 {
		s.keys[k] = k
	}
	return k, true
}

// number scans a JSON number and returns its text.
func (s *jsonScanner) number() (string, bool) {
	b, start := s.b, s.i
	i := s.i
	digits := func() int {
		n := 0
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
			n++
		}
		return n
	}
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case digits() == 0:
		return "", false
	}
	if i < len(b) && b[i] == '.' {
		i++
		if digits() == 0 {
			return "", false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if digits() == 0 {
			return "", false
		}
	}
	s.i = i
	return s.sub(start, i), true
}

// literal scans true, false or null.
func (s *jsonScanner) literal(word string, v any) (any, bool) {
	if len(s.b)-s.i < len(word) || string(s.b[s.i:s.i+len(word)]) != word {
		return nil, false
	}
	s.i += len(word)
	return v, true
}

// value scans any value at s.i; hint sizes a new object.
func (s *jsonScanner) value(depth, hint int) (any, bool) {
	if s.i >= len(s.b) {
		return nil, false
	}
	switch c := s.b[s.i]; {
	case c == '{':
		if depth >= maxDepth {
			return nil, false
		}
		m, ok := s.object(depth+1, hint)
		return m, ok
	case c == '[':
		if depth >= maxDepth {
			return nil, false
		}
		return s.array(depth + 1)
	case c == '"':
		start := s.i + 1
		if _, ok := s.rawString(); !ok {
			return nil, false
		}
		return s.share(s.sub(start, s.i-1), false), true
	case c == '-' || c >= '0' && c <= '9':
		n, ok := s.number()
		if !ok {
			return nil, false
		}
		return s.share(n, true), true
	case c == 't':
		return s.literal("true", true)
	case c == 'f':
		return s.literal("false", false)
	case c == 'n':
		return s.literal("null", nil)
	}
	return nil, false
}

// object scans an object at s.i ('{').
func (s *jsonScanner) object(depth, hint int) (map[string]any, bool) {
	s.i++
	m := make(map[string]any, hint)
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == '}' {
		s.i++
		return m, true
	}
	for {
		s.ws()
		k, ok := s.key()
		if !ok {
			return nil, false
		}
		if !s.colon() {
			return nil, false
		}
		v, ok := s.value(depth, 0)
		if !ok {
			return nil, false
		}
		m[k] = v
		more, ok := s.separator('}')
		if !ok {
			return nil, false
		}
		if !more {
			return m, true
		}
	}
}

// array scans an array at s.i ('['); objects in it are sized like the
// one before them (the lines of a call look alike).
func (s *jsonScanner) array(depth int) ([]any, bool) {
	s.i++
	out := []any{}
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == ']' {
		s.i++
		return out, true
	}
	hint := 0
	for {
		s.ws()
		v, ok := s.value(depth, hint)
		if !ok {
			return nil, false
		}
		if m, isMap := v.(map[string]any); isMap {
			hint = len(m)
		}
		out = append(out, v)
		more, ok := s.separator(']')
		if !ok {
			return nil, false
		}
		if !more {
			return out, true
		}
	}
}

// decodeObject decodes b, one JSON object with nothing but white space
// around it, as a json.Decoder with UseNumber does. ok is false when b is
// anything else or not plain JSON; encoding/json decides then.
func decodeObject(b []byte) (m map[string]any, ok bool) {
	s := &jsonScanner{b: b, text: string(b)}
	s.ws()
	if s.i >= len(s.b) || s.b[s.i] != '{' {
		return nil, false
	}
	if m, ok = s.object(1, 0); !ok {
		return nil, false
	}
	s.ws()
	if s.i != len(s.b) {
		return nil, false
	}
	return m, true
}

// envelopeStrings returns the members names of a flat envelope object
// (member values strings, numbers, true, false or null) as
// json.Unmarshal into a map[string]any and a type assertion to string
// give them: "" for a member that is missing or not a string. ok is false
// when b is anything else or not plain JSON. Only the values returned are
// copied (not the data member).
func envelopeStrings(b []byte, names ...string) (values []string, ok bool) {
	s := &jsonScanner{b: b}
	values = make([]string, len(names))
	s.ws()
	if s.i >= len(s.b) || s.b[s.i] != '{' {
		return nil, false
	}
	s.i++
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == '}' {
		s.i++
		s.ws()
		return values, s.i == len(s.b)
	}
	for {
		s.ws()
		k, ok := s.rawString()
		if !ok {
			return nil, false
		}
		if !s.colon() {
			return nil, false
		}
		if s.i >= len(s.b) {
			return nil, false
		}
		var v []byte
		isString := s.b[s.i] == '"'
		if isString {
			if v, ok = s.rawString(); !ok {
				return nil, false
			}
		} else if c := s.b[s.i]; c == '-' || c >= '0' && c <= '9' || c == 't' || c == 'f' || c == 'n' {
			if _, ok := s.value(0, 0); !ok {
				return nil, false
			}
		} else {
			return nil, false
		}
		for j, name := range names {
			if name == string(k) {
				values[j] = "" // a later member of the name wins
				if isString {
					values[j] = string(v)
				}
			}
		}
		s.ws()
		if s.i >= len(s.b) {
			return nil, false
		}
		switch s.b[s.i] {
		case ',':
			s.i++
		case '}':
			s.i++
			s.ws()
			return values, s.i == len(s.b)
		default:
			return nil, false
		}
	}
}
