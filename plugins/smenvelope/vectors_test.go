package smenvelope

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"math/big"
	"runtime"
	"strings"
	"testing"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/sm3"
	"github.com/emmansun/gmsm/sm4"
	tsm2 "github.com/tjfoc/gmsm/sm2"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// GM/T 0004-2012 appendix A.
func TestSM3Vectors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"abc", "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"},
		{strings.Repeat("abcd", 16), "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"},
	} {
		got := sm3.Sum([]byte(tc.in))
		if hex.EncodeToString(got[:]) != tc.want {
			t.Errorf("SM3(%q) = %x, want %s", tc.in, got, tc.want)
		}
	}
}

// GM/T 0002-2012 appendix A, example 1.
func TestSM4Vector(t *testing.T) {
	key := unhex(t, "0123456789abcdeffedcba9876543210")
	c, err := sm4.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]byte, 16)
	c.Encrypt(out, key)
	if want := "681edf34d206965e86b3e94f536e4246"; hex.EncodeToString(out) != want {
		t.Fatalf("SM4 = %x, want %s", out, want)
	}
	c.Decrypt(out, out)
	if !bytes.Equal(out, key) {
		t.Fatalf("SM4 decrypt = %x, want %x", out, key)
	}
	// Through our ECB helper: the first block equals the raw block result.
	ct, err := sm4Encrypt(ECB, key, nil, key)
	if err != nil {
		t.Fatal(err)
	}
	if hex.EncodeToString(ct[:16]) != "681edf34d206965e86b3e94f536e4246" || len(ct) != 32 {
		t.Fatalf("sm4Encrypt ECB = %x", ct)
	}
}

// GM/T 0002-2012 appendix A, example 2: 1,000,000 encryptions. Skipped with -short.
func TestSM4MillionVector(t *testing.T) {
	if testing.Short() {
		t.Skip("1,000,000-iteration SM4 vector skipped in -short mode")
	}
	key := unhex(t, "0123456789abcdeffedcba9876543210")
	c, _ := sm4.NewCipher(key)
	b := append([]byte(nil), key...)
	for range 1000000 {
		c.Encrypt(b, b)
	}
	if want := "595298c7c6fd271f0402f804c33d3f66"; hex.EncodeToString(b) != want {
		t.Fatalf("SM4^1e6 = %x, want %s", b, want)
	}
}

// TestSM2ArithmeticOnThisCPU checks the SM2 library against the vector that
// its amd64 BMI2/ADX field arithmetic got wrong before gmsm v0.44.1, which
// SelfTest also runs. It fails with v0.44.0 on this project's AMD EPYC
// machines (they have ADX and BMI2); on a CPU without them the library takes
// its other path and it passes with either version. tjfoc/gmsm, an
// independent implementation in plain Go, confirms that the vector is valid.
func TestSM2ArithmeticOnThisCPU(t *testing.T) {
	der := unhex(t, katZeroDigestSignature)
	digest := make([]byte, 32)
	pub, err := sm2.NewPublicKey(unhex(t, katZeroDigestPublic))
	if err != nil {
		t.Fatal(err)
	}
	rs, err := derToRS(der)
	if err != nil {
		t.Fatal(err)
	}
	r, s := new(big.Int).SetBytes(rs[:32]), new(big.Int).SetBytes(rs[32:])
	tpub := &tsm2.PublicKey{Curve: tsm2.P256Sm2(), X: pub.X, Y: pub.Y}
	if !tsm2.Verify(tpub, digest, r, s) {
		t.Fatal("tjfoc/gmsm does not verify the vector: the vector is wrong, not the library under test")
	}
	if !sm2.VerifyASN1(pub, digest, der) {
		t.Fatal("emmansun/gmsm does not verify a valid signature: its SM2 arithmetic is wrong on this CPU (gmsm before v0.44.1 on amd64 with ADX and BMI2); upgrade github.com/emmansun/gmsm")
	}
}

// TestSelfTest runs SelfTest's known answers: among them the GM/T 0003.5
// examples on the recommended curve (the example key's public point, the
// signature of "message digest", the decryption of "encryption standard").
func TestSelfTest(t *testing.T) {
	if err := SelfTest(); err != nil {
		t.Fatal(err)
	}
}

func TestSelfTestReportsEveryFailure(t *testing.T) {
	err := runKnownAnswers([]knownAnswer{
		{"first", func() error { return errors.New("wrong point") }},
		{"passing", func() error { return nil }},
		{"third", func() error { return errors.New("wrong digest") }},
	})
	if !errors.Is(err, ErrSelfTest) {
		t.Fatalf("error %v does not wrap ErrSelfTest", err)
	}
	for _, want := range []string{"first: wrong point", "third: wrong digest", "update github.com/emmansun/gmsm", runtime.GOARCH} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "passing") {
		t.Errorf("error %q names a check that passed", err)
	}
}

func TestSM2SignVerifyRoundTrip(t *testing.T) {
	priv, err := sm2.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := sm2.GenerateKey(rand.Reader)
	msg := []byte(`{"hello":"世界"}`)
	for _, f := range []SigFormat{SigDER, SigRS} {
		for _, uid := range []string{DefaultUID, "ALICE123@YAHOO.COM"} {
			sig, err := sm2Sign(priv, msg, uid, f)
			if err != nil {
				t.Fatal(err)
			}
			if f == SigRS && len(sig) != 64 {
				t.Fatalf("RS signature is %d bytes", len(sig))
			}
			if !sm2Verify(&priv.PublicKey, msg, sig, uid, f, true) {
				t.Errorf("%s/%s: own signature does not verify", f, uid)
			}
			if sm2Verify(&priv.PublicKey, append(msg, ' '), sig, uid, f, false) {
				t.Errorf("%s/%s: signature verifies over another message", f, uid)
			}
			if sm2Verify(&priv.PublicKey, msg, sig, uid+"x", f, false) {
				t.Errorf("%s/%s: signature verifies with another uid", f, uid)
			}
			if sm2Verify(&other.PublicKey, msg, sig, uid, f, false) {
				t.Errorf("%s/%s: signature verifies with another key", f, uid)
			}
		}
	}
	// Library default-UID helper agrees with our explicit UID.
	der, _ := sm2Sign(priv, msg, DefaultUID, SigDER)
	if !sm2.VerifyASN1WithSM2(&priv.PublicKey, nil, msg, der) {
		t.Error("signature with explicit 1234567812345678 does not verify with the library default uid")
	}
	// Format conversion round trip.
	rs, err := derToRS(der)
	if err != nil {
		t.Fatal(err)
	}
	back, err := rsToDER(rs)
	if err != nil || !bytes.Equal(back, der) {
		t.Fatalf("DER→RS→DER changed the signature")
	}
}
