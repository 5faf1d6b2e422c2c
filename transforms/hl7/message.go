package hl7

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Errors wrapped by [Parse].
var (
	// ErrNotHL7 means the data does not start with an MSH segment.
	ErrNotHL7 = errors.New("not an HL7 v2 message")
	// ErrDelimiters means MSH-1 or MSH-2 do not declare usable delimiters.
	ErrDelimiters = errors.New("bad delimiters")
	// ErrCharset means MSH-18 names a character set this package cannot read.
	ErrCharset = errors.New("unsupported character set")
	// ErrEncoding means the bytes are not valid in the message's character set.
	ErrEncoding = errors.New("bad character encoding")
	// ErrSegment means a segment does not start with a segment ID.
	ErrSegment = errors.New("bad segment")
	// ErrBatch means the data holds a batch (FHS, BHS) or several
	// messages, not one message; it is wrapped with ErrNotHL7 or
	// ErrSegment.
	ErrBatch = errors.New("several messages")
)

// Delimiters are the separators a message declares in MSH-1 and MSH-2. A
// zero byte means the message does not use that delimiter.
type Delimiters struct {
	Field        byte // MSH-1, usually '|'
	Component    byte // usually '^'
	Repetition   byte // usually '~'
	Escape       byte // usually '\'
	Subcomponent byte // usually '&'
	Truncation   byte // HL7 v2.7 and later, usually '#'; 0 when absent
}

// DefaultDelimiters are the delimiters almost every sender uses.
var DefaultDelimiters = Delimiters{Field: '|', Component: '^', Repetition: '~', Escape: '\\', Subcomponent: '&'}

// Message is one parsed HL7 v2 message. It is read-only once parsed and safe
// for concurrent reads.
type Message struct {
	// Delimiters are the separators declared in MSH-1 and MSH-2.
	Delimiters Delimiters
	// Charset is the character set the message declares in MSH-18 (or
	// the default when MSH-18 is empty): "UTF-8", "GB18030" or
	// "ISO-8859-1". The bytes were decoded from it, unless they were parsed
	// as text ([Options].Text); \X escapes are decoded in it either way.
	Charset string
	// Segments are the segments in message order.
	Segments []Segment

	cs *charset
}

// Segment is one segment of a message. Its fields hold the raw, escaped
// text; read values with [Segment.Value] or [Segment.Get], which unescape.
type Segment struct {
	// Name is the segment ID, for example "PID".
	Name string
	// Fields holds the raw text of fields 1…n: Fields[0] is field 1. For
	// MSH, Fields[0] is the field separator (MSH-1) and Fields[1] the
	// encoding characters (MSH-2), as the standard numbers them.
	Fields []string
	// Index is the segment's position in the message, from 0.
	Index int

	msg *Message
}

// Options tune [ParseWith].
type Options struct {
	// DefaultCharset is the character set of messages whose MSH-18 is
	// empty, for senders that send GB 18030 without declaring it. Empty
	// means UTF-8.
	DefaultCharset string
	// Text means the data is already Unicode text in UTF-8, as a message
	// that travelled in a JSON string is, whatever MSH-18 still says: the
	// bytes are read as UTF-8 and the declared character set is used only
	// for the bytes of \X hexadecimal escapes.
	Text bool
}

// Parse reads one HL7 v2 message. MLLP framing bytes, a UTF-8 byte order
// mark and surrounding blank lines are ignored. Segments may end with CR,
// LF or CR LF. The message is decoded from the character set declared in
// MSH-18 (UTF-8 when empty) before it is split.
func Parse(data []byte) (*Message, error) { return ParseWith(data, Options{}) }

