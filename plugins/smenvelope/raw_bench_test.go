package smenvelope

import (
	"crypto/rand"
	"fmt"
	"testing"

	gmcipher "github.com/emmansun/gmsm/cipher"
	"github.com/emmansun/gmsm/padding"
	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/sm4"
)

// BenchmarkEnvelopeVsRaw compares one envelope round (Seal on one side,
// JSON, Open on the other, default options) with the library operations
// it is made of, called directly: a random SM4 key, SM4-ECB with PKCS#7
// over the business data, SM2 encryption of the key (C1C3C2), an
// SM2-with-SM3 signature of the plaintext, then SM2 decryption, SM4
// decryption and the verification. The target: envelope within
// 1.3 × raw.
//
//	go test ./plugins/smenvelope -run '^$' -bench EnvelopeVsRaw -benchmem
func BenchmarkEnvelopeVsRaw(b *testing.B) {
	ours, peer := testKeys(b)
	o := Defaults()
	uid := []byte(o.UID)
	enc, dec := sm2.NewPlainEncrypterOpts(sm2.MarshalUncompressed, sm2.C1C3C2), sm2.NewPlainDecrypterOpts(sm2.C1C3C2)
	pad := padding.NewPKCS7Padding(sm4.BlockSize)
	for _, size := range []int{1 << 10, 64 << 10} {
		business := businessJSON(size)
		b.Run(fmt.Sprintf("envelope/%dKiB", size>>10), func(b *testing.B) {
			b.SetBytes(int64(len(business)))
			b.ReportAllocs()
			for b.Loop() {
				m, err := Seal(o, ours, testEnv(), business)
				if err != nil {
					b.Fatal(err)
				}
				if _, _, err := Open(o, peer, mustJSON(b, m)); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("raw/%dKiB", size>>10), func(b *testing.B) {
			b.SetBytes(int64(len(business)))
			b.ReportAllocs()
			key := make([]byte, sm4.BlockSize)
			for b.Loop() {
				if _, err := rand.Read(key); err != nil {
					b.Fatal(err)
				}
				block, err := sm4.NewCipher(key)
				if err != nil {
					b.Fatal(err)
				}
				ct := pad.Pad(append([]byte(nil), business...))
				gmcipher.NewECBEncrypter(block).CryptBlocks(ct, ct)
				ek, err := sm2.Encrypt(rand.Reader, ours.PeerPublic, key, enc)
				if err != nil {
					b.Fatal(err)
				}
				e, err := sm2.CalculateSM2Hash(&ours.Private.PublicKey, business, uid)
				if err != nil {
					b.Fatal(err)
				}
				sig, err := sm2.SignASN1(rand.Reader, ours.Private, e, nil)
				if err != nil {
					b.Fatal(err)
				}
				k, err := peer.Private.Decrypt(nil, ek, dec)
				if err != nil {
					b.Fatal(err)
				}
				block, err = sm4.NewCipher(k)
				if err != nil {
					b.Fatal(err)
				}
				pt := make([]byte, len(ct))
				gmcipher.NewECBDecrypter(block).CryptBlocks(pt, ct)
				if pt, err = pad.Unpad(pt); err != nil {
					b.Fatal(err)
				}
				e, err = sm2.CalculateSM2Hash(peer.PeerPublic, pt, uid)
				if err != nil {
					b.Fatal(err)
				}
				if !sm2.VerifyASN1(peer.PeerPublic, e, sig) {
					b.Fatal("signature does not verify")
				}
			}
		})
	}
}

// BenchmarkSealAllocs and BenchmarkOpenAllocs are BenchmarkSeal and
// BenchmarkOpen with allocation counts, 1 KiB of business data.
func BenchmarkSealAllocs(b *testing.B) {
	ours, _ := testKeys(b)
	business := businessJSON(1 << 10)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Seal(Defaults(), ours, testEnv(), business); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkOpenAllocs opens a 1 KiB default envelope.
func BenchmarkOpenAllocs(b *testing.B) {
	ours, peer := testKeys(b)
	body := sealJSON(b, Defaults(), ours, testEnv(), businessJSON(1<<10))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := Open(Defaults(), peer, body); err != nil {
			b.Fatal(err)
		}
	}
}
