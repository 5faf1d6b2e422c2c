package smenvelope

import (
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
)

// CipherOrder is the byte layout of the SM2 ciphertext that carries the SM4 key.
type CipherOrder string

// Supported SM2 ciphertext layouts.
const (
	// C1C3C2 is C1 (point) ‖ C3 (SM3 hash) ‖ C2 (masked data), the layout of
	// GB/T 32918.4-2016. Default (INFERRED).
	C1C3C2 CipherOrder = "C1C3C2"
	// C1C2C3 is the layout of the 2010 draft standard, still used by older peers.
	C1C2C3 CipherOrder = "C1C2C3"
	// ASN1 is the DER SEQUENCE{x, y, hash, ciphertext} of GM/T 0009 / GB/T 35276,
	// as produced by `openssl pkeyutl -encrypt`.
	ASN1 CipherOrder = "ASN1"
)

// SigFormat is the encoding of an SM2 signature before text encoding.
type SigFormat string

// Supported signature formats.
const (
	// SigDER is the ASN.1 DER SEQUENCE{r, s}. Default (INFERRED).
	SigDER SigFormat = "DER"
	// SigRS is the fixed 64-byte concatenation r ‖ s (32 bytes each, big endian).
	SigRS SigFormat = "RS"
)

// Encoding is the text encoding of the binary envelope fields (encrypted key,
// encrypted data, signature).
type Encoding string

// Supported text encodings.
const (
	// Base64 is standard base64 with padding (RFC 4648 §4). Default (INFERRED).
	// Open also accepts unpadded, URL-safe and line-wrapped (MIME) input.
	Base64 Encoding = "base64"
	// HexLower is lower-case hexadecimal. Open accepts either case.
	HexLower Encoding = "hex"
	// HexUpper is upper-case hexadecimal. Open accepts either case.
	HexUpper Encoding = "HEX"
)

// SignTarget selects the bytes covered by the SM2 signature.
type SignTarget string

// Supported signature targets.
const (
	// SignPlaintext signs the business JSON bytes exactly as passed to Seal.
	// Default (INFERRED, as in public analogue D of the research notes).
	// The envelope fields are NOT covered by the signature in this mode.
	SignPlaintext SignTarget = "plaintext"
	// SignCiphertext signs the encrypted-data field value exactly as it appears
	// in the envelope (the encoded text, UTF-8 bytes).
	SignCiphertext SignTarget = "ciphertext"
	// SignCanonical signs "k1=v1&k2=v2&…": every top-level envelope field
	// (including the encrypted key and data) except the signature field and
	// Options.CanonicalExclude, sorted by key in byte order. Empty and null
	// values are skipped unless Options.CanonicalKeepEmpty is set. Numbers keep
	// their JSON literal; nested objects/arrays are re-serialised as compact
	// JSON with sorted keys.
	SignCanonical SignTarget = "canonical"
)

// SM4Mode is the SM4 block-cipher mode for the business data. Padding is always PKCS#7.
type SM4Mode string

// Supported SM4 modes.
const (
	// ECB is SM4-ECB with PKCS#7 padding. Default (INFERRED, as in public analogue D).
	ECB SM4Mode = "ECB"
	// CBC is SM4-CBC with PKCS#7 padding. With Options.SM4IV empty a fresh random
	// IV is generated per message and sent as the first 16 bytes of the encrypted
	// data; otherwise the configured fixed IV is used and not transmitted.
	CBC SM4Mode = "CBC"
)

// KeyForm is how the per-message SM4 key is generated and what is SM2-encrypted.
type KeyForm string

// Supported SM4 key forms.
const (
	// Raw16 is 16 random bytes, SM2-encrypted as is. Default (INFERRED).
	Raw16 KeyForm = "raw16"
	// ASCII16 is 16 random characters from [0-9A-Za-z] whose ASCII bytes are the
	// SM4 key (about 95 bits of entropy), as in public analogue D (Hutool).
	ASCII16 KeyForm = "ascii16"
	// Hex32 is 16 random bytes; their 32 lower-case hex characters are what is
	// SM2-encrypted, and the SM4 key is the decoded 16 bytes.
	Hex32 KeyForm = "hex32"
)

