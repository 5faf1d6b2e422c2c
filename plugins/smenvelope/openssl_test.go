package smenvelope

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/sm3"

	"github.com/medgate/medgate/test/testenv"
)

// Cross-checks against the OpenSSL 3 command line (specs/libraries.md §1).
// Every SM2 signature command passes -sigopt distid:1234567812345678, because
// OpenSSL 3.0 otherwise signs with an EMPTY user id. Each check is skipped,
// with the reason printed, only when openssl is missing or lacks SM2/SM3/SM4.

type osl struct {
	t   *testing.T
	bin string
	dir string
}

var (
	oslCapsOnce sync.Once
	oslBin      string
	oslCaps     = map[string]string{} // algorithm -> reason it is unavailable ("" = available)
)

func probeOpenSSL() {
	bin, err := exec.LookPath("openssl")
	if err != nil {
		for _, a := range []string{"SM2", "SM3", "SM4"} {
			oslCaps[a] = "openssl binary not found in PATH"
		}
		return
	}
	oslBin = bin
	dir, _ := os.MkdirTemp("", "smenv-probe")
	defer os.RemoveAll(dir)
	probe := func(name string, stdin string, args ...string) {
		cmd := exec.Command(bin, args...)
		cmd.Dir = dir
		cmd.Stdin = strings.NewReader(stdin)
		if out, err := cmd.CombinedOutput(); err != nil {
			oslCaps[name] = "openssl " + strings.Join(args, " ") + " failed: " + strings.TrimSpace(string(out))
		}
	}
	probe("SM3", "abc", "dgst", "-sm3")
	probe("SM4", "abc", "enc", "-sm4-ecb", "-K", "0123456789abcdeffedcba9876543210")
	probe("SM2", "", "genpkey", "-algorithm", "SM2", "-out", "k.pem")
}

// needOpenSSL returns a helper, or skips the (sub)test with the reason.
func needOpenSSL(t *testing.T, algs ...string) *osl {
	t.Helper()
	oslCapsOnce.Do(probeOpenSSL)
	for _, a := range algs {
		if reason := oslCaps[a]; reason != "" {
			if os.Getenv(testenv.RequireServicesEnv) == "1" {
				// make test checks the envelopes with OpenSSL: a missing
				// or SM-less openssl must fail it, not pass it silently.
				t.Fatalf("OpenSSL cross-check impossible: no %s support: %s (%s=1; run deploy/testenv/checkers.sh or apt-get install openssl)", a, reason, testenv.RequireServicesEnv)
			}
			t.Skipf("skipping OpenSSL cross-check: no %s support: %s", a, reason)
		}
	}
	return &osl{t: t, bin: oslBin, dir: t.TempDir()}
}

func (o *osl) path(name string) string { return filepath.Join(o.dir, name) }

func (o *osl) write(name string, data []byte) string {
	o.t.Helper()
	p := o.path(name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		o.t.Fatal(err)
	}
	return p
}

func (o *osl) read(name string) []byte {
	o.t.Helper()
	b, err := os.ReadFile(o.path(name))
	if err != nil {
		o.t.Fatal(err)
	}
	return b
}

