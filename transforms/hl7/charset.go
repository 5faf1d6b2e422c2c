package hl7

import (
	"bytes"
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/simplifiedchinese"
)

// charset decodes message bytes to UTF-8 text.
type charset struct {
	name string
	enc  encoding.Encoding // nil for UTF-8
}

var (
	csUTF8    = &charset{name: "UTF-8"}
	csGB18030 = &charset{name: "GB18030", enc: simplifiedchinese.GB18030}
	csLatin1  = &charset{name: "ISO-8859-1", enc: charmap.ISO8859_1}
)

// charsets maps normalized MSH-18 values (upper case, without spaces,
// hyphens, underscores and slashes) to decoders. HL7 table 0211 spells them
// "UNICODE UTF-8", "GB 18030-2000" and "8859/1"; the others are what
// senders write in practice. GBK and GB 2312 are subsets of GB 18030.
var charsets = map[string]*charset{
	"":            csUTF8,
	"ASCII":       csUTF8,
	"UNICODEUTF8": csUTF8,
	"UTF8":        csUTF8,
	"GB180302000": csGB18030,
	"GB180302005": csGB18030,
	"GB180302022": csGB18030,
	"GB18030":     csGB18030,
	"GBK":         csGB18030,
	"GB2312":      csGB18030,
	"CP936":       csGB18030,
	"88591":       csLatin1,
	"ISO88591":    csLatin1,
}

func normalizeCharset(s string) string {
	s = strings.ToUpper(strings.TrimSpace(s))
	return strings.Map(func(r rune) rune {
		switch r {
		case ' ', '-', '_', '/', '.':
			return -1
		}
		return r
	}, s)
}

func lookupCharset(name string) (*charset, error) {
	if cs, ok := charsets[normalizeCharset(name)]; ok {
		return cs, nil
	}
	return nil, fmt.Errorf("%w: MSH-18 is %q; use UNICODE UTF-8 or GB 18030-2000", ErrCharset, name)
}

// CharsetName returns the canonical name ("UTF-8", "GB18030",
// "ISO-8859-1") of a character set as written in MSH-18, or an error
// wrapping ErrCharset.
func CharsetName(msh18 string) (string, error) {
	cs, err := lookupCharset(msh18)
	if err != nil {
		return "", err
	}
	return cs.name, nil
}

// gbReplacement is U+FFFD encoded in GB 18030; a decoded U+FFFD that does
// not come from it marks an invalid byte sequence.
var gbReplacement = []byte{0x84, 0x31, 0xA4, 0x37}

func (cs *charset) decode(data []byte) (string, error) {
	if cs.enc == nil {
		if !utf8.Valid(data) {
			i := firstInvalidUTF8(data)
			return "", fmt.Errorf("%w: byte %d is not valid UTF-8; if the sender uses GB 18030 it must say so in MSH-18 (GB 18030-2000), or configure that as the default character set", ErrEncoding, i)
		}
		return string(data), nil
	}
	out, err := cs.enc.NewDecoder().Bytes(data)
	if err != nil {
		return "", fmt.Errorf("%w: %s: %w", ErrEncoding, cs.name, err)
	}
	if cs == csGB18030 && bytes.ContainsRune(out, utf8.RuneError) && !bytes.Contains(data, gbReplacement) {
		return "", fmt.Errorf("%w: the message is read as GB 18030 (declared in MSH-18, or the default character set for messages without MSH-18) but holds byte sequences that are not valid GB 18030", ErrEncoding)
	}
	return string(out), nil
}

func firstInvalidUTF8(data []byte) int {
	for i := 0; i < len(data); {
		r, n := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return len(data)
}

// Encode converts UTF-8 text to the character set named as in MSH-18, for
// writing messages to senders that expect GB 18030. Characters the set
// cannot represent are an error.
func Encode(text, msh18 string) ([]byte, error) {
	cs, err := lookupCharset(msh18)
	if err != nil {
		return nil, err
	}
	if cs.enc == nil {
		return []byte(text), nil
	}
	out, err := cs.enc.NewEncoder().Bytes([]byte(text))
	if err != nil {
		return nil, fmt.Errorf("%w: cannot write the text in %s: %w", ErrEncoding, cs.name, err)
	}
	return out, nil
}
