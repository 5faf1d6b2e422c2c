package smenvelope

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/medgate/medgate/plugins/internal/jsonscan"
)

// ErrBadSignature matches (errors.Is) every *SignatureError: the signature is
// missing, malformed or does not verify. Nothing from such an envelope may be
// trusted.
var ErrBadSignature = errors.New("bad or missing SM2 signature")

// ErrMalformed matches (errors.Is) errors about envelopes that are not
// well-formed: not a JSON object, a required field missing or of the wrong
// type, undecodable text, or ciphertext that does not decrypt.
var ErrMalformed = errors.New("malformed envelope")

// SignatureError reports a missing, malformed or invalid signature. errors.Is(err,
// ErrBadSignature) is true for it.
type SignatureError struct {
	// Missing is true when the signature field is absent or empty.
	Missing bool
	// Reason says what failed, without any key or message content.
	Reason string
}

// Error implements error.
func (e *SignatureError) Error() string {
	return "smenvelope: signature check failed: " + e.Reason +
		" (check that the peer public key is current and that uid, signTarget, sigFormat and encoding match the peer)"
}

// Is makes errors.Is(err, ErrBadSignature) true.
func (e *SignatureError) Is(target error) bool { return target == ErrBadSignature }

// BusinessError is a response whose code is not in Options.SuccessCodes.
type BusinessError struct {
	// Code is the response code as text.
	Code string
	// Message is the response message, or "" when absent.
	Message string
	// Verified is true when the response signature was present and valid. An
	// unverified BusinessError (Options.UnsignedErrors) is only fit for logging
	// and retry decisions, never for business state.
	Verified bool
}

// Error implements error.
func (e *BusinessError) Error() string {
	v := "verified"
	if !e.Verified {
		v = "UNVERIFIED (no valid signature)"
	}
	if e.Message == "" {
		return fmt.Sprintf("smenvelope: peer returned error code %q (%s)", e.Code, v)
	}
	return fmt.Sprintf("smenvelope: peer returned error code %q: %s (%s)", e.Code, e.Message, v)
}

func malformed(format string, a ...any) error {
	return fmt.Errorf("smenvelope: %s: %w", fmt.Sprintf(format, a...), ErrMalformed)
}

// now is the clock used for timestamps; tests may replace it.
var now = time.Now

var chinaTime = time.FixedZone("CST", 8*3600)

// Seal builds an envelope for the peer: the caller's envelope fields env (e.g.
// transaction code, message id, sender, receiver, version; a response
// additionally code and message), the timestamp and sign type when env does not
// set them, a fresh random SM4 key SM2-encrypted for keys.PeerPublic, business
// SM4-encrypted (PKCS#7) with that key, and the SM2-SM3 signature with
// keys.Private over opts.SignTarget. The result marshals to the JSON body with
// encoding/json; business is signed byte for byte, so send it unmodified.
func Seal(opts Options, keys Keys, env map[string]string, business []byte) (map[string]any, error) {
	m, _, release, err := seal(opts, keys, env, business, true)
	release()
	return m, err
}

// SealJSON is Seal returning the JSON body itself: the bytes of
// json.Marshal(Seal(…)) (members in key order, the same escaping), written
// without encoding/json's pass over the encrypted data, which is most of
// the body. Use it when the envelope goes out as it is.
func SealJSON(opts Options, keys Keys, env map[string]string, business []byte) ([]byte, error) {
	m, ct, release, err := seal(opts, keys, env, business, false)
	defer release()
	if err != nil {
		return nil, err
	}
	return marshalEnvelope(opts, m, ct)
}