// ParseWith is [Parse] with options.
func ParseWith(data []byte, opts Options) (*Message, error) {
	data = trimFrame(data)
	if bytes.HasPrefix(data, []byte("FHS")) || bytes.HasPrefix(data, []byte("BHS")) {
		return nil, fmt.Errorf("%w: %w: a batch (it starts with %s) holds messages with batch segments around them; send one message at a time, starting with MSH", ErrNotHL7, ErrBatch, data[:3])
	}
	if !bytes.HasPrefix(data, []byte("MSH")) {
		return nil, fmt.Errorf("%w: the message must start with an MSH segment, %s", ErrNotHL7, startOf(string(data[:min(len(data), 3)])))
	}
	if len(data) < 5 {
		return nil, fmt.Errorf("%w: the MSH segment ends before its encoding characters", ErrDelimiters)
	}
	d, err := delimiters(data)
	if err != nil {
		return nil, err
	}
	declared := msh18(data, d)
	name := declared
	if strings.TrimSpace(name) == "" {
		name = opts.DefaultCharset
	}
	cs, err := lookupCharset(name)
	if err != nil {
		return nil, err
	}
	read := cs
	if opts.Text {
		read = csUTF8
	}
	text, err := read.decode(data)
	if err != nil {
		return nil, err
	}
	m := &Message{Delimiters: d, Charset: cs.name, cs: cs}
	m.Segments = make([]Segment, 0, strings.Count(text, "\r")+strings.Count(text, "\n")/2+1)
	n := 0
	for line := range splitLines(text) {
		n++
		seg, err := m.segment(line, len(m.Segments))
		if err != nil {
			return nil, fmt.Errorf("segment %d: %w", n, err)
		}
		m.Segments = append(m.Segments, seg)
	}
	return m, nil
}

// trimFrame removes MLLP framing, a byte order mark and blank lines around
// a message.
func trimFrame(data []byte) []byte {
	data = bytes.TrimLeft(data, "\v\r\n\t ")
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	data = bytes.TrimRight(data, "\x1c\r\n")
	return data
}

// delimiters reads MSH-1 and MSH-2 from the raw bytes (they are ASCII in
// every supported character set).
func delimiters(data []byte) (Delimiters, error) {
	fs := data[3]
	if !isDelimiter(fs) {
		return Delimiters{}, fmt.Errorf("%w: MSH-1 (the field separator) is %q; it must be a punctuation character such as '|'", ErrDelimiters, fs)
	}
	enc := data[4:]
	if i := bytes.IndexAny(enc, string([]byte{fs, '\r', '\n'})); i >= 0 {
		enc = enc[:i]
	}
	if len(enc) == 0 || len(enc) > 5 {
		return Delimiters{}, fmt.Errorf("%w: MSH-2 (the encoding characters) is %q; it must hold 1 to 5 characters such as ^~\\&", ErrDelimiters, enc)
	}
	seen := map[byte]bool{fs: true}
	for _, c := range enc {
		if !isDelimiter(c) || seen[c] {
			return Delimiters{}, fmt.Errorf("%w: MSH-2 (the encoding characters) %q must be distinct punctuation characters, different from the field separator %q", ErrDelimiters, enc, fs)
		}
		seen[c] = true
	}
	d := Delimiters{Field: fs}
	slots := []*byte{&d.Component, &d.Repetition, &d.Escape, &d.Subcomponent, &d.Truncation}
	for i, c := range enc {
		*slots[i] = c
	}
	return d, nil
}

func isDelimiter(c byte) bool {
	switch {
	case c <= ' ' || c >= 0x7f:
		return false
	case c >= '0' && c <= '9', c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z':
		return false
	}
	return true
}

// msh18 returns the first repetition of MSH-18 from the raw bytes. The
// fields before it are assumed to hold ASCII only, which is how every
// sender seen fills them.
func msh18(data []byte, d Delimiters) string {
	line := data
	if i := bytes.IndexAny(line, "\r\n"); i >= 0 {
		line = line[:i]
	}
	// line[3] is MSH-1; MSH-2 starts at 4. Field k (k >= 2) is the
	// (k-1)-th piece after splitting at the field separator.
	parts := bytes.SplitN(line, []byte{d.Field}, 19)
	if len(parts) < 18 {
		return ""
	}
	v := parts[17]
	if d.Repetition != 0 {
		if i := bytes.IndexByte(v, d.Repetition); i >= 0 {
			v = v[:i]
		}
	}
	if d.Component != 0 {
		if i := bytes.IndexByte(v, d.Component); i >= 0 {
			v = v[:i]
		}
	}
	return string(v)
}

