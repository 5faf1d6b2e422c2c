package smenvelope

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/emmansun/gmsm/pkcs8"
	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/smx509"
)

// Keys is the key material of one side of the exchange: our private key (to sign
// and to decrypt what the peer sends) and the peer's public key (to encrypt for
// the peer and to verify its signatures). The adapter and the simulator use the
// same code with the roles swapped.
//
// Keys redacts itself in String, GoString and LogValue: only public-key
// fingerprints are shown.
type Keys struct {
	// Private is our SM2 private key.
	Private *sm2.PrivateKey
	// PeerPublic is the peer's SM2 public key.
	PeerPublic *ecdsa.PublicKey
}

// String implements fmt.Stringer without revealing the private key.
func (k Keys) String() string {
	return fmt.Sprintf("smenvelope.Keys{Private: %s, PeerPublic: %s}", describePrivate(k.Private), describePublic(k.PeerPublic))
}

// GoString implements fmt.GoStringer without revealing the private key.
func (k Keys) GoString() string { return k.String() }

// LogValue implements slog.LogValuer without revealing the private key.
func (k Keys) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("private", describePrivate(k.Private)),
		slog.String("peerPublic", describePublic(k.PeerPublic)),
	)
}

func describePrivate(p *sm2.PrivateKey) string {
	if p == nil {
		return "<nil>"
	}
	return "SM2 private key [REDACTED] with public key " + Fingerprint(&p.PublicKey)
}

func describePublic(p *ecdsa.PublicKey) string {
	if p == nil {
		return "<nil>"
	}
	return "SM2 public key " + Fingerprint(p)
}

// Fingerprint returns "sha256:" and the first 16 hex digits of the SHA-256 of the
// uncompressed public point 04‖X‖Y, for logs and key-rotation messages.
func Fingerprint(pub *ecdsa.PublicKey) string {
	if pub == nil || pub.X == nil || pub.Y == nil {
		return "<nil>"
	}
	pt := make([]byte, 65)
	pt[0] = 4
	pub.X.FillBytes(pt[1:33])
	pub.Y.FillBytes(pt[33:])
	sum := sha256.Sum256(pt)
	return "sha256:" + hex.EncodeToString(sum[:8])
}

// Secret is a byte string (such as a key password) that redacts itself when
// printed or logged.
type Secret []byte

// String implements fmt.Stringer.
func (s Secret) String() string {
	if len(s) == 0 {
		return ""
	}
	return "[REDACTED]"
}

// GoString implements fmt.GoStringer.
func (s Secret) GoString() string { return `smenvelope.Secret("[REDACTED]")` }

// LogValue implements slog.LogValuer.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalText implements encoding.TextMarshaler so that the secret is not
// written out when a configuration is serialised.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

func (k Keys) check(needPrivate, needPeer bool) error {
	var p []string
	if needPrivate && (k.Private == nil || k.Private.D == nil) {
		p = append(p, "our private key (Keys.Private) is nil: load it with ParsePrivateKey or a KeyStore")
	}
	if needPeer {
		switch {
		case k.PeerPublic == nil || k.PeerPublic.X == nil || k.PeerPublic.Y == nil:
			p = append(p, "peer public key (Keys.PeerPublic) is nil: load it with ParsePublicKey or a KeyStore")
		case !sm2.IsSM2PublicKey(k.PeerPublic):
			p = append(p, "peer public key (Keys.PeerPublic) is not on the SM2 curve: use the peer's SM2 public key")
		}
	}
	if len(p) == 0 {
		return nil
	}
	return errors.New(strings.Join(p, "; "))
}

// ErrEncryptedKey is returned when an encrypted PKCS#8 private key is parsed
// without a password.
var ErrEncryptedKey = errors.New("private key is an encrypted PKCS#8 (\"ENCRYPTED PRIVATE KEY\"): supply its password")

const privateForms = `expected one of: PEM "PRIVATE KEY" (PKCS#8), PEM "EC PRIVATE KEY" (SEC1), PEM "ENCRYPTED PRIVATE KEY" (with a password), DER of PKCS#8 or SEC1, 64 hex characters of the 32-byte private scalar D, base64 of the 32-byte D, or the 32 raw bytes`

