package smenvelope

import (
	"bytes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/rand"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/big"
	"strings"
	"sync"

	gmcipher "github.com/emmansun/gmsm/cipher"
	"github.com/emmansun/gmsm/padding"
	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/sm4"
)

// randReader is the entropy source; tests may replace it.
var randReader io.Reader = rand.Reader

var pkcs7 = padding.NewPKCS7Padding(sm4.BlockSize)

// sm4Encrypt encrypts pt with PKCS#7 padding. For CBC with a nil fixedIV a
// random IV is generated and prepended to the result.
func sm4Encrypt(mode SM4Mode, key, fixedIV, pt []byte) ([]byte, error) {
	return sm4EncryptTo(nil, mode, key, fixedIV, pt)
}

// sm4EncryptTo is sm4Encrypt writing into buf's memory when it is large
// enough (buf's contents are ignored).
func sm4EncryptTo(buf []byte, mode SM4Mode, key, fixedIV, pt []byte) ([]byte, error) {
	block, err := sm4.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("create SM4 cipher: %w", err)
	}
	ivLen := 0
	if mode == CBC && fixedIV == nil {
		ivLen = sm4.BlockSize
	}
	// One buffer with room for the IV and the padding: Pad appends in place.
	if need := ivLen + len(pt) + sm4.BlockSize; cap(buf) < need {
		buf = make([]byte, 0, need)
	}
	out := pkcs7.Pad(append(buf[:ivLen], pt...))
	padded := out[ivLen:]
	switch mode {
	case ECB:
		gmcipher.NewECBEncrypter(block).CryptBlocks(padded, padded)
		return out, nil
	case CBC:
		iv := fixedIV
		if iv == nil {
			if _, err := io.ReadFull(randReader, out[:sm4.BlockSize]); err != nil {
				return nil, fmt.Errorf("generate SM4 IV: %w", err)
			}
			iv = out[:sm4.BlockSize]
		}
		cipher.NewCBCEncrypter(block, iv).CryptBlocks(padded, padded)
		return out, nil
	}
	return nil, fmt.Errorf("unsupported SM4 mode %q", mode)
}

// ctPool keeps ciphertext buffers between seals: the ciphertext is only
// encoded into the envelope and then dropped. Buffers above maxPooled
// (large attachments) are left to the garbage collector.
var ctPool = sync.Pool{New: func() any { return new([]byte) }}

const maxPooled = 1 << 20

// errSM4Decrypt is deliberately vague: it does not say whether length or padding failed.
var errSM4Decrypt = errors.New("SM4 decryption failed (wrong key, wrong sm4Mode/sm4IV, or corrupted data)")

// sm4Decrypt reverses sm4Encrypt. It never panics on malformed input and
// leaves ct unchanged.
func sm4Decrypt(mode SM4Mode, key, fixedIV, ct []byte) ([]byte, error) {
	return sm4DecryptInPlace(mode, key, fixedIV, bytes.Clone(ct))
}

// sm4DecryptInPlace is sm4Decrypt writing the plaintext over ct, which the
// caller owns (a freshly decoded field): the result shares its memory.
// A failed padding check wipes ct.
func sm4DecryptInPlace(mode SM4Mode, key, fixedIV, ct []byte) ([]byte, error) {
	block, err := sm4.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("create SM4 cipher: %w", err)
	}
	var out []byte
	switch mode {
	case ECB:
		if len(ct) == 0 || len(ct)%sm4.BlockSize != 0 {
			return nil, fmt.Errorf("encrypted data is %d bytes, not a positive multiple of 16: %w", len(ct), errSM4Decrypt)
		}
		out = ct
		gmcipher.NewECBDecrypter(block).CryptBlocks(out, ct)
	case CBC:
		iv := fixedIV
		if iv == nil {
			if len(ct) < 2*sm4.BlockSize {
				return nil, fmt.Errorf("encrypted data is %d bytes, shorter than IV plus one block: %w", len(ct), errSM4Decrypt)
			}
			iv, ct = ct[:sm4.BlockSize], ct[sm4.BlockSize:]
		}
		if len(ct) == 0 || len(ct)%sm4.BlockSize != 0 {
			return nil, fmt.Errorf("encrypted data is %d bytes, not a positive multiple of 16: %w", len(ct), errSM4Decrypt)
		}
		out = ct
		cipher.NewCBCDecrypter(block, iv).CryptBlocks(out, ct)
	default:
		return nil, fmt.Errorf("unsupported SM4 mode %q", mode)
	}
	pt, err := pkcs7.ConstantTimeUnpad(out)
	if err != nil {
		clear(out)
		return nil, errSM4Decrypt
	}
	return pt, nil
}

