package smenvelope

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/emmansun/gmsm/pkcs8"
	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/smx509"
)

func TestParsePrivateKeyForms(t *testing.T) {
	k := mustKey(t, ourDHex)
	d := k.D.FillBytes(make([]byte, 32))
	pk8, _ := smx509.MarshalPKCS8PrivateKey(k)
	sec1, _ := smx509.MarshalSM2PrivateKey(k)
	enc, err := pkcs8.MarshalPrivateKey(k, []byte("pw"), nil)
	if err != nil {
		t.Fatal(err)
	}
	oid, _ := asn1.Marshal(asn1.ObjectIdentifier{1, 2, 156, 10197, 1, 301})
	pemOf := func(typ string, b []byte) []byte { return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}) }

	forms := map[string][]byte{
		"pkcs8 pem":          pemOf("PRIVATE KEY", pk8),
		"sec1 pem":           pemOf("EC PRIVATE KEY", sec1),
		"params + sec1 pem":  append(pemOf("EC PARAMETERS", oid), pemOf("EC PRIVATE KEY", sec1)...),
		"pkcs8 pem + spaces": append(append([]byte("\n\n  "), pemOf("PRIVATE KEY", pk8)...), "\n"...),
		"pkcs8 der":          pk8,
		"sec1 der":           sec1,
		"hex":                []byte(hex.EncodeToString(d)),
		"HEX 0x newline":     []byte("0x" + strings.ToUpper(hex.EncodeToString(d)) + "\n"),
		"hex 33 bytes":       []byte("00" + hex.EncodeToString(d)),
		"base64":             []byte(base64.StdEncoding.EncodeToString(d)),
		"base64 pkcs8 der":   []byte(base64.StdEncoding.EncodeToString(pk8)),
		"raw":                d,
	}
	for name, in := range forms {
		got, err := ParsePrivateKey(in)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if !got.Equal(k) {
			t.Errorf("%s: different key", name)
		}
	}
	// Encrypted PKCS#8.
	encPEM := pemOf("ENCRYPTED PRIVATE KEY", enc)
	if _, err := ParsePrivateKey(encPEM); !errors.Is(err, ErrEncryptedKey) {
		t.Errorf("encrypted without password: %v", err)
	}
	if got, err := ParsePrivateKeyWithPassword(encPEM, []byte("pw")); err != nil || !got.Equal(k) {
		t.Errorf("encrypted with password: %v", err)
	}
	if _, err := ParsePrivateKeyWithPassword(encPEM, []byte("wrong")); err == nil {
		t.Error("wrong password accepted")
	}
}

func TestParsePrivateKeyErrors(t *testing.T) {
	k := mustKey(t, ourDHex)
	dHex := hex.EncodeToString(k.D.FillBytes(make([]byte, 32)))
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p256der, _ := x509.MarshalPKCS8PrivateKey(p256)
	pubPEM, _ := MarshalPublicKeyPEM(pub(k))
	n := sm2.P256().Params().N

	cases := map[string]struct {
		in   []byte
		want string
	}{
		"empty":       {nil, "expected one of"},
		"garbage":     {[]byte("not a key at all!"), "expected one of"},
		"short hex":   {[]byte(dHex[:62]), "want 32"},
		"long hex":    {[]byte(dHex + "ab"), "want 32"},
		"zero":        {make([]byte, 32), "out of range"},
		"order n":     {n.FillBytes(make([]byte, 32)), "out of range"},
		"P-256":       {pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: p256der}), "not SM2"},
		"public PEM":  {pubPEM, "public key"},
		"other PEM":   {pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: []byte{1}}), "RSA PRIVATE KEY"},
		"broken PEM":  {[]byte("-----BEGIN PRIVATE KEY-----\n%%%\n-----END PRIVATE KEY-----\n"), "no PEM block"},
		"bad pkcs8":   {pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{0x30, 0x03, 0x02, 0x01, 0x01}}), "malformed"},
		"legacy encr": {pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Headers: map[string]string{"Proc-Type": "4,ENCRYPTED", "DEK-Info": "AES-128-CBC,00"}, Bytes: []byte{1}}), "openssl pkcs8 -topk8"},
	}
	for name, tc := range cases {
		_, err := ParsePrivateKey(tc.in)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want it to contain %q", name, err, tc.want)
			continue
		}
		// Errors never echo key material.
		if strings.Contains(strings.ToLower(err.Error()), dHex[:16]) || strings.Contains(err.Error(), dHex[8:24]) {
			t.Errorf("%s: error reveals key material: %v", name, err)
		}
	}
	// A hex string with an invalid character does not echo the character position/value.
	bad := []byte(dHex[:63] + "g")
	if _, err := ParsePrivateKey(bad); err == nil || strings.Contains(err.Error(), "'g'") || strings.Contains(err.Error(), dHex[:10]) {
		t.Errorf("bad hex: %v", err)
	}
}

