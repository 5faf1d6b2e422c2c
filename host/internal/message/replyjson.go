package message

import (
	"encoding/json"
	"strconv"
	"time"
	"unicode/utf8"
)

// MarshalReply encodes r exactly as json.Marshal(r) does, byte for byte,
// and fails where it fails. The pipeline encodes every reply once (the
// stored outcome and the record on the replies topic are these bytes);
// json.Marshal spent most of that on reflection, on a buffer for the
// time, and on scanning the payload, which the pipeline had just checked
// (ValidJSON), a second time to compact it.
//
// The payload is copied as it is when it is valid JSON already in the
// form json.Marshal writes (compact, with '<', '>', '&', U+2028 and
// U+2029 escaped): the form of every payload the pipeline stores or
// passes on from the shipped plugins. Any other payload, and a time
// json.Marshal refuses, go to json.Marshal, which also writes the errors.
// FuzzMarshalReply holds it to json.Marshal.
func MarshalReply(r *Reply) ([]byte, error) {
	if r == nil {
		return []byte("null"), nil
	}
	if len(r.Payload) > 0 && !plainPayload(r.Payload) {
		return json.Marshal(r)
	}
	b := make([]byte, 0, replySize(r))
	b = append(b, `{"id":`...)
	b = appendJSONString(b, r.ID)
	b = append(b, `,"requestId":`...)
	b = appendJSONString(b, r.RequestID)
	b = append(b, `,"site":`...)
	b = appendJSONString(b, r.Site)
	b = append(b, `,"type":`...)
	b = appendJSONString(b, r.Type)
	b = append(b, `,"status":`...)
	b = appendJSONString(b, r.Status)
	if len(r.Errors) > 0 {
		b = append(b, `,"errors":`...)
		b = appendReplyErrors(b, r.Errors)
	}
	if len(r.Warnings) > 0 {
		b = append(b, `,"warnings":`...)
		b = appendReplyErrors(b, r.Warnings)
	}
	if e := r.External; e != nil {
		b = append(b, `,"external":{`...)
		n := len(b)
		b = appendOmitEmpty(b, n, `"system":`, e.System)
		b = appendOmitEmpty(b, n, `"code":`, e.Code)
		b = appendOmitEmpty(b, n, `"message":`, e.Message)
		b = appendOmitEmpty(b, n, `"msgId":`, e.MsgID)
		b = append(b, '}')
	}
	if len(r.Payload) > 0 {
		b = append(b, `,"payload":`...)
		b = append(b, r.Payload...)
	}
	b = append(b, `,"attempts":`...)
	b = strconv.AppendInt(b, int64(r.Attempts), 10)
	b = append(b, `,"completedAt":"`...)
	n := len(b)
	b = r.CompletedAt.AppendFormat(b, time.RFC3339Nano)
	if !strictRFC3339(b[n:]) {
		// Time.MarshalJSON refuses it: json.Marshal says why.
		return json.Marshal(r)
	}
	b = append(b, `"}`...)
	return b, nil
}

// replySize is about the size of r encoded, so that MarshalReply
// allocates once: its strings unescaped, member names and the time.
func replySize(r *Reply) int {
	n := 160 + len(r.ID) + len(r.RequestID) + len(r.Site) + len(r.Type) + len(r.Status) + len(r.Payload)
	for _, es := range [][]ReplyError{r.Errors, r.Warnings} {
		for _, e := range es {
			n += 40 + len(e.Field) + len(e.Rule) + len(e.Message)
		}
	}
	if e := r.External; e != nil {
		n += 50 + len(e.System) + len(e.Code) + len(e.Message) + len(e.MsgID)
	}
	return n
}

// appendReplyErrors appends es as json.Marshal writes a []ReplyError.
func appendReplyErrors(b []byte, es []ReplyError) []byte {
	b = append(b, '[')
	for i, e := range es {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '{')
		if e.Field != "" {
			b = append(b, `"field":`...)
			b = appendJSONString(b, e.Field)
			b = append(b, ',')
		}
		b = append(b, `"rule":`...)
		b = appendJSONString(b, e.Rule)
		b = append(b, `,"message":`...)
		b = appendJSONString(b, e.Message)
		b = append(b, '}')
	}
	return append(b, ']')
}

// appendOmitEmpty appends the member name: s of an object opened at
// b[start:] unless s is empty (omitempty).
func appendOmitEmpty(b []byte, start int, name, s string) []byte {
	if s == "" {
		return b
	}
	if len(b) > start {
		b = append(b, ',')
	}
	b = append(b, name...)
	return appendJSONString(b, s)
}

// strictRFC3339 reports whether t, a time in RFC 3339 with nanoseconds as
// Time.AppendFormat writes it, is one Time.MarshalJSON accepts: a year of
// four digits and a zone offset under 24 hours.
func strictRFC3339(t []byte) bool {
	if len(t) < len("2006-01-02T15:04:05Z") || t[4] != '-' {
		return false
	}
	if t[len(t)-1] == 'Z' {
		return true
	}
	off := t[len(t)-len("-07:00"):]
	if off[0] != '+' && off[0] != '-' {
		return false
	}
	return 10*(off[1]-'0')+(off[2]-'0') < 24
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s quoted as encoding/json writes a string:
// '"', '\\' and control characters escaped (\b, \f, \n, \r, \t or
// \u00XX), '<', '>' and '&' as \u003c, \u003e and \u0026, U+2028 and
// U+2029 as \u2028 and \u2029, and each byte of invalid UTF-8 as \ufffd.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
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
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// plainPayload reports whether p is one JSON value, with nothing around
// it, that json.Marshal would write unchanged as a json.RawMessage:
// no whitespace outside its strings, and no '<', '>', '&', U+2028 or
// U+2029 anywhere (json.Marshal escapes them).
func plainPayload(p []byte) bool {
	if end, ok := skipValue(p, 0, 0); !ok || end != len(p) {
		return false
	}
	in := false // inside a string
	for i := 0; i < len(p); i++ {
		switch c := p[i]; c {
		case '"':
			in = !in
		case '\\':
			i++ // only inside a string: the escaped byte is not a quote that ends it
		case ' ', '\t', '\n', '\r':
			if !in {
				return false
			}
		case '<', '>', '&':
			return false
		case 0xE2:
			if i+2 < len(p) && p[i+1] == 0x80 && (p[i+2] == 0xA8 || p[i+2] == 0xA9) {
				return false
			}
		}
	}
	return true
}

// ValidJSON reports whether p is valid JSON, as json.Valid does; the
// common case, a value nested at most 64 deep with nothing around it,
// without encoding/json's scanner.
func ValidJSON(p []byte) bool {
	if end, ok := skipValue(p, 0, 0); ok && end == len(p) {
		return true
	}
	return json.Valid(p)
}
