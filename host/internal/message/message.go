// Package message is the Kafka message contract of medgate: the request
// envelope read from the requests topic (and from POST /v1/messages) with
// its checks, the reply, event and DLQ record shapes written to the
// replies, events and DLQ topics, the header names the host sets and the
// limits on keys. It holds data and checks only; the pipeline, the HTTP
// ingress, the API and the console share it.
package message

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Envelope is a request message as it travels on the requests topic and
// through POST /v1/messages.
type Envelope struct {
	ID         string          `json:"id"`
	Site       string          `json:"site"`
	Type       string          `json:"type"`
	OccurredAt string          `json:"occurredAt,omitempty"`
	ReplyTo    string          `json:"replyTo,omitempty"`
	Format     string          `json:"format,omitempty"`
	Payload    json.RawMessage `json:"payload"`
}

// The checks below are hand-written forms of these patterns (a regexp
// match was a fifth of the time of Parse, which runs for every message;
// TestPatterns holds them to the regexps):
//
//	type     ^[a-z][a-z0-9_-]{0,31}\.[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$
//	id       ^[\x21-\x7e]{1,128}$
//	replyTo  ^[A-Za-z0-9._-]{1,249}$

// validType reports whether s is "<plugin>.<operation>" as in the type pattern.
func validType(s string) bool {
	dot := strings.IndexByte(s, '.')
	if dot < 1 || dot > 32 || !isLower(s[0]) {
		return false
	}
	for i := 1; i < dot; i++ {
		if c := s[i]; !isLower(c) && !isDigit(c) && c != '_' && c != '-' {
			return false
		}
	}
	op := s[dot+1:]
	if len(op) < 1 || len(op) > 64 || !isAlnum(op[0]) {
		return false
	}
	for i := 1; i < len(op); i++ {
		if c := op[i]; !isAlnum(c) && c != '_' && c != '.' && c != '-' {
			return false
		}
	}
	return true
}

// validTopic reports whether s matches the replyTo pattern.
func validTopic(s string) bool {
	if len(s) < 1 || len(s) > 249 {
		return false
	}
	for i := range len(s) {
		if c := s[i]; !isAlnum(c) && c != '.' && c != '_' && c != '-' {
			return false
		}
	}
	return true
}

func isLower(c byte) bool { return 'a' <= c && c <= 'z' }
func isDigit(c byte) bool { return '0' <= c && c <= '9' }
func isAlnum(c byte) bool { return isLower(c) || isDigit(c) || ('A' <= c && c <= 'Z') }

// Parse decodes and checks the envelope. It returns every problem at once;
// env may be partly filled (for the id) when there are problems, and is
// never nil.
func Parse(data []byte) (*Envelope, []ReplyError) {
	env, errs := decode(data)
	if errs != nil {
		return env, errs
	}
	add := func(field, rule, msg string) { errs = append(errs, ReplyError{Field: field, Rule: rule, Message: msg}) }
	if !utf8.Valid(data) {
		errs = append(errs, notUTF8Error(data))
	}
	switch {
	case env.ID == "":
		add("$.id", "required", "缺少消息 ID（id）：每条消息须有唯一的 ID，用于去重。id is required: a unique message id, used to deduplicate redeliveries")
	case !ValidID(env.ID):
		add("$.id", "format", "消息 ID（id）须为 1 到 128 个可打印 ASCII 字符，不含空格。id must be 1 to 128 printable ASCII characters without spaces")
	}
	if env.Site == "" {
		add("$.site", "required", "缺少院区（site）：填 medgate 配置中的院区代码。site is required: the site code from the medgate configuration")
	}
	switch {
	case env.Type == "":
		add("$.type", "required", `缺少消息类型（type）：格式为 "<插件>.<操作>"。type is required: "<plugin>.<operation>", one of the operations `+"`medgate plugins`"+` lists`)
	case !validType(env.Type):
		add("$.type", "format", fmt.Sprintf(`消息类型 %[1]q 格式不对，须为 "<插件>.<操作>"。type %[1]q must be "<plugin>.<operation>", one of the operations `+"`medgate plugins`"+` lists`, env.Type))
	}
	if env.OccurredAt != "" {
		if _, err := time.Parse(time.RFC3339Nano, env.OccurredAt); err != nil {
			add("$.occurredAt", "format", fmt.Sprintf("业务发生时间 occurredAt %[1]q 不是 RFC 3339 时间，应写成 2026-11-26T08:30:00+08:00 这样。occurredAt %[1]q is not an RFC 3339 time such as 2026-11-26T08:30:00+08:00", env.OccurredAt))
		}
	}
	if env.ReplyTo != "" && !validTopic(env.ReplyTo) {
		add("$.replyTo", "format", "回复主题 replyTo 不是主题名：填 kafka.topics.replyTo 中列出的主题，或去掉 replyTo。replyTo is not a topic name (1 to 249 letters, digits, '.', '_' or '-'); name a topic listed in kafka.topics.replyTo, or leave replyTo out to get the reply on the replies topic")
	}
	switch env.Format {
	case "", "json":
		env.Format = "json"
		if len(bytes.TrimSpace(env.Payload)) == 0 || string(bytes.TrimSpace(env.Payload)) == "null" {
			add("$.payload", "required", `缺少消息内容（payload）。payload is required: the message's data as a JSON value (with format "hl7v2", the HL7 v2 message as one JSON string)`)
		}
	case "hl7v2":
		var s string
		if err := json.Unmarshal(env.Payload, &s); err != nil || strings.TrimSpace(s) == "" {
			add("$.payload", "type", `格式 format 为 "hl7v2" 时，payload 须是一个 JSON 字符串，内容为整条 HL7 v2 消息。with format "hl7v2" the payload is the HL7 v2 message as one JSON string ("MSH|^~\\&|…")`)
		}
	default:
		add("$.format", "enum", fmt.Sprintf("不支持格式（format）%[1]q，请用 json 或 hl7v2。format %[1]q is not supported; use json or hl7v2", env.Format))
	}
	return env, errs
}

