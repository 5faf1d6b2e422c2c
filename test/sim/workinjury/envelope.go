package workinjury

import (
	"bytes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/rand"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"sort"
	"strconv"
	"strings"
	"time"

	gmcipher "github.com/emmansun/gmsm/cipher"
	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/sm4"

	"github.com/medgate/medgate/plugins/smenvelope"
)

// This file is the simulator's own implementation of the work-injury
// envelope, written from the documentation of the envelope settings
// (smenvelope.Options: what each value means), not from the adapter's
// code, so that a defect of the adapter's envelope library (the layouts,
// prefixes, encodings, key forms, what is signed, how the answer is
// parsed) is not mirrored here but refused. Only the Options and Keys
// types come from smenvelope: they are how a site is configured. Nothing
// here calls it.
//
// The primitives (SM2 encryption and signature, the SM4 block cipher) are
// github.com/emmansun/gmsm's, as the adapter's: an independent SM2 in
// pure Go (tjfoc/gmsm, tried first) costs about twenty times the CPU per
// exchange, which on the benchmark's shared CPUs would have measured the
// simulator instead of medgate. The primitives are checked independently
// instead: TestEnvelopeKnownAnswers against the published GM/T examples,
// and plugins/smenvelope's tests against OpenSSL 3 and tjfoc/gmsm. The
// PKCS#7 padding and the IV handling are done here, the modes (ECB, CBC)
// are the libraries' multi-block ones.
//
// The simulator plays the national system, which has one envelope: it
// accepts only the configured form of every setting (layout, point
// prefix, signature format, text encoding and its case, key form), so a
// request that deviates from its configuration is refused. The
// StrictOpen and UnsignedErrors settings concern the adapter's opening
// of answers and are ignored here. Every SM2 ciphertext is checked for
// length and for a point on the curve before it is decrypted.

// errEnvelopeSignature matches a request whose signature is missing,
// malformed or does not verify: its sender is not authenticated.
var errEnvelopeSignature = errors.New("signature check failed")

// errEnvelopeMalformed matches a request that is not a well-formed
// envelope of the configured form, or that does not decrypt.
var errEnvelopeMalformed = errors.New("malformed envelope")

func sigErr(format string, a ...any) error {
	return fmt.Errorf("%s: %w", fmt.Sprintf(format, a...), errEnvelopeSignature)
}

func badEnv(format string, a ...any) error {
	return fmt.Errorf("%s: %w", fmt.Sprintf(format, a...), errEnvelopeMalformed)
}

type sm2Layout int

const (
	layoutC1C3C2 sm2Layout = iota
	layoutC1C2C3
	layoutASN1
)

type textEncoding int

const (
	encBase64 textEncoding = iota
	encHexLower
	encHexUpper
)

type signTarget int

const (
	signPlaintext signTarget = iota
	signCiphertext
	signCanonical
)

type keyForm int

const (
	keyRaw16 keyForm = iota
	keyASCII16
	keyHex32
)

// envelope is the configured envelope, checked once by newEnvelope.
type envelope struct {
	fields        smenvelope.FieldNames
	successCode   string // written in success answers
	layout        sm2Layout
	pointPrefix   bool
	sigRS         bool
	enc           textEncoding
	target        signTarget
	exclude       map[string]bool
	keepEmpty     bool
	cbc           bool
	fixedIV       []byte // CBC with a configured IV; nil: a random IV sent in front
	keyForm       keyForm
	uid           []byte
	signTypeValue string
	tsLayout      string
}

