package hl7

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// MLLP framing bytes: a frame is StartBlock, the message, EndBlock, CR.
const (
	StartBlock byte = 0x0b
	EndBlock   byte = 0x1c
)

// DefaultMaxSize is the largest message a [Reader] accepts unless told
// otherwise.
const DefaultMaxSize = 16 << 20

// Errors returned by [Reader] and [Writer].
var (
	// ErrFraming means the bytes are not a well-formed MLLP frame.
	ErrFraming = errors.New("mllp framing error")
	// ErrTooLarge means a message is longer than the reader's MaxSize.
	ErrTooLarge = errors.New("hl7 message too large")
)

// Reader reads HL7 v2 messages one at a time from a socket or a file. It
// accepts both MLLP frames (StartBlock … EndBlock CR) and plain messages
// one after another, each starting with an MSH segment, as batch files
// hold them; the batch segments FHS, BHS, BTS and FTS are skipped. Blank
// lines between messages are ignored. A Reader is not safe for concurrent
// use.
type Reader struct {
	// MaxSize is the largest message accepted, in bytes; 0 means
	// DefaultMaxSize. A larger message is an error wrapping ErrTooLarge and
	// the rest of the stream cannot be trusted.
	MaxSize int

	br   *bufio.Reader
	head []byte // see Head
}

// HeadSize bounds [Reader.Head]: enough for an MSH segment.
const HeadSize = 2048

// Head returns the first bytes (at most HeadSize, without framing) of the
// message the last ReadMessage began to read, whether or not it returned
// it: for a message too large, enough to read its MSH segment
// ([PeekControlID], [PeekCharset]) and answer it, also when the messages
// after it are already buffered. It is valid until the next ReadMessage.
func (r *Reader) Head() []byte { return r.head }

// keepHead appends to the head what of b it still has room for.
func (r *Reader) keepHead(b []byte) {
	if n := HeadSize - len(r.head); n > 0 {
		r.head = append(r.head, b[:min(len(b), n)]...)
	}
}

// NewReader returns a Reader reading from r.
func NewReader(r io.Reader) *Reader { return &Reader{br: bufio.NewReaderSize(r, 64<<10)} }

func (r *Reader) max() int {
	if r.MaxSize > 0 {
		return r.MaxSize
	}
	return DefaultMaxSize
}

// ReadMessage returns the next message's bytes without framing, in its own
// character set (pass them to [Parse]). It returns io.EOF when the stream
// ends between messages, and an error wrapping ErrFraming when it ends
// inside a frame. The returned slice is the caller's.
func (r *Reader) ReadMessage() ([]byte, error) {
	r.head = r.head[:0]
	for {
		c, err := r.br.ReadByte()
		if err != nil {
			return nil, err
		}
		switch c {
		case '\r', '\n', ' ', '\t':
			continue
		case StartBlock:
			return r.frame()
		}
		if err := r.br.UnreadByte(); err != nil {
			return nil, err
		}
		if r.atBatchSegment() {
			if _, err := r.line(nil); err != nil && !errors.Is(err, io.EOF) {
				return nil, err
			}
			continue
		}
		return r.plain()
	}
}

// frame reads up to EndBlock and the CR after it.
func (r *Reader) frame() ([]byte, error) {
	var msg []byte
	for {
		chunk, err := r.br.ReadSlice(EndBlock)
		if err == nil {
			r.keepHead(chunk[:len(chunk)-1])
		} else {
			r.keepHead(chunk)
		}
		if len(msg)+len(chunk) > r.max()+1 {
			return nil, fmt.Errorf("%w: more than %d bytes without an MLLP end block", ErrTooLarge, r.max())
		}
		msg = append(msg, chunk...)
		switch {
		case err == nil:
			msg = msg[:len(msg)-1]
			if bytes.IndexByte(msg, StartBlock) >= 0 {
				return nil, fmt.Errorf("%w: a start block inside a frame (an end block was lost)", ErrFraming)
			}
			// The CR after the end block is taken when it came with it;
			// it is not waited for: a sender that leaves it out waits for
			// its ACK, and a CR arriving later is skipped as a blank
			// before the next message.
			if r.br.Buffered() > 0 {
				if c, err := r.br.ReadByte(); err == nil && c != '\r' {
					_ = r.br.UnreadByte()
				}
			}
			return msg, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF):
			return nil, fmt.Errorf("%w: the stream ended inside a frame: %w", ErrFraming, io.ErrUnexpectedEOF)
		default:
			return nil, err
		}
	}
}

// plain reads segments up to the next MSH, batch segment, start block or
// the end of the stream, and joins them with CR.
func (r *Reader) plain() ([]byte, error) {
	var msg []byte
	first := true
	for {
		if !first {
			if err := r.skipBlank(); err != nil {
				if errors.Is(err, io.EOF) {
					return msg, nil
				}
				return nil, err
			}
			p, _ := r.br.Peek(3)
			if len(p) > 0 && p[0] == StartBlock || bytes.Equal(p, []byte("MSH")) || r.atBatchSegment() {
				return msg, nil
			}
		}
		var err error
		msg, err = r.line(msg)
		if first {
			r.keepHead(msg)
		}
		first = false
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, err
		}
		msg = append(msg, '\r')
		if len(msg) > r.max() {
			return nil, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, r.max())
		}
		if errors.Is(err, io.EOF) {
			return msg, nil
		}
	}
}

// line appends one line (up to CR or LF, not included) to dst; on an
// error, dst holds what was read.
func (r *Reader) line(dst []byte) ([]byte, error) {
	for {
		c, err := r.br.ReadByte()
		if err != nil {
			return dst, err
		}
		if c == '\r' || c == '\n' {
			return dst, nil
		}
		dst = append(dst, c)
		if len(dst) > r.max() {
			return dst, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, r.max())
		}
	}
}

func (r *Reader) skipBlank() error {
	for {
		c, err := r.br.ReadByte()
		if err != nil {
			return err
		}
		if c != '\r' && c != '\n' && c != ' ' && c != '\t' {
			return r.br.UnreadByte()
		}
	}
}

func (r *Reader) atBatchSegment() bool {
	p, _ := r.br.Peek(3)
	switch string(p) {
	case "FHS", "BHS", "BTS", "FTS":
		return true
	}
	return false
}

// Writer writes MLLP frames. Each WriteMessage is one Write call on the
// underlying writer.
type Writer struct {
	w io.Writer
}

// NewWriter returns a Writer writing to w.
func NewWriter(w io.Writer) *Writer { return &Writer{w: w} }

// WriteMessage writes msg (the message bytes in its character set, segments
// ending in CR) as one MLLP frame. A message holding a start or end block
// byte cannot be framed and is an error wrapping ErrFraming.
func (w *Writer) WriteMessage(msg []byte) error {
	if bytes.IndexByte(msg, StartBlock) >= 0 || bytes.IndexByte(msg, EndBlock) >= 0 {
		return fmt.Errorf("%w: the message holds an MLLP start or end block byte", ErrFraming)
	}
	buf := make([]byte, 0, len(msg)+3)
	buf = append(buf, StartBlock)
	buf = append(buf, msg...)
	buf = append(buf, EndBlock, '\r')
	_, err := w.w.Write(buf)
	return err
}
