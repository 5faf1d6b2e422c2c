package message

// decodeFast decodes data into env in one pass when the envelope is in the
// plain form producers write, and reports whether it did. Parse calls it
// before encoding/json (a json.Decoder scanned a 250 KB GYU102 envelope
// twice: once to find its end, once to copy the payload, about 8 % of the
// host's CPU per call in the fourth round of issue #15).
//
// The plain form: one JSON object and nothing after it but whitespace;
// member names exactly as Envelope spells them, each at most once;
// id, site, type, occurredAt, replyTo and format strings of printable
// ASCII without escapes; payload any JSON value nested at most
// maxFastDepth deep. For anything else it returns false and Parse decodes
// data with encoding/json as before, which also writes the error messages;
// when it returns true, encoding/json would have decoded the same envelope
// without an error (FuzzDecodeFast).
func decodeFast(data []byte, env *Envelope) bool {
	i := skipSpace(data, 0)
	if i >= len(data) || data[i] != '{' {
		return false
	}
	i = skipSpace(data, i+1)
	var seen uint8
	if i < len(data) && data[i] == '}' {
		i++
	} else {
		for {
			name, next, ok := plainString(data, i)
			if !ok {
				return false
			}
			i = skipSpace(data, next)
			if i >= len(data) || data[i] != ':' {
				return false
			}
			i = skipSpace(data, i+1)
			bit, field := envelopeField(env, name)
			if bit == 0 || seen&bit != 0 {
				return false
			}
			seen |= bit
			if field != nil {
				v, next, ok := plainString(data, i)
				if !ok {
					return false
				}
				*field, i = string(v), next
			} else {
				end, ok := skipValue(data, i, 0)
				if !ok {
					return false
				}
				env.Payload = append([]byte(nil), data[i:end]...)
				i = end
			}
			i = skipSpace(data, i)
			if i >= len(data) {
				return false
			}
			if data[i] == '}' {
				i++
				break
			}
			if data[i] != ',' {
				return false
			}
			i = skipSpace(data, i+1)
		}
	}
	return skipSpace(data, i) == len(data)
}

// envelopeField returns the bit of the member name of Envelope and the
// string field it fills (nil for the payload); bit 0 for any other name.
func envelopeField(env *Envelope, name []byte) (uint8, *string) {
	switch string(name) {
	case "id":
		return 1, &env.ID
	case "site":
		return 2, &env.Site
	case "type":
		return 4, &env.Type
	case "occurredAt":
		return 8, &env.OccurredAt
	case "replyTo":
		return 16, &env.ReplyTo
	case "format":
		return 32, &env.Format
	case "payload":
		return 64, nil
	}
	return 0, nil
}

// maxFastDepth bounds the nesting decodeFast follows; deeper payloads go
// to encoding/json.
const maxFastDepth = 64

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\r' || b[i] == '\t') {
		i++
	}
	return i
}

// plainString reads the string at b[i]: printable ASCII without escapes.
// It returns its contents and the index after its closing quote.
func plainString(b []byte, i int) ([]byte, int, bool) {
	if i >= len(b) || b[i] != '"' {
		return nil, i, false
	}
	for j := i + 1; j < len(b); j++ {
		switch c := b[j]; {
		case c == '"':
			return b[i+1 : j], j + 1, true
		case c < 0x20 || c > 0x7e || c == '\\':
			return nil, i, false
		}
	}
	return nil, i, false
}

// skipValue returns the index after the JSON value at b[i], and false if
// it is not valid JSON as encoding/json reads it (or is nested deeper than
// maxFastDepth).
func skipValue(b []byte, i, depth int) (int, bool) {
	if i >= len(b) {
		return i, false
	}
	switch c := b[i]; {
	case c == '"':
		return skipString(b, i)
	case c == '{':
		if depth >= maxFastDepth {
			return i, false
		}
		i = skipSpace(b, i+1)
		if i < len(b) && b[i] == '}' {
			return i + 1, true
		}
		for {
			var ok bool
			if i, ok = skipString(b, i); !ok {
				return i, false
			}
			i = skipSpace(b, i)
			if i >= len(b) || b[i] != ':' {
				return i, false
			}
			if i, ok = skipValue(b, skipSpace(b, i+1), depth+1); !ok {
				return i, false
			}
			i = skipSpace(b, i)
			if i >= len(b) {
				return i, false
			}
			if b[i] == '}' {
				return i + 1, true
			}
			if b[i] != ',' {
				return i, false
			}
			i = skipSpace(b, i+1)
		}
	case c == '[':
		if depth >= maxFastDepth {
			return i, false
		}
		i = skipSpace(b, i+1)
		if i < len(b) && b[i] == ']' {
			return i + 1, true
		}
		for {
			var ok bool
			if i, ok = skipValue(b, i, depth+1); !ok {
				return i, false
			}
			i = skipSpace(b, i)
			if i >= len(b) {
				return i, false
			}
			if b[i] == ']' {
				return i + 1, true
			}
			if b[i] != ',' {
				return i, false
			}
			i = skipSpace(b, i+1)
		}
	case c == '-' || ('0' <= c && c <= '9'):
		return skipNumber(b, i)
	case c == 't':
		return skipLiteral(b, i, "true")
	case c == 'f':
		return skipLiteral(b, i, "false")
	case c == 'n':
		return skipLiteral(b, i, "null")
	}
	return i, false
}

func skipLiteral(b []byte, i int, lit string) (int, bool) {
	if len(b)-i < len(lit) || string(b[i:i+len(lit)]) != lit {
		return i, false
	}
	return i + len(lit), true
}

// skipString skips the string at b[i]: no control characters, and only
// the escapes JSON has (\uXXXX with four hex digits). Other bytes,
// including invalid UTF-8, are accepted, as encoding/json's scanner does.
func skipString(b []byte, i int) (int, bool) {
	if i >= len(b) || b[i] != '"' {
		return i, false
	}
	for j := i + 1; j < len(b); j++ {
		switch c := b[j]; {
		case c == '"':
			return j + 1, true
		case c < 0x20:
			return j, false
		case c == '\\':
			j++
			if j >= len(b) {
				return j, false
			}
			switch b[j] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if len(b)-j < 5 {
					return j, false
				}
				for _, h := range b[j+1 : j+5] {
					if !isHex(h) {
						return j, false
					}
				}
				j += 4
			default:
				return j, false
			}
		}
	}
	return len(b), false
}

func isHex(c byte) bool { return isDigit(c) || ('a' <= c && c <= 'f') || ('A' <= c && c <= 'F') }

// skipNumber skips -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? at b[i].
func skipNumber(b []byte, i int) (int, bool) {
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && '1' <= b[i] && b[i] <= '9':
		i = skipDigits(b, i)
	default:
		return i, false
	}
	if i < len(b) && b[i] == '.' {
		j := skipDigits(b, i+1)
		if j == i+1 {
			return j, false
		}
		i = j
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := skipDigits(b, i)
		if j == i {
			return j, false
		}
		i = j
	}
	return i, true
}

func skipDigits(b []byte, i int) int {
	for i < len(b) && isDigit(b[i]) {
		i++
	}
	return i
}