// newEnvelope checks every setting of o and lists every problem at once.
// A value the simulator does not implement is refused here, never
// guessed at while answering.
func newEnvelope(o smenvelope.Options) (*envelope, error) {
	var p []string
	add := func(format string, a ...any) { p = append(p, fmt.Sprintf(format, a...)) }
	e := &envelope{fields: o.Fields, pointPrefix: o.PointPrefix, keepEmpty: o.CanonicalKeepEmpty,
		uid: []byte(o.UID), signTypeValue: o.SignTypeValue, tsLayout: o.TimestampLayout, exclude: map[string]bool{}}

	f := o.Fields
	roles := []struct{ role, name string }{
		{"fields.txCode", f.TxCode}, {"fields.msgId", f.MsgID}, {"fields.sender", f.Sender},
		{"fields.receiver", f.Receiver}, {"fields.timestamp", f.Timestamp}, {"fields.version", f.Version},
		{"fields.key", f.Key}, {"fields.data", f.Data}, {"fields.sign", f.Sign},
		{"fields.signType", f.SignType}, {"fields.code", f.Code}, {"fields.message", f.Message},
	}
	used := map[string]string{}
	for _, r := range roles {
		if r.name == "" {
			if r.role == "fields.key" || r.role == "fields.data" || r.role == "fields.sign" {
				add("%s is empty: the envelope cannot go without it; name its member", r.role)
			}
			continue
		}
		if prev, ok := used[r.name]; ok {
			add("%s and %s are both %q: give each its own member name", prev, r.role, r.name)
			continue
		}
		used[r.name] = r.role
	}
	if len(o.SuccessCodes) == 0 || o.SuccessCodes[0] == "" {
		add(`successCodes is empty: the simulator answers success with the first of them (e.g. ["0"])`)
	} else {
		e.successCode = o.SuccessCodes[0]
	}
	switch o.CipherOrder {
	case "C1C3C2":
		e.layout = layoutC1C3C2
	case "C1C2C3":
		e.layout = layoutC1C2C3
	case "ASN1":
		e.layout = layoutASN1
	default:
		add("cipherOrder %q is not supported by the simulator: use C1C3C2, C1C2C3 or ASN1", o.CipherOrder)
	}
	switch o.SigFormat {
	case "DER":
	case "RS":
		e.sigRS = true
	default:
		add("sigFormat %q is not supported by the simulator: use DER or RS", o.SigFormat)
	}
	switch o.Encoding {
	case "base64":
		e.enc = encBase64
	case "hex":
		e.enc = encHexLower
	case "HEX":
		e.enc = encHexUpper
	default:
		add("encoding %q is not supported by the simulator: use base64, hex or HEX", o.Encoding)
	}
	switch o.SignTarget {
	case "plaintext":
		e.target = signPlaintext
	case "ciphertext":
		e.target = signCiphertext
	case "canonical":
		e.target = signCanonical
	default:
		add("signTarget %q is not supported by the simulator: use plaintext, ciphertext or canonical", o.SignTarget)
	}
	for _, n := range o.CanonicalExclude {
		if n == "" {
			add("canonicalExclude names an empty member: remove it")
		}
		e.exclude[n] = true
	}
	switch o.SM4Mode {
	case "ECB":
	case "CBC":
		e.cbc = true
		if o.SM4IV != "" {
			iv, err := hex.DecodeString(o.SM4IV)
			if err != nil || len(iv) != sm4.BlockSize {
				add("sm4IV %q is not 32 hex characters: give the fixed IV as 16 bytes in hex, or leave it empty for a random IV sent with the data", o.SM4IV)
			}
			e.fixedIV = iv
		}
	default:
		add("sm4Mode %q is not supported by the simulator: use ECB or CBC", o.SM4Mode)
	}
	switch o.KeyForm {
	case "raw16":
		e.keyForm = keyRaw16
	case "ascii16":
		e.keyForm = keyASCII16
	case "hex32":
		e.keyForm = keyHex32
	default:
		add("keyForm %q is not supported by the simulator: use raw16, ascii16 or hex32", o.KeyForm)
	}
	if o.UID == "" || len(o.UID) > 8191 {
		add("uid is %d bytes: SM2 needs a user id of 1 to 8191 bytes (the usual one is %q)", len(o.UID), "1234567812345678")
	}
	if f.SignType != "" && o.SignTypeValue == "" {
		add("signTypeValue is empty while fields.signType is %q: set the value the simulator writes there", f.SignType)
	}
	if f.Timestamp != "" && o.TimestampLayout == "" {
		add("timestampLayout is empty while fields.timestamp is %q: set a Go layout, unix or unixms", f.Timestamp)
	}
	if len(p) > 0 {
		return nil, fmt.Errorf("%d problem(s): %s", len(p), strings.Join(p, "; "))
	}
	return e, nil
}