// utf8BOM is the UTF-8 byte order mark some platforms (.NET's
// UTF8Encoding with its preamble, Windows editors) write before a JSON text.
var utf8BOM = []byte("\xef\xbb\xbf")

// decode decodes data into an envelope (decodeFast, or encoding/json for
// what it leaves) and reports a syntax problem. The envelope is never nil;
// with a problem it holds what a lenient decode recovered (for the id).
// A UTF-8 byte order mark before the JSON is ignored, as RFC 8259 §8.1
// allows: it was refused as `invalid character 'ï'`, with no request id.
func decode(data []byte) (*Envelope, []ReplyError) {
	data = bytes.TrimPrefix(data, utf8BOM)
	var env Envelope
	if decodeFast(data, &env) {
		return &env, nil
	}
	env = Envelope{}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&env); err != nil {
		// Try again leniently to recover the id for the reply.
		var loose Envelope
		_ = json.Unmarshal(data, &loose)
		msg := err.Error()
		if !utf8.Valid(data) {
			msg = "the message is not UTF-8 text"
		}
		return &loose, []ReplyError{{Field: "$", Rule: "syntax", Message: "消息不是有效的请求信封（JSON 对象，成员只能有 id、site、type、occurredAt、replyTo、format、payload）。the message is not a valid request envelope: " + msg + "; send a JSON object with the members id, site, type, occurredAt, replyTo, format and payload (no others)"}}
	}
	if dec.More() {
		return &env, []ReplyError{{Field: "$", Rule: "syntax", Message: "消息的 JSON 对象之后还有多余内容：每条消息只能是一个信封。extra data after the JSON object; send exactly one envelope per message"}}
	}
	return &env, nil
}

// PayloadBytes returns what the plugin receives: JSON bytes, or the HL7 text.
func (e *Envelope) PayloadBytes() []byte {
	if e.Format == "hl7v2" {
		var s string
		_ = json.Unmarshal(e.Payload, &s)
		return []byte(s)
	}
	return e.Payload
}

// Occurred returns OccurredAt as a time, or the zero time when it is empty
// or not an RFC 3339 time.
func (e *Envelope) Occurred() time.Time {
	if e.OccurredAt == "" {
		return time.Time{} // time.Parse would build an error to drop
	}
	t, _ := time.Parse(time.RFC3339Nano, e.OccurredAt)
	return t
}

// Plugin returns the plugin part of a "<plugin>.<operation>" type.
func Plugin(typ string) string {
	if i := strings.IndexByte(typ, '.'); i > 0 {
		return typ[:i]
	}
	return typ
}

// MaxKeyBytes bounds a message key: the business key is a patient or visit
// number, and the store indexes it.
const MaxKeyBytes = 512