const publicForms = `expected one of: PEM "PUBLIC KEY" (PKIX/SubjectPublicKeyInfo), PEM "CERTIFICATE", DER of either, hex of 04‖X‖Y (130 characters), hex of X‖Y (128 characters), the 65 or 64 raw bytes, or base64 of any binary form`

// ParsePrivateKey parses our SM2 private key. Accepted forms: PEM "PRIVATE KEY"
// (PKCS#8), PEM "EC PRIVATE KEY" (SEC1; a preceding "EC PARAMETERS" block is
// skipped), DER of either, hex (optionally 0x-prefixed) of the 32-byte D, base64
// of the 32-byte D, or the 32 raw bytes. An encrypted PKCS#8 key returns an
// error wrapping ErrEncryptedKey; use ParsePrivateKeyWithPassword. Errors never
// contain key material.
func ParsePrivateKey(data []byte) (*sm2.PrivateKey, error) {
	return ParsePrivateKeyWithPassword(data, nil)
}

// ParsePrivateKeyWithPassword is ParsePrivateKey that can also decrypt an
// encrypted PKCS#8 ("ENCRYPTED PRIVATE KEY") with password.
func ParsePrivateKeyWithPassword(data, password []byte) (*sm2.PrivateKey, error) {
	k, err := parsePrivate(data, password)
	if err != nil {
		return nil, fmt.Errorf("parse SM2 private key: %w", err)
	}
	// Rebuild from D: checks 1 <= D <= n-2 and recomputes the public point.
	nk, err := sm2.NewPrivateKeyFromInt(k.D)
	if err != nil {
		return nil, errors.New("parse SM2 private key: private scalar is out of range for SM2 (must be in [1, n-2])")
	}
	return nk, nil
}

func parsePrivate(data, password []byte) (*sm2.PrivateKey, error) {
	if len(data) == 32 && !bytes.HasPrefix(data, []byte("-----")) {
		return rawPrivate(data)
	}
	// DER first, as given: its last bytes are key material, which may be
	// a whitespace byte that trimming would cut off.
	if len(data) > 0 && data[0] == 0x30 {
		if k, err := parsePrivateDER(data); err == nil {
			return k, nil
		}
	}
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return nil, fmt.Errorf("input is empty; %s", privateForms)
	}
	if bytes.Contains(trimmed, []byte("-----BEGIN")) {
		return parsePrivatePEM(trimmed, password)
	}
	if trimmed[0] == 0x30 && len(trimmed) != len(data) {
		if k, err := parsePrivateDER(trimmed); err == nil {
			return k, nil
		}
	}
	text := compactText(trimmed)
	if b, ok := decodeHexText(text); ok {
		if len(b) == 33 && b[0] == 0 {
			b = b[1:]
		}
		if len(b) == 32 {
			return rawPrivate(b)
		}
		return nil, fmt.Errorf("hex input decodes to %d bytes, want 32; %s", len(b), privateForms)
	}
	if b, ok := decodeBase64Text(text); ok {
		if len(b) == 32 {
			return rawPrivate(b)
		}
		if len(b) > 0 && b[0] == 0x30 {
			if k, err := parsePrivateDER(b); err == nil {
				return k, nil
			}
		}
		return nil, fmt.Errorf("base64 input decodes to %d bytes that are neither a 32-byte D nor a PKCS#8/SEC1 DER key; %s", len(b), privateForms)
	}
	return nil, fmt.Errorf("unrecognised format; %s", privateForms)
}

func rawPrivate(d []byte) (*sm2.PrivateKey, error) {
	k, err := sm2.NewPrivateKey(d)
	if err != nil {
		return nil, errors.New("32-byte private scalar is out of range for SM2 (must be in [1, n-2])")
	}
	return k, nil
}