// splitLines yields the non-empty lines of text, split at CR, LF or CR LF.
func splitLines(text string) func(func(string) bool) {
	return func(yield func(string) bool) {
		for len(text) > 0 {
			i := strings.IndexAny(text, "\r\n")
			line := text
			if i >= 0 {
				line, text = text[:i], text[i+1:]
			} else {
				text = ""
			}
			if strings.TrimSpace(line) == "" {
				continue
			}
			if !yield(line) {
				return
			}
		}
	}
}

func (m *Message) segment(line string, index int) (Segment, error) {
	fs := m.Delimiters.Field
	name := line
	if i := strings.IndexByte(line, fs); i >= 0 {
		name = line[:i]
	}
	if !validName(name) {
		return Segment{}, fmt.Errorf("%w: %s, not a 3-character segment ID such as PID; a value holding a line break must escape it as %c.br%c",
			ErrSegment, startOf(name), orBackslash(m.Delimiters.Escape), orBackslash(m.Delimiters.Escape))
	}
	seg := Segment{Name: name, Index: index, msg: m}
	if len(line) == len(name) {
		return seg, nil
	}
	rest := line[len(name)+1:]
	if name == "MSH" {
		if index != 0 {
			return Segment{}, fmt.Errorf("%w: %w: a second MSH segment; send one message at a time", ErrSegment, ErrBatch)
		}
		parts := strings.Split(rest, string(fs))
		seg.Fields = make([]string, 0, len(parts)+1)
		seg.Fields = append(seg.Fields, string(fs))
		seg.Fields = append(seg.Fields, parts...)
		return seg, nil
	}
	seg.Fields = strings.Split(rest, string(fs))
	return seg, nil
}

func orBackslash(c byte) byte {
	if c == 0 {
		return '\\'
	}
	return c
}

// startOf describes how a line that is no segment starts. Such a line is
// most often the rest of a value broken by an unescaped line break (a
// name, an address, an ID number), so its text is quoted only when it
// looks like a mistyped segment ID (up to 4 ASCII letters and digits, one
// a letter, such as "PI" or "PID1"); errors reach replies, the console and
// logs, where patients' data must not appear.
func startOf(name string) string {
	letter := false
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z':
			letter = true
		case c >= '0' && c <= '9':
		default:
			letter, i = false, len(name)
		}
	}
	switch {
	case letter && len(name) <= 4:
		return fmt.Sprintf("it starts with %q", name)
	case name == "":
		return "it starts with a field separator"
	case name[0] == '{' || name[0] == '[' || name[0] == '<':
		return fmt.Sprintf("it starts with %q (JSON or XML?)", name[:1])
	}
	return fmt.Sprintf("it starts with %d characters that are not shown (they may be a patient's data)", utf8.RuneCountInString(name))
}