func TestParsePublicKeyForms(t *testing.T) {
	k := mustKey(t, peerDHex)
	p := pub(k)
	pt := append([]byte{4}, append(p.X.FillBytes(make([]byte, 32)), p.Y.FillBytes(make([]byte, 32))...)...)
	der, _ := smx509.MarshalPKIXPublicKey(p)
	pemKey, _ := MarshalPublicKeyPEM(p)
	tmpl := &smx509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "peer"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	certDER, err := smx509.CreateCertificate(rand.Reader, tmpl, tmpl, p, k)
	if err != nil {
		t.Fatal(err)
	}
	forms := map[string][]byte{
		"pem":            pemKey,
		"der":            der,
		"cert pem":       pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: certDER}),
		"cert der":       certDER,
		"hex 04XY":       []byte(hex.EncodeToString(pt)),
		"HEX XY":         []byte(strings.ToUpper(hex.EncodeToString(pt[1:]))),
		"0x hex newline": []byte("0x" + hex.EncodeToString(pt) + "\r\n"),
		"raw 65":         pt,
		"raw 64":         pt[1:],
		"base64 65":      []byte(base64.StdEncoding.EncodeToString(pt)),
		"base64 64":      []byte(base64.StdEncoding.EncodeToString(pt[1:])),
		"base64 der":     []byte(base64.StdEncoding.EncodeToString(der)),
	}
	for name, in := range forms {
		got, err := ParsePublicKey(in)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if !got.Equal(p) {
			t.Errorf("%s: different key", name)
		}
	}
	offCurve := append([]byte(nil), pt...)
	offCurve[64] ^= 1
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p256der, _ := x509.MarshalPKIXPublicKey(&p256.PublicKey)
	privPEM, _ := MarshalPrivateKeyPEM(k)
	for name, tc := range map[string]struct {
		in   []byte
		want string
	}{
		"empty":       {nil, "expected one of"},
		"off curve":   {offCurve, "not on the SM2 curve"},
		"off hex":     {[]byte(hex.EncodeToString(offCurve)), "not on the SM2 curve"},
		"wrong len":   {[]byte(hex.EncodeToString(pt[:40])), "want 65"},
		"P-256":       {pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: p256der}), "not SM2"},
		"private PEM": {privPEM, "private key"},
		"garbage":     {[]byte("hello world"), "expected one of"},
	} {
		if _, err := ParsePublicKey(tc.in); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want it to contain %q", name, err, tc.want)
		}
	}
}

func TestMarshalPEMRoundTrip(t *testing.T) {
	k, _ := sm2.GenerateKey(rand.Reader)
	pp, err := MarshalPrivateKeyPEM(k)
	if err != nil || !bytes.HasPrefix(pp, []byte("-----BEGIN PRIVATE KEY-----")) {
		t.Fatal(err)
	}
	if back, err := ParsePrivateKey(pp); err != nil || !back.Equal(k) {
		t.Fatal(err)
	}
	pb, err := MarshalPublicKeyPEM(&k.PublicKey)
	if err != nil || !bytes.HasPrefix(pb, []byte("-----BEGIN PUBLIC KEY-----")) {
		t.Fatal(err)
	}
	if back, err := ParsePublicKey(pb); err != nil || !back.Equal(&k.PublicKey) {
		t.Fatal(err)
	}
	if _, err := MarshalPrivateKeyPEM(nil); err == nil {
		t.Error("nil private key marshalled")
	}
	if _, err := MarshalPublicKeyPEM(nil); err == nil {
		t.Error("nil public key marshalled")
	}
}

