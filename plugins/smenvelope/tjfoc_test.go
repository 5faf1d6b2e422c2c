package smenvelope

import (
	"bytes"
	"crypto/rand"
	"encoding/asn1"
	"encoding/json"
	"math/big"
	"testing"

	"github.com/emmansun/gmsm/sm2"
	tsm2 "github.com/tjfoc/gmsm/sm2"
	tsm4 "github.com/tjfoc/gmsm/sm4"
)

// Cross-checks against github.com/tjfoc/gmsm v1.4.1, an independent
// implementation (used in tests only; see specs/libraries.md for its defects).
// tjfoc keeps the CBC IV in a package global, so these tests are not parallel.

func toTjfoc(k *sm2.PrivateKey) *tsm2.PrivateKey {
	return &tsm2.PrivateKey{PublicKey: tsm2.PublicKey{Curve: tsm2.P256Sm2(), X: k.X, Y: k.Y}, D: k.D}
}

func tjfocMode(o CipherOrder) int {
	if o == C1C2C3 {
		return tsm2.C1C2C3
	}
	return tsm2.C1C3C2
}

// tjfoc opens envelopes that we seal: decrypts our raw C1C3C2/C1C2C3 and ASN.1
// key ciphertext, decrypts the SM4-ECB/CBC data and verifies our DER signature
// with uid 1234567812345678.
func TestTjfocOpensOurEnvelope(t *testing.T) {
	ours, peer := testKeys(t)
	tpeer := toTjfoc(peer.Private)
	tours := toTjfoc(ours.Private)
	business := businessJSON(500)
	for _, order := range []CipherOrder{C1C3C2, C1C2C3, ASN1} {
		for _, sv := range sm4Variants {
			o := Defaults()
			o.CipherOrder, o.SM4Mode, o.SM4IV = order, sv.mode, sv.iv
			m, err := Seal(o, ours, testEnv(), business)
			if err != nil {
				t.Fatal(err)
			}
			ek, _ := decodeText(o.Encoding, m["key"].(string))
			ct, _ := decodeText(o.Encoding, m["data"].(string))
			sig, _ := decodeText(o.Encoding, m["sign"].(string))

			var key []byte
			if order == ASN1 {
				key, err = tpeer.DecryptAsn1(ek)
			} else {
				key, err = tsm2.Decrypt(tpeer, ek, tjfocMode(order))
			}
			if err != nil || len(key) != 16 {
				t.Fatalf("%s: tjfoc cannot decrypt our key: %v", comboName(o), err)
			}
			var pt []byte
			switch {
			case o.SM4Mode == ECB:
				pt, err = tsm4.Sm4Ecb(key, ct, false)
			case o.SM4IV == "":
				tsm4.SetIV(ct[:16])
				pt, err = tsm4.Sm4Cbc(key, ct[16:], false)
			default:
				tsm4.SetIV(o.fixedIV())
				pt, err = tsm4.Sm4Cbc(key, ct, false)
			}
			if err != nil || !bytes.Equal(pt, business) {
				t.Fatalf("%s: tjfoc SM4 decryption differs: %v", comboName(o), err)
			}
			if !tours.PublicKey.Verify(business, sig) {
				t.Fatalf("%s: tjfoc does not verify our DER signature (default uid)", comboName(o))
			}
			var rs struct{ R, S *big.Int }
			if _, err := asn1.Unmarshal(sig, &rs); err != nil {
				t.Fatal(err)
			}
			if !tsm2.Sm2Verify(&tours.PublicKey, business, []byte("1234567812345678"), rs.R, rs.S) {
				t.Fatalf("%s: tjfoc Sm2Verify with explicit uid fails", comboName(o))
			}
		}
	}
}

// We open envelopes built entirely with tjfoc.
func TestWeOpenTjfocEnvelope(t *testing.T) {
	ours, peer := testKeys(t)
	tpeer := toTjfoc(peer.Private)
	tours := toTjfoc(ours.Private)
	business := businessJSON(700)
	for _, order := range []CipherOrder{C1C3C2, C1C2C3, ASN1} {
		for _, sv := range sm4Variants {
			for _, sf := range []SigFormat{SigDER, SigRS} {
				o := Defaults()
				o.CipherOrder, o.SM4Mode, o.SM4IV, o.SigFormat, o.StrictOpen = order, sv.mode, sv.iv, sf, true
				key := make([]byte, 16)
				rand.Read(key)
				var ek, ct []byte
				var err error
				if order == ASN1 {
					ek, err = tours.PublicKey.EncryptAsn1(key, rand.Reader)
				} else {
					ek, err = tsm2.Encrypt(&tours.PublicKey, key, rand.Reader, tjfocMode(order))
				}
				if err != nil {
					t.Fatal(err)
				}
				switch {
				case sv.mode == ECB:
					ct, err = tsm4.Sm4Ecb(key, business, true)
				case sv.iv == "":
					iv := make([]byte, 16)
					rand.Read(iv)
					tsm4.SetIV(iv)
					ct, err = tsm4.Sm4Cbc(key, business, true)
					ct = append(iv, ct...)
				default:
					tsm4.SetIV(o.fixedIV())
					ct, err = tsm4.Sm4Cbc(key, business, true)
				}
				if err != nil {
					t.Fatal(err)
				}
				sig, err := tpeer.Sign(rand.Reader, business, nil) // DER, default uid
				if err != nil {
					t.Fatal(err)
				}
				if sf == SigRS {
					sig, _ = derToRS(sig)
				}
				env := map[string]any{"infno": "GYU000", "key": encodeBytes(o.Encoding, ek),
					"data": encodeBytes(o.Encoding, ct), "sign": encodeBytes(o.Encoding, sig)}
				body, _ := json.Marshal(env)
				got, _, err := Open(o, ours, body)
				if err != nil || !bytes.Equal(got, business) {
					t.Fatalf("%s/%s: cannot open tjfoc envelope: %v", comboName(o), sf, err)
				}
			}
		}
	}
}

// SM4 outputs agree byte for byte with tjfoc for every length around block boundaries.
func TestSM4MatchesTjfoc(t *testing.T) {
	key := unhex(t, "0123456789abcdeffedcba9876543210")
	iv := unhex(t, "000102030405060708090a0b0c0d0e0f")
	for n := 0; n <= 48; n++ {
		pt := bytes.Repeat([]byte{byte(n)}, n)
		ours, _ := sm4Encrypt(ECB, key, nil, pt)
		theirs, _ := tsm4.Sm4Ecb(key, pt, true)
		if !bytes.Equal(ours, theirs) {
			t.Fatalf("ECB len %d differs", n)
		}
		ours, _ = sm4Encrypt(CBC, key, iv, pt)
		tsm4.SetIV(iv)
		theirs, _ = tsm4.Sm4Cbc(key, pt, true)
		if !bytes.Equal(ours, theirs) {
			t.Fatalf("CBC len %d differs", n)
		}
	}
}
