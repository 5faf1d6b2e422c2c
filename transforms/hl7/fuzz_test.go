package hl7

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"unicode/utf8"
)

// FuzzParse checks that Parse never panics, that every value of a parsed
// message can be read, and that escaping any value read and putting it back
// into a message gives the same value. The seed corpus is in
// testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	f.Add([]byte(adt))
	f.Add([]byte("MSH|^~\\&#|A|||||||||||||||GB18030\rZZZ|\\X4142\\|\\.br\\|a\\F\\b\r"))
	f.Add([]byte("\vMSH*:!%@*A\rPID*1**x:y!z\x1c\r"))
	// LF and CR LF terminators, repetitions, components, nulls.
	f.Add([]byte("MSH|^~\\&|A|B|||20250401||ADT^A01|M1|P|2.5\nPID|1||a^^^H~b^^^SS||\"\"|x&y\r\nPV1|1|I\r\n"))
	// GB 18030 bytes whose trailing byte is a delimiter (億區乗儈), declared
	// and escaped; and 8859/1.
	f.Add([]byte("MSH|^~\\&|A|B|||||ADT^A01|M2|P|2.5|||||CHN|GB 18030-2000\rPID|1||\x83\x7c\x85\x5e\x81\x5c\x83\x7e\xd5\xc5||\\XD5C5\\\r"))
	f.Add([]byte("MSH|^~\\&|A|B|||||ADT^A01|M3|P|2.5|||||CHN|8859/1\rPID|1||\xe9\\XE9\\\r"))
	// GB 18030 without MSH-18, read with the default (王小梅; 郑伟, whose
	// bytes are valid UTF-8 too; and bytes that are not GB 18030).
	f.Add([]byte("MSH|^~\\&|A|B|||||ADT^A28|M4|P|2.5\rPID|1||X||\xcd\xf5\xd0\xa1\xc3\xb7\r"))
	f.Add([]byte("MSH|^~\\&|A|B|||||ADT^A28|M5|P|2.5\rPID|1||X||\xd6\xa3\xce\xb0\r"))
	f.Add([]byte("MSH|^~\\&|A|B|||||ADT^A28|M6|P|2.5||||||\rPID|1||\x81\x20\r"))
	// A leading line end, then a GB 18030 lead byte before MSH-10 that
	// swallows the field separator after it.
	f.Add([]byte("\rMSH|!|||\x85|||||0"))
	f.Fuzz(func(t *testing.T, data []byte) {
		declared := PeekCharset(data)
		m, err := ParseWith(data, Options{DefaultCharset: "GB18030"})
		if err != nil {
			return
		}
		// The listener answers a refusal in the set PeekCharset reads; for
		// a message that parses it must be the set it was read in.
		want := "GB18030"
		if declared != "" {
			want, _ = CharsetName(declared)
		}
		if m.Charset != want {
			t.Fatalf("read in %s, but PeekCharset says MSH-18 is %q (%s)", m.Charset, declared, want)
		}
		_ = m.Type()
		// The MSH line is the first one after the line ends a message may
		// start with (the parser skips them), not an empty line before it.
		if first, _, _ := bytes.Cut(bytes.TrimLeft(data, "\r\n"), []byte{'\r'}); isASCII(first) && !bytes.ContainsRune(first, '\n') {
			if id := m.ControlID(); isPrintable(id) && PeekControlID(data) != id {
				t.Fatalf("PeekControlID = %q, ControlID = %q", PeekControlID(data), id)
			}
		}
		for i := range m.Segments {
			s := &m.Segments[i]
			for f := 1; f <= len(s.Fields)+1; f++ {
				for r := 1; r <= s.Repetitions(f)+1; r++ {
					for c := 1; c <= 3; c++ {
						v := s.Value(f, r, c, 1)
						if !utf8.ValidString(v) {
							t.Fatalf("%s-%d(%d).%d = %q is not UTF-8", s.Name, f, r, c, v)
						}
						if m.Delimiters.Escape == 0 || s.isEncodingField(f) || v == `""` {
							continue
						}
						round := mustParse(t, "MSH"+string(m.Delimiters.Field)+encodingChars(m.Delimiters)+"\rZZZ"+string(m.Delimiters.Field)+Escape(v, m.Delimiters)+"\r")
						if got := round.Segments[1].Value(1, 1, 1, 1); got != v {
							t.Fatalf("escape round trip of %q gave %q", v, got)
						}
					}
				}
			}
		}
	})
}

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return false
		}
	}
	return true
}

func isPrintable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < ' ' || s[i] >= 0x7f {
			return false
		}
	}
	return true
}

func encodingChars(d Delimiters) string {
	var b []byte
	for _, c := range []byte{d.Component, d.Repetition, d.Escape, d.Subcomponent, d.Truncation} {
		if c == 0 {
			break
		}
		b = append(b, c)
	}
	return string(b)
}

// FuzzLocation checks that ParseLocation never panics and that String
// gives back a location that parses to the same thing.
func FuzzLocation(f *testing.F) {
	for _, s := range []string{"PID-5.1", "PID-3(5=SS).1", "DG1[2]-3.1.2", "DG1[6=A]-3", "PID-3(*)", "MSH-2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		l, err := ParseLocation(s)
		if err != nil {
			return
		}
		again, err := ParseLocation(l.String())
		if err != nil {
			t.Fatalf("ParseLocation(%q).String() = %q does not parse: %v", s, l.String(), err)
		}
		if again.String() != l.String() {
			t.Fatalf("String not stable: %q → %q", l.String(), again.String())
		}
	})
}

// FuzzReader checks that Reader never panics, never loops and never
// returns more bytes than it was given.
func FuzzReader(f *testing.F) {
	f.Add([]byte("\vMSH|^~\\&|A\r\x1c\r\vMSH|^~\\&|B\r\x1c\r"))
	f.Add([]byte("FHS|x\rMSH|^~\\&|A\rPID|1\nMSH|^~\\&|B\r\nBTS|1"))
	f.Add([]byte("\v\v\x1c\x1c\r"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := NewReader(bytes.NewReader(data))
		r.MaxSize = 1 << 16
		total := 0
		for range len(data) + 1 {
			msg, err := r.ReadMessage()
			if errors.Is(err, io.EOF) || err != nil {
				return
			}
			total += len(msg)
			if total > len(data)*2+1 {
				t.Fatalf("read %d bytes from %d", total, len(data))
			}
		}
		t.Fatalf("more messages than input bytes")
	})
}