// run runs openssl and fails the test on error.
func (o *osl) run(args ...string) []byte {
	o.t.Helper()
	out, err := o.try(args...)
	if err != nil {
		o.t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func (o *osl) try(args ...string) ([]byte, error) {
	cmd := exec.Command(o.bin, args...)
	cmd.Dir = o.dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil {
		return append(stdout.Bytes(), stderr.Bytes()...), err
	}
	return stdout.Bytes(), nil
}

// genKey makes an SM2 key with openssl and returns its PEM paths.
func (o *osl) genKey(name string) (priv, pubPath string) {
	o.t.Helper()
	priv, pubPath = o.path(name+".pem"), o.path(name+"_pub.pem")
	o.run("genpkey", "-algorithm", "SM2", "-out", priv)
	o.run("pkey", "-in", priv, "-pubout", "-out", pubPath)
	return priv, pubPath
}

// writeOurKey writes one of our keys as PEM files for openssl.
func (o *osl) writeOurKey(name string, k *sm2.PrivateKey) (priv, pubPath string) {
	o.t.Helper()
	pp, err := MarshalPrivateKeyPEM(k)
	if err != nil {
		o.t.Fatal(err)
	}
	pb, _ := MarshalPublicKeyPEM(&k.PublicKey)
	return o.write(name+".pem", pp), o.write(name+"_pub.pem", pb)
}

func TestOpenSSLSM3(t *testing.T) {
	o := needOpenSSL(t, "SM3")
	big := make([]byte, 100_003)
	rand.Read(big)
	for _, msg := range [][]byte{[]byte("abc"), []byte(strings.Repeat("abcd", 16)), nil, big} {
		in := o.write("m", msg)
		got := o.run("dgst", "-sm3", "-binary", in)
		want := sm3.Sum(msg)
		if !bytes.Equal(got, want[:]) {
			t.Fatalf("SM3 of %d bytes: openssl %x, ours %x", len(msg), got, want)
		}
	}
}

func TestOpenSSLSM4(t *testing.T) {
	o := needOpenSSL(t, "SM4")
	key := make([]byte, 16)
	rand.Read(key)
	iv := make([]byte, 16)
	rand.Read(iv)
	kh, ivh := hex.EncodeToString(key), hex.EncodeToString(iv)
	for _, n := range []int{0, 1, 15, 16, 17, 31, 32, 33, 1000, 65536} {
		pt := make([]byte, n)
		rand.Read(pt)
		in := o.write("pt", pt)

		// ECB: same ciphertext both ways (PKCS#7 padding is OpenSSL's default).
		want := o.run("enc", "-sm4-ecb", "-K", kh, "-in", in)
		got, err := sm4Encrypt(ECB, key, nil, pt)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("SM4-ECB %d bytes: ours differs from openssl (%v)", n, err)
		}
		back := o.run("enc", "-d", "-sm4-ecb", "-K", kh, "-in", o.write("ct", got))
		if !bytes.Equal(back, pt) {
			t.Fatalf("SM4-ECB %d bytes: openssl cannot decrypt ours", n)
		}

		// CBC with a fixed IV.
		want = o.run("enc", "-sm4-cbc", "-K", kh, "-iv", ivh, "-in", in)
		got, err = sm4Encrypt(CBC, key, iv, pt)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("SM4-CBC %d bytes: ours differs from openssl (%v)", n, err)
		}
		if dec, err := sm4Decrypt(CBC, key, iv, want); err != nil || !bytes.Equal(dec, pt) {
			t.Fatalf("SM4-CBC %d bytes: we cannot decrypt openssl's", n)
		}
		// CBC with a random IV in front: openssl decrypts with -iv taken from the prefix.
		got, _ = sm4Encrypt(CBC, key, nil, pt)
		back = o.run("enc", "-d", "-sm4-cbc", "-K", kh, "-iv", hex.EncodeToString(got[:16]), "-in", o.write("ct", got[16:]))
		if !bytes.Equal(back, pt) {
			t.Fatalf("SM4-CBC random IV %d bytes: openssl cannot decrypt ours", n)
		}
	}
}