// Secrets never appear in String, GoString, %+v or slog output.
func TestRedaction(t *testing.T) {
	ours, _ := testKeys(t)
	d := ours.Private.D
	secrets := []string{ourDHex, strings.ToUpper(ourDHex), d.String(), d.Text(16), fmt.Sprint(d.Bytes())}
	var logs bytes.Buffer
	l := slog.New(slog.NewJSONHandler(&logs, nil))
	l.Info("keys", "keys", ours, "secret", Secret("hunter2"))
	l.Info("keys", slog.Any("ptr", &ours))
	ks := &KeyStore{cfg: KeyStoreConfig{Dir: "/x", Password: Secret("hunter2")}}
	ks.cur.Store(&ours)
	l.Info("store", "ks", ks)
	outputs := []string{
		ours.String(), ours.GoString(),
		fmt.Sprintf("%v|%+v|%#v|%s", ours, ours, ours, ours),
		fmt.Sprintf("%v|%+v|%#v", &ours, struct{ K Keys }{ours}, []Keys{ours}),
		fmt.Sprintf("%v|%+v|%#v|%s", Secret("hunter2"), Secret("hunter2"), Secret("hunter2"), KeyStoreConfig{Password: Secret("hunter2")}),
		fmt.Sprintf("%v|%+v|%#v", ks, ks, ks),
		logs.String(),
	}
	for _, out := range outputs {
		for _, s := range append(secrets, "hunter2") {
			if strings.Contains(out, s) {
				t.Fatalf("output reveals a secret (%q…): %s", s[:4], out)
			}
		}
	}
	if !strings.Contains(ours.String(), "REDACTED") || !strings.Contains(ours.String(), Fingerprint(pub(ours.Private))) {
		t.Errorf("String = %s", ours.String())
	}
	if !strings.Contains(logs.String(), "sha256:") {
		t.Errorf("log lacks fingerprints: %s", logs.String())
	}
	if b, _ := Secret("x").MarshalText(); string(b) != "[REDACTED]" {
		t.Errorf("MarshalText = %s", b)
	}
}

// TestParseDERKeysEndingInWhitespaceBytes: a DER key or certificate ends
// with key material or a signature, so its last byte is whitespace (tab,
// newline, carriage return, space…) about once in 40. Such files were
// refused as "unrecognised format" when the input was trimmed before the
// DER was parsed.
func TestParseDERKeysEndingInWhitespaceBytes(t *testing.T) {
	endsInSpace := func(b []byte) bool { return len(b) > 0 && bytes.ContainsAny(b[len(b)-1:], "\t\n\v\f\r ") }
	forms := map[string]func(*sm2.PrivateKey) []byte{
		"PKIX public key": func(k *sm2.PrivateKey) []byte { b, _ := smx509.MarshalPKIXPublicKey(&k.PublicKey); return b },
		"certificate": func(k *sm2.PrivateKey) []byte {
			tmpl := &smx509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "peer"},
				NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
			b, _ := smx509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
			return b
		},
		"PKCS#8 private key": func(k *sm2.PrivateKey) []byte { b, _ := smx509.MarshalPKCS8PrivateKey(k); return b },
		"SEC1 private key":   func(k *sm2.PrivateKey) []byte { b, _ := smx509.MarshalSM2PrivateKey(k); return b },
	}
	for name, marshal := range forms {
		t.Run(name, func(t *testing.T) {
			for range 20000 {
				k, err := sm2.GenerateKey(rand.Reader)
				if err != nil {
					t.Fatal(err)
				}
				der := marshal(k)
				if !endsInSpace(der) {
					continue
				}
				if strings.HasSuffix(name, "private key") {
					got, err := ParsePrivateKey(der)
					if err != nil {
						t.Fatalf("DER ending in %#x: %v", der[len(der)-1], err)
					}
					if !got.Equal(k) {
						t.Fatal("different key")
					}
					return
				}
				got, err := ParsePublicKey(der)
				if err != nil {
					t.Fatalf("DER ending in %#x: %v", der[len(der)-1], err)
				}
				if !got.Equal(&k.PublicKey) {
					t.Fatal("different key")
				}
				return
			}
			t.Fatal("no DER ending in a whitespace byte in 20,000 keys")
		})
	}
}