// CheckKey reports a Kafka key the store cannot hold or index, or nil.
func CheckKey(key string) *ReplyError {
	switch {
	case len(key) > MaxKeyBytes:
		return &ReplyError{Rule: "key", Message: fmt.Sprintf("the message key is %d bytes; it must be the business key (a patient or visit number) of at most %d bytes", len(key), MaxKeyBytes)}
	case !utf8.ValidString(key) || strings.ContainsRune(key, 0):
		return &ReplyError{Rule: "key", Message: "the message key is not UTF-8 text without NUL bytes; use the business key (a patient or visit number) as the key"}
	}
	return nil
}

// Admit reports whether a request is worth queueing for processing: it is
// within maxPayloadBytes, its key is usable and its envelope has a usable
// id. It returns that id. A request not admitted can be processed at once
// (the pipeline answers it invalid without storing or calling anything).
func Admit(value []byte, key string, maxPayloadBytes int) (id string, ok bool) {
	env, ok := AdmitEnvelope(value, key, maxPayloadBytes)
	if !ok {
		return "", false
	}
	return env.ID, true
}

// AdmitEnvelope is Admit returning the envelope (as Parse reads it, maybe
// with problems besides its id) instead of the id alone.
func AdmitEnvelope(value []byte, key string, maxPayloadBytes int) (*Envelope, bool) {
	if len(value) > maxPayloadBytes || CheckKey(key) != nil {
		return nil, false
	}
	env, _ := Parse(value)
	if env.ID == "" || !ValidID(env.ID) {
		return nil, false
	}
	return env, true
}

// SameRequest reports whether the request values a and b are the same
// message, so that one may be answered with the other's outcome: equal
// bytes, or envelopes with the same site, type, format and payload (the
// same JSON value, however spaced, ordered or numbered). The id is
// assumed equal (the caller found b's record by a's id); occurredAt and
// replyTo may differ (a client sending a message again may stamp it
// anew). An HL7 v2 message of the MLLP listener recorded before the
// listener declared UTF-8 in MSH-18 is the same as its resend since
// (sameAcrossUTF8Declaration). An empty recorded value (a record without
// its request) is taken as the same message. Values that cannot be
// decoded are the same only when their bytes are.
func SameRequest(recorded, value []byte) bool {
	if len(recorded) == 0 || bytes.Equal(recorded, value) {
		return true
	}
	a, aerrs := decode(recorded)
	b, berrs := decode(value)
	if aerrs != nil || berrs != nil {
		return false
	}
	if a.Site != b.Site || a.Type != b.Type || formatOf(a) != formatOf(b) {
		return false
	}
	if sameJSON(a.Payload, b.Payload) {
		return true
	}
	return formatOf(a) == "hl7v2" && strings.HasPrefix(a.ID, "hl7:") && sameAcrossUTF8Declaration(a.Payload, b.Payload)
}

// sameAcrossUTF8Declaration reports whether two HL7 v2 payloads of the
// MLLP listener (ids hl7:…) are one message, recorded before and after
// the listener began to declare UNICODE UTF-8 in MSH-18 of a message that
// declared no character set and was read as UTF-8: it passed such a
// message on as it came, and passes it on with MSH-18 UNICODE UTF-8 (and
// the empty fields up to it) since. A resend of such a message after the
// upgrade — the same bytes — is that message, and gets its stored outcome
// rather than a refusal as another message under its id. The payloads
// must be the same but for MSH-18 (empty, blank or UNICODE UTF-8) and
// empty fields at the end of the MSH segment.
func sameAcrossUTF8Declaration(a, b json.RawMessage) bool {
	var sa, sb string
	if json.Unmarshal(a, &sa) != nil || json.Unmarshal(b, &sb) != nil {
		return false
	}
	mshA, restA, _ := strings.Cut(sa, "\r")
	mshB, restB, _ := strings.Cut(sb, "\r")
	if restA != restB || !strings.HasPrefix(mshA, "MSH") || len(mshA) < 4 || len(mshB) < 4 || mshA[:4] != mshB[:4] {
		return false
	}
	fs := mshA[3:4]
	return slices.Equal(undeclaredUTF8(strings.Split(mshA, fs)), undeclaredUTF8(strings.Split(mshB, fs)))
}

// undeclaredUTF8 returns the fields of an MSH segment (f[k] is MSH-(k+1)
// from k = 1) with MSH-18 empty when it is blank or UNICODE UTF-8, and
// without the empty fields at its end.
func undeclaredUTF8(f []string) []string {
	if len(f) > 17 && (f[17] == "UNICODE UTF-8" || strings.TrimSpace(f[17]) == "") {
		f[17] = ""
	}
	for len(f) > 0 && f[len(f)-1] == "" {
		f = f[:len(f)-1]
	}
	return f
}