// Special values of Options.TimestampLayout.
const (
	// TimestampUnix writes the timestamp as decimal seconds since the Unix epoch.
	TimestampUnix = "unix"
	// TimestampUnixMilli writes the timestamp as decimal milliseconds since the Unix epoch.
	TimestampUnixMilli = "unixms"
)

// FieldNames are the JSON member names of the envelope. An empty name means the
// field is not written by Seal and not read by Open; Key, Data and Sign are required.
type FieldNames struct {
	// TxCode is the transaction code field (e.g. GYU101). Default "infno".
	TxCode string `json:"txCode" yaml:"txCode"`
	// MsgID is the message id field. Default "msgid".
	MsgID string `json:"msgId" yaml:"msgId"`
	// Sender is the sender system code field. Default "sender".
	Sender string `json:"sender" yaml:"sender"`
	// Receiver is the receiver system code field. Default "receiver".
	Receiver string `json:"receiver" yaml:"receiver"`
	// Timestamp is the timestamp field; Seal fills it when the caller does not. Default "timestamp".
	Timestamp string `json:"timestamp" yaml:"timestamp"`
	// Version is the interface version field. Default "version".
	Version string `json:"version" yaml:"version"`
	// Key is the SM2-encrypted SM4 key field. Default "key".
	Key string `json:"key" yaml:"key"`
	// Data is the SM4-encrypted business data field. Default "data".
	Data string `json:"data" yaml:"data"`
	// Sign is the signature field. Default "sign".
	Sign string `json:"sign" yaml:"sign"`
	// SignType is the signature algorithm field; Seal fills it with
	// Options.SignTypeValue when the caller does not. Default "signType".
	SignType string `json:"signType" yaml:"signType"`
	// Code is the response code field. Default "code".
	Code string `json:"code" yaml:"code"`
	// Message is the response message field. Default "message".
	Message string `json:"message" yaml:"message"`
}

// Options configures the envelope. Every value is a per-site setting because the
// official specification is not public; obtain a valid value with Defaults and
// change what the peer needs. A zero Options is invalid.
type Options struct {
	// Fields are the envelope member names.
	Fields FieldNames `json:"fields" yaml:"fields"`
	// SuccessCodes are the response codes meaning success. Default ["0", "0000"].
	SuccessCodes []string `json:"successCodes" yaml:"successCodes"`
	// CipherOrder is the SM2 ciphertext layout. Default C1C3C2.
	CipherOrder CipherOrder `json:"cipherOrder" yaml:"cipherOrder"`
	// PointPrefix writes the 0x04 uncompressed-point byte in front of raw C1
	// (C1C3C2 and C1C2C3 only). Default true.
	PointPrefix bool `json:"pointPrefix" yaml:"pointPrefix"`
	// SigFormat is the signature format. Default DER.
	SigFormat SigFormat `json:"sigFormat" yaml:"sigFormat"`
	// Encoding is the text encoding of key, data and signature. Default base64.
	Encoding Encoding `json:"encoding" yaml:"encoding"`
	// SignTarget is what the signature covers. Default plaintext.
	SignTarget SignTarget `json:"signTarget" yaml:"signTarget"`
	// CanonicalExclude lists extra fields left out of the canonical string
	// (the signature field is always left out). Default empty.
	CanonicalExclude []string `json:"canonicalExclude" yaml:"canonicalExclude"`
	// CanonicalKeepEmpty keeps empty-string fields ("k=") in the canonical
	// string. Default false (empty values are skipped).
	CanonicalKeepEmpty bool `json:"canonicalKeepEmpty" yaml:"canonicalKeepEmpty"`
	// SM4Mode is the SM4 mode. Default ECB.
	SM4Mode SM4Mode `json:"sm4Mode" yaml:"sm4Mode"`
	// SM4IV is a fixed CBC IV as 32 hex characters. Empty (default) means a
	// random IV prepended to the ciphertext. Ignored for ECB.
	SM4IV string `json:"sm4IV" yaml:"sm4IV"`
	// KeyForm is the SM4 key form. Default raw16.
	KeyForm KeyForm `json:"keyForm" yaml:"keyForm"`
	// UID is the SM2 signer identity used in Z_A. Default "1234567812345678".
	UID string `json:"uid" yaml:"uid"`
	// SignTypeValue is written to Fields.SignType by Seal. Default "SM2".
	SignTypeValue string `json:"signTypeValue" yaml:"signTypeValue"`
	// TimestampLayout is a Go time layout (or TimestampUnix / TimestampUnixMilli)
	// for the timestamp Seal fills in, in China Standard Time (UTC+8).
	// Default "2006-01-02 15:04:05".
	TimestampLayout string `json:"timestampLayout" yaml:"timestampLayout"`
	// UnsignedErrors lets Open return a *BusinessError for an error response
	// (code not in SuccessCodes, no data field) whose signature is missing or
	// does not verify; BusinessError.Verified tells which. Default true (INFERRED).
	UnsignedErrors bool `json:"unsignedErrors" yaml:"unsignedErrors"`
	// StrictOpen makes Open accept only the configured CipherOrder, PointPrefix,
	// SigFormat and KeyForm. By default Open also tries the other forms, which is
	// safe (SM2 decryption and signatures are authenticated) and helps while the
	// real parameters are unknown.
	StrictOpen bool `json:"strictOpen" yaml:"strictOpen"`
}