func TestOpenSSLKeys(t *testing.T) {
	o := needOpenSSL(t, "SM2")
	privPath, pubPath := o.genKey("k")
	priv, err := ParsePrivateKey(o.read("k.pem"))
	if err != nil {
		t.Fatalf("openssl PKCS#8 key: %v", err)
	}
	p, err := ParsePublicKey(o.read("k_pub.pem"))
	if err != nil || !p.Equal(&priv.PublicKey) {
		t.Fatalf("openssl public key: %v", err)
	}
	// Encrypted PKCS#8 (PBES2, AES-256-CBC) made by openssl.
	o.run("pkcs8", "-topk8", "-in", privPath, "-passout", "pass:pw", "-v2", "aes-256-cbc", "-out", o.path("enc.pem"))
	if k, err := ParsePrivateKeyWithPassword(o.read("enc.pem"), []byte("pw")); err != nil || !k.Equal(priv) {
		t.Errorf("openssl encrypted PKCS#8: %v", err)
	}
	// SEC1 form written by `openssl ec` ("SM2 PRIVATE KEY" in OpenSSL 3.0).
	if _, err := o.try("ec", "-in", privPath, "-out", o.path("sec1.pem")); err == nil {
		if k, err := ParsePrivateKey(o.read("sec1.pem")); err != nil || !k.Equal(priv) {
			t.Errorf("openssl SEC1 key: %v", err)
		}
	} else {
		t.Log("openssl ec cannot write SM2 SEC1 keys; SEC1 checked against the library only")
	}
	// The raw D and 04‖X‖Y printed by `openssl pkey -text` parse too.
	text := string(o.run("pkey", "-in", privPath, "-text", "-noout"))
	dHex, pubHex := hexBlock(text, "priv:"), hexBlock(text, "pub:")
	if k, err := ParsePrivateKey([]byte(dHex)); err != nil || !k.Equal(priv) {
		t.Errorf("hex D from openssl -text: %v", err)
	}
	if k, err := ParsePublicKey([]byte(pubHex)); err != nil || !k.Equal(&priv.PublicKey) {
		t.Errorf("hex 04XY from openssl -text: %v", err)
	}
	// Our canonical PEM is read by openssl and yields the same public key.
	ours := mustKey(t, ourDHex)
	ourPriv, ourPub := o.writeOurKey("ours", ours)
	derived := o.run("pkey", "-in", ourPriv, "-pubout")
	if want, _ := os.ReadFile(ourPub); !bytes.Equal(derived, want) {
		t.Errorf("openssl derives a different public key from our PKCS#8:\n%s\n%s", derived, want)
	}
	o.run("pkey", "-pubin", "-in", ourPub, "-noout")
	_ = pubPath
}

// hexBlock extracts the colon-separated hex block after label in `openssl pkey -text` output.
func hexBlock(text, label string) string {
	i := strings.Index(text, label)
	if i < 0 {
		return ""
	}
	var b strings.Builder
	for _, line := range strings.Split(text[i+len(label):], "\n")[1:] {
		if !strings.HasPrefix(line, "    ") {
			break
		}
		b.WriteString(strings.ReplaceAll(strings.TrimSpace(line), ":", ""))
	}
	return b.String()
}

func TestOpenSSLSignatures(t *testing.T) {
	o := needOpenSSL(t, "SM2")
	privPath, pubPath := o.genKey("k")
	priv, _ := ParsePrivateKey(o.read("k.pem"))
	msg := businessJSON(1000)
	msgPath := o.write("msg", msg)

	t.Run("openssl signs, we verify", func(t *testing.T) {
		o.run("dgst", "-sm3", "-sign", privPath, "-sigopt", "distid:1234567812345678", "-out", o.path("sig1"), msgPath)
		o.run("pkeyutl", "-sign", "-inkey", privPath, "-rawin", "-digest", "sm3", "-pkeyopt", "distid:1234567812345678", "-in", msgPath, "-out", o.path("sig2"))
		for _, s := range []string{"sig1", "sig2"} {
			sig := o.read(s)
			if !sm2Verify(&priv.PublicKey, msg, sig, DefaultUID, SigDER, true) {
				t.Errorf("%s: openssl signature does not verify with uid 1234567812345678", s)
			}
			rs, _ := derToRS(sig)
			if !sm2Verify(&priv.PublicKey, msg, rs, DefaultUID, SigRS, true) {
				t.Errorf("%s: r‖s form does not verify", s)
			}
			if sm2Verify(&priv.PublicKey, append(msg, 'x'), sig, DefaultUID, SigDER, false) {
				t.Errorf("%s: verifies over another message", s)
			}
		}
		// Caveat (a): without distid OpenSSL 3.0 uses an empty id, which does not match ours.
		o.run("dgst", "-sm3", "-sign", privPath, "-out", o.path("sig0"), msgPath)
		if sm2Verify(&priv.PublicKey, msg, o.read("sig0"), DefaultUID, SigDER, false) {
			t.Log("note: this openssl signs with uid 1234567812345678 even without distid")
		}
	})

	t.Run("we sign, openssl verifies", func(t *testing.T) {
		for i := range 5 {
			sig, err := sm2Sign(priv, msg, DefaultUID, SigDER)
			if err != nil {
				t.Fatal(err)
			}
			sigPath := o.write("oursig", sig)
			out, err := o.try("dgst", "-sm3", "-verify", pubPath, "-sigopt", "distid:1234567812345678", "-signature", sigPath, msgPath)
			if err != nil || !strings.Contains(string(out), "Verified OK") {
				t.Fatalf("run %d: openssl rejects our signature: %v %s", i, err, out)
			}
			out, err = o.try("dgst", "-sm3", "-verify", pubPath, "-sigopt", "distid:1234567812345678", "-signature", sigPath, o.write("other", append(msg, 'x')))
			if err == nil {
				t.Fatalf("openssl verified our signature over another message: %s", out)
			}
		}
	})
}