func parsePrivatePEM(data, password []byte) (*sm2.PrivateKey, error) {
	var seen []string
	rest := data
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		seen = append(seen, block.Type)
		switch block.Type {
		case "EC PARAMETERS":
			continue
		case "PRIVATE KEY":
			return privateFromAny(smx509.ParsePKCS8PrivateKey(block.Bytes))
		case "EC PRIVATE KEY", "SM2 PRIVATE KEY":
			if block.Headers["Proc-Type"] != "" {
				return nil, errors.New(`legacy OpenSSL-encrypted PEM ("Proc-Type: 4,ENCRYPTED") is not supported: convert it with "openssl pkcs8 -topk8 -in old.pem -out new.pem" (add -nocrypt for an unencrypted result)`)
			}
			return privateFromAny(smx509.ParseTypedECPrivateKey(block.Bytes))
		case "ENCRYPTED PRIVATE KEY":
			if len(password) == 0 {
				return nil, ErrEncryptedKey
			}
			k, err := pkcs8.ParsePKCS8PrivateKeySM2(block.Bytes, password)
			if err != nil {
				return nil, errors.New("cannot decrypt the encrypted PKCS#8 key: wrong password, unsupported PBES scheme, or not an SM2 key")
			}
			return k, nil
		case "PUBLIC KEY", "CERTIFICATE":
			return nil, fmt.Errorf("PEM block %q holds a public key, not a private key; %s", block.Type, privateForms)
		}
	}
	if len(seen) == 0 {
		return nil, fmt.Errorf("PEM markers found but no PEM block could be decoded; %s", privateForms)
	}
	return nil, fmt.Errorf("no private key among PEM blocks %q; %s", seen, privateForms)
}

func parsePrivateDER(der []byte) (*sm2.PrivateKey, error) {
	if k, err := privateFromAny(smx509.ParsePKCS8PrivateKey(der)); err == nil {
		return k, nil
	}
	return privateFromAny(smx509.ParseTypedECPrivateKey(der))
}

func privateFromAny(key any, err error) (*sm2.PrivateKey, error) {
	if err != nil {
		// Library parse errors describe the ASN.1 structure only, never key bytes.
		return nil, fmt.Errorf("malformed key structure (%v); %s", err, privateForms)
	}
	switch k := key.(type) {
	case *sm2.PrivateKey:
		return k, nil
	case *ecdsa.PrivateKey:
		return nil, fmt.Errorf("key is on curve %s, not SM2: obtain the SM2 key pair issued for this interface", k.Curve.Params().Name)
	}
	return nil, fmt.Errorf("key type %T is not SM2", key)
}

// ParsePublicKey parses the peer's SM2 public key. Accepted forms: PEM "PUBLIC
// KEY" (PKIX), PEM "CERTIFICATE" (its subject key is used), DER of either, hex
// (optionally 0x-prefixed) of 04‖X‖Y or X‖Y, the 65 or 64 raw bytes, or base64
// of any binary form. The point is checked to be on the SM2 curve.
func ParsePublicKey(data []byte) (*ecdsa.PublicKey, error) {
	k, err := parsePublic(data, true)
	if err != nil {
		return nil, fmt.Errorf("parse SM2 public key: %w", err)
	}
	return k, nil
}

func parsePublic(data []byte, allowText bool) (*ecdsa.PublicKey, error) {
	// DER first, as given: it ends with key material or a signature,
	// whose last byte may be one that trimming would cut off.
	if len(data) > 0 && data[0] == 0x30 {
		if k, err := parsePublicDER(data); err == nil {
			return k, nil
		}
	}
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return nil, fmt.Errorf("input is empty; %s", publicForms)
	}
	if bytes.Contains(trimmed, []byte("-----BEGIN")) {
		return parsePublicPEM(trimmed)
	}
	switch {
	case len(data) == 65 && data[0] == 4:
		return pointPublic(data)
	case len(data) == 64:
		return pointPublic(append([]byte{4}, data...))
	}
	if trimmed[0] == 0x30 && len(trimmed) != len(data) {
		if k, err := parsePublicDER(trimmed); err == nil {
			return k, nil
		}
	}
	if !allowText {
		return nil, fmt.Errorf("unrecognised binary form (%d bytes); %s", len(data), publicForms)
	}
	text := compactText(trimmed)
	if b, ok := decodeHexText(text); ok {
		switch {
		case len(b) == 65 && b[0] == 4:
			return pointPublic(b)
		case len(b) == 64:
			return pointPublic(append([]byte{4}, b...))
		}
		return nil, fmt.Errorf("hex input decodes to %d bytes, want 65 (04‖X‖Y) or 64 (X‖Y); %s", len(b), publicForms)
	}
	if b, ok := decodeBase64Text(text); ok {
		return parsePublic(b, false)
	}
	return nil, fmt.Errorf("unrecognised format; %s", publicForms)
}