// DefaultUID is the SM2 user id used when none is configured (GM/T 0009).
const DefaultUID = "1234567812345678"

// Defaults returns the default Options. Every default is INFERRED from public
// analogues, not taken from the (non-public) specification; see the package doc.
func Defaults() Options {
	return Options{
		Fields: FieldNames{
			TxCode:    "infno",
			MsgID:     "msgid",
			Sender:    "sender",
			Receiver:  "receiver",
			Timestamp: "timestamp",
			Version:   "version",
			Key:       "key",
			Data:      "data",
			Sign:      "sign",
			SignType:  "signType",
			Code:      "code",
			Message:   "message",
		},
		SuccessCodes:    []string{"0", "0000"},
		CipherOrder:     C1C3C2,
		PointPrefix:     true,
		SigFormat:       SigDER,
		Encoding:        Base64,
		SignTarget:      SignPlaintext,
		SM4Mode:         ECB,
		KeyForm:         Raw16,
		UID:             DefaultUID,
		SignTypeValue:   "SM2",
		TimestampLayout: "2006-01-02 15:04:05",
		UnsignedErrors:  true,
	}
}

// OptionsError lists every problem found by Options.Validate.
type OptionsError struct {
	// Problems are human-readable descriptions, one per invalid setting.
	Problems []string
}

// Error implements error.
func (e *OptionsError) Error() string {
	return fmt.Sprintf("invalid smenvelope options (%d problem(s); start from smenvelope.Defaults() and change only what the peer needs): %s",
		len(e.Problems), strings.Join(e.Problems, "; "))
}

