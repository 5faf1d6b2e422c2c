package smenvelope

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"runtime"
	"sync"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/sm3"
	"github.com/emmansun/gmsm/sm4"
)

// SelfTest checks the SM2, SM3 and SM4 implementation against known answers,
// as a cryptographic module does when it starts: the examples of the GM/T
// standards, and a vector that github.com/emmansun/gmsm computed wrongly on
// amd64 CPUs with ADX and BMI2 before v0.44.1 (a carry lost in its field
// arithmetic: for rare inputs a wrong point, so a valid signature that did
// not verify or a key that did not decrypt). It runs once per process (0.4
// ms on this project's machines) and returns the same answer afterwards.
// NewKeyStore calls it, so a plugin whose library is wrong on its machine
// refuses its keys with this error instead of failing a rare envelope.
func SelfTest() error { return selfTest() }

// ErrSelfTest is wrapped by SelfTest's error (and so by NewKeyStore's when
// the self-test fails).
var ErrSelfTest = errors.New("SM2/SM3/SM4 self-test failed")

// selfTest is SelfTest's single run; tests replace it.
var selfTest = sync.OnceValue(func() error { return runKnownAnswers(knownAnswers) })

// knownAnswer is one check of SelfTest.
type knownAnswer struct {
	name string
	run  func() error
}

// runKnownAnswers runs every check and reports all that failed.
func runKnownAnswers(checks []knownAnswer) error {
	var errs []error
	for _, c := range checks {
		if err := c.run(); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", c.name, err))
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("smenvelope: %w: the implementation (github.com/emmansun/gmsm) gives wrong results on this machine (%s/%s), so its envelopes would be wrong or refused; update github.com/emmansun/gmsm and rebuild the plugin: %w",
		ErrSelfTest, runtime.GOOS, runtime.GOARCH, errors.Join(errs...))
}

// The GM/T 0003.5-2012 (GB/T 32918.5) examples on the recommended curve:
// the private key, and with it the signature of "message digest" (default
// user id) and the encryption of "encryption standard" (C1 ‖ C3 ‖ C2).
const (
	katPrivate = "3945208f7b2144b13f36e38ac6d39f95889393692860b51a42fb81ef4df7c5b8"
	katPublic  = "04" +
		"09f9df311e5421a150dd7d161e4bc5c672179fad1833fc076bb08ff356f35020" +
		"ccea490ce26775a52dc6ea718cc1aa600aed05fbf35e084a6632f6072da9ad13"
	katSignR      = "f5a03b0648d2c4630eeac513e1bb81a15944da3827d5b74143ac7eaceee720b3"
	katSignS      = "b1b6aa29df212fd8763182bc0d421ca1bb9038fd1f7f42d4840b69c485bbc1aa"
	katCiphertext = "04" +
		"04ebfc718e8d1798620432268e77feb6415e2ede0e073c0f4f640ecd2e149a73" +
		"e858f9d81e5430a57b36daab8f950a3c64e6ee6a63094d99283aff767e124df0" +
		"59983c18f809e262923c53aec295d30383b54e39d609d160afcb1908d0bd8766" +
		"21886ca989ca9c7d58087307ca93092d651efa"
)

// gmsm's regression vector for its amd64 BMI2/ADX arithmetic (v0.44.1): a
// valid DER signature over a digest of 32 zero bytes.
const (
	katZeroDigestPublic = "04" +
		"ef4de57af00ae424c00c4caadff7193f804a19dd73a7e2954db9d0d15ab4cbba" +
		"67728c3f4572878b7a674735da9fde1682fe2d9e0799c4a5cde57e3d473039a2"
	katZeroDigestSignature = "3046" +
		"022100be0ea64e1ec06f0d247093f3ccbbadcfb6260224272f86ddb78326e7cd6c7560" +
		"022100e9f6ab2fcc48a2cef94838e66b5c7e21fd8e4de25990dd98ca5243f4966f2853"
)

var knownAnswers = []knownAnswer{
	{"SM3 of \"abc\" (GM/T 0004-2012, appendix A)", func() error {
		got := sm3.Sum([]byte("abc"))
		return expectHex(got[:], "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0")
	}},
	{"SM4 block (GM/T 0002-2012, appendix A, example 1)", func() error {
		key := mustHex("0123456789abcdeffedcba9876543210")
		c, err := sm4.NewCipher(key)
		if err != nil {
			return err
		}
		out := make([]byte, 16)
		c.Encrypt(out, key)
		if err := expectHex(out, "681edf34d206965e86b3e94f536e4246"); err != nil {
			return err
		}
		c.Decrypt(out, out)
		if !bytes.Equal(out, key) {
			return errors.New("decryption does not give the plaintext back")
		}
		return nil
	}},
	{"SM2 public key of the example private key (GM/T 0003.5)", func() error {
		priv, err := sm2.NewPrivateKey(mustHex(katPrivate))
		if err != nil {
			return err
		}
		pub := append([]byte{4}, priv.X.FillBytes(make([]byte, 32))...)
		return expectHex(append(pub, priv.Y.FillBytes(make([]byte, 32))...), katPublic)
	}},
	{"SM2 signature verification (GM/T 0003.5 example)", func() error {
		pub, err := sm2.NewPublicKey(mustHex(katPublic))
		if err != nil {
			return err
		}
		rs := append(mustHex(katSignR), mustHex(katSignS)...)
		if !sm2Verify(pub, []byte("message digest"), rs, DefaultUID, SigRS, true) {
			return errors.New("the example's signature does not verify")
		}
		return nil
	}},
	{"SM2 decryption (GM/T 0003.5 example)", func() error {
		priv, err := sm2.NewPrivateKey(mustHex(katPrivate))
		if err != nil {
			return err
		}
		pt, err := sm2Decrypt(priv, mustHex(katCiphertext), C1C3C2, true, true)
		if err != nil {
			return err
		}
		if string(pt) != "encryption standard" {
			return fmt.Errorf("decrypted %q, want %q", pt, "encryption standard")
		}
		return nil
	}},
	{"SM2 verification over a zero digest (gmsm's vector for its amd64 BMI2/ADX arithmetic)", func() error {
		pub, err := sm2.NewPublicKey(mustHex(katZeroDigestPublic))
		if err != nil {
			return err
		}
		if !sm2.VerifyASN1(pub, make([]byte, 32), mustHex(katZeroDigestSignature)) {
			return errors.New("a valid signature does not verify")
		}
		return nil
	}},
	{"SM2 deterministic signing (gmsm's own self-test)", sm2.SelfTest},
}

// expectHex compares got with the hex text want.
func expectHex(got []byte, want string) error {
	if hex.EncodeToString(got) != want {
		return fmt.Errorf("got %x, want %s", got, want)
	}
	return nil
}

// mustHex decodes a constant of this file.
func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic("smenvelope: bad known-answer constant: " + err.Error())
	}
	return b
}
