package adapter

import (
	"encoding/json"
	"slices"
	"unicode/utf8"

	"github.com/medgate/medgate/plugins/internal/jsonscan"
)

// appendJSON appends the JSON text of v to b as marshal writes it
// (encoding/json without HTML escaping: object members in key order,
// numbers as written) for the values a decoded payload holds:
// map[string]any, []any, string, json.Number, bool and nil. For anything
// else, or a json.Number that is not a valid number, it returns false and
// marshal uses encoding/json. It saves the reflection and the sorting of
// encoding/json on the 500 lines of a GYU102.
func appendJSON(b []byte, v any) ([]byte, bool) {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...), true
	case string:
		return appendJSONString(b, x), true
	case bool:
		if x {
			return append(b, "true"...), true
		}
		return append(b, "false"...), true
	case json.Number:
		if !validNumber(string(x)) {
			return b, false
		}
		return append(b, x...), true
	case map[string]any:
		if x == nil {
			return append(b, "null"...), true
		}
		return appendObject(b, x, sortedKeys(x))
	case []any:
		if x == nil {
			return append(b, "null"...), true
		}
		b = append(b, '[')
		// The objects of an array (the lines of a call) usually have the
		// same names: their sorted order is reused while it fits.
		var keys []string
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			var ok bool
			if m, isMap := e.(map[string]any); isMap && m != nil {
				if !sameNames(m, keys) {
					keys = sortedKeys(m)
				}
				b, ok = appendObject(b, m, keys)
			} else {
				b, ok = appendJSON(b, e)
			}
			if !ok {
				return b, false
			}
		}
		return append(b, ']'), true
	}
	return b, false
}

// appendObject appends m with its members in the order of keys, which
// are exactly m's names, sorted.
func appendObject(b []byte, m map[string]any, keys []string) ([]byte, bool) {
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, k)
		b = append(b, ':')
		var ok bool
		if b, ok = appendJSON(b, m[k]); !ok {
			return b, false
		}
	}
	return append(b, '}'), true
}

// sortedKeys returns the names of m in order.
func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// sameNames reports whether keys (distinct names) are exactly m's names.
func sameNames(m map[string]any, keys []string) bool {
	if keys == nil || len(m) != len(keys) {
		return false
	}
	for _, k := range keys {
		if _, ok := m[k]; !ok {
			return false
		}
	}
	return true
}

// validNumber reports whether s is a JSON number (encoding/json writes an
// empty json.Number as 0 and refuses an invalid one).
func validNumber(s string) bool {
	if s == "" {
		return false
	}
	end, ok := jsonscan.NumberEnd([]byte(s), 0)
	return ok && end == len(s)
}

// appendJSONString is encoding/json's string encoding without HTML
// escaping: quotes, backslashes and control characters escaped (\b, \f,
// \n, \r, \t short), invalid UTF-8 as \ufffd, U+2028 and U+2029 escaped.
func appendJSONString(b []byte, s string) []byte {
	const hexDigits = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// encodeState is json.Marshal(v) for the state the adapter writes. The fee
// details of a visit (visitDetails, 500 lines per GYU102) are written
// without reflection when every name and amount is printable ASCII that
// json.Marshal writes unchanged (no quote, backslash, <, > or &); the
// bytes are the same (FuzzEncodeDetails), so objectKeys reads them in one
// pass as before. Anything else goes to encoding/json.
func encodeState(v any) ([]byte, error) {
	if d, ok := v.(visitDetails); ok && d != nil {
		if b, ok := appendDetails(make([]byte, 0, 2+len(d)*56), d); ok {
			return b, nil
		}
	}
	return json.Marshal(v)
}

// appendDetails appends d as json.Marshal writes it, or reports false.
func appendDetails(b []byte, d visitDetails) ([]byte, bool) {
	keys := make([]string, 0, len(d))
	for k := range d {
		if !plainASCII(k) {
			return b, false
		}
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = append(b, '{')
	for i, k := range keys {
		x := d[k]
		if !plainASCII(x.Amount) || !plainASCII(x.Fund) || !plainASCII(x.Self) {
			return b, false
		}
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = append(b, k...)
		b = append(b, `":{"a":"`...)
		b = append(b, x.Amount...)
		b = append(b, `","f":"`...)
		b = append(b, x.Fund...)
		b = append(b, `","s":"`...)
		b = append(b, x.Self...)
		b = append(b, '"')
		if x.Revoked {
			b = append(b, `,"r":true`...)
		}
		b = append(b, '}')
	}
	return append(b, '}'), true
}

// plainASCII reports whether json.Marshal writes s as it is between quotes.
func plainASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20 || c > 0x7e, c == '"', c == '\\', c == '<', c == '>', c == '&':
			return false
		}
	}
	return true
}
