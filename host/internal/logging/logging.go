// Package logging builds medgate's slog loggers. Every record passes a
// masking step: values of keys that hold personal data (names, ID and card
// numbers, phone numbers, addresses; English, insurance-code and Chinese
// key names alike) are masked, values of keys that hold secrets (token,
// password, secret, private and SM4 keys, in any spelling such as
// accessToken or app_secret) are redacted when they are strings, as is
// every string in an object, array or log group under such a key, while
// their numbers, booleans and null are kept (a count, a flag: a secret
// is a string; maskSecret), and inside any string every
// 18-character resident ID number and 11-digit mobile number is masked
// however it is written (glued to letters, after a URL escape, in
// full-width digits, grouped with spaces or hyphens), as are secrets
// written as key=value, bearer tokens and PEM private keys. Plugins' log
// lines pass the same masking and come out through the host's logger, in
// its format and keys, with plugin=<name> (see Plugin); Writer masks raw
// lines where a plugin's output is written as it is. What a plugin
// declares personal (its schemas' personal fields, its Column.Personal;
// Declare, at each launch and Configure) is masked too, per operation, in
// the payloads of its messages (MaskRequest, MaskReply) and in its log
// lines, whatever the key.
package logging

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/medgate/medgate/plugins/sdk/pii"
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

// secretSuffixes end the normalized keys whose values are never printed:
// "token", "accessToken", "x-auth-token", "sm4Key", "app_secret", ….
// A bare "key" is a business key and is printed.
var secretSuffixes = []string{
	"password", "passwd", "pwd", "passphrase", "secret", "token", "authorization", "cookie", "credential", "credentials",
	"privatekey", "privkey", "apikey", "secretkey", "accesskey", "sm4key", "signkey",
}

// personalKey reports whether values under key k are personal data:
// pii.PersonalKey, the rule the SDK documents for vendors, so a plugin's
// tests check their replies against what medgate masks.
func personalKey(k string) bool { return pii.PersonalKey(k) }

func addressKey(n string) bool {
	return strings.HasSuffix(n, "address") || strings.HasSuffix(n, "addr")
}

