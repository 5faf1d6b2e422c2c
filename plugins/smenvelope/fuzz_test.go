package smenvelope

import (
	"bytes"
	"crypto/elliptic"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/smx509"
)

// FuzzOpen feeds arbitrary envelopes to Open under every option combination.
// The seed corpus holds one valid envelope per combination (810), plus
// malformed shapes. Open must never panic, and whatever it accepts must have
// passed the signature check.
//
//	go test -run '^$' -fuzz FuzzOpen -fuzztime 60s ./plugins/smenvelope
func FuzzOpen(f *testing.F) {
	ours, peer := testKeys(f)
	combos := allCombos()
	business := []byte(`{"aac002":"110101199001011234","n":1}`)
	for i, o := range combos {
		m, err := Seal(o, peer, testEnv(), business)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(uint16(i), mustJSON(f, m))
	}
	for _, s := range []string{
		``, `{}`, `null`, `[]`, `{"code":"1","message":"x"}`, `{"code":0}`, `{"sign":"","data":"AA=="}`,
		`{"key":"BA==","data":"AAAAAAAAAAAAAAAAAAAAAA==","sign":"MEUCIQ=="}`,
		`{"key":"MAA=","data":"00","sign":"00"}`,
	} {
		f.Add(uint16(0), []byte(s))
	}
	f.Fuzz(func(t *testing.T, combo uint16, body []byte) {
		o := combos[int(combo&0x7fff)%len(combos)]
		o.StrictOpen = combo&0x8000 != 0
		got, env, err := Open(o, ours, body)
		if err != nil {
			if got != nil {
				var be *BusinessError
				if !errors.As(err, &be) || !be.Verified {
					t.Fatalf("plaintext returned with a non-business error: %v", err)
				}
			}
			return
		}
		if env == nil {
			t.Fatal("nil envelope on success")
		}
		// Anything accepted carries a signature that verifies for the same options.
		if _, ok := env[o.Fields.Sign].(string); !ok {
			t.Fatal("accepted an envelope without a signature")
		}
	})
}

// FuzzParseEnvelope checks the one-pass parser against encoding/json: for
// every input it accepts, the result must be what encoding/json (UseNumber)
// gives, and encoding/json must accept it too.
//
//	go test -run '^$' -fuzz FuzzParseEnvelope -fuzztime 60s ./plugins/smenvelope
func FuzzParseEnvelope(f *testing.F) {
	for _, s := range []string{
		``, `{}`, ` { } `, `null`, `[]`, `{"a":"b"}`, `{"a":"b","a":"c"}`, `{"a":1.5e+3,"b":-0,"c":true,"d":false,"e":null}`,
		`{"a":"\u00e9"}`, `{"a":"é"}`, "{\"a\":\"\xff\"}", `{"a":01}`, `{"a":1.}`, `{"a":{"b":1}}`, `{"a":[1]}`,
		`{"a":"b"} x`, `{"a":"b"}{}`, `{"a" : "b" ,"c":"d"}`, "{\"a\":\"b\tc\"}", `{"a":tru}`, `{"a":1e}`, `{,}`, `{"a":"b",}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		got, ok := parseFlatObject(body)
		if !ok {
			return
		}
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber()
		var want map[string]any
		if err := dec.Decode(&want); err != nil || want == nil {
			t.Fatalf("parseFlatObject accepted %q, encoding/json does not: %v", body, err)
		}
		if _, err := dec.Token(); !errors.Is(err, io.EOF) {
			t.Fatalf("parseFlatObject accepted %q with trailing data", body)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("parseFlatObject(%q) = %#v, encoding/json gives %#v", body, got, want)
		}
	})
}

// FuzzKeyForms derives an SM2 key pair from the fuzzer's 32 bytes and
// writes it in every form ParsePrivateKey and ParsePublicKey document —
// DER as a file holds it, text forms between the fuzzer's whitespace —
// and checks that each one parses back to the same key. It finds keys
// whose encodings fall between the parsers' cases (a DER ending in a
// whitespace byte was refused once).
//
//	go test -run '^$' -fuzz FuzzKeyForms -fuzztime 60s ./plugins/smenvelope
func FuzzKeyForms(f *testing.F) {
	for _, s := range []string{ourDHex, peerDHex} {
		d, _ := hex.DecodeString(s)
		f.Add(d, []byte("\n"), []byte(" \r\n"))
	}
	f.Add(bytes.Repeat([]byte{0x20}, 32), []byte{}, []byte("\t"))
	f.Add(bytes.Repeat([]byte{0x30}, 32), []byte("  "), []byte{})
	space := func(b []byte) []byte { // only whitespace bytes, at most 8
		var out []byte
		for _, c := range b {
			if len(out) < 8 && strings.IndexByte(" \t\r\n", c) >= 0 {
				out = append(out, c)
			}
		}
		return out
	}
	f.Fuzz(func(t *testing.T, d, lead, trail []byte) {
		if len(d) != 32 {
			return
		}
		k, err := sm2.NewPrivateKey(d)
		if err != nil {
			return // zero or not below the order: not a key
		}
		lead, trail = space(lead), space(trail)
		text := func(s []byte) []byte { return slices.Concat(lead, s, trail) }
		pkcs8, err1 := smx509.MarshalPKCS8PrivateKey(k)
		sec1, err2 := smx509.MarshalSM2PrivateKey(k)
		privPEM, err3 := MarshalPrivateKeyPEM(k)
		pkix, err4 := smx509.MarshalPKIXPublicKey(&k.PublicKey)
		pubPEM, err5 := MarshalPublicKeyPEM(&k.PublicKey)
		if err := errors.Join(err1, err2, err3, err4, err5); err != nil {
			t.Fatal(err)
		}
		b64 := func(b []byte) []byte { return text([]byte(base64.StdEncoding.EncodeToString(b))) }
		hx := func(b []byte) []byte { return text([]byte(hex.EncodeToString(b))) }
		sec1PEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1})
		for name, in := range map[string][]byte{
			"PKCS#8 DER": pkcs8, "SEC1 DER": sec1, "PKCS#8 PEM": text(privPEM), "SEC1 PEM": text(sec1PEM),
			"hex of D": hx(d), "0x hex of D": text([]byte("0x" + hex.EncodeToString(d))),
			"base64 of D": b64(d), "raw D": d,
		} {
			got, err := ParsePrivateKey(in)
			if err != nil {
				t.Fatalf("private key as %s (%x): %v", name, in, err)
			}
			if !got.Equal(k) {
				t.Fatalf("private key as %s parsed to another key", name)
			}
		}
		point := elliptic.Marshal(k.Curve, k.X, k.Y) //nolint:staticcheck // the uncompressed point is the documented form
		for name, in := range map[string][]byte{
			"PKIX DER": pkix, "PKIX PEM": text(pubPEM), "base64 of PKIX DER": b64(pkix),
			"hex of 04XY": hx(point), "hex of XY": hx(point[1:]), "base64 of 04XY": b64(point),
			"raw 04XY": point, "raw XY": point[1:],
		} {
			got, err := ParsePublicKey(in)
			if err != nil {
				t.Fatalf("public key as %s (%x): %v", name, in, err)
			}
			if !got.Equal(&k.PublicKey) {
				t.Fatalf("public key as %s parsed to another key", name)
			}
		}
	})
}