// sm2Private converts the national private key for the SM2 primitives,
// deriving its public point anew and checking it against the one given.
func sm2Private(k *ecdsa.PrivateKey) (*sm2.PrivateKey, error) {
	if k == nil || k.D == nil || k.D.Sign() <= 0 || k.D.Cmp(sm2.P256().Params().N) >= 0 {
		return nil, errors.New("the national private key is missing or not an SM2 private key")
	}
	p, err := sm2.NewPrivateKeyFromInt(k.D)
	if err != nil {
		return nil, errors.New("the national private key is not an SM2 private key")
	}
	if k.X != nil && k.Y != nil && (p.X.Cmp(k.X) != 0 || p.Y.Cmp(k.Y) != 0) {
		return nil, errors.New("the national private key does not match its public point: it is not a key on the SM2 curve")
	}
	return p, nil
}

// sm2Public returns a hospital's public key on the SM2 curve; ok is false
// when it is not a point of that curve.
func sm2Public(k *ecdsa.PublicKey) (*ecdsa.PublicKey, bool) {
	if k == nil || !onCurve(k.X, k.Y) {
		return nil, false
	}
	return &ecdsa.PublicKey{Curve: sm2.P256(), X: k.X, Y: k.Y}, true
}

func onCurve(x, y *big.Int) bool {
	c := sm2.P256()
	p := c.Params().P
	return x != nil && y != nil && x.Sign() >= 0 && y.Sign() >= 0 && x.Cmp(p) < 0 && y.Cmp(p) < 0 && c.IsOnCurve(x, y)
}

// open checks and opens a request envelope: the signature with peer
// (the sender's public key), the SM4 key with priv (the national key),
// then the business data. Nothing from the request is returned unless
// the signature verifies. Errors match errEnvelopeSignature or
// errEnvelopeMalformed and carry no key or business content.
func (e *envelope) open(priv *sm2.PrivateKey, peer *ecdsa.PublicKey, body []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var env map[string]any
	if err := dec.Decode(&env); err != nil || env == nil {
		return nil, badEnv("the request is not a JSON object")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, badEnv("the request has data after its JSON object")
	}
	f := e.fields
	sigText, err := textMember(env, f.Sign)
	if err != nil {
		return nil, sigErr("%v", err)
	}
	sigBytes, err := e.decode(sigText)
	if err != nil {
		return nil, sigErr("member %q: %v", f.Sign, err)
	}
	r, s, err := e.parseSignature(sigBytes)
	if err != nil {
		return nil, sigErr("member %q: %v", f.Sign, err)
	}
	keyText, err := textMember(env, f.Key)
	if err != nil {
		return nil, badEnv("%v", err)
	}
	dataText, err := textMember(env, f.Data)
	if err != nil {
		return nil, badEnv("%v", err)
	}
	switch e.target {
	case signCiphertext:
		if !e.verify(peer, []byte(dataText), r, s) {
			return nil, sigErr("the signature does not verify over member %q", f.Data)
		}
	case signCanonical:
		msg, err := e.canonicalOf(env)
		if err != nil {
			return nil, badEnv("%v", err)
		}
		if !e.verify(peer, msg, r, s) {
			return nil, sigErr("the signature does not verify over the canonical string")
		}
	}
	ek, err := e.decode(keyText)
	if err != nil {
		return nil, badEnv("member %q: %v", f.Key, err)
	}
	ct, err := e.decode(dataText)
	if err != nil {
		return nil, badEnv("member %q: %v", f.Data, err)
	}
	material, err := e.sm2Decrypt(priv, ek)
	if err != nil {
		return nil, badEnv("member %q: %v", f.Key, err)
	}
	key, err := e.sm4Key(material)
	if err != nil {
		return nil, badEnv("member %q: %v", f.Key, err)
	}
	plain, err := e.sm4Decrypt(key, ct)
	if err != nil {
		return nil, badEnv("member %q: %v", f.Data, err)
	}
	if e.target == signPlaintext && !e.verify(peer, plain, r, s) {
		clear(plain)
		return nil, sigErr("the signature does not verify over the decrypted business data")
	}
	return plain, nil
}