const alnum = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// newSessionKey returns the bytes to SM2-encrypt and the SM4 key they stand for.
func newSessionKey(form KeyForm) (material, key []byte, err error) {
	switch form {
	case Raw16:
		key = make([]byte, 16)
		if _, err := io.ReadFull(randReader, key); err != nil {
			return nil, nil, fmt.Errorf("generate SM4 key: %w", err)
		}
		return key, key, nil
	case ASCII16:
		key = make([]byte, 16)
		var b [1]byte
		for i := 0; i < len(key); {
			if _, err := io.ReadFull(randReader, b[:]); err != nil {
				return nil, nil, fmt.Errorf("generate SM4 key: %w", err)
			}
			if b[0] >= 248 { // 248 = 4*62: reject to keep the distribution uniform
				continue
			}
			key[i] = alnum[int(b[0])%len(alnum)]
			i++
		}
		return key, key, nil
	case Hex32:
		key = make([]byte, 16)
		if _, err := io.ReadFull(randReader, key); err != nil {
			return nil, nil, fmt.Errorf("generate SM4 key: %w", err)
		}
		material = make([]byte, 32)
		hex.Encode(material, key)
		return material, key, nil
	}
	return nil, nil, fmt.Errorf("unsupported key form %q", form)
}

// sessionKeyFromMaterial turns decrypted key material into the SM4 key.
func sessionKeyFromMaterial(form KeyForm, strict bool, m []byte) ([]byte, error) {
	isPrintable := func() bool {
		for _, c := range m {
			if c < 0x21 || c > 0x7e {
				return false
			}
		}
		return true
	}
	as16 := func() ([]byte, error) {
		if len(m) != 16 {
			return nil, fmt.Errorf("decrypted SM4 key is %d bytes, want 16 (keyForm %s)", len(m), form)
		}
		if strict && form == ASCII16 && !isPrintable() {
			return nil, fmt.Errorf("decrypted SM4 key is not 16 printable ASCII characters (keyForm ascii16)")
		}
		return m, nil
	}
	as32 := func() ([]byte, error) {
		if len(m) != 32 {
			return nil, fmt.Errorf("decrypted SM4 key is %d bytes, want 32 hex characters (keyForm hex32)", len(m))
		}
		k := make([]byte, 16)
		if _, err := hex.Decode(k, m); err != nil {
			return nil, errors.New("decrypted SM4 key is not 32 hex characters (keyForm hex32)")
		}
		return k, nil
	}
	if strict {
		if form == Hex32 {
			return as32()
		}
		return as16()
	}
	switch len(m) {
	case 16:
		return m, nil
	case 32:
		return as32()
	}
	return nil, fmt.Errorf("decrypted SM4 key is %d bytes, want 16 bytes (raw16/ascii16) or 32 hex characters (hex32)", len(m))
}

func sm2Order(o CipherOrder) (enc *sm2.EncrypterOpts, dec *sm2.DecrypterOpts) {
	if o == C1C2C3 {
		return sm2.NewPlainEncrypterOpts(sm2.MarshalUncompressed, sm2.C1C2C3), sm2.NewPlainDecrypterOpts(sm2.C1C2C3)
	}
	return sm2.NewPlainEncrypterOpts(sm2.MarshalUncompressed, sm2.C1C3C2), sm2.NewPlainDecrypterOpts(sm2.C1C3C2)
}

