package logging

import (
	"bytes"
	"errors"
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

func TestMaskJSON(t *testing.T) {
	t.Parallel()
	cases := map[string]struct{ in, want string }{
		"personal keys": {`{"name":"张三丰","idNumber":"11010519491231002X","phone":"13812345678","amount":12.50}`,
			`{"amount":12.50,"idNumber":"110***********002X","name":"张**","phone":"138****5678"}`},
		"nested and in text": {`{"payload":{"patients":[{"aac003":"李四"}],"note":"call 13812345678"}}`,
			`{"payload":{"note":"call 138****5678","patients":[{"aac003":"李*"}]}}`},
		"not json":  {`name=张三 id 11010519491231002X`, `"name=张* id 110***********002X"`},
		"two docs":  {`{} {"name":"张三"}`, `"{} {\"name\":\"张*\"}"`},
		"html kept": {`{"note":"a<b"}`, `{"note":"a<b"}`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if got := string(MaskJSON([]byte(tc.in))); got != tc.want {
				t.Errorf("MaskJSON(%s) = %s, want %s", tc.in, got, tc.want)
			}
		})
	}
	if MaskJSON(nil) != nil {
		t.Error("MaskJSON(nil) is not nil")
	}
}

func TestLoggerMasksValuesThatAreNotStrings(t *testing.T) {
	t.Parallel()
	for _, format := range []string{"json", "text"} {
		t.Run(format, func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			l, err := New(&buf, format, "info")
			if err != nil {
				t.Fatal(err)
			}
			l.Info("call failed",
				"err", errors.New("patient 11010519491231002X: phone 13912345678 refused"),
				"phone", 13812345678,
				"mobile", uint64(13712345678),
				"attempts", 3)
			out := buf.String()
			for _, leak := range []string{"11010519491231002X", "13912345678", "13812345678", "13712345678"} {
				if strings.Contains(out, leak) {
					t.Errorf("log line leaks %q: %s", leak, out)
				}
			}
			if !strings.Contains(out, "attempts") || !strings.Contains(out, "3") {
				t.Errorf("log line lost an ordinary number: %s", out)
			}
		})
	}
}

func TestMaskJSONNumbers(t *testing.T) {
	t.Parallel()
	cases := map[string]struct{ in, want string }{
		"phone as a number":          {`{"phone":13812345678}`, `{"phone":"138****5678"}`},
		"mobile inside other number": {`{"contact":13812345678,"qty":3}`, `{"contact":"138****5678","qty":3}`},
		"plain numbers kept":         {`{"amount":12.50,"count":20261203101500}`, `{"amount":12.50,"count":20261203101500}`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if got := string(MaskJSON([]byte(tc.in))); got != tc.want {
				t.Errorf("MaskJSON(%s) = %s, want %s", tc.in, got, tc.want)
			}
		})
	}
}

func TestWriterMasksPersonalKeysOfJSONLines(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	w := Writer(&buf)
	_, _ = w.Write([]byte(`{"@level":"info","@message":"registered","@module":"plugin.ecard","name":"王小梅","idNumber":"11010519491231002X","phone":13812345678}` + "\n"))
	_, _ = w.Write([]byte("plain 13812345678 text\n"))
	out := buf.String()
	for _, leak := range []string{"王小梅", "11010519491231002X", "13812345678"} {
		if strings.Contains(out, leak) {
			t.Errorf("plugin output leaks %q: %s", leak, out)
		}
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], `"name":"王**"`) || lines[1] != "plain 138****5678 text" {
		t.Errorf("got %q", out)
	}
}

func TestMaskMobileWithCountryCode(t *testing.T) {
	t.Parallel()
	cases := map[string]struct{ in, want string }{
		"+86":          {"phone +8613812345678 set", "phone +86138****5678 set"},
		"86 in json":   {`{"tel2":"8613812345678"}`, `{"tel2":"86138****5678"}`},
		"other number": {"order 8612345678901", "order 8612345678901"},
		// International numbers (e-card visitors without a mainland
		// mobile: "+" and 8–15 digits, E.164).
		"Hong Kong":      {"phone +85291234567 refused", "phone +85****4567 refused"},
		"United Kingdom": {`{"note":"call +447911123456"}`, `{"note":"call +44****3456"}`},
		"too short":      {"room +1234567", "room +1234567"},
		"too long":       {"ref +1234567890123456", "ref +1234567890123456"},
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

// TestMaskJSONSchemaPersonalFields: the personal fields the transaction
// schemas declare (人员姓名 psnName, 联系人姓名 conerName / coner_name, 证件号码
// aac044) are masked whole, like name and certno.
func TestMaskJSONSchemaPersonalFields(t *testing.T) {
	t.Parallel()
	in := `{"output":{"psnName":"王小梅","conerName":"李大明","coner_name":"张三丰","aac044":"E12345678"}}`
	want := `{"output":{"aac044":"E*******8","conerName":"李**","coner_name":"张**","psnName":"王**"}}`
	if got := string(MaskJSON([]byte(in))); got != want {
		t.Errorf("MaskJSON(%s) = %s, want %s", in, got, want)
	}
}
