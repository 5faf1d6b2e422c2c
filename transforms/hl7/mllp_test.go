package hl7

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func readAll(t testing.TB, r *Reader) ([]string, error) {
	t.Helper()
	var out []string
	for {
		msg, err := r.ReadMessage()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, string(msg))
	}
}

func TestReader(t *testing.T) {
	t.Parallel()
	const m1 = "MSH|^~\\&|A|||||||1\rPID|1\r"
	const m2 = "MSH|^~\\&|B|||||||2\rPV1|1\r"
	tests := map[string]struct {
		in   string
		want []string
		err  error
	}{
		"mllp": {in: "\v" + m1 + "\x1c\r\v" + m2 + "\x1c\r", want: []string{m1, m2}},
		"mllp without trailing CR": {
			in: "\v" + m1 + "\x1c\v" + m2 + "\x1c", want: []string{m1, m2}},
		"mllp with blank lines": {in: "\r\n\v" + m1 + "\x1c\r\n\n\v" + m2 + "\x1c\r\n", want: []string{m1, m2}},
		"plain CR":              {in: m1 + m2, want: []string{m1, m2}},
		"plain LF": {
			in: strings.ReplaceAll(m1+m2, "\r", "\n"), want: []string{m1, m2}},
		"plain CRLF with blanks": {
			in: strings.ReplaceAll(m1, "\r", "\r\n") + "\r\n\r\n" + strings.ReplaceAll(m2, "\r", "\r\n"), want: []string{m1, m2}},
		"batch file": {
			in: "FHS|^~\\&|HIS\rBHS|^~\\&|HIS\r" + m1 + m2 + "BTS|2\rFTS|1\r", want: []string{m1, m2}},
		"plain then mllp":   {in: m1 + "\v" + m2 + "\x1c\r", want: []string{m1, m2}},
		"last without CR":   {in: m1 + strings.TrimSuffix(m2, "\r"), want: []string{m1, m2}},
		"empty":             {in: "", want: nil},
		"only blank":        {in: "\r\n \t", want: nil},
		"truncated frame":   {in: "\v" + m1, err: ErrFraming},
		"lost end block":    {in: "\v" + m1 + "\v" + m2 + "\x1c\r", err: ErrFraming},
		"frame then broken": {in: "\v" + m1 + "\x1c\r\vMSH|", want: []string{m1}, err: io.ErrUnexpectedEOF},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, err := readAll(t, NewReader(strings.NewReader(tc.in)))
			if tc.err == nil && err != nil {
				t.Fatalf("err = %v", err)
			}
			if tc.err != nil && !errors.Is(err, tc.err) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("messages (-want +got):\n%s", diff)
			}
		})
	}
}

func TestReaderMaxSize(t *testing.T) {
	t.Parallel()
	big := "MSH|^~\\&|A\rNTE|1||" + strings.Repeat("x", 200) + "\r"
	for name, in := range map[string]string{"mllp": "\v" + big + "\x1c\r", "plain": big} {
		r := NewReader(strings.NewReader(in))
		r.MaxSize = 100
		if _, err := r.ReadMessage(); !errors.Is(err, ErrTooLarge) {
			t.Errorf("%s: err = %v, want ErrTooLarge", name, err)
		}
	}
}

// TestReaderHead: the head of a message too large is its own first bytes
// (its MSH segment), also when the messages after it are buffered with
// it, so that its refusal names it and not the next one.
func TestReaderHead(t *testing.T) {
	t.Parallel()
	big := "MSH|^~\\&|A||||||ADT^A28|BIG1\rNTE|1||" + strings.Repeat("x", 200) + "\r"
	next := "MSH|^~\\&|B||||||ADT^A28|NEXT2\r"
	tests := map[string]struct {
		in   string
		want string // the head's first line
	}{
		"frame":                     {"\v" + big + "\x1c\r", "MSH|^~\\&|A||||||ADT^A28|BIG1"},
		"frame, the next one after": {"\v" + big + "\x1c\r\v" + next + "\x1c\r", "MSH|^~\\&|A||||||ADT^A28|BIG1"},
		"frame without end block":   {"\v" + big, "MSH|^~\\&|A||||||ADT^A28|BIG1"},
		"plain, the next one after": {big + next, "MSH|^~\\&|A||||||ADT^A28|BIG1"},
		"one long line":             {"\v" + strings.Repeat("M", 300) + "\x1c\r", strings.Repeat("M", 300)},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r := NewReader(strings.NewReader(tc.in))
			r.MaxSize = 100
			if _, err := r.ReadMessage(); !errors.Is(err, ErrTooLarge) {
				t.Fatalf("err = %v, want ErrTooLarge", err)
			}
			head := string(r.Head())
			if len(head) > HeadSize {
				t.Errorf("head of %d bytes, want at most %d", len(head), HeadSize)
			}
			if first, _, _ := strings.Cut(head, "\r"); first != tc.want {
				t.Errorf("head starts %q, want %q", first, tc.want)
			}
		})
	}
}

func TestWriterRoundTrip(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	w := NewWriter(&buf)
	msgs := []string{"MSH|^~\\&|A\rPID|1|张三\r", "MSH|^~\\&|B\r"}
	for _, m := range msgs {
		if err := w.WriteMessage([]byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.HasPrefix(buf.Bytes(), []byte{StartBlock}) || !bytes.HasSuffix(buf.Bytes(), []byte{EndBlock, '\r'}) {
		t.Errorf("frame bytes missing: %q", buf.Bytes())
	}
	got, err := readAll(t, NewReader(&buf))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(msgs, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if err := w.WriteMessage([]byte("MSH|\x1c")); !errors.Is(err, ErrFraming) {
		t.Errorf("writing an end block byte: err = %v, want ErrFraming", err)
	}
}

// TestReaderSocket reads frames split across many small reads, as a socket
// delivers them.
func TestReaderSocket(t *testing.T) {
	t.Parallel()
	var stream bytes.Buffer
	w := NewWriter(&stream)
	var want []string
	for i := range 50 {
		m := "MSH|^~\\&|A|||||||" + strings.Repeat("9", i) + "\rPID|1|" + strings.Repeat("张", i) + "\r"
		want = append(want, m)
		if err := w.WriteMessage([]byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	got, err := readAll(t, NewReader(&trickle{data: stream.Bytes()}))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// trickle returns at most 7 bytes per Read.
type trickle struct{ data []byte }

func (t *trickle) Read(p []byte) (int, error) {
	if len(t.data) == 0 {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), 7)], t.data)
	t.data = t.data[n:]
	return n, nil
}
