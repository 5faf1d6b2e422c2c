package hl7

import (
	"encoding/hex"
	"strings"
)

// unescape replaces the escape sequences of one leaf value (a value that
// holds no delimiters any more):
//
//	\F\ \S\ \T\ \R\ \E\ \P\   the field, component, subcomponent, repetition,
//	                          escape and truncation characters
//	\Xhhhh…\                  bytes in hexadecimal, decoded in the message's
//	                          character set
//	\.br\ \.sp\ \.ce\         a line break ("\n")
//	\.sk\                     a space
//	\.fi\ \.nf\ \.in±n\ \.ti±n\ \H\ \N\ \Cxxyy\ \Mxxyyzz\
//	                          formatting, highlighting and character-set
//	                          switches: dropped
//
// Anything else (\Zxx\ local escapes, an unterminated sequence) is kept as
// written.
func (m *Message) unescape(s string) string {
	return m.escapes(s, m.sequence)
}

// escapes copies s, replacing every escape sequence that known accepts by
// what it returns. A sequence it does not accept (and an unterminated one)
// is kept as written, and the scan goes on after its escape character, so
// that the closing one can open the next sequence.
func (m *Message) escapes(s string, known func(seq string) (string, bool)) string {
	e := m.Delimiters.Escape
	if e == 0 || strings.IndexByte(s, e) < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for {
		i := strings.IndexByte(s, e)
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		j := strings.IndexByte(s[i+1:], e)
		if j < 0 {
			b.WriteString(s[i:])
			return b.String()
		}
		if out, ok := known(s[i+1 : i+1+j]); ok {
			b.WriteString(out)
			s = s[i+j+2:]
			continue
		}
		b.WriteByte(e)
		s = s[i+1:]
	}
}

func (m *Message) sequence(seq string) (string, bool) {
	d := &m.Delimiters
	switch seq {
	case "F":
		return string(d.Field), true
	case "S":
		return delim(d.Component), true
	case "T":
		return delim(d.Subcomponent), true
	case "R":
		return delim(d.Repetition), true
	case "E":
		return delim(d.Escape), true
	case "P":
		return delim(d.Truncation), d.Truncation != 0
	case "H", "N", ".fi", ".nf":
		return "", true
	case ".br", ".ce":
		return "\n", true
	case ".sp":
		return "\n", true
	case ".sk":
		return " ", true
	case "":
		return "", false
	}
	switch seq[0] {
	case 'X':
		raw, err := hex.DecodeString(seq[1:])
		if err != nil || len(raw) == 0 {
			return "", false
		}
		out, err := m.cs.decode(raw)
		if err != nil {
			return "", false
		}
		return out, true
	case 'C', 'M':
		if len(seq) >= 5 && isHex(seq[1:]) {
			return "", true
		}
	case '.':
		if len(seq) >= 3 {
			switch seq[1:3] {
			case "sp":
				return "\n", isSigned(seq[3:])
			case "sk":
				return " ", isSigned(seq[3:])
			case "in", "ti":
				return "", isSigned(seq[3:])
			}
		}
	}
	return "", false
}

func delim(c byte) string {
	if c == 0 {
		return ""
	}
	return string(c)
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// isSigned reports whether s is empty, or an optional sign and digits, as
// the arguments of .sp, .sk, .in and .ti are.
func isSigned(s string) bool {
	s = strings.TrimLeft(s, "+-")
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// Escape returns s with every delimiter of d escaped, LF written as \.br\
// and other control characters as \Xhh\, so that s can be placed in a field
// of a message that uses d. Unescaping the result gives s back. d should
// declare an escape character; '\' is used when it does not.
func Escape(s string, d Delimiters) string {
	e := d.Escape
	if e == 0 {
		e = '\\'
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == e:
			b.WriteByte(e)
			b.WriteByte('E')
			b.WriteByte(e)
		case c == d.Field:
			b.WriteByte(e)
			b.WriteByte('F')
			b.WriteByte(e)
		case c == d.Component && c != 0:
			b.WriteByte(e)
			b.WriteByte('S')
			b.WriteByte(e)
		case c == d.Subcomponent && c != 0:
			b.WriteByte(e)
			b.WriteByte('T')
			b.WriteByte(e)
		case c == d.Repetition && c != 0:
			b.WriteByte(e)
			b.WriteByte('R')
			b.WriteByte(e)
		case c == d.Truncation && c != 0:
			b.WriteByte(e)
			b.WriteByte('P')
			b.WriteByte(e)
		case c == '\n':
			b.WriteByte(e)
			b.WriteString(".br")
			b.WriteByte(e)
		case c < 0x20 && c != '\t' || c == 0x7f:
			b.WriteByte(e)
			b.WriteByte('X')
			b.WriteString(hex.EncodeToString([]byte{c}))
			b.WriteByte(e)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// RecodeEscapes returns raw, escaped text of this message (a field as in
// [Segment].Fields), with the bytes of every \Xhh…\ escape converted from
// the message's character set to UTF-8, so that the text can be written
// out in a message that declares UNICODE UTF-8. Other escape sequences,
// and hex escapes that are not valid in the character set, are kept as
// written.
func (m *Message) RecodeEscapes(raw string) string {
	if m.cs == nil || m.cs == csUTF8 {
		return raw
	}
	e := string(m.Delimiters.Escape)
	return m.escapes(raw, func(seq string) (string, bool) {
		out, ok := m.sequence(seq)
		if !ok {
			return "", false
		}
		if seq[0] == 'X' {
			return e + "X" + strings.ToUpper(hex.EncodeToString([]byte(out))) + e, true
		}
		return e + seq + e, true
	})
}