func validName(s string) bool {
	if len(s) != 3 {
		return false
	}
	for i := 0; i < 3; i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// Type returns the message type and trigger event from MSH-9, for example
// "ADT^A01", or "" when MSH-9 is empty.
func (m *Message) Type() string {
	if len(m.Segments) == 0 {
		return ""
	}
	msh := &m.Segments[0]
	code, event := msh.Value(9, 1, 1, 1), msh.Value(9, 1, 2, 1)
	switch {
	case code == "":
		return ""
	case event == "":
		return code
	}
	return code + "^" + event
}

// ControlID returns MSH-10, the message control ID.
func (m *Message) ControlID() string {
	if len(m.Segments) == 0 {
		return ""
	}
	return m.Segments[0].Value(10, 1, 1, 1)
}

// QueryTag returns the tag of a query, which its response must echo in
// QAK-1 when the query gives one: QPD-2 (a QBP), else QRD-4, the query ID
// (a QRY). It is "" for a message that is no query or gives no tag.
func (m *Message) QueryTag() string {
	if t := m.Get(Location{Segment: "QPD", Field: 2}); t != "" {
		return t
	}
	return m.Get(Location{Segment: "QRD", Field: 4})
}

// All returns the segments with the given name, in message order.
func (m *Message) All(name string) []*Segment {
	var out []*Segment
	for i := range m.Segments {
		if m.Segments[i].Name == name {
			out = append(out, &m.Segments[i])
		}
	}
	return out
}

// Segment returns the segment a location names: the first segment with the
// location's name that matches its occurrence or selector. It searches
// m.Segments[from:to]; to < 0 means the end of the message.
func (m *Message) Segment(l Location, from, to int) *Segment {
	if to < 0 || to > len(m.Segments) {
		to = len(m.Segments)
	}
	n := 0
	for i := max(from, 0); i < to; i++ {
		s := &m.Segments[i]
		if s.Name != l.Segment {
			continue
		}
		n++
		switch {
		case l.SelectField > 0:
			if s.Value(l.SelectField, 1, 1, 1) == l.SelectValue {
				return s
			}
		case l.Occurrence <= 1 && n == 1, n == l.Occurrence:
			return s
		}
	}
	return nil
}

// Get returns the value at l, unescaped, or "" when the segment or the
// value is absent. For an l with every repetition ("(*)") it returns the
// first non-empty one.
func (m *Message) Get(l Location) string {
	s := m.Segment(l, 0, -1)
	if s == nil {
		return ""
	}
	return s.Get(l)
}

// Field returns the raw, escaped text of field n (from 1), or "".
func (s *Segment) Field(n int) string {
	if n < 1 || n > len(s.Fields) {
		return ""
	}
	return s.Fields[n-1]
}

// Repetitions returns how many repetitions field n has (0 when empty).
func (s *Segment) Repetitions(n int) int {
	f := s.Field(n)
	if f == "" {
		return 0
	}
	if s.isEncodingField(n) || s.msg.Delimiters.Repetition == 0 {
		return 1
	}
	return strings.Count(f, string(s.msg.Delimiters.Repetition)) + 1
}

func (s *Segment) isEncodingField(n int) bool { return s.Name == "MSH" && (n == 1 || n == 2) }

// Value returns field n, repetition rep, component comp, subcomponent sub
// (all from 1; 0 counts as 1), unescaped. It returns "" when the value is
// absent or is the HL7 null `""`.
func (s *Segment) Value(field, rep, comp, sub int) string {
	raw := s.Field(field)
	if raw == "" {
		return ""
	}
	if s.isEncodingField(field) {
		if rep <= 1 && comp <= 1 && sub <= 1 {
			return raw
		}
		return ""
	}
	d := &s.msg.Delimiters
	raw = nth(raw, d.Repetition, rep)
	raw = nth(raw, d.Component, comp)
	raw = nth(raw, d.Subcomponent, sub)
	if raw == `""` {
		return ""
	}
	return s.msg.unescape(raw)
}

// Get returns the value at l inside this segment (l's segment name and
// occurrence are not checked). A repetition selector picks the first
// repetition whose component matches; "(*)" picks the first non-empty
// repetition. The field is scanned once, so the time is linear in its
// length however many repetitions it has.
func (s *Segment) Get(l Location) string {
	switch {
	case l.Repetition == AllRepetitions:
		for rep := range s.repetitions(l.Field) {
			if v := s.leaf(l.Field, rep, l.Component, l.Subcomponent); v != "" {
				return v
			}
		}
		return ""
	case l.SelectComponent > 0:
		for rep := range s.repetitions(l.Field) {
			if s.leaf(l.Field, rep, l.SelectComponent, 1) == l.SelectRepValue {
				return s.leaf(l.Field, rep, l.Component, l.Subcomponent)
			}
		}
		return ""
	}
	return s.Value(l.Field, l.Repetition, l.Component, l.Subcomponent)
}

// All returns the value at l for every repetition of the field (or for the
// repetitions that match l's selector), empty values included.
func (s *Segment) All(l Location) []string {
	if l.Repetition > 0 && l.SelectComponent == 0 {
		if l.Repetition > s.Repetitions(l.Field) {
			return nil
		}
		return []string{s.Value(l.Field, l.Repetition, l.Component, l.Subcomponent)}
	}
	out := make([]string, 0, s.Repetitions(l.Field))
	for rep := range s.repetitions(l.Field) {
		if l.SelectComponent > 0 && s.leaf(l.Field, rep, l.SelectComponent, 1) != l.SelectRepValue {
			continue
		}
		out = append(out, s.leaf(l.Field, rep, l.Component, l.Subcomponent))
	}
	return out
}

// repetitions yields the raw text of each repetition of field n, in order
// (nothing when the field is empty).
func (s *Segment) repetitions(n int) func(func(string) bool) {
	f := s.Field(n)
	return func(yield func(string) bool) {
		switch {
		case f == "":
			return
		case s.isEncodingField(n) || s.msg.Delimiters.Repetition == 0:
			yield(f)
			return
		}
		for rep := range strings.SplitSeq(f, string(s.msg.Delimiters.Repetition)) {
			if !yield(rep) {
				return
			}
		}
	}
}

// leaf returns component comp, subcomponent sub (from 1; 0 counts as 1) of
// rep, one repetition of field n as [Segment.repetitions] yields it,
// unescaped, as [Segment.Value] does.
func (s *Segment) leaf(field int, rep string, comp, sub int) string {
	if s.isEncodingField(field) {
		if comp <= 1 && sub <= 1 {
			return rep
		}
		return ""
	}
	d := &s.msg.Delimiters
	raw := nth(nth(rep, d.Component, comp), d.Subcomponent, sub)
	if raw == `""` {
		return ""
	}
	return s.msg.unescape(raw)
}

// nth returns the n-th (from 1; 0 counts as 1) piece of s split at sep.
// A zero sep means s is one piece.
func nth(s string, sep byte, n int) string {
	if n <= 1 {
		if sep == 0 {
			return s
		}
		if i := strings.IndexByte(s, sep); i >= 0 {
			return s[:i]
		}
		return s
	}
	if sep == 0 {
		return ""
	}
	for k := 1; k < n; k++ {
		i := strings.IndexByte(s, sep)
		if i < 0 {
			return ""
		}
		s = s[i+1:]
	}
	if i := strings.IndexByte(s, sep); i >= 0 {
		return s[:i]
	}
	return s
}

// PeekControlID returns MSH-10, the message control ID, read from the
// bytes of a message that may not parse (a bad character set or segment
// further on), so that a refusal can still name the message it answers.
// It returns "" when the data does not start with an MSH segment whose
// delimiters can be read, or when MSH-10 is not printable ASCII.
func PeekControlID(data []byte) string {
	data, d, ok := peekMSH(data)
	if !ok {
		return ""
	}
	line := data
	if i := bytes.IndexAny(line, "\r\n"); i >= 0 {
		line = line[:i]
	}
	// parts[0] is "MSH", parts[1] MSH-2, parts[k] MSH-(k+1).
	parts := bytes.SplitN(line, []byte{d.Field}, 11)
	if len(parts) < 10 {
		return ""
	}
	m := &Message{Delimiters: d, cs: csUTF8}
	v := nth(nth(nth(string(parts[9]), d.Repetition, 1), d.Component, 1), d.Subcomponent, 1)
	if v == `""` {
		return ""
	}
	// Only the value read is checked for bytes an ACK cannot carry: what
	// follows it (another repetition or component) is not read.
	for _, c := range []byte(v) {
		if c < ' ' || c >= 0x7f {
			return ""
		}
	}
	return m.unescape(v)
}

// PeekCharset returns MSH-18 as written (its first repetition and
// component), read from the bytes of a message that may not parse, so
// that a refusal can be written in the character set the sender uses. It
// returns "" when MSH-18 is empty or the delimiters cannot be read.
func PeekCharset(data []byte) string {
	data, d, ok := peekMSH(data)
	if !ok {
		return ""
	}
	return strings.TrimSpace(msh18(data, d))
}

// peekMSH returns the unframed data and its delimiters when it starts
// with an MSH segment whose delimiters can be read.
func peekMSH(data []byte) ([]byte, Delimiters, bool) {
	data = trimFrame(data)
	if !bytes.HasPrefix(data, []byte("MSH")) || len(data) < 5 {
		return nil, Delimiters{}, false
	}
	d, err := delimiters(data)
	if err != nil {
		return nil, Delimiters{}, false
	}
	return data, d, true
}
