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

// GM/T 0003.5-2012 (GB/T 32918.5) examples on the recommended curve.
func TestSM2KnownAnswers(t *testing.T) {
	priv := mustKey(t, peerDHex)
	if got := hex.EncodeToString(priv.X.FillBytes(make([]byte, 32))); got != "09f9df311e5421a150dd7d161e4bc5c672179fad1833fc076bb08ff356f35020" {
		t.Errorf("public X = %s", got)
	}
	if got := hex.EncodeToString(priv.Y.FillBytes(make([]byte, 32))); got != "ccea490ce26775a52dc6ea718cc1aa600aed05fbf35e084a6632f6072da9ad13" {
		t.Errorf("public Y = %s", got)
	}
	r := new(big.Int).SetBytes(unhex(t, "f5a03b0648d2c4630eeac513e1bb81a15944da3827d5b74143ac7eaceee720b3"))
	s := new(big.Int).SetBytes(unhex(t, "b1b6aa29df212fd8763182bc0d421ca1bb9038fd1f7f42d4840b69c485bbc1aa"))
	rs := append(r.FillBytes(make([]byte, 32)), s.FillBytes(make([]byte, 32))...)
	if !sm2Verify(&priv.PublicKey, []byte("message digest"), rs, DefaultUID, SigRS, true) {
		t.Errorf("GM/T 0003.5 signature example does not verify")
	}
	// Encryption example: C1 ‖ C3 ‖ C2 of "encryption standard".
	ct := unhex(t, "04"+
		"04ebfc718e8d1798620432268e77feb6415e2ede0e073c0f4f640ecd2e149a73"+
		"e858f9d81e5430a57b36daab8f950a3c64e6ee6a63094d99283aff767e124df0"+
		"59983c18f809e262923c53aec295d30383b54e39d609d160afcb1908d0bd8766"+
		"21886ca989ca9c7d58087307ca93092d651efa")
	pt, err := sm2Decrypt(priv, ct, C1C3C2, true, true)
	if err != nil || string(pt) != "encryption standard" {
		t.Errorf("GM/T 0003.5 encryption example: %q, %v", pt, err)
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

func TestSelfTest(t *testing.T) {
	if err := SelfTest(); err != nil {
		t.Fatal(err)
	}
	// Every check passes on its own, so none is skipped by an earlier one.
	for _, c := range knownAnswers {
		if err := c.run(); err != nil {
			t.Errorf("%s: %v", c.name, err)
		}
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
