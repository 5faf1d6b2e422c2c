package workinjury

import (
	"bytes"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// appendJSON appends v as marshal's encoding/json encoder writes it
// (members in key order, HTML not escaped, no trailing newline), for the
// plain values the simulator builds its answers from: maps of string keys,
// slices, strings, bools, integers and nil. ok is false when v holds
// anything else (floats, json.Number, named types, structs...); marshal
// then uses encoding/json for the whole value. A string that encoding/json
// would escape is encoded by it, so the bytes are the same either way.
func appendJSON(b []byte, v any) (_ []byte, ok bool) {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...), true
	case string:
		return appendJSONString(b, x), true
	case bool:
		return strconv.AppendBool(b, x), true
	case int:
		return strconv.AppendInt(b, int64(x), 10), true
	case int64:
		return strconv.AppendInt(b, x, 10), true
	case map[string]any:
		if x == nil {
			return append(b, "null"...), true
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b = append(b, '{')
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, k)
			b = append(b, ':')
			if b, ok = appendJSON(b, x[k]); !ok {
				return b, false
			}
		}
		return append(b, '}'), true
	case map[string]string:
		if x == nil {
			return append(b, "null"...), true
		}
		m := make(map[string]any, len(x))
		for k, s := range x {
			m[k] = s
		}
		return appendJSON(b, m)
	case []any:
		return appendArray(b, x, appendJSON)
	case []map[string]any:
		return appendArray(b, x, func(b []byte, m map[string]any) ([]byte, bool) { return appendJSON(b, m) })
	case []string:
		return appendArray(b, x, func(b []byte, s string) ([]byte, bool) { return appendJSONString(b, s), true })
	}
	return b, false
}

// appendJSONString appends s quoted: as is when encoding/json would write
// it so (no quote, backslash or control character, valid UTF-8 without
// U+2028 and U+2029), by encoding/json otherwise.
func appendJSONString(b []byte, s string) []byte {
	plain := true
	ascii := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c == '"' || c == '\\' {
			plain = false
			break
		}
		if c >= utf8.RuneSelf {
			ascii = false
		}
	}
	if plain && !ascii {
		plain = utf8.ValidString(s) && !strings.Contains(s, "\u2028") && !strings.Contains(s, "\u2029")
	}
	if plain {
		b = append(b, '"')
		b = append(b, s...)
		return append(b, '"')
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	return append(b, bytes.TrimRight(buf.Bytes(), "\n")...)
}

// appendArray appends xs as a JSON array (null when nil), each element
// by each; false when an element cannot be written here.
func appendArray[E any](b []byte, xs []E, each func([]byte, E) ([]byte, bool)) ([]byte, bool) {
	if xs == nil {
		return append(b, "null"...), true
	}
	b = append(b, '[')
	for i, e := range xs {
		if i > 0 {
			b = append(b, ',')
		}
		var ok bool
		if b, ok = each(b, e); !ok {
			return b, false
		}
	}
	return append(b, ']'), true
}
