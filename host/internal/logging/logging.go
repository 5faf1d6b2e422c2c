// Package logging builds medgate's slog loggers. Every record passes a
// masking step: values of keys that hold personal data (names, ID numbers,
// phone numbers) are masked, and any 18-character resident ID number or
// 11-digit mobile number inside any string is masked too. Plugins' log
// lines, re-emitted by the host, pass the same masking (see Writer).
package logging

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"unicode/utf8"
)

// New returns a logger writing to w in "json" or "text" format at level
// ("debug", "info", "warn", "error").
func New(w io.Writer, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("log level %q: use debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv, ReplaceAttr: replace}
	switch format {
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("log format %q: use json or text", format)
}

// personalKeys are attribute keys (lowercased) whose values are personal data.
var personalKeys = map[string]bool{
	"name": true, "patientname": true, "patient_name": true, "psn_name": true, "psnname": true, "aac003": true, "conername": true, "coner_name": true,
	"idnumber": true, "id_number": true, "idno": true, "certno": true, "certno_": true, "aac002": true, "aac044": true, "psn_cert_no": true, "certificate": true,
	"phone": true, "mobile": true, "tel": true, "aae005": true,
}

// secretKeys are attribute keys whose values are never printed.
var secretKeys = map[string]bool{
	"password": true, "secret": true, "token": true, "authorization": true, "privatekey": true, "private_key": true, "appsecret": true, "key": false,
}

func replace(_ []string, a slog.Attr) slog.Attr {
	k := strings.ToLower(a.Key)
	if secretKeys[k] {
		return slog.String(a.Key, "[redacted]")
	}
	if a.Value.Kind() == slog.KindGroup {
		return a
	}
	// Errors, numbers and other values are printed as text too: an error
	// can quote a patient's ID number, a phone can be an integer.
	s := a.Value.String()
	if personalKeys[k] {
		return slog.String(a.Key, MaskValue(s))
	}
	if a.Value.Kind() != slog.KindString {
		if m := Mask(s); m != s {
			return slog.String(a.Key, m)
		}
		return a
	}
	return slog.String(a.Key, Mask(s))
}

var (
	idRE    = regexp.MustCompile(`\b([1-9]\d{2})\d{11}(\d{3}[0-9Xx])\b`)
	phoneRE = regexp.MustCompile(`\b((?:86)?1[3-9]\d)\d{4}(\d{4})\b`) // with or without the country code 86
	// intlRE: an international number in E.164 form, "+" and 8–15
	// digits (e-card visitors without a mainland mobile); a +86 mobile
	// is phoneRE's.
	intlRE = regexp.MustCompile(`\+(\d{2})\d{2,9}(\d{4})\b`)
)

// Mask masks resident ID numbers and mobile numbers (mainland, and
// international ones written with "+") found in s.
func Mask(s string) string {
	if len(s) < 9 {
		return s
	}
	s = idRE.ReplaceAllString(s, "$1***********$2")
	s = phoneRE.ReplaceAllString(s, "$1****$2")
	if strings.IndexByte(s, '+') >= 0 {
		s = intlRE.ReplaceAllString(s, "+$1****$2")
	}
	return s
}

// MaskValue masks a whole personal value: a name keeps its first
// character, anything longer keeps its first three and last four.
func MaskValue(s string) string {
	n := utf8.RuneCountInString(s)
	r := []rune(s)
	switch {
	case n == 0:
		return s
	case n <= 4:
		return string(r[0]) + strings.Repeat("*", n-1)
	case n < 11:
		return string(r[0]) + strings.Repeat("*", n-2) + string(r[n-1])
	default:
		return string(r[:3]) + strings.Repeat("*", n-7) + string(r[n-4:])
	}
}

// Writer returns an io.Writer that masks each line before writing it to w.
// The host routes plugin output through it.
func Writer(w io.Writer) io.Writer { return &maskWriter{w: w} }

type maskWriter struct {
	mu  sync.Mutex
	w   io.Writer
	buf []byte
}

func (m *maskWriter) Write(p []byte) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.buf = append(m.buf, p...)
	for {
		i := bytes.IndexByte(m.buf, '\n')
		if i < 0 {
			break
		}
		line := maskLine(m.buf[:i+1])
		m.buf = m.buf[i+1:]
		if _, err := io.WriteString(m.w, line); err != nil {
			return len(p), err
		}
	}
	return len(p), nil
}

// maskLine masks one line of plugin output. Plugins log JSON objects
// (hclog, sdk.Logger): those are masked like MaskJSON, personal keys
// included; other lines by pattern (Mask).
func maskLine(line []byte) string {
	if t := bytes.TrimSpace(line); len(t) > 0 && t[0] == '{' {
		if out := MaskJSON(t); len(out) > 0 && out[0] == '{' {
			return string(out) + "\n"
		}
	}
	return Mask(string(line))
}

// MaskJSON returns the JSON document b with personal data masked: values
// of personal keys (name, idNumber, phone, …) keep only their edges
// (MaskValue) and any ID or mobile number inside any other string is
// masked (Mask). Numbers keep their exact text unless they are personal
// data (then they become masked strings). A body that is not JSON is
// masked as text and returned as a JSON string, so the result is always
// valid JSON; nil stays nil.
func MaskJSON(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil || dec.More() {
		s, _ := json.Marshal(Mask(strings.ToValidUTF8(string(b), "\uFFFD")))
		return s
	}
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(maskAny("", v)); err != nil {
		s, _ := json.Marshal(Mask(strings.ToValidUTF8(string(b), "\uFFFD")))
		return s
	}
	return bytes.TrimRight(out.Bytes(), "\n")
}

// maskAny masks a decoded JSON value found under key.
func maskAny(key string, v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = maskAny(k, e)
		}
	case []any:
		for i, e := range x {
			x[i] = maskAny(key, e)
		}
	case string:
		if personalKeys[strings.ToLower(key)] {
			return MaskValue(x)
		}
		return Mask(x)
	case json.Number:
		// A phone or ID number may be written as a JSON number; masked, it
		// becomes a string.
		if personalKeys[strings.ToLower(key)] {
			return MaskValue(x.String())
		}
		if m := Mask(x.String()); m != x.String() {
			return m
		}
	}
	return v
}