// marshalEnvelope writes the members of a sealed envelope (all strings) as
// a JSON object in key order. The key, data and sign members are base64 or
// hex text, which JSON carries unescaped; the others are written as
// json.Marshal writes them (appendJSONString). When ct is not nil, the
// data member is ct, encoded here straight into the body.
func marshalEnvelope(opts Options, m map[string]any, ct []byte) ([]byte, error) {
	f := opts.Fields
	keys := make([]string, 0, len(m)+1)
	size := 2
	for k, v := range m {
		keys = append(keys, k)
		s, _ := v.(string)
		size += len(k) + len(s) + 6
	}
	if ct != nil {
		keys = append(keys, f.Data)
		size += len(f.Data) + encodedLen(opts.Encoding, len(ct)) + 6
	}
	slices.Sort(keys)
	b := make([]byte, 0, size+64)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		var err error
		if b, err = appendJSONString(b, k); err != nil {
			return nil, fmt.Errorf("smenvelope: seal: encode field name: %w", err)
		}
		b = append(b, ':')
		if ct != nil && k == f.Data {
			b = append(b, '"')
			b = appendEncoded(opts.Encoding, b, ct)
			b = append(b, '"')
			continue
		}
		s, ok := m[k].(string)
		if !ok {
			return nil, fmt.Errorf("smenvelope: seal: field %q is not text", k)
		}
		if k == f.Key || k == f.Data || k == f.Sign {
			b = append(b, '"')
			b = append(b, s...)
			b = append(b, '"')
			continue
		}
		if b, err = appendJSONString(b, s); err != nil {
			return nil, fmt.Errorf("smenvelope: seal: encode field %q: %w", k, err)
		}
	}
	return append(b, '}'), nil
}