// seal builds an answer envelope for peer: the members of env, the
// timestamp (in UTC+8) and sign type when configured and not in env, a
// fresh SM4 key SM2-encrypted for peer, data SM4-encrypted with it, and
// the SM2 signature with priv over the configured target.
func (e *envelope) seal(priv *sm2.PrivateKey, peer *ecdsa.PublicKey, env map[string]string, data []byte, now time.Time) (map[string]any, error) {
	f := e.fields
	out := make(map[string]any, len(env)+5)
	for k, v := range env {
		if k == f.Key || k == f.Data || k == f.Sign {
			return nil, fmt.Errorf("seal: env sets %q, which seal computes", k)
		}
		out[k] = v
	}
	if _, ok := env[f.Timestamp]; f.Timestamp != "" && !ok {
		out[f.Timestamp] = e.timestamp(now)
	}
	if _, ok := env[f.SignType]; f.SignType != "" && !ok {
		out[f.SignType] = e.signTypeValue
	}
	material, key, err := e.newSM4Key()
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	ct, err := e.sm4Encrypt(key, data)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	ek, err := e.sm2Encrypt(peer, material)
	if err != nil {
		return nil, fmt.Errorf("seal: SM2-encrypt the SM4 key: %w", err)
	}
	out[f.Key] = e.encode(ek)
	out[f.Data] = e.encode(ct)
	var msg []byte
	switch e.target {
	case signPlaintext:
		msg = data
	case signCiphertext:
		msg = []byte(out[f.Data].(string))
	case signCanonical:
		if msg, err = e.canonicalOf(out); err != nil {
			return nil, fmt.Errorf("seal: %w", err)
		}
	}
	der, err := sm2.SignASN1(rand.Reader, priv, msg, sm2.NewSM2SignerOption(true, e.uid))
	if err != nil {
		return nil, fmt.Errorf("seal: SM2-sign: %w", err)
	}
	var rs rsSignature
	if rest, err := asn1.Unmarshal(der, &rs); err != nil || len(rest) > 0 {
		return nil, fmt.Errorf("seal: SM2-sign gave no DER SEQUENCE{r, s}: %v", err)
	}
	r, s := rs.R, rs.S
	sig, err := e.formatSignature(r, s)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	out[f.Sign] = e.encode(sig)
	return out, nil
}

func (e *envelope) timestamp(now time.Time) string {
	switch e.tsLayout {
	case "unix":
		return strconv.FormatInt(now.Unix(), 10)
	case "unixms":
		return strconv.FormatInt(now.UnixMilli(), 10)
	}
	return now.In(cst).Format(e.tsLayout)
}

// textMember returns a member that must be a non-empty JSON string.
func textMember(env map[string]any, name string) (string, error) {
	v, ok := env[name]
	if !ok || v == nil {
		return "", fmt.Errorf("member %q is missing", name)
	}
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("member %q is not a JSON string", name)
	}
	if s == "" {
		return "", fmt.Errorf("member %q is empty", name)
	}
	return s, nil
}

