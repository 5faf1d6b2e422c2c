package adapter

import (
	"bytes"
	"encoding/json"
	"strings"
	"unicode/utf8"

	"github.com/medgate/medgate/plugins/internal/jsonscan"
)

// maxFastDepth bounds the nesting parsePayload follows itself; deeper
// payloads go to encoding/json (which has its own limit).
const maxFastDepth = 64

// parsePayload is the common case of decodeObject in one pass: a JSON
// object without escapes in its strings. What it accepts, it decodes
// exactly as encoding/json does with UseNumber (maps, slices, json.Number,
// strings, bools, nil; the last of duplicate names wins); for anything else
// (escapes, invalid UTF-8, deep nesting, any syntax error) it returns false
// and encoding/json decides. FuzzParsePayload checks the two agree.
func parsePayload(b []byte) (map[string]any, bool) {
	m, _, ok := parsePayloadCanonical(b)
	return m, ok
}

// parsePayloadCanonical is parsePayload that also reports whether b is
// already, byte for byte, what marshal writes for the decoded object:
// no white space, the members of every object in strictly increasing
// order of their names, and no string that marshal would escape (U+2028,
// U+2029; the parser takes no escapes, control characters or invalid
// UTF-8 at all). A platform that encodes its payloads with encoding/json
// sends them so; the request JSON of such a payload need not be encoded
// again (FuzzCanonicalPayload checks marshal gives b back).
func parsePayloadCanonical(b []byte) (map[string]any, bool, bool) {
	// Every string of the payload is a substring of one copy of it: one
	// allocation instead of one per value.
	p := payloadParser{b: b, s: string(b), canon: true, share: len(b) >= minSharedPayload}
	i := p.ws(0)
	if i >= len(b) || b[i] != '{' {
		return nil, false, false
	}
	v, i, ok := p.value(i, 0)
	if !ok || p.ws(i) != len(b) {
		return nil, false, false
	}
	m, _ := v.(map[string]any)
	return m, p.canon && m != nil, m != nil
}

// payloadParser reads one payload. s is b as a string: strings, numbers
// and member names are its substrings. An object in an array is made with
// room for as many members as the one before it (hint), so that it does
// not grow as it is filled.
type payloadParser struct {
	b     []byte
	s     string
	hint  int
	canon bool // b is what marshal writes for it, so far
	// strs and nums hold short values already boxed into an interface:
	// the lines of a call repeat most of their codes, amounts, dates
	// and names, and an interface holding a string costs an allocation.
	// Only a payload of minSharedPayload bytes or more keeps them (share).
	strs, nums map[string]any
	share      bool
}

// Bounds of the boxed values kept for reuse in one payload. A payload
// shorter than minSharedPayload (a query's few members) keeps none: its
// values rarely repeat, and the table, made with room for 64, was most of
// what decoding such a payload allocated (4.6 KB of 5.5 for a GYD051).
const (
	maxBoxedLen      = 32
	maxBoxed         = 2048
	minSharedPayload = 1 << 10
)

// box returns s in an interface, the one made for an equal value before
// when there is one (values are immutable, so sharing it changes nothing).
func (p *payloadParser) box(cache *map[string]any, s string, number bool) any {
	if len(s) > maxBoxedLen || !p.share {
		if number {
			return json.Number(s)
		}
		return s
	}
	if v, ok := (*cache)[s]; ok {
		return v
	}
	var v any = s
	if number {
		v = json.Number(s)
	}
	if *cache == nil {
		*cache = make(map[string]any, 64)
	}
	if len(*cache) < maxBoxed {
		(*cache)[s] = v
	}
	return v
}

// ws skips white space from b[i]; a payload with any is not canonical.
func (p *payloadParser) ws(i int) int {
	j := skipWS(p.b, i)
	if j != i {
		p.canon = false
	}
	return j
}

// name reads a member name like str.
func (p *payloadParser) name(i int) (string, int, bool) {
	return p.str(i)
}

func (p *payloadParser) value(i, depth int) (any, int, bool) {
	b := p.b
	if i >= len(b) || depth > maxFastDepth {
		return nil, 0, false
	}
	switch c := b[i]; {
	case c == '"':
		s, j, ok := p.str(i)
		if !ok {
			return nil, 0, false
		}
		return p.box(&p.strs, s, false), j, true
	case c == '{':
		m := make(map[string]any, p.hint)
		p.hint = 0
		i = p.ws(i + 1)
		if i < len(b) && b[i] == '}' {
			return m, i + 1, true
		}
		prev := ""
		for n := 0; ; n++ {
			k, j, ok := p.name(i)
			if !ok {
				return nil, 0, false
			}
			if n > 0 && k <= prev {
				p.canon = false // out of order, or a duplicate
			}
			prev = k
			if i = p.ws(j); i >= len(b) || b[i] != ':' {
				return nil, 0, false
			}
			v, j, ok := p.value(p.ws(i+1), depth+1)
			if !ok {
				return nil, 0, false
			}
			m[k] = v
			if i = p.ws(j); i >= len(b) {
				return nil, 0, false
			}
			switch b[i] {
			case ',':
				i = p.ws(i + 1)
			case '}':
				return m, i + 1, true
			default:
				return nil, 0, false
			}
		}
	case c == '[':
		a := []any{}
		i = p.ws(i + 1)
		if i < len(b) && b[i] == ']' {
			return a, i + 1, true
		}
		hint := 0
		for {
			p.hint = hint
			v, j, ok := p.value(i, depth+1)
			if !ok {
				return nil, 0, false
			}
			if m, isMap := v.(map[string]any); isMap {
				hint = len(m)
			}
			a = append(a, v)
			if i = p.ws(j); i >= len(b) {
				return nil, 0, false
			}
			switch b[i] {
			case ',':
				i = p.ws(i + 1)
			case ']':
				return a, i + 1, true
			default:
				return nil, 0, false
			}
		}
	case c == '-' || (c >= '0' && c <= '9'):
		j, ok := jsonscan.NumberEnd(b, i)
		if !ok {
			return nil, 0, false
		}
		return p.box(&p.nums, p.s[i:j], true), j, true
	case bytes.HasPrefix(b[i:], []byte("true")):
		return true, i + 4, true
	case bytes.HasPrefix(b[i:], []byte("false")):
		return false, i + 5, true
	case bytes.HasPrefix(b[i:], []byte("null")):
		return nil, i + 4, true
	}
	return nil, 0, false
}

// str reads a string without escapes or control characters that is valid
// UTF-8 (encoding/json would replace invalid bytes), as a substring of s.
func (p *payloadParser) str(i int) (string, int, bool) {
	b := p.b
	if i >= len(b) || b[i] != '"' {
		return "", 0, false
	}
	ascii := true
	for j := i + 1; j < len(b); j++ {
		switch c := b[j]; {
		case c == '"':
			s := p.s[i+1 : j]
			if !ascii {
				if !utf8.ValidString(s) {
					return "", 0, false
				}
				if strings.Contains(s, "\u2028") || strings.Contains(s, "\u2029") {
					p.canon = false // marshal escapes them
				}
			}
			return s, j + 1, true
		case c < 0x20 || c == '\\':
			return "", 0, false
		case c >= 0x80:
			ascii = false
		}
	}
	return "", 0, false
}