// sm2Encrypt encrypts msg (non-empty) for pub in the configured layout.
func sm2Encrypt(pub *ecdsa.PublicKey, msg []byte, order CipherOrder, prefix bool) ([]byte, error) {
	if order == ASN1 {
		return sm2.EncryptASN1(randReader, pub, msg)
	}
	enc, _ := sm2Order(order)
	ct, err := sm2.Encrypt(randReader, pub, msg, enc)
	if err != nil {
		return nil, err
	}
	if !prefix {
		ct = ct[1:]
	}
	return ct, nil
}

var errSM2Decrypt = errors.New("SM2 decryption of the SM4 key failed (wrong private key, wrong cipherOrder/pointPrefix, or corrupted key field)")

// sm2Decrypt decrypts ct. When strict is false it also tries the other layouts.
func sm2Decrypt(priv *sm2.PrivateKey, ct []byte, order CipherOrder, prefix, strict bool) ([]byte, error) {
	if len(ct) == 0 {
		return nil, errSM2Decrypt
	}
	try := func(o CipherOrder, withPrefix bool) ([]byte, bool) {
		in := ct
		if o == ASN1 {
			if ct[0] != 0x30 {
				return nil, false
			}
		} else if !withPrefix {
			in = append([]byte{0x04}, ct...)
		} else if ct[0] != 0x04 {
			return nil, false
		}
		_, dec := sm2Order(o)
		if o == ASN1 {
			dec = sm2.ASN1DecrypterOpts
		}
		pt, err := priv.Decrypt(nil, in, dec)
		if err != nil {
			return nil, false
		}
		return pt, true
	}
	if pt, ok := try(order, prefix); ok {
		return pt, nil
	}
	if !strict {
		for _, o := range []CipherOrder{C1C3C2, C1C2C3, ASN1} {
			for _, p := range []bool{true, false} {
				if o == ASN1 && !p {
					continue
				}
				if o == order && (p == prefix || o == ASN1) {
					continue
				}
				if pt, ok := try(o, p); ok {
					return pt, nil
				}
			}
		}
	}
	return nil, errSM2Decrypt
}

type derSig struct{ R, S *big.Int }

// derToRS converts an ASN.1 DER signature to 64-byte r‖s.
func derToRS(der []byte) ([]byte, error) {
	var s derSig
	rest, err := asn1.Unmarshal(der, &s)
	if err != nil || len(rest) != 0 || s.R == nil || s.S == nil || s.R.Sign() <= 0 || s.S.Sign() <= 0 ||
		s.R.BitLen() > 256 || s.S.BitLen() > 256 {
		return nil, errors.New("malformed DER signature")
	}
	out := make([]byte, 64)
	s.R.FillBytes(out[:32])
	s.S.FillBytes(out[32:])
	return out, nil
}

// rsToDER converts 64-byte r‖s to ASN.1 DER.
func rsToDER(rs []byte) ([]byte, error) {
	if len(rs) != 64 {
		return nil, fmt.Errorf("r‖s signature is %d bytes, want 64", len(rs))
	}
	return asn1.Marshal(derSig{new(big.Int).SetBytes(rs[:32]), new(big.Int).SetBytes(rs[32:])})
}

// sm2Sign signs msg (which may be empty) with SM2-SM3 and the given user id.
func sm2Sign(priv *sm2.PrivateKey, msg []byte, uid string, format SigFormat) ([]byte, error) {
	// Hash explicitly (Z_A ‖ msg): the library refuses an empty message otherwise.
	e, err := sm2.CalculateSM2Hash(&priv.PublicKey, msg, []byte(uid))
	if err != nil {
		return nil, err
	}
	der, err := sm2.SignASN1(randReader, priv, e, nil)
	if err != nil {
		return nil, err
	}
	if format == SigRS {
		return derToRS(der)
	}
	return der, nil
}

