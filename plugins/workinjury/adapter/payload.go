package adapter

import (
	"bytes"
	"encoding/json"
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
	p := payloadParser{b: b}
	i := skipWS(b, 0)
	if i >= len(b) || b[i] != '{' {
		return nil, false
	}
	v, i, ok := p.value(i, 0)
	if !ok || skipWS(b, i) != len(b) {
		return nil, false
	}
	m, _ := v.(map[string]any)
	return m, m != nil
}

type payloadParser struct{ b []byte }

func (p *payloadParser) value(i, depth int) (any, int, bool) {
	b := p.b
	if i >= len(b) || depth > maxFastDepth {
		return nil, 0, false
	}
	switch c := b[i]; {
	case c == '"':
		s, j, ok := p.str(i)
		return s, j, ok
	case c == '{':
		m := map[string]any{}
		i = skipWS(b, i+1)
		if i < len(b) && b[i] == '}' {
			return m, i + 1, true
		}
		for {
			k, j, ok := p.str(i)
			if !ok {
				return nil, 0, false
			}
			if i = skipWS(b, j); i >= len(b) || b[i] != ':' {
				return nil, 0, false
			}
			v, j, ok := p.value(skipWS(b, i+1), depth+1)
			if !ok {
				return nil, 0, false
			}
			m[k] = v
			if i = skipWS(b, j); i >= len(b) {
				return nil, 0, false
			}
			switch b[i] {
			case ',':
				i = skipWS(b, i+1)
			case '}':
				return m, i + 1, true
			default:
				return nil, 0, false
			}
		}
	case c == '[':
		a := []any{}
		i = skipWS(b, i+1)
		if i < len(b) && b[i] == ']' {
			return a, i + 1, true
		}
		for {
			v, j, ok := p.value(i, depth+1)
			if !ok {
				return nil, 0, false
			}
			a = append(a, v)
			if i = skipWS(b, j); i >= len(b) {
				return nil, 0, false
			}
			switch b[i] {
			case ',':
				i = skipWS(b, i+1)
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
		return json.Number(b[i:j]), j, true
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
// UTF-8 (encoding/json would replace invalid bytes).
func (p *payloadParser) str(i int) (string, int, bool) {
	b := p.b
	if i >= len(b) || b[i] != '"' {
		return "", 0, false
	}
	ascii := true
	for j := i + 1; j < len(b); j++ {
		switch c := b[j]; {
		case c == '"':
			s := b[i+1 : j]
			if !ascii && !utf8.Valid(s) {
				return "", 0, false
			}
			return string(s), j + 1, true
		case c < 0x20 || c == '\\':
			return "", 0, false
		case c >= 0x80:
			ascii = false
		}
	}
	return "", 0, false
}
