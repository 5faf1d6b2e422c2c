package logging

import (
	"bytes"
	"strings"
	"testing"
)

func TestMask(t *testing.T) {
	t.Parallel()
	cases := map[string]struct{ in, want string }{
		"resident id":   {"patient 11010519491231002X admitted", "patient 110***********002X admitted"},
		"mobile":        {"call 13812345678 now", "call 138****5678 now"},
		"short number":  {"bed 12", "bed 12"},
		"trace code 20": {"code 81234567890123456789", "code 81234567890123456789"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if got := Mask(tc.in); got != tc.want {
				t.Errorf("Mask(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestLoggerMasksPersonalAndSecretKeys(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	l, err := New(&buf, "json", "info")
	if err != nil {
		t.Fatal(err)
	}
	l.Info("registered", "name", "张三丰", "idNumber", "11010519491231002X", "token", "s3cr3t", "note", "phone 13812345678")
	out := buf.String()
	for _, leak := range []string{"张三丰", "11010519491231002X", "s3cr3t", "13812345678"} {
		if strings.Contains(out, leak) {
			t.Errorf("log line leaks %q: %s", leak, out)
		}
	}
	for _, want := range []string{`"name":"张**"`, `"token":"[redacted]"`, "138****5678"} {
		if !strings.Contains(out, want) {
			t.Errorf("log line lacks %s: %s", want, out)
		}
	}
}

func TestWriterMasksLines(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	w := Writer(&buf)
	_, _ = w.Write([]byte("a 1381234"))
	_, _ = w.Write([]byte("5678 b\nnext"))
	if got := buf.String(); got != "a 138****5678 b\n" {
		t.Errorf("got %q", got)
	}
}