func pointPublic(b []byte) (*ecdsa.PublicKey, error) {
	k, err := sm2.NewPublicKey(b)
	if err != nil {
		return nil, errors.New("point is not on the SM2 curve: check that this is an SM2 (not NIST P-256) public key and that X and Y are in order")
	}
	return k, nil
}

func parsePublicPEM(data []byte) (*ecdsa.PublicKey, error) {
	var seen []string
	rest := data
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		seen = append(seen, block.Type)
		switch block.Type {
		case "PUBLIC KEY":
			return publicFromAny(smx509.ParsePKIXPublicKey(block.Bytes))
		case "CERTIFICATE":
			cert, err := smx509.ParseCertificate(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("malformed certificate (%v); %s", err, publicForms)
			}
			return publicFromAny(cert.PublicKey, nil)
		case "PRIVATE KEY", "EC PRIVATE KEY", "ENCRYPTED PRIVATE KEY":
			return nil, fmt.Errorf("PEM block %q is a private key; give the peer's PUBLIC key here (and never share private keys)", block.Type)
		}
	}
	if len(seen) == 0 {
		return nil, fmt.Errorf("PEM markers found but no PEM block could be decoded; %s", publicForms)
	}
	return nil, fmt.Errorf("no public key among PEM blocks %q; %s", seen, publicForms)
}

func parsePublicDER(der []byte) (*ecdsa.PublicKey, error) {
	if k, err := publicFromAny(smx509.ParsePKIXPublicKey(der)); err == nil {
		return k, nil
	}
	cert, err := smx509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("DER is neither SubjectPublicKeyInfo nor a certificate; %s", publicForms)
	}
	return publicFromAny(cert.PublicKey, nil)
}

func publicFromAny(key any, err error) (*ecdsa.PublicKey, error) {
	if err != nil {
		return nil, fmt.Errorf("malformed public key structure (%v); %s", err, publicForms)
	}
	k, ok := key.(*ecdsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("key type %T is not an SM2 public key", key)
	}
	if !sm2.IsSM2PublicKey(k) {
		return nil, fmt.Errorf("key is on curve %s, not SM2: obtain the peer's SM2 public key", k.Curve.Params().Name)
	}
	// Re-validate the point through the SM2 implementation.
	pt := make([]byte, 65)
	pt[0] = 4
	k.X.FillBytes(pt[1:33])
	k.Y.FillBytes(pt[33:])
	return pointPublic(pt)
}

// compactText removes whitespace and a leading 0x.
func compactText(b []byte) string {
	s := strings.Join(strings.Fields(string(b)), "")
	if strings.HasPrefix(s, "0x") || strings.HasPrefix(s, "0X") {
		s = s[2:]
	}
	return s
}

func decodeHexText(s string) ([]byte, bool) {
	if s == "" || len(s)%2 != 0 {
		return nil, false
	}
	b, err := hex.DecodeString(s)
	return b, err == nil
}

func decodeBase64Text(s string) ([]byte, bool) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil && len(b) > 0 {
			return b, true
		}
	}
	return nil, false
}

// MarshalPrivateKeyPEM returns the canonical form of our private key: PEM
// "PRIVATE KEY" (unencrypted PKCS#8 with the SM2 curve OID), as read by
// OpenSSL 3 and by ParsePrivateKey. Protect the result (file mode 0600).
func MarshalPrivateKeyPEM(priv *sm2.PrivateKey) ([]byte, error) {
	if priv == nil {
		return nil, errors.New("marshal SM2 private key: key is nil")
	}
	der, err := smx509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("marshal SM2 private key as PKCS#8: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// MarshalPublicKeyPEM returns the canonical form of a public key: PEM "PUBLIC
// KEY" (PKIX SubjectPublicKeyInfo), as read by OpenSSL 3 and by ParsePublicKey.
func MarshalPublicKeyPEM(pub *ecdsa.PublicKey) ([]byte, error) {
	if pub == nil || !sm2.IsSM2PublicKey(pub) {
		return nil, errors.New("marshal SM2 public key: key is nil or not on the SM2 curve")
	}
	der, err := smx509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("marshal SM2 public key as PKIX: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}
