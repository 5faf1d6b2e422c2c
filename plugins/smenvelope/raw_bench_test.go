package smenvelope

import (
	"crypto/rand"
	"errors"
	"fmt"
	"testing"
	"time"

	gmcipher "github.com/emmansun/gmsm/cipher"
	"github.com/emmansun/gmsm/padding"
	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/sm4"
)

// BenchmarkEnvelopeVsRaw compares one envelope round (SealJSON on one
// side, Open on the other, default options) with the library operations
// it is made of, called directly: a random SM4 key, SM4-ECB with PKCS#7
// over the business data, SM2 encryption of the key (C1C3C2), an
// SM2-with-SM3 signature of the plaintext, then SM2 decryption, SM4
// decryption and the verification. The target: envelope within
// 1.3 × raw. The ratio/… rows alternate one round of each and report
// the ratio of their total times as envelope/raw.
//
//	go test ./plugins/smenvelope -run '^$' -bench EnvelopeVsRaw -benchmem
func BenchmarkEnvelopeVsRaw(b *testing.B) {
	ours, peer := testKeys(b)
	for _, size := range []int{1 << 10, 64 << 10} {
		business := businessJSON(size)
		env := envelopeRound(ours, peer, business)
		raw := rawRound(ours, peer, business)
		b.Run(fmt.Sprintf("envelope/%dKiB", size>>10), env)
		b.Run(fmt.Sprintf("raw/%dKiB", size>>10), raw)
		b.Run(fmt.Sprintf("ratio/%dKiB", size>>10), func(b *testing.B) {
			// Alternate rounds of each, so that both see the same load.
			var e, r time.Duration
			n := 0
			for b.Loop() {
				t0 := time.Now()
				env(nil)
				t1 := time.Now()
				raw(nil)
				e, r, n = e+t1.Sub(t0), r+time.Since(t1), n+1
			}
			b.ReportMetric(float64(e.Nanoseconds())/float64(n), "envelope-ns/op")
			b.ReportMetric(float64(r.Nanoseconds())/float64(n), "raw-ns/op")
			b.ReportMetric(float64(e)/float64(r), "envelope/raw")
		})
	}
}

// envelopeRound is one request round through the envelope as the adapter
// makes it: SealJSON, then Open on the other side. Called with a nil B it
// makes one round and panics on an error.
func envelopeRound(ours, peer Keys, business []byte) func(*testing.B) {
	o := Defaults()
	round := func() error {
		body, err := SealJSON(o, ours, testEnv(), business)
		if err != nil {
			return err
		}
		_, _, err = Open(o, peer, body)
		return err
	}
	return loop(business, round)
}

// loop runs round as a benchmark, or once when b is nil.
func loop(business []byte, round func() error) func(*testing.B) {
	return func(b *testing.B) {
		if b == nil {
			if err := round(); err != nil {
				panic(err)
			}
			return
		}
		b.SetBytes(int64(len(business)))
		b.ReportAllocs()
		for b.Loop() {
			if err := round(); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// rawRound is the same round made of library calls only.
func rawRound(ours, peer Keys, business []byte) func(*testing.B) {
	uid := []byte(Defaults().UID)
	enc, dec := sm2.NewPlainEncrypterOpts(sm2.MarshalUncompressed, sm2.C1C3C2), sm2.NewPlainDecrypterOpts(sm2.C1C3C2)
	pad := padding.NewPKCS7Padding(sm4.BlockSize)
	key := make([]byte, sm4.BlockSize)
	return loop(business, func() error {
		if _, err := rand.Read(key); err != nil {
			return err
		}
		block, err := sm4.NewCipher(key)
		if err != nil {
			return err
		}
		ct := pad.Pad(append([]byte(nil), business...))
		gmcipher.NewECBEncrypter(block).CryptBlocks(ct, ct)
		ek, err := sm2.Encrypt(rand.Reader, ours.PeerPublic, key, enc)
		if err != nil {
			return err
		}
		e, err := sm2.CalculateSM2Hash(&ours.Private.PublicKey, business, uid)
		if err != nil {
			return err
		}
		sig, err := sm2.SignASN1(rand.Reader, ours.Private, e, nil)
		if err != nil {
			return err
		}
		k, err := peer.Private.Decrypt(nil, ek, dec)
		if err != nil {
			return err
		}
		block, err = sm4.NewCipher(k)
		if err != nil {
			return err
		}
		pt := make([]byte, len(ct))
		gmcipher.NewECBDecrypter(block).CryptBlocks(pt, ct)
		if pt, err = pad.Unpad(pt); err != nil {
			return err
		}
		e, err = sm2.CalculateSM2Hash(peer.PeerPublic, pt, uid)
		if err != nil {
			return err
		}
		if !sm2.VerifyASN1(peer.PeerPublic, e, sig) {
			return errors.New("signature does not verify")
		}
		return nil
	})
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