func TestOpenSSLEncryption(t *testing.T) {
	o := needOpenSSL(t, "SM2")
	privPath, pubPath := o.genKey("k")
	priv, _ := ParsePrivateKey(o.read("k.pem"))
	key := []byte("0123456789abcdef")
	keyPath := o.write("key", key)

	t.Run("openssl encrypts ASN.1, we decrypt", func(t *testing.T) {
		o.run("pkeyutl", "-encrypt", "-pubin", "-inkey", pubPath, "-in", keyPath, "-out", o.path("ct.der"))
		ct := o.read("ct.der")
		if got, err := sm2Decrypt(priv, ct, ASN1, true, true); err != nil || !bytes.Equal(got, key) {
			t.Fatalf("ASN.1 from openssl: %v", err)
		}
		// Converted to raw C1C3C2 (caveat c) it decrypts in that order too.
		raw, err := sm2.ASN1Ciphertext2Plain(ct, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := sm2Decrypt(priv, raw, C1C3C2, true, true); err != nil || !bytes.Equal(got, key) {
			t.Fatalf("raw C1C3C2 converted from openssl: %v", err)
		}
	})

	t.Run("we encrypt ASN.1, openssl decrypts", func(t *testing.T) {
		ct, err := sm2Encrypt(&priv.PublicKey, key, ASN1, true)
		if err != nil {
			t.Fatal(err)
		}
		got := o.run("pkeyutl", "-decrypt", "-inkey", privPath, "-in", o.write("ours.der", ct))
		if !bytes.Equal(got, key) {
			t.Fatalf("openssl decrypted %x", got)
		}
		// Raw forms converted to ASN.1 decrypt in openssl as well.
		for _, order := range []CipherOrder{C1C3C2, C1C2C3} {
			raw, _ := sm2Encrypt(&priv.PublicKey, key, order, true)
			from := sm2.C1C3C2
			if order == C1C2C3 {
				from = sm2.C1C2C3
			}
			asn, err := sm2.PlainCiphertext2ASN1(raw, from)
			if err != nil {
				t.Fatal(err)
			}
			if got := o.run("pkeyutl", "-decrypt", "-inkey", privPath, "-in", o.write("raw.der", asn)); !bytes.Equal(got, key) {
				t.Fatalf("%s: openssl decrypted %x", order, got)
			}
		}
	})
}

// End to end: openssl alone opens an envelope we seal (decrypts the key and the
// data, verifies the signature), and we open an envelope built by openssl alone.
func TestOpenSSLEnvelope(t *testing.T) {
	o := needOpenSSL(t, "SM2", "SM3", "SM4")
	peerPriv, _ := o.genKey("peer") // the national system, keys made by openssl
	ours := mustKey(t, ourDHex)
	_, ourPub := o.writeOurKey("ours", ours)
	peerKey, _ := ParsePrivateKey(o.read("peer.pem"))
	ourSide := Keys{Private: ours, PeerPublic: &peerKey.PublicKey}
	peerSide := Keys{Private: peerKey, PeerPublic: &ours.PublicKey}
	business := businessJSON(2000)

	for _, sv := range sm4Variants {
		opts := Defaults()
		opts.CipherOrder, opts.SM4Mode, opts.SM4IV = ASN1, sv.mode, sv.iv
		name := comboName(opts)

		t.Run("openssl opens ours "+name, func(t *testing.T) {
			m, err := Seal(opts, ourSide, testEnv(), business)
			if err != nil {
				t.Fatal(err)
			}
			ek, _ := decodeText(opts.Encoding, m["key"].(string))
			ct, _ := decodeText(opts.Encoding, m["data"].(string))
			sig, _ := decodeText(opts.Encoding, m["sign"].(string))
			key := o.run("pkeyutl", "-decrypt", "-inkey", peerPriv, "-in", o.write("ek", ek))
			args := []string{"enc", "-d", "-K", hex.EncodeToString(key)}
			switch {
			case sv.mode == ECB:
				args = append(args, "-sm4-ecb", "-in", o.write("ct", ct))
			case sv.iv == "":
				args = append(args, "-sm4-cbc", "-iv", hex.EncodeToString(ct[:16]), "-in", o.write("ct", ct[16:]))
			default:
				args = append(args, "-sm4-cbc", "-iv", sv.iv, "-in", o.write("ct", ct))
			}
			pt := o.run(args...)
			if !bytes.Equal(pt, business) {
				t.Fatal("openssl decrypted different business data")
			}
			out := o.run("dgst", "-sm3", "-verify", ourPub, "-sigopt", "distid:1234567812345678", "-signature", o.write("sig", sig), o.write("pt", pt))
			if !strings.Contains(string(out), "Verified OK") {
				t.Fatalf("openssl: %s", out)
			}
		})

		t.Run("we open openssl's "+name, func(t *testing.T) {
			key := make([]byte, 16)
			rand.Read(key)
			ptPath := o.write("biz", business)
			o.run("pkeyutl", "-encrypt", "-pubin", "-inkey", ourPub, "-in", o.write("sk", key), "-out", o.path("ek2"))
			args := []string{"enc", "-K", hex.EncodeToString(key), "-in", ptPath}
			var prefix []byte
			switch {
			case sv.mode == ECB:
				args = append(args, "-sm4-ecb")
			case sv.iv == "":
				prefix = make([]byte, 16)
				rand.Read(prefix)
				args = append(args, "-sm4-cbc", "-iv", hex.EncodeToString(prefix))
			default:
				args = append(args, "-sm4-cbc", "-iv", sv.iv)
			}
			ct := append(prefix, o.run(args...)...)
			o.run("dgst", "-sm3", "-sign", peerPriv, "-sigopt", "distid:1234567812345678", "-out", o.path("sig2"), ptPath)
			body, _ := json.Marshal(map[string]string{
				"infno": "GYU000", "code": "0",
				"key":  encodeBytes(opts.Encoding, o.read("ek2")),
				"data": encodeBytes(opts.Encoding, ct),
				"sign": encodeBytes(opts.Encoding, o.read("sig2")),
			})
			strict := opts
			strict.StrictOpen = true
			got, env, err := Open(strict, ourSide, body)
			if err != nil || !bytes.Equal(got, business) || env["infno"] != "GYU000" {
				t.Fatalf("Open: %v", err)
			}
			// And the simulator side (peer keys) seals back, which openssl-made keys support.
			if _, err := Seal(opts, peerSide, nil, business); err != nil {
				t.Fatal(err)
			}
		})
	}
}