// Validate reports every invalid setting at once as an *OptionsError, or nil.
func (o Options) Validate() error {
	var p []string
	add := func(format string, a ...any) { p = append(p, fmt.Sprintf(format, a...)) }

	// Seal and Open validate on every call: valid options are checked
	// without allocating (TestValidateAllocatesNothing), so the names are
	// compared pairwise in an array rather than through a map.
	names := [...]struct{ role, name string }{
		{"fields.txCode", o.Fields.TxCode}, {"fields.msgId", o.Fields.MsgID},
		{"fields.sender", o.Fields.Sender}, {"fields.receiver", o.Fields.Receiver},
		{"fields.timestamp", o.Fields.Timestamp}, {"fields.version", o.Fields.Version},
		{"fields.key", o.Fields.Key}, {"fields.data", o.Fields.Data},
		{"fields.sign", o.Fields.Sign}, {"fields.signType", o.Fields.SignType},
		{"fields.code", o.Fields.Code}, {"fields.message", o.Fields.Message},
	}
	for _, r := range [...]struct{ role, name string }{
		{"fields.key", o.Fields.Key}, {"fields.data", o.Fields.Data}, {"fields.sign", o.Fields.Sign},
	} {
		if r.name == "" {
			add("%s is empty: set the envelope member name of this required field", r.role)
		}
	}
	for i, n := range names {
		if n.name == "" {
			continue
		}
		// Each repeat is reported once, against the first field that
		// uses the name, as before.
		for _, prev := range names[:i] {
			if prev.name == n.name {
				add("%s and %s both use the member name %q: give each field its own name", prev.role, n.role, n.name)
				break
			}
		}
	}
	if len(o.SuccessCodes) == 0 {
		add(`successCodes is empty: list the response codes meaning success, e.g. ["0","0000"]`)
	}
	switch o.CipherOrder {
	case C1C3C2, C1C2C3, ASN1:
	default:
		add("cipherOrder %q is not one of C1C3C2, C1C2C3, ASN1", o.CipherOrder)
	}
	switch o.SigFormat {
	case SigDER, SigRS:
	default:
		add("sigFormat %q is not one of DER, RS", o.SigFormat)
	}
	switch o.Encoding {
	case Base64, HexLower, HexUpper:
	default:
		add("encoding %q is not one of base64, hex, HEX", o.Encoding)
	}
	switch o.SignTarget {
	case SignPlaintext, SignCiphertext, SignCanonical:
	default:
		add("signTarget %q is not one of plaintext, ciphertext, canonical", o.SignTarget)
	}
	switch o.SM4Mode {
	case ECB:
	case CBC:
		if o.SM4IV != "" {
			var iv [16]byte // decoded here, not allocated
			if len(o.SM4IV) != hex.EncodedLen(len(iv)) || hexInvalid(iv[:], o.SM4IV) {
				add("sm4IV must be exactly 32 hex characters (16 bytes), or empty for a random IV sent with the data")
			}
		}
	default:
		add("sm4Mode %q is not one of ECB, CBC", o.SM4Mode)
	}
	switch o.KeyForm {
	case Raw16, ASCII16, Hex32:
	default:
		add("keyForm %q is not one of raw16, ascii16, hex32", o.KeyForm)
	}
	if o.UID == "" {
		add("uid is empty: use %q unless the peer specifies another SM2 user id", DefaultUID)
	} else if len(o.UID) > 8191 {
		add("uid is %d bytes long: SM2 allows at most 8191", len(o.UID))
	}
	if o.Fields.SignType != "" && o.SignTypeValue == "" {
		add(`signTypeValue is empty while fields.signType is set: set it (e.g. "SM2") or clear fields.signType`)
	}
	if o.Fields.Timestamp != "" && o.TimestampLayout == "" {
		add(`timestampLayout is empty while fields.timestamp is set: set a Go layout such as "2006-01-02 15:04:05", "unix" or "unixms"`)
	}
	if slices.Contains(o.CanonicalExclude, "") {
		add("canonicalExclude contains an empty name")
	}
	if len(p) == 0 {
		return nil
	}
	return &OptionsError{Problems: p}
}

// hexInvalid reports whether s, of hex.EncodedLen(len(dst)) characters,
// is not hex; it decodes s into dst.
func hexInvalid(dst []byte, s string) bool {
	_, err := hex.Decode(dst, []byte(s))
	return err != nil
}

// fixedIV returns the configured CBC IV, or nil when a random IV is used.
func (o Options) fixedIV() []byte {
	if o.SM4Mode != CBC || o.SM4IV == "" {
		return nil
	}
	iv, _ := hex.DecodeString(o.SM4IV) // checked by Validate
	return iv
}

func (o Options) isSuccess(code string) bool {
	return slices.Contains(o.SuccessCodes, code)
}
