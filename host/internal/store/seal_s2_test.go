package store

import (
	"bytes"
	"crypto/rand"
	"errors"
	"testing"

	"github.com/klauspost/compress/s2"
)

// TestSealCompresses: a large value that compresses is compressed before
// it is encrypted (and opens back whole); a small one, or one that does not
// compress (ciphertext in base64, random bytes), is encrypted as it is;
// a value whose magic is switched to the other format does not open.
func TestSealCompresses(t *testing.T) {
	t.Parallel()
	s, err := newSealer([]Key{{ID: "k1", Secret: bytes.Repeat([]byte{7}, 32)}})
	if err != nil {
		t.Fatal(err)
	}
	s.compress = true
	random := make([]byte, 64<<10)
	if _, err := rand.Read(random); err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct {
		plain []byte
		magic string
	}{
		"500 fee lines":       {bytes.Repeat([]byte(`{"detail_no":"D0000001","item_name":"床位费","amount":"20.00"},`), 500), sealMagicS2},
		"small":               {bytes.Repeat([]byte("a"), sealCompressMin-1), sealMagic},
		"random":              {random, sealMagic},
		"at the minimum size": {bytes.Repeat([]byte("a"), sealCompressMin), sealMagicS2},
	}
	for name, c := range cases {
		a := aad("messages.request", "m1")
		sealed, err := s.seal(a, c.plain)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(sealed, []byte(c.magic)) {
			t.Errorf("%s: sealed as %q, want %q", name, sealed[:len(c.magic)], c.magic)
		}
		if c.magic == sealMagicS2 && len(sealed) > len(c.plain)/2 {
			t.Errorf("%s: %d bytes sealed from %d", name, len(sealed), len(c.plain))
		}
		if bytes.Contains(sealed, c.plain[:32]) {
			t.Errorf("%s: the sealed value holds the plain text", name)
		}
		back, err := s.open(a, sealed)
		if err != nil || !bytes.Equal(back, c.plain) {
			t.Fatalf("%s: open = %d bytes, %v; want the %d bytes sealed", name, len(back), err, len(c.plain))
		}
		if _, err := s.open(aad("messages.request", "m2"), sealed); !errors.Is(err, ErrKey) {
			t.Errorf("%s: opened under another row's additional data: %v", name, err)
		}
		other := sealMagicS2
		if c.magic == sealMagicS2 {
			other = sealMagic
		}
		switched := append([]byte(other), sealed[len(c.magic):]...)
		if got, err := s.open(a, switched); !errors.Is(err, ErrKey) {
			t.Errorf("%s: with its magic switched to %q it opened (%d bytes, %v), want ErrKey", name, other, len(got), err)
		}
		if s.stale(sealed) {
			t.Errorf("%s: a value sealed with the current key is stale", name)
		}
	}
}

// TestCompressSampleBuffer: compresses encodes its sample in its own
// buffer (no allocation).
func TestCompressSampleBuffer(t *testing.T) {
	if n := s2.MaxEncodedLen(sealCompressMin); n > 2*sealCompressMin {
		t.Fatalf("s2.MaxEncodedLen(%d) = %d: make compresses' buffer larger", sealCompressMin, n)
	}
	sample := bytes.Repeat([]byte("abcd"), sealCompressMin/4)
	if raceEnabled {
		return // the race detector's instrumentation moves the buffer to the heap
	}
	if n := testing.AllocsPerRun(10, func() { compresses(sample) }); n != 0 {
		t.Errorf("compresses allocates %v times", n)
	}
}

// TestSealCompressesOnlyWhenAsked: without compress (PostgreSQL, see
// sealer.compress) a large value is encrypted as it is, and a compressed
// value still opens.
func TestSealCompressesOnlyWhenAsked(t *testing.T) {
	t.Parallel()
	keys := []Key{{ID: "k1", Secret: bytes.Repeat([]byte{7}, 32)}}
	plain, err := newSealer(keys)
	if err != nil {
		t.Fatal(err)
	}
	z, err := newSealer(keys)
	if err != nil {
		t.Fatal(err)
	}
	z.compress = true
	value := bytes.Repeat([]byte(`{"detail_no":"D0000001","amount":"20.00"},`), 500)
	a := aad("state.value", "workinjury/wi", "visit/V1/details/m1")
	sealed, err := plain.seal(a, value)
	if err != nil || !bytes.HasPrefix(sealed, []byte(sealMagic)) {
		t.Fatalf("without compress: sealed as %q, %v; want %q", sealed[:len(sealMagic)], err, sealMagic)
	}
	compressed, err := z.seal(a, value)
	if err != nil || !bytes.HasPrefix(compressed, []byte(sealMagicS2)) {
		t.Fatalf("with compress: sealed as %q, %v; want %q", compressed[:len(sealMagicS2)], err, sealMagicS2)
	}
	if back, err := plain.open(a, compressed); err != nil || !bytes.Equal(back, value) {
		t.Fatalf("a compressed value opened without compress: %d bytes, %v", len(back), err)
	}
}

// TestCompressWithoutKeys: the SQLite store without keys compresses a
// large value (zipMagic) and leaves small ones plain; any sealer, or none,
// opens it; once keys are configured it is stale, so Rekey encrypts it.
func TestCompressWithoutKeys(t *testing.T) {
	t.Parallel()
	keyless := &sealer{compress: true}
	keyed, err := newSealer([]Key{{ID: "k1", Secret: bytes.Repeat([]byte{7}, 32)}})
	if err != nil {
		t.Fatal(err)
	}
	value := bytes.Repeat([]byte(`{"detail_no":"D0000001","amount":"20.00"},`), 500)
	a := aad("plugin_state", "workinjury/wi", "visit/V1/details/m1")
	zipped, err := keyless.seal(a, value)
	if err != nil || !bytes.HasPrefix(zipped, []byte(zipMagic)) || len(zipped) > len(value)/2 {
		t.Fatalf("keyless seal: %d bytes starting %q, %v; want it compressed", len(zipped), zipped[:5], err)
	}
	for name, s := range map[string]*sealer{"none": nil, "keyless": keyless, "keyed": keyed} {
		if back, err := s.open(a, zipped); err != nil || !bytes.Equal(back, value) {
			t.Errorf("open with %s: %d bytes, %v", name, len(back), err)
		}
	}
	if small, err := keyless.seal(a, []byte(`{"a":1}`)); err != nil || string(small) != `{"a":1}` {
		t.Errorf("a small value: %q, %v; want it plain", small, err)
	}
	if keyless.stale(zipped) || !keyed.stale(zipped) {
		t.Errorf("stale: keyless %v, keyed %v; want false, true", keyless.stale(zipped), keyed.stale(zipped))
	}
	if _, err := keyless.open(a, zipped[:len(zipped)-3]); err == nil {
		t.Error("a truncated compressed value opened")
	}
}
