package smenvelope

import (
	"crypto/ecdsa"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/emmansun/gmsm/sm2"
)

// Fixed test keys, so that fuzz seeds stay valid between runs.
// peerDHex is the private key of the GM/T 0003.5 examples.
const (
	ourDHex  = "6c5a0a0b2eed3cbec3e4f1252bfe0e28c504a1c6bf1999eebb0af9ef0f8e6c85"
	peerDHex = "3945208f7b2144b13f36e38ac6d39f95889393692860b51a42fb81ef4df7c5b8"
)

func mustKey(t testing.TB, d string) *sm2.PrivateKey {
	t.Helper()
	b, err := hex.DecodeString(d)
	if err != nil {
		t.Fatal(err)
	}
	k, err := sm2.NewPrivateKey(b)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// testKeys returns the keys of our side (the gateway) and of the peer (the
// national system / simulator), each holding the other's public key.
func testKeys(t testing.TB) (ours, peer Keys) {
	o, p := mustKey(t, ourDHex), mustKey(t, peerDHex)
	return Keys{Private: o, PeerPublic: &p.PublicKey}, Keys{Private: p, PeerPublic: &o.PublicKey}
}

func pub(k *sm2.PrivateKey) *ecdsa.PublicKey { return &k.PublicKey }

type orderVariant struct {
	order  CipherOrder
	prefix bool
}

var orderVariants = []orderVariant{{C1C3C2, true}, {C1C3C2, false}, {C1C2C3, true}, {C1C2C3, false}, {ASN1, true}}

type sm4Variant struct {
	mode SM4Mode
	iv   string
}

var sm4Variants = []sm4Variant{{ECB, ""}, {CBC, ""}, {CBC, "000102030405060708090a0b0c0d0e0f"}}

// allCombos is the cross product CipherOrder(+PointPrefix) × SigFormat ×
// Encoding × SignTarget × SM4Mode(+IV) × KeyForm.
func allCombos() []Options {
	var out []Options
	for _, ov := range orderVariants {
		for _, sf := range []SigFormat{SigDER, SigRS} {
			for _, enc := range []Encoding{Base64, HexLower, HexUpper} {
				for _, st := range []SignTarget{SignPlaintext, SignCiphertext, SignCanonical} {
					for _, sv := range sm4Variants {
						for _, kf := range []KeyForm{Raw16, ASCII16, Hex32} {
							o := Defaults()
							o.CipherOrder, o.PointPrefix = ov.order, ov.prefix
							o.SigFormat, o.Encoding, o.SignTarget = sf, enc, st
							o.SM4Mode, o.SM4IV, o.KeyForm = sv.mode, sv.iv, kf
							out = append(out, o)
						}
					}
				}
			}
		}
	}
	return out
}

func comboName(o Options) string {
	p := "04"
	if !o.PointPrefix {
		p = "nopfx"
	}
	iv := ""
	if o.SM4Mode == CBC {
		iv = "-randIV"
		if o.SM4IV != "" {
			iv = "-fixedIV"
		}
	}
	return fmt.Sprintf("%s-%s/%s/%s/%s/%s%s/%s", o.CipherOrder, p, o.SigFormat, o.Encoding, o.SignTarget, o.SM4Mode, iv, o.KeyForm)
}

func testEnv() map[string]string {
	return map[string]string{
		"infno": "GYU101", "msgid": "110000202601011200000001", "sender": "110000", "receiver": "GYYD", "version": "V1.5.02",
	}
}

// businessJSON returns a JSON document of about n bytes.
func businessJSON(n int) []byte {
	var b strings.Builder
	b.WriteString(`{"aac002":"110101199001011234","aac003":"张三","items":[`)
	for i := 0; b.Len() < n-40; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"seq":%d,"code":"X%05d","amt":"12.34"}`, i, i)
	}
	b.WriteString(`],"end":true}`)
	return []byte(b.String())
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sealJSON seals with keys and returns the JSON body.
func sealJSON(t testing.TB, o Options, keys Keys, env map[string]string, business []byte) []byte {
	t.Helper()
	m, err := Seal(o, keys, env, business)
	if err != nil {
		t.Fatalf("Seal(%s): %v", comboName(o), err)
	}
	return mustJSON(t, m)
}