// maskPersonal masks v, the value of the personal key k (MaskValue). A
// value of an address key that is all ASCII is a network address
// ("MLLP listening" address=127.0.0.1:2575, a URL) and is kept: patients'
// addresses here are written in Chinese.
func maskPersonal(k, v string) string {
	if n := pii.NormalizeKey(k); addressKey(n) && isASCII(v) { // no key of pii.PersonalKey's list ends so
		return v
	}
	return MaskValue(v)
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// secretKey reports whether values under key k are secrets.
func secretKey(k string) bool {
	n := pii.NormalizeKey(k)
	for _, s := range secretSuffixes {
		if strings.HasSuffix(n, s) {
			return true
		}
	}
	return false
}

// redacted replaces a secret.
const redacted = "[redacted]"

func replace(groups []string, a slog.Attr) slog.Attr {
	if p, ok := a.Value.Any().(premasked); ok && a.Value.Kind() == slog.KindAny {
		// A plugin's attribute, masked by Plugin already.
		return slog.Any(a.Key, p.v)
	}
	// slog passes a group's members, not the group: a member of a group
	// named as a secret (slog.Group("token", …), WithGroup) is a secret's
	// part.
	if secretKey(a.Key) || slices.ContainsFunc(groups, secretKey) {
		switch a.Value.Kind() {
		case slog.KindInt64, slog.KindUint64, slog.KindFloat64, slog.KindBool, slog.KindDuration, slog.KindTime:
			// A count, a flag, an expiry: no secret is written so. A
			// number is still masked below (a mobile written as one).
		case slog.KindAny:
			return slog.Any(a.Key, maskSecret(a.Key, plain(a.Value.Any())))
		default:
			return slog.String(a.Key, redacted)
		}
	}
	if a.Value.Kind() == slog.KindGroup {
		return a
	}
	// Errors, numbers and other values are printed as text too: an error
	// can quote a patient's ID number, a phone can be an integer.
	s := a.Value.String()
	if personalKey(a.Key) {
		return slog.String(a.Key, maskPersonal(a.Key, s))
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
	// intlRE: an international number in E.164 form, "+" and 8–15
	// digits (e-card visitors without a mainland mobile); a +86 mobile
	// is maskNumbers'.
	intlRE = regexp.MustCompile(`\+(\d{2})\d{2,9}(\d{4})\b`)
	// secretTextRE: a secret written as key=value, key: value or
	// "key":"value" inside text (a URL's query, a header, a quoted body).
	// A placeholder in a hint (token=<name>, token=${X}, {…}) is kept.
	// Groups 2 and 3: the quote closing the key and the one opening the
	// value, escaped (\") in JSON quoted inside a string (maskSecretText).
	secretTextRE = regexp.MustCompile(`(?i)((?:token|password|passwd|pwd|secret|api_?key|private_?key|sm4_?key|authorization)(\\?")?\s*[:=]\s*(\\?")?)(?:bearer\s+)?[^\s"&,;<{$][^\s"&,;]*`)
	// jsonLiteralRE: a JSON number, boolean or null.
	jsonLiteralRE = regexp.MustCompile(`^(?:-?[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?|true|false|null)$`)
	bearerRE      = regexp.MustCompile(`(?i)\b(bearer\s+)[A-Za-z0-9._~+/=-]+`)
	// quotedFieldRE: a "key":"value" pair of JSON quoted inside text (a
	// logged request body); personalFieldRE: key=value or key:value (a
	// URL's query, 姓名：张三). The value is masked when the key is
	// personal (personalKey).
	quotedFieldRE = regexp.MustCompile(`"([^"\\]{1,64})"(\s*:\s*")((?:[^"\\]|\\.)*)"`)
	// escapedFieldRE: the same with the quotes escaped (a body quoted
	// with %q in an error).
	escapedFieldRE  = regexp.MustCompile(`\\"([^"\\]{1,64})\\"(\s*:\s*\\")((?:[^"\\]|\\[^"])*)\\"`)
	escapeRE        = regexp.MustCompile(`%[0-9A-Fa-f]{2}`)
	personalFieldRE = regexp.MustCompile(`([\p{L}_][\p{L}\p{N}_.-]{0,63})([=:：])([^\s&"',;，。、]+)`)
	pemRE           = regexp.MustCompile(`(?s)-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----.*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|$)`)
)

// Mask masks resident ID numbers and mobile numbers (mainland, and
// international ones written with "+") found in s, however they are
// written (glued to letters, URL-escaped, full-width, with separators),
// masks the values of personal keys written into text ("name":"…" of a
// JSON body quoted in a message, name=… of a URL, 姓名：…), and redacts secrets written into text: key=value and "key":"value"
// pairs of tokens, passwords and keys, bearer tokens and PEM private keys.
func Mask(s string) string { return maskText(s, nil) }

// maskText is Mask with the values of the keys in extra (what a plugin
// declares personal, Declare) written into s masked as personal keys'.
func maskText(s string, extra keySet) string {
	if len(s) < 9 {
		return s
	}
	// Secrets first: redacting one must not join the digits around it
	// into a number after the numbers were masked.
	s = Redact(s)
	s = maskNumbers(s)
	if strings.IndexByte(s, '+') >= 0 {
		s = intlRE.ReplaceAllString(s, "+$1****$2")
	}
	if strings.ContainsAny(s, ":=：") {
		s = maskFields(s, extra)
	}
	return s
}

// Redact redacts the secrets written into s, as Mask does, and leaves
// personal data as they are: key=value and "key":"value" pairs of tokens,
// passwords and keys, bearer tokens and PEM private keys. It is for what
// shows personal data on purpose (an admin's audited reveal), where a
// secret is still never shown.
func Redact(s string) string {
	if strings.ContainsAny(s, ":=：") {
		s = secretTextRE.ReplaceAllStringFunc(s, maskSecretText)
	}
	s = bearerRE.ReplaceAllString(s, "${1}"+redacted)
	if strings.Contains(s, "-----BEGIN") {
		s = pemRE.ReplaceAllString(s, redacted+" private key")
	}
	return s
}

// RedactJSON returns the JSON document b with its secrets redacted and
// its personal data as they are: every string under a secret key (token,
// password, appSecret, sm4Key, …, at any depth) becomes "[redacted]"
// (numbers, booleans and null are kept, as MaskJSON keeps them), and
// secrets written into any other string are redacted (Redact). A body
// that is not one JSON document is redacted as text and returned as a
// JSON string, so the result is always valid JSON; nil stays nil.
func RedactJSON(b []byte) []byte {
	return rewriteJSON(b, Redact, func(v any) any { return redactAny(v, false) })
}

// redactAny redacts the secrets of a decoded JSON value; secret is set
// under a secret key, where every string is one.
func redactAny(v any, secret bool) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = redactAny(e, secret || secretKey(k))
		}
	case []any:
		for i, e := range x {
			x[i] = redactAny(e, secret)
		}
	case string:
		if secret {
			return redacted
		}
		return Redact(x)
	}
	return v
}