// sm2Verify verifies sig over msg. When strict is false both DER and r‖s are accepted.
func sm2Verify(pub *ecdsa.PublicKey, msg, sig []byte, uid string, format SigFormat, strict bool) bool {
	e, err := sm2.CalculateSM2Hash(pub, msg, []byte(uid))
	if err != nil {
		return false
	}
	asDER := func() bool { return sm2.VerifyASN1(pub, e, sig) }
	asRS := func() bool {
		der, err := rsToDER(sig)
		return err == nil && sm2.VerifyASN1(pub, e, der)
	}
	if format == SigRS {
		return asRS() || (!strict && asDER())
	}
	return asDER() || (!strict && len(sig) == 64 && asRS())
}

func encodeBytes(e Encoding, b []byte) string {
	switch e {
	case HexLower:
		return hex.EncodeToString(b)
	case HexUpper:
		return strings.ToUpper(hex.EncodeToString(b))
	}
	// One allocation, the string itself (EncodeToString makes a buffer,
	// then copies it into the string; base64.NewEncoder allocates 1 KB
	// of its own, which for a key or a signature is ten times the text):
	// the text is made in chunks on the stack.
	var sb strings.Builder
	sb.Grow(base64.StdEncoding.EncodedLen(len(b)))
	var chunk [1024]byte
	const in = len(chunk) / 4 * 3 // a multiple of 3: only the last chunk is padded
	for len(b) > 0 {
		n := min(len(b), in)
		base64.StdEncoding.Encode(chunk[:], b[:n])
		sb.Write(chunk[:base64.StdEncoding.EncodedLen(n)])
		b = b[n:]
	}
	return sb.String()
}

// encodedLen is the length of the text encodeBytes makes of n bytes.
func encodedLen(e Encoding, n int) int {
	if e == HexLower || e == HexUpper {
		return hex.EncodedLen(n)
	}
	return base64.StdEncoding.EncodedLen(n)
}

// appendEncoded appends encodeBytes(e, b) to dst.
func appendEncoded(e Encoding, dst, b []byte) []byte {
	switch e {
	case HexLower:
		return hex.AppendEncode(dst, b)
	case HexUpper:
		n := len(dst)
		dst = hex.AppendEncode(dst, b)
		for i := n; i < len(dst); i++ {
			if c := dst[i]; c >= 'a' && c <= 'f' {
				dst[i] = c - 'a' + 'A'
			}
		}
		return dst
	}
	return base64.StdEncoding.AppendEncode(dst, b)
}

// decodeText decodes an envelope field. Whitespace (as inserted by MIME
// encoders) is ignored; base64 may be padded or not, standard or URL-safe; hex
// may be in either case.
func decodeText(e Encoding, s string) ([]byte, error) {
	if e == HexLower || e == HexUpper {
		if b, err := hex.DecodeString(s); err == nil && len(b) > 0 {
			return b, nil
		}
	} else {
		// The common case in one pass: padded standard base64, which
		// ignores CR and LF itself. Anything else (spaces, tabs, no
		// padding, URL-safe) fails here and takes the general path, which
		// gives the same bytes for what this one accepts.
		b := make([]byte, base64.StdEncoding.DecodedLen(len(s)))
		if n, err := base64.StdEncoding.Decode(b, []byte(s)); err == nil && n > 0 {
			return b[:n], nil
		}
	}
	if strings.ContainsAny(s, " \t\r\n") {
		s = strings.Map(func(r rune) rune {
			switch r {
			case ' ', '\t', '\r', '\n':
				return -1
			}
			return r
		}, s)
	}
	if s == "" {
		return nil, errors.New("value is empty")
	}
	switch e {
	case HexLower, HexUpper:
		b, err := hex.DecodeString(s)
		if err != nil {
			return nil, fmt.Errorf("value is not valid hex (encoding %s)", e)
		}
		return b, nil
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, nil
		}
	}
	return nil, errors.New("value is not valid base64 (encoding base64)")
}
