package hsa

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	gmcipher "github.com/emmansun/gmsm/cipher"
	"github.com/emmansun/gmsm/padding"
	"github.com/emmansun/gmsm/sm4"
)

var pkcs7 = padding.NewPKCS7Padding(sm4.BlockSize)

// sm4Key reads the SM4 key: 32 hex characters, or 16 characters used as
// bytes. Errors never contain the key.
func sm4Key(s Secret) ([]byte, error) {
	k := strings.TrimSpace(s.Reveal())
	switch len(k) {
	case 32:
		b, err := hex.DecodeString(k)
		if err != nil {
			return nil, errors.New("a 32-character SM4 key must be hex; write 32 hex characters or 16 characters")
		}
		return b, nil
	case 16:
		return []byte(k), nil
	case 0:
		return nil, errors.New("the SM4 key is empty; set sm4Key to an env: or file: reference holding 32 hex characters or 16 characters")
	}
	return nil, fmt.Errorf("the SM4 key has %d characters; write 32 hex characters or 16 characters", len(k))
}

// SM4Encrypt encrypts plaintext with SM4-ECB and PKCS#7 padding and
// encodes it as base64 (or hex). It is exported for simulators and tests.
func SM4Encrypt(key Secret, hexOut bool, plaintext []byte) (string, error) {
	k, err := sm4Key(key)
	if err != nil {
		return "", err
	}
	block, err := sm4.NewCipher(k)
	if err != nil {
		return "", fmt.Errorf("create SM4 cipher: %w", err)
	}
	buf := pkcs7.Pad(append([]byte(nil), plaintext...))
	gmcipher.NewECBEncrypter(block).CryptBlocks(buf, buf)
	if hexOut {
		return hex.EncodeToString(buf), nil
	}
	return base64.StdEncoding.EncodeToString(buf), nil
}

// ErrDecrypt says SM4 decryption failed; it does not say why, so it leaks
// nothing about the key.
var ErrDecrypt = errors.New("SM4 decryption failed (wrong sm4Key or sm4Encoding, or corrupted data)")

// SM4Decrypt reverses SM4Encrypt. It never panics on malformed input.
func SM4Decrypt(key Secret, hexIn bool, text string) ([]byte, error) {
	k, err := sm4Key(key)
	if err != nil {
		return nil, err
	}
	var ct []byte
	if hexIn {
		ct, err = hex.DecodeString(strings.TrimSpace(text))
	} else {
		ct, err = base64.StdEncoding.DecodeString(strings.TrimSpace(text))
	}
	if err != nil || len(ct) == 0 || len(ct)%sm4.BlockSize != 0 {
		return nil, ErrDecrypt
	}
	block, err := sm4.NewCipher(k)
	if err != nil {
		return nil, fmt.Errorf("create SM4 cipher: %w", err)
	}
	out := make([]byte, len(ct))
	gmcipher.NewECBDecrypter(block).CryptBlocks(out, ct)
	pt, err := pkcs7.Unpad(out)
	if err != nil {
		return nil, ErrDecrypt
	}
	return pt, nil
}

// InputChars is the length in characters of the envelope's input as sent
// for a serialized input of runes characters and size bytes: the input
// itself, or with Enc SM4 its ciphertext (the UTF-8 bytes PKCS#7-padded to
// whole 16-byte blocks, in base64 or hex), which MaxInputChars bounds.
func (c Config) InputChars(runes, size int) int {
	if c.Enc != EncSM4 {
		return runes
	}
	padded := (size/sm4.BlockSize + 1) * sm4.BlockSize
	if c.SM4Hex {
		return 2 * padded
	}
	return base64.StdEncoding.EncodedLen(padded)
}
