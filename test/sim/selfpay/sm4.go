package selfpay

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/emmansun/gmsm/sm4"
)

// The platform's own encodings, written here from the interface notes
// (/work/shared/specs/selfpay-hsa.md) rather than taken from plugins/hsa,
// so that a mistake there is refused here instead of being mirrored.

// timeLayout is the platform's date-time format (inf_time, sign_time,
// crteTime…).
const timeLayout = "2006-01-02 15:04:05"

// sm4Key reads the SM4 key as the platform hands it out: 32 hex
// characters, or 16 characters used as the key bytes.
func sm4Key(s string) ([]byte, error) {
	k := strings.TrimSpace(s)
	switch len(k) {
	case 32:
		return hex.DecodeString(k)
	case 16:
		return []byte(k), nil
	}
	return nil, fmt.Errorf("SM4 key of %d characters, want 32 hex or 16", len(k))
}

// sm4ECB encrypts (or decrypts) b in place with SM4 in ECB mode, block by
// block; len(b) is a multiple of the block size.
func sm4ECB(key []byte, b []byte, decrypt bool) error {
	c, err := sm4.NewCipher(key)
	if err != nil {
		return err
	}
	for i := 0; i < len(b); i += sm4.BlockSize {
		if decrypt {
			c.Decrypt(b[i:i+sm4.BlockSize], b[i:i+sm4.BlockSize])
		} else {
			c.Encrypt(b[i:i+sm4.BlockSize], b[i:i+sm4.BlockSize])
		}
	}
	return nil
}

// sm4Seal is the platform's encrypted input or output: SM4-ECB with
// PKCS#7 padding, in base64 (or hex).
func sm4Seal(keyText string, hexOut bool, plain []byte) (string, error) {
	key, err := sm4Key(keyText)
	if err != nil {
		return "", err
	}
	n := sm4.BlockSize - len(plain)%sm4.BlockSize
	buf := append(append([]byte(nil), plain...), strings.Repeat(string(rune(n)), n)...)
	if err := sm4ECB(key, buf, false); err != nil {
		return "", err
	}
	if hexOut {
		return hex.EncodeToString(buf), nil
	}
	return base64.StdEncoding.EncodeToString(buf), nil
}

// errSM4 is every decryption failure: it says nothing about the key.
var errSM4 = errors.New("SM4 decryption failed")

// sm4Open reverses sm4Seal.
func sm4Open(keyText string, hexIn bool, text string) ([]byte, error) {
	key, err := sm4Key(keyText)
	if err != nil {
		return nil, err
	}
	var b []byte
	if hexIn {
		b, err = hex.DecodeString(strings.TrimSpace(text))
	} else {
		b, err = base64.StdEncoding.DecodeString(strings.TrimSpace(text))
	}
	if err != nil || len(b) == 0 || len(b)%sm4.BlockSize != 0 {
		return nil, errSM4
	}
	if err := sm4ECB(key, b, true); err != nil {
		return nil, err
	}
	n := int(b[len(b)-1])
	if n < 1 || n > sm4.BlockSize {
		return nil, errSM4
	}
	for _, p := range b[len(b)-n:] {
		if int(p) != n {
			return nil, errSM4
		}
	}
	return b[:len(b)-n], nil
}

// parseMsgID checks a msgid as the interface defines it: the institution
// code (12) + time yyyyMMddHHmmss (14) + sequence number (4 digits), and
// returns the institution code.
func parseMsgID(id string) (string, error) {
	if len(id) != 30 {
		return "", fmt.Errorf("msgid has %d bytes, want 30 (institution code 12 + time 14 + sequence 4)", len(id))
	}
	if _, err := time.Parse("20060102150405", id[12:26]); err != nil {
		return "", fmt.Errorf("msgid characters 13-26 %q are not a time yyyyMMddHHmmss", id[12:26])
	}
	for _, c := range id[26:] {
		if c < '0' || c > '9' {
			return "", fmt.Errorf("msgid's last 4 characters %q are not digits", id[26:])
		}
	}
	return id[:12], nil
}