// formatOf is the envelope's format as Parse reads it ("" is json).
func formatOf(e *Envelope) string {
	if e.Format == "" {
		return "json"
	}
	return e.Format
}

// sameJSON reports whether a and b are the same JSON value (numbers
// compared as decimal numbers, objects whatever their member order).
func sameJSON(a, b json.RawMessage) bool {
	if bytes.Equal(bytes.TrimSpace(a), bytes.TrimSpace(b)) {
		return true
	}
	va, oka := decodeValue(a)
	vb, okb := decodeValue(b)
	return oka && okb && equalValues(va, vb)
}

// decodeValue decodes one JSON value, numbers as json.Number.
func decodeValue(data []byte) (any, bool) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, false
	}
	return v, true
}

// equalValues compares decoded JSON values; numbers by value (1 and 1.0
// are equal, as they are to a JSON reader).
func equalValues(a, b any) bool {
	switch a := a.(type) {
	case map[string]any:
		b, ok := b.(map[string]any)
		if !ok || len(a) != len(b) {
			return false
		}
		for k, va := range a {
			vb, ok := b[k]
			if !ok || !equalValues(va, vb) {
				return false
			}
		}
		return true
	case []any:
		b, ok := b.([]any)
		if !ok || len(a) != len(b) {
			return false
		}
		for i := range a {
			if !equalValues(a[i], b[i]) {
				return false
			}
		}
		return true
	case json.Number:
		b, ok := b.(json.Number)
		if !ok {
			return false
		}
		return a == b || sameNumber(string(a), string(b))
	default:
		return a == b
	}
}

// sameNumber reports whether the JSON numbers a and b are the same
// decimal value, exactly: not as float64, which cannot tell apart
// 1234567890123456789 and 1234567890123456788, nor amounts that differ in
// the last cent beyond 17 digits. Not big.Rat either: "1e999999999" would
// make it build a number of a billion digits. Each number is reduced to
// its sign, its significant digits and an exponent, which costs no more
// than the number's length.
func sameNumber(a, b string) bool {
	na, oka := canonicalNumber(a)
	nb, okb := canonicalNumber(b)
	return oka && okb && na.neg == nb.neg && na.digits == nb.digits && na.exp.Cmp(nb.exp) == 0
}

// decimal is a number as digits × 10^exp, digits without leading or
// trailing zeros ("" for zero, which has neg false and exp 0).
type decimal struct {
	neg    bool
	digits string
	exp    *big.Int
}

// canonicalNumber reads a JSON number (-?int(.frac)?([eE][+-]?exp)?) as a
// decimal; false if s is not one.
func canonicalNumber(s string) (decimal, bool) {
	d := decimal{exp: new(big.Int)}
	if strings.HasPrefix(s, "-") {
		d.neg = true
		s = s[1:]
	}
	mant, expPart, hasExp := strings.Cut(strings.ReplaceAll(s, "E", "e"), "e")
	intPart, frac, _ := strings.Cut(mant, ".")
	digits := intPart + frac
	if intPart == "" || !allDigits(digits) {
		return decimal{}, false
	}
	if hasExp {
		unsigned := expPart
		if expPart != "" && (expPart[0] == '+' || expPart[0] == '-') {
			unsigned = expPart[1:]
		}
		if !allDigits(unsigned) {
			return decimal{}, false
		}
		d.exp.SetString(unsigned, 10)
		if strings.HasPrefix(expPart, "-") {
			d.exp.Neg(d.exp)
		}
	}
	d.exp.Sub(d.exp, big.NewInt(int64(len(frac))))
	digits = strings.TrimLeft(digits, "0")
	trimmed := strings.TrimRight(digits, "0")
	d.exp.Add(d.exp, big.NewInt(int64(len(digits)-len(trimmed))))
	d.digits = trimmed
	if d.digits == "" {
		return decimal{exp: new(big.Int)}, true
	}
	return d, true
}

// allDigits reports whether s is one or more ASCII digits.
func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// ValidID reports whether s can be a message id: 1 to 128 printable ASCII
// characters without spaces.
func ValidID(s string) bool {
	if len(s) < 1 || len(s) > 128 {
		return false
	}
	for i := range len(s) {
		if c := s[i]; c < 0x21 || c > 0x7e {
			return false
		}
	}
	return true
}