// maskSecretText redacts the value of a secret written into text (m, a
// match of secretTextRE), unless it is a number, boolean or null of JSON
// ("token":3, "token": false; a quoted key, a value not quoted): a
// secret is a string, and any quoted value or one of a URL's query
// (token=123456) is redacted. The backslash of a value's closing \" is
// kept.
func maskSecretText(m string) string {
	g := secretTextRE.FindStringSubmatch(m)
	prefix, keyQuote, valueQuote := g[1], g[2], g[3]
	value := m[len(prefix):]
	if keyQuote != "" && valueQuote == "" && jsonLiteralRE.MatchString(strings.TrimRight(value, "}]")) {
		return m
	}
	if valueQuote == `\"` && strings.HasSuffix(value, `\`) {
		return prefix + redacted + `\`
	}
	return prefix + redacted
}

// maskFields masks the values of personal keys written into text as
// "key":"value" (JSON inside a string, its quotes escaped or not) or
// key=value, key:value; the keys in extra are personal too.
func maskFields(s string, extra keySet) string {
	if strings.IndexByte(s, '"') >= 0 {
		for _, re := range []*regexp.Regexp{quotedFieldRE, escapedFieldRE} {
			s = re.ReplaceAllStringFunc(s, func(m string) string {
				g := re.FindStringSubmatch(m)
				if !personalKey(g[1]) && !extra.has(g[1]) {
					return m
				}
				q := `"`
				if re == escapedFieldRE {
					q = `\"`
				}
				return q + g[1] + q + g[2] + maskField(g[1], g[3]) + q
			})
		}
	}
	return personalFieldRE.ReplaceAllStringFunc(s, func(m string) string {
		g := personalFieldRE.FindStringSubmatch(m)
		if !personalKey(g[1]) && !extra.has(g[1]) {
			return m
		}
		return g[1] + g[2] + maskField(g[1], g[3])
	})
}

// maskField masks the value of a personal field found in text: whole
// (MaskValue), unless it is a number already masked (maskNumbers keeps
// its format: 138****5678).
func maskField(k, v string) string {
	if strings.IndexByte(v, '*') >= 0 && strings.Trim(escapeRE.ReplaceAllString(v, ""), "0123456789*+-() ０１２３４５６７８９") == "" {
		return v
	}
	return maskPersonal(k, v)
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
	return rewriteJSON(b, Mask, func(v any) any { return maskAny("", v, nil) })
}

// rewriteJSON decodes b (numbers kept as written), rewrites the value
// with value and encodes it without HTML escaping; a body that is not one
// JSON document is rewritten as text and returned as a JSON string, so
// the result is always valid JSON; nil stays nil.
func rewriteJSON(b []byte, text func(string) string, value func(any) any) []byte {
	if len(b) == 0 {
		return nil
	}
	asText := func() []byte {
		s, _ := json.Marshal(text(strings.ToValidUTF8(string(b), "\uFFFD")))
		return s
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil || dec.More() {
		return asText()
	}
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(value(v)); err != nil {
		return asText()
	}
	return bytes.TrimRight(out.Bytes(), "\n")
}

// maskAny masks a decoded JSON value found under key; the values of the
// keys in extra (those a plugin declares personal, Declare) are masked as
// those of pii.PersonalKey's keys, at any depth.
func maskAny(key string, v any, extra keySet) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if secretKey(k) {
				x[k] = maskSecret(k, e)
				continue
			}
			x[k] = maskAny(k, e, extra)
		}
	case []any:
		for i, e := range x {
			x[i] = maskAny(key, e, extra)
		}
	case string:
		if personalKey(key) || extra.has(key) {
			return maskPersonal(key, x)
		}
		return maskText(x, extra)
	case json.Number:
		// A phone or ID number may be written as a JSON number; masked, it
		// becomes a string.
		if personalKey(key) || extra.has(key) {
			return maskPersonal(key, x.String())
		}
		if m := Mask(x.String()); m != x.String() {
			return m
		}
	}
	return v
}

// maskSecret masks v, the decoded value of the secret key k (or a part
// of one): every string is redacted, at any depth of an object or array;
// numbers, booleans and null are kept, as a secret is never written as
// one (a count, a flag, an expiry in seconds), though a number is still
// masked as maskAny does (a mobile written as a number). Any other value
// (not one of decoded JSON) is redacted whole.
func maskSecret(k string, v any) any {
	switch x := v.(type) {
	case map[string]any:
		for mk, e := range x {
			x[mk] = maskSecret(mk, e)
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = maskSecret(k, e)
		}
		return x
	case nil, bool:
		return x
	case json.Number:
		return maskAny(k, x, nil)
	}
	return redacted
}
