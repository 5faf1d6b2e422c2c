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

// payloadParser reads one payload. The 500 lines of a GYU102 have the same
// member names: each distinct name becomes one string (names), and an
// object in an array is made with room for as many members as the one
// before it (hint), so that it does not grow as it is filled.
type payloadParser struct {
	b     []byte
	names map[string]string
	hint  int
}

// maxNames bounds the member names kept for reuse in one payload.
const maxNames = 1024

// name reads a member name like str, reusing the string of a name seen before.
func (p *payloadParser) name(i int) (string, int, bool) {
	raw, j, ok := p.rawStr(i)
	if !ok {
		return "", 0, false
	}
	if s, seen := p.names[string(raw)]; seen {
		return s, j, true
	}
	s := string(raw)
	if p.names == nil {
		p.names = make(map[string]string, 32)
	}
	if len(p.names) < maxNames {
		p.names[s] = s
	}
	return s, j, true
}

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
		m := make(map[string]any, p.hint)
		p.hint = 0
		i = skipWS(b, i+1)
		if i < len(b) && b[i] == '}' {
			return m, i + 1, true
		}
		for {
			k, j, ok := p.name(i)
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
	raw, j, ok := p.rawStr(i)
	if !ok {
		return "", 0, false
	}
	return string(raw), j, true
}

// rawStr is str without the copy: the bytes between the quotes.
func (p *payloadParser) rawStr(i int) ([]byte, int, bool) {
	b := p.b
	if i >= len(b) || b[i] != '"' {
		return nil, 0, false
	}
	ascii := true
	for j := i + 1; j < len(b); j++ {
		switch c := b[j]; {
		case c == '"':
			s := b[i+1 : j]
			if !ascii && !utf8.Valid(s) {
				return nil, 0, false
			}
			return s, j + 1, true
		case c < 0x20 || c == '\\':
			return nil, 0, false
		case c >= 0x80:
			ascii = false
		}
	}
	return nil, 0, false
}
