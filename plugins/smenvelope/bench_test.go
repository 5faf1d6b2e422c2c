package smenvelope

import (
	"fmt"
	"testing"
)

// BenchmarkSealOpen measures one request round: Seal on one side, JSON
// encoding, Open on the other, with the default options.
func BenchmarkSealOpen(b *testing.B) {
	ours, peer := testKeys(b)
	o := Defaults()
	for _, size := range []int{1 << 10, 64 << 10} {
		business := businessJSON(size)
		b.Run(fmt.Sprintf("%dKiB", size>>10), func(b *testing.B) {
			b.SetBytes(int64(len(business)))
			b.ReportAllocs()
			for b.Loop() {
				m, err := Seal(o, ours, testEnv(), business)
				if err != nil {
					b.Fatal(err)
				}
				body := mustJSON(b, m)
				if _, _, err := Open(o, peer, body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSeal and BenchmarkOpen split the round for the default options.
func BenchmarkSeal(b *testing.B) {
	ours, _ := testKeys(b)
	business := businessJSON(1 << 10)
	for b.Loop() {
		if _, err := Seal(Defaults(), ours, testEnv(), business); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkOpen opens a 1 KiB default envelope.
func BenchmarkOpen(b *testing.B) {
	ours, peer := testKeys(b)
	body := sealJSON(b, Defaults(), ours, testEnv(), businessJSON(1<<10))
	for b.Loop() {
		if _, _, err := Open(Defaults(), peer, body); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMarshalEnvelope: the JSON body of a sealed GYD051-sized
// envelope written from its members (SealJSON's last step, no crypto).
func BenchmarkMarshalEnvelope(b *testing.B) {
	ours, _ := testKeys(b)
	o := Defaults()
	m, ct, release, err := seal(o, ours, testEnv(), businessJSON(300), false)
	if err != nil {
		b.Fatal(err)
	}
	ct = append([]byte(nil), ct...)
	release()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := marshalEnvelope(o, m, ct); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseEnvelope: the members of a sealed 1 KiB envelope read
// from its JSON body (Open's first step, no crypto).
func BenchmarkParseEnvelope(b *testing.B) {
	ours, _ := testKeys(b)
	body := sealJSON(b, Defaults(), ours, testEnv(), businessJSON(1<<10))
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := parseEnvelope(body); err != nil {
			b.Fatal(err)
		}
	}
}