// canonicalOf is the canonical string "k1=v1&k2=v2…" of an envelope: every
// member but the signature and the excluded ones, by name in byte order;
// empty and null values left out unless keepEmpty; numbers as their JSON
// literal; objects and arrays as compact JSON with sorted keys.
func (e *envelope) canonicalOf(env map[string]any) ([]byte, error) {
	names := make([]string, 0, len(env))
	for k := range env {
		if k != e.fields.Sign && !e.exclude[k] {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	var b bytes.Buffer
	for _, k := range names {
		var v string
		switch x := env[k].(type) {
		case nil:
		case string:
			v = x
		case json.Number:
			v = string(x)
		case bool:
			v = strconv.FormatBool(x)
		default:
			var j bytes.Buffer
			enc := json.NewEncoder(&j)
			enc.SetEscapeHTML(false)
			if err := enc.Encode(x); err != nil {
				return nil, fmt.Errorf("canonical string: member %q cannot be written as JSON", k)
			}
			v = strings.TrimSuffix(j.String(), "\n")
		}
		if v == "" && !e.keepEmpty {
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

// encode writes bytes as the configured text.
func (e *envelope) encode(b []byte) string {
	switch e.enc {
	case encHexLower:
		return hex.EncodeToString(b)
	case encHexUpper:
		return strings.ToUpper(hex.EncodeToString(b))
	}
	return base64.StdEncoding.EncodeToString(b)
}

// decode reads text in exactly the configured encoding: padded standard
// base64 without line breaks, or hex in the configured case.
func (e *envelope) decode(s string) ([]byte, error) {
	switch e.enc {
	case encHexLower, encHexUpper:
		wrong, name := "ABCDEF", "lower-case hex (encoding hex)"
		if e.enc == encHexUpper {
			wrong, name = "abcdef", "upper-case hex (encoding HEX)"
		}
		b, err := hex.DecodeString(s)
		if err != nil || strings.ContainsAny(s, wrong) {
			return nil, fmt.Errorf("not %s", name)
		}
		return b, nil
	}
	b, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil || strings.ContainsAny(s, "\r\n") {
		return nil, errors.New("not padded standard base64 on one line (encoding base64)")
	}
	return b, nil
}

// verify checks an SM2-with-SM3 signature (r, s) over msg with the
// configured user id.
func (e *envelope) verify(peer *ecdsa.PublicKey, msg []byte, r, s *big.Int) bool {
	if r == nil || s == nil || r.Sign() <= 0 || s.Sign() <= 0 {
		return false
	}
	der, err := asn1.Marshal(rsSignature{r, s})
	return err == nil && sm2.VerifyASN1WithSM2(peer, e.uid, msg, der)
}

type rsSignature struct{ R, S *big.Int }

// parseSignature reads r and s in exactly the configured format.
func (e *envelope) parseSignature(b []byte) (r, s *big.Int, err error) {
	if e.sigRS {
		if len(b) != 64 {
			return nil, nil, fmt.Errorf("signature is %d bytes, not the 64 of r‖s (sigFormat RS)", len(b))
		}
		return new(big.Int).SetBytes(b[:32]), new(big.Int).SetBytes(b[32:]), nil
	}
	var sig rsSignature
	rest, err := asn1.Unmarshal(b, &sig)
	if err != nil || len(rest) > 0 || sig.R == nil || sig.S == nil {
		return nil, nil, errors.New("signature is not a DER SEQUENCE{r, s} (sigFormat DER)")
	}
	if again, err := asn1.Marshal(sig); err != nil || !bytes.Equal(again, b) {
		return nil, nil, errors.New("signature is not in DER, the distinguished encoding (sigFormat DER)")
	}
	return sig.R, sig.S, nil
}

func (e *envelope) formatSignature(r, s *big.Int) ([]byte, error) {
	if !e.sigRS {
		return asn1.Marshal(rsSignature{r, s})
	}
	if r.BitLen() > 256 || s.BitLen() > 256 {
		return nil, errors.New("signature value larger than 256 bits")
	}
	out := make([]byte, 64)
	r.FillBytes(out[:32])
	s.FillBytes(out[32:])
	return out, nil
}

// sm2Cipher is the SM2 ciphertext of GM/T 0009: SEQUENCE{x, y, hash, ciphertext}.
type sm2Cipher struct {
	X, Y       *big.Int
	Hash, Text []byte
}

// sm2Encrypt encrypts msg for peer and lays the ciphertext out as configured.
func (e *envelope) sm2Encrypt(peer *ecdsa.PublicKey, msg []byte) ([]byte, error) {
	ct, err := sm2.Encrypt(rand.Reader, peer, msg, sm2.NewPlainEncrypterOpts(sm2.MarshalUncompressed, sm2.C1C3C2))
	if err != nil {
		return nil, err
	}
	// The primitive writes 04 ‖ x ‖ y ‖ C3 ‖ C2.
	if len(ct) != 1+64+32+len(msg) || ct[0] != 0x04 {
		return nil, fmt.Errorf("SM2 ciphertext of %d bytes for a %d-byte message, want %d", len(ct), len(msg), 1+64+32+len(msg))
	}
	c1, c3, c2 := ct[1:65], ct[65:97], ct[97:]
	var out []byte
	switch e.layout {
	case layoutASN1:
		return asn1.Marshal(sm2Cipher{new(big.Int).SetBytes(c1[:32]), new(big.Int).SetBytes(c1[32:]), c3, c2})
	case layoutC1C2C3:
		out = append(append(append(out, c1...), c2...), c3...)
	default:
		out = append(append(append(out, c1...), c3...), c2...)
	}
	if e.pointPrefix {
		out = append([]byte{0x04}, out...)
	}
	return out, nil
}

// sm2Decrypt reads the ciphertext in exactly the configured layout and
// decrypts it with priv.
func (e *envelope) sm2Decrypt(priv *sm2.PrivateKey, ct []byte) ([]byte, error) {
	const c1Len, c3Len = 64, 32
	var x, y *big.Int
	var c3, c2 []byte
	switch e.layout {
	case layoutASN1:
		var c sm2Cipher
		rest, err := asn1.Unmarshal(ct, &c)
		if err != nil || len(rest) > 0 || c.X == nil || c.Y == nil || len(c.Hash) != c3Len || len(c.Text) == 0 {
			return nil, errors.New("SM2 ciphertext is not a DER SEQUENCE{x, y, hash, ciphertext} (cipherOrder ASN1)")
		}
		x, y, c3, c2 = c.X, c.Y, c.Hash, c.Text
	default:
		raw := ct
		if e.pointPrefix {
			if len(raw) == 0 || raw[0] != 0x04 {
				return nil, errors.New("SM2 ciphertext does not start with the 04 point prefix (pointPrefix true)")
			}
			raw = raw[1:]
		}
		if len(raw) < c1Len+c3Len+1 {
			return nil, fmt.Errorf("SM2 ciphertext is %d bytes, too short for C1, C3 and C2", len(ct))
		}
		x, y = new(big.Int).SetBytes(raw[:32]), new(big.Int).SetBytes(raw[32:64])
		if e.layout == layoutC1C2C3 {
			c2, c3 = raw[c1Len:len(raw)-c3Len], raw[len(raw)-c3Len:]
		} else {
			c3, c2 = raw[c1Len:c1Len+c3Len], raw[c1Len+c3Len:]
		}
	}
	if !onCurve(x, y) {
		return nil, errors.New("SM2 ciphertext: C1 is not a point of the curve (wrong cipherOrder or pointPrefix?)")
	}
	// The primitive is given 04 ‖ x ‖ y ‖ C3 ‖ C2, whatever the layout.
	in := make([]byte, 1+c1Len, 1+c1Len+c3Len+len(c2))
	in[0] = 0x04
	x.FillBytes(in[1:33])
	y.FillBytes(in[33:65])
	in = append(append(in, c3...), c2...)
	pt, err := sm2.Decrypt(priv, in)
	if err != nil {
		return nil, errors.New("SM2 decryption failed: its hash does not match (wrong national key, cipherOrder or pointPrefix, or a corrupted key member)")
	}
	return pt, nil
}

const alnum = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// newSM4Key returns a fresh SM4 key and the bytes that stand for it in
// the envelope (the key form).
func (e *envelope) newSM4Key() (material, key []byte, err error) {
	key = make([]byte, sm4.BlockSize)
	if _, err := rand.Read(key); err != nil {
		return nil, nil, fmt.Errorf("generate an SM4 key: %w", err)
	}
	switch e.keyForm {
	case keyASCII16:
		// 16 characters of [0-9A-Za-z], each from one random byte below
		// 4×62 so that every character is equally likely.
		var b [1]byte
		for i := 0; i < len(key); {
			if _, err := rand.Read(b[:]); err != nil {
				return nil, nil, fmt.Errorf("generate an SM4 key: %w", err)
			}
			if b[0] < 4*62 {
				key[i] = alnum[b[0]%62]
				i++
			}
		}
		return key, key, nil
	case keyHex32:
		return []byte(hex.EncodeToString(key)), key, nil
	}
	return key, key, nil
}

// sm4Key turns decrypted key material into the SM4 key, in exactly the
// configured key form.
func (e *envelope) sm4Key(m []byte) ([]byte, error) {
	switch e.keyForm {
	case keyASCII16:
		if len(m) != 16 || strings.Trim(string(m), alnum) != "" {
			return nil, errors.New("the SM4 key is not 16 characters of [0-9A-Za-z] (keyForm ascii16)")
		}
		return m, nil
	case keyHex32:
		if len(m) != 32 || strings.Trim(string(m), "0123456789abcdef") != "" {
			return nil, errors.New("the SM4 key is not 32 lower-case hex characters (keyForm hex32)")
		}
		return hex.DecodeString(string(m))
	}
	if len(m) != 16 {
		return nil, fmt.Errorf("the SM4 key is %d bytes, not 16 (keyForm raw16)", len(m))
	}
	return m, nil
}

// sm4Encrypt pads data (PKCS#7) and encrypts it in the configured mode;
// a random CBC IV is sent in front of the ciphertext.
func (e *envelope) sm4Encrypt(key, data []byte) ([]byte, error) {
	block, err := sm4.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("SM4 key: %w", err)
	}
	bs := sm4.BlockSize
	n := bs - len(data)%bs
	padded := append(append(make([]byte, 0, len(data)+n), data...), bytes.Repeat([]byte{byte(n)}, n)...)
	if !e.cbc {
		gmcipher.NewECBEncrypter(block).CryptBlocks(padded, padded)
		return padded, nil
	}
	iv := e.fixedIV
	var out []byte
	if iv == nil {
		iv = make([]byte, bs)
		if _, err := rand.Read(iv); err != nil {
			return nil, fmt.Errorf("generate an SM4 IV: %w", err)
		}
		out = append(out, iv...)
	}
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(padded, padded)
	return append(out, padded...), nil
}

var errSM4 = errors.New("SM4 decryption failed (wrong key, sm4Mode or sm4IV, or corrupted data)")

// sm4Decrypt decrypts in the configured mode and removes the PKCS#7 padding.
func (e *envelope) sm4Decrypt(key, ct []byte) ([]byte, error) {
	block, err := sm4.NewCipher(key)
	if err != nil {
		return nil, errSM4
	}
	bs := sm4.BlockSize
	iv := e.fixedIV
	if e.cbc && iv == nil {
		if len(ct) < bs {
			return nil, errSM4
		}
		iv, ct = ct[:bs], ct[bs:]
	}
	if len(ct) == 0 || len(ct)%bs != 0 {
		return nil, errSM4
	}
	out := make([]byte, len(ct))
	if e.cbc {
		cipher.NewCBCDecrypter(block, iv).CryptBlocks(out, ct)
	} else {
		gmcipher.NewECBDecrypter(block).CryptBlocks(out, ct)
	}
	n := int(out[len(out)-1])
	bad := n == 0 || n > bs
	if !bad {
		for _, c := range out[len(out)-n:] {
			bad = bad || int(c) != n
		}
	}
	if bad {
		clear(out)
		return nil, errSM4
	}
	return out[:len(out)-n], nil
}