// appendJSONString appends s as json.Marshal writes a string. Text that
// JSON carries as it is (printable ASCII without ", \ or the <, > and &
// that json.Marshal escapes: names, codes, serials, times) is copied
// straight; anything else goes through json.Marshal.
func appendJSONString(b []byte, s string) ([]byte, error) {
	plain := true
	for i := 0; i < len(s) && plain; i++ {
		c := s[i]
		plain = c >= 0x20 && c < 0x7f && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	if plain {
		b = append(b, '"')
		b = append(b, s...)
		return append(b, '"'), nil
	}
	j, err := json.Marshal(s)
	if err != nil {
		return b, err
	}
	return append(b, j...), nil
}

// seal is Seal. With dataText false and a signature over the plaintext,
// the data member is left out of the map and the ciphertext returned
// instead, for marshalEnvelope to encode.
func seal(opts Options, keys Keys, env map[string]string, business []byte, dataText bool) (_ map[string]any, _ []byte, release func(), err error) {
	bp := ctPool.Get().(*[]byte)
	release = func() {
		if cap(*bp) <= maxPooled {
			ctPool.Put(bp)
		}
	}
	if err := opts.Validate(); err != nil {
		return nil, nil, release, fmt.Errorf("smenvelope: seal: %w", err)
	}
	if err := keys.check(true, true); err != nil {
		return nil, nil, release, fmt.Errorf("smenvelope: seal: %w", err)
	}
	f := opts.Fields
	out := make(map[string]any, len(env)+5)
	for k, v := range env {
		if k == f.Key || k == f.Data || k == f.Sign {
			return nil, nil, release, fmt.Errorf("smenvelope: seal: env sets %q, which Seal computes (key, data and sign fields): remove it from env", k)
		}
		out[k] = v
	}
	if f.Timestamp != "" {
		if _, ok := env[f.Timestamp]; !ok {
			out[f.Timestamp] = formatTimestamp(opts.TimestampLayout, now())
		}
	}
	if f.SignType != "" {
		if _, ok := env[f.SignType]; !ok {
			out[f.SignType] = opts.SignTypeValue
		}
	}

	material, sk, err := newSessionKey(opts.KeyForm)
	if err != nil {
		return nil, nil, release, fmt.Errorf("smenvelope: seal: %w", err)
	}
	defer clear(material)
	defer clear(sk)
	ct, err := sm4EncryptTo(*bp, opts.SM4Mode, sk, opts.fixedIV(), business)
	*bp = ct[:0]
	if err != nil {
		return nil, nil, release, fmt.Errorf("smenvelope: seal: encrypt business data: %w", err)
	}
	ek, err := sm2Encrypt(keys.PeerPublic, material, opts.CipherOrder, opts.PointPrefix)
	if err != nil {
		return nil, nil, release, fmt.Errorf("smenvelope: seal: SM2-encrypt the SM4 key for the peer: %w", err)
	}
	out[f.Key] = encodeBytes(opts.Encoding, ek)
	if dataText || opts.SignTarget != SignPlaintext {
		out[f.Data] = encodeBytes(opts.Encoding, ct)
		ct = nil
	}

	msg, err := signedMessage(opts, out, business)
	if err != nil {
		return nil, nil, release, fmt.Errorf("smenvelope: seal: %w", err)
	}
	sig, err := sm2Sign(keys.Private, msg, opts.UID, opts.SigFormat)
	if err != nil {
		return nil, nil, release, fmt.Errorf("smenvelope: seal: SM2-sign: %w", err)
	}
	out[f.Sign] = encodeBytes(opts.Encoding, sig)
	return out, ct, release, nil
}

func formatTimestamp(layout string, t time.Time) string {
	switch layout {
	case TimestampUnix:
		return strconv.FormatInt(t.Unix(), 10)
	case TimestampUnixMilli:
		return strconv.FormatInt(t.UnixMilli(), 10)
	}
	return t.In(chinaTime).Format(layout)
}

// signedMessage returns the bytes covered by the signature.
func signedMessage(opts Options, env map[string]any, plaintext []byte) ([]byte, error) {
	switch opts.SignTarget {
	case SignPlaintext:
		return plaintext, nil
	case SignCiphertext:
		s, _ := env[opts.Fields.Data].(string)
		return []byte(s), nil
	case SignCanonical:
		return canonical(opts, env)
	}
	return nil, fmt.Errorf("unsupported signTarget %q", opts.SignTarget)
}

// canonical builds "k1=v1&k2=v2&…" over the envelope; see SignCanonical.
func canonical(opts Options, env map[string]any) ([]byte, error) {
	keys := make([]string, 0, len(env))
	for k := range env {
		if k == opts.Fields.Sign || slices.Contains(opts.CanonicalExclude, k) {
			continue
		}
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b bytes.Buffer
	for _, k := range keys {
		var v string
		switch x := env[k].(type) {
		case nil:
			continue
		case string:
			v = x
		case json.Number:
			v = x.String()
		case bool:
			v = strconv.FormatBool(x)
		case float64:
			v = strconv.FormatFloat(x, 'f', -1, 64)
		default:
			j, err := json.Marshal(x)
			if err != nil {
				return nil, fmt.Errorf("canonical string: field %q: %w", k, err)
			}
			v = string(j)
		}
		if v == "" && !opts.CanonicalKeepEmpty {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('&')
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(v)
	}
	return b.Bytes(), nil
}

// Open checks and opens an envelope received from the peer (JSON text).
//
// Order of checks: the envelope must be a JSON object; a response whose code
// field is present and not in opts.SuccessCodes and that has no data field is an
// error response and returns a *BusinessError (see Options.UnsignedErrors).
// Otherwise the signature must be present and verify with keys.PeerPublic
// before anything is returned; failures are *SignatureError (errors.Is
// ErrBadSignature). With SignTarget ciphertext or canonical the signature is
// verified before any decryption. With SignTarget plaintext the signature
// covers the plaintext, so the data is decrypted into a private buffer first,
// but nothing is returned or parsed until the signature verifies (the buffer is
// wiped otherwise).
//
// On success it returns the business plaintext (nil when the envelope has no
// data field) and every top-level envelope member (numbers as json.Number). A
// verified, decrypted response with a non-success code returns the plaintext,
// the envelope and a *BusinessError with Verified true.
func Open(opts Options, keys Keys, envelope []byte) (business []byte, env map[string]any, err error) {
	if err := opts.Validate(); err != nil {
		return nil, nil, fmt.Errorf("smenvelope: open: %w", err)
	}
	if err := keys.check(true, true); err != nil {
		return nil, nil, fmt.Errorf("smenvelope: open: %w", err)
	}
	env, err = parseEnvelope(envelope)
	if err != nil {
		return nil, nil, err
	}
	f := opts.Fields

	code, hasCode := "", false
	if f.Code != "" {
		switch v := env[f.Code].(type) {
		case nil:
		case string, json.Number:
			code, hasCode = scalarText(v), true
		default:
			return nil, nil, malformed("field %q is a JSON %s, want a string or number", f.Code, jsonKind(v))
		}
	}
	success := !hasCode || opts.isSuccess(code)
	dataText, hasData, err := stringField(env, f.Data)
	if err != nil {
		return nil, nil, err
	}
	if !hasData && !success {
		return openErrorResponse(opts, keys, env, code)
	}

	sig, err := signatureBytes(opts, env)
	if err != nil {
		return nil, nil, err
	}
	if opts.SignTarget != SignPlaintext {
		msg, err := signedMessage(opts, env, nil)
		if err != nil {
			return nil, nil, malformed("%v", err)
		}
		if !sm2Verify(keys.PeerPublic, msg, sig, opts.UID, opts.SigFormat, opts.StrictOpen) {
			return nil, nil, &SignatureError{Reason: "signature does not verify over the " + string(opts.SignTarget)}
		}
	}

	var plain []byte
	if hasData {
		plain, err = decryptData(opts, keys, env, dataText)
		if err != nil {
			return nil, nil, err
		}
	}
	if opts.SignTarget == SignPlaintext {
		if !sm2Verify(keys.PeerPublic, plain, sig, opts.UID, opts.SigFormat, opts.StrictOpen) {
			clear(plain)
			return nil, nil, &SignatureError{Reason: "signature does not verify over the decrypted plaintext"}
		}
	}
	if !success {
		msg, _ := env[f.Message]
		return plain, env, &BusinessError{Code: code, Message: scalarText(msg), Verified: true}
	}
	return plain, env, nil
}

func parseEnvelope(b []byte) (map[string]any, error) {
	if env, ok := parseFlatObject(b); ok {
		return env, nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var env map[string]any
	if err := dec.Decode(&env); err != nil {
		return nil, malformed("envelope is not a JSON object (%v)", jsonErrorWithoutContent(err))
	}
	if env == nil {
		return nil, malformed("envelope is JSON null, not an object")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, malformed("envelope has trailing data after the JSON object")
	}
	return env, nil
}

// parseFlatObject is the common case of parseEnvelope in one pass: an
// object whose members are strings without escapes, numbers, true, false
// or null. What it accepts, it decodes exactly as encoding/json does
// (UseNumber, the last of duplicate names wins); for anything else
// (escapes, invalid UTF-8, nested values, any syntax error) it returns
// false and encoding/json decides. encoding/json would scan the data member
// (most of the body) twice and unquote it into a third copy. Every name
// and string of the result is a part of one copy of b.
func parseFlatObject(b []byte) (map[string]any, bool) {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return nil, false
	}
	text := string(b)
	env := make(map[string]any, 12)
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return env, skipSpace(b, i+1) == len(b)
	}
	for {
		k, j, ok := plainString(b, text, i)
		if !ok {
			return nil, false
		}
		i = skipSpace(b, j)
		if i >= len(b) || b[i] != ':' {
			return nil, false
		}
		i = skipSpace(b, i+1)
		if i >= len(b) {
			return nil, false
		}
		var v any
		switch c := b[i]; {
		case c == '"':
			s, j, ok := plainString(b, text, i)
			if !ok {
				return nil, false
			}
			v, i = s, j
		case c == '-' || (c >= '0' && c <= '9'):
			j, ok := jsonscan.NumberEnd(b, i)
			if !ok {
				return nil, false
			}
			v, i = json.Number(text[i:j]), j
		case bytes.HasPrefix(b[i:], []byte("true")):
			v, i = true, i+4
		case bytes.HasPrefix(b[i:], []byte("false")):
			v, i = false, i+5
		case bytes.HasPrefix(b[i:], []byte("null")):
			v, i = nil, i+4
		default:
			return nil, false
		}
		env[k] = v
		i = skipSpace(b, i)
		if i >= len(b) {
			return nil, false
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case '}':
			return env, skipSpace(b, i+1) == len(b)
		default:
			return nil, false
		}
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// plainString reads the JSON string at b[i] when it has no escapes and no
// control characters and is valid UTF-8, and returns it (a part of text,
// which is b as a string) and the index after its closing quote.
func plainString(b []byte, text string, i int) (string, int, bool) {
	if i >= len(b) || b[i] != '"' {
		return "", 0, false
	}
	start := i + 1
	n := bytes.IndexByte(b[start:], '"')
	if n < 0 {
		return "", 0, false
	}
	s := b[start : start+n]
	ascii := true
	i = 0
	// Eight bytes at a time: is any byte below 0x20, a backslash or
	// above 0x7f? (The data member is most of the body.)
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	for ; i+8 <= len(s); i += 8 {
		x := binary.LittleEndian.Uint64(s[i:])
		bs := x ^ ('\\' * ones)
		if ((x-0x20*ones)|(bs-ones)|x)&highs != 0 {
			break
		}
	}
	for _, c := range s[i:] {
		if c < 0x20 || c == '\\' {
			return "", 0, false
		}
		if c >= 0x80 {
			ascii = false
		}
	}
	if !ascii && !utf8.Valid(s) {
		return "", 0, false // encoding/json replaces invalid bytes with U+FFFD
	}
	return text[start : start+n], start + n + 1, true
}

// jsonErrorWithoutContent keeps the position of a JSON error but drops quoted input.
func jsonErrorWithoutContent(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("syntax error at byte %d", se.Offset)
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return "top-level value is a JSON " + te.Value
	}
	if errors.Is(err, io.EOF) {
		return "empty input"
	}
	return "invalid JSON"
}

// stringField returns a string member; absent, null and "" count as absent.
func stringField(env map[string]any, name string) (string, bool, error) {
	if name == "" {
		return "", false, nil
	}
	v, ok := env[name]
	if !ok || v == nil {
		return "", false, nil
	}
	s, ok := v.(string)
	if !ok {
		return "", false, malformed("field %q is a JSON %s, want a string", name, jsonKind(v))
	}
	if s == "" {
		return "", false, nil
	}
	return s, true, nil
}

func jsonKind(v any) string {
	switch v.(type) {
	case json.Number:
		return "number"
	case bool:
		return "boolean"
	case map[string]any:
		return "object"
	case []any:
		return "array"
	}
	return "value"
}

func scalarText(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case json.Number:
		return x.String()
	case bool:
		return strconv.FormatBool(x)
	}
	j, _ := json.Marshal(v)
	return string(j)
}

func signatureBytes(opts Options, env map[string]any) ([]byte, error) {
	v, ok := env[opts.Fields.Sign]
	if !ok || v == nil {
		return nil, &SignatureError{Missing: true, Reason: fmt.Sprintf("signature field %q is missing", opts.Fields.Sign)}
	}
	s, ok := v.(string)
	if !ok {
		return nil, &SignatureError{Reason: fmt.Sprintf("signature field %q is a JSON %s, not a string", opts.Fields.Sign, jsonKind(v))}
	}
	if strings.TrimSpace(s) == "" {
		return nil, &SignatureError{Missing: true, Reason: fmt.Sprintf("signature field %q is empty", opts.Fields.Sign)}
	}
	sig, err := decodeText(opts.Encoding, s)
	if err != nil {
		return nil, &SignatureError{Reason: fmt.Sprintf("signature field %q: %v", opts.Fields.Sign, err)}
	}
	return sig, nil
}

func decryptData(opts Options, keys Keys, env map[string]any, dataText string) ([]byte, error) {
	f := opts.Fields
	keyText, hasKey, err := stringField(env, f.Key)
	if err != nil {
		return nil, err
	}
	if !hasKey {
		return nil, malformed("field %q (encrypted SM4 key) is missing while %q is present", f.Key, f.Data)
	}
	ek, err := decodeText(opts.Encoding, keyText)
	if err != nil {
		return nil, malformed("field %q: %v", f.Key, err)
	}
	ct, err := decodeText(opts.Encoding, dataText)
	if err != nil {
		return nil, malformed("field %q: %v", f.Data, err)
	}
	material, err := sm2Decrypt(keys.Private, ek, opts.CipherOrder, opts.PointPrefix, opts.StrictOpen)
	if err != nil {
		return nil, malformed("field %q: %v", f.Key, err)
	}
	defer clear(material)
	sk, err := sessionKeyFromMaterial(opts.KeyForm, opts.StrictOpen, material)
	if err != nil {
		return nil, malformed("field %q: %v", f.Key, err)
	}
	defer clear(sk)
	plain, err := sm4DecryptInPlace(opts.SM4Mode, sk, opts.fixedIV(), ct)
	if err != nil {
		return nil, malformed("field %q: %v", f.Data, err)
	}
	return plain, nil
}

// openErrorResponse handles a response with a non-success code and no data.
func openErrorResponse(opts Options, keys Keys, env map[string]any, code string) ([]byte, map[string]any, error) {
	f := opts.Fields
	msg, _ := env[f.Message]
	be := &BusinessError{Code: code, Message: scalarText(msg)}
	sig, serr := signatureBytes(opts, env)
	if serr == nil {
		signed, err := signedMessage(opts, env, nil)
		if err == nil && sm2Verify(keys.PeerPublic, signed, sig, opts.UID, opts.SigFormat, opts.StrictOpen) {
			be.Verified = true
			return nil, env, be
		}
		if err == nil {
			serr = &SignatureError{Reason: "error response signature does not verify"}
		} else {
			serr = &SignatureError{Reason: "error response signature cannot be checked: " + err.Error()}
		}
	}
	if opts.UnsignedErrors {
		return nil, env, be
	}
	return nil, nil, fmt.Errorf("%w (error response code %q; set unsignedErrors to accept unsigned error responses)", serr, code)
}
