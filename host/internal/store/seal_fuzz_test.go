package store

import (
	"bytes"
	"errors"
	"testing"

	"github.com/klauspost/compress/s2"
)

// FuzzSealOpen: whatever bytes a column holds (corruption, an attacker
// with write access to the database), open never panics, never returns
// data for a value it cannot authenticate, and round-trips what seal wrote;
// with refusePlain, it returns nothing but what a key authenticated.
func FuzzSealOpen(f *testing.F) {
	s, err := newSealer([]Key{{ID: "k1", Secret: bytes.Repeat([]byte{7}, 32)}})
	if err != nil {
		f.Fatal(err)
	}
	s.compress = true
	strict := *s
	strict.refusePlain = true
	sealed, err := s.seal(aad("messages.reply", "m1"), []byte(`{"name":"张三"}`))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(sealed, "m1")
	large, err := s.seal(aad("messages.reply", "m1"), bytes.Repeat([]byte(`{"name":"张三","amount":"10.00"},`), 200))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(large, "m1")
	f.Add(append([]byte(sealMagic), large[len(sealMagicS2):]...), "m1")
	zipped, err := (&sealer{compress: true}).seal("", bytes.Repeat([]byte(`{"name":"张三"},`), 400))
	if err != nil || !bytes.HasPrefix(zipped, []byte(zipMagic)) {
		f.Fatalf("compress only: %q, %v", zipped[:5], err)
	}
	f.Add(zipped, "m1")
	f.Add(zipped[:len(zipped)-3], "m1")
	f.Add(sealed[:len(sealed)-1], "m1")
	f.Add([]byte(sealMagic), "m1")
	f.Add([]byte(sealMagic+"\x02k1"), "m1")
	f.Add([]byte(sealMagic+"\xffk1"), "m1")
	f.Add([]byte(`{"plain":true}`), "m1")
	f.Add([]byte{}, "")
	f.Fuzz(func(t *testing.T, stored []byte, id string) {
		a := aad("messages.reply", id)
		// With refusePlain, only what a key authenticates is returned.
		if got, err := strict.open(a, stored); err == nil {
			if _, isSealed := keyID(stored); !isSealed && stored != nil {
				t.Fatalf("refusePlain: a value not encrypted opened: %.60q → %.60q", stored, got)
			}
		} else if !errors.Is(err, ErrPlain) && !errors.Is(err, ErrKey) {
			t.Fatalf("refusePlain: error %v is neither ErrPlain nor ErrKey", err)
		}
		plain, err := s.open(a, stored)
		if z, ok := bytes.CutPrefix(stored, []byte(zipMagic)); ok {
			// Compressed, not encrypted: opens as S2 decodes it, or fails.
			want, derr := s2.Decode(nil, z)
			if (err == nil) != (derr == nil) || (err == nil && !bytes.Equal(plain, want)) {
				t.Fatalf("compressed value: open = %q, %v; s2.Decode = %q, %v", plain, err, want, derr)
			}
			return
		}
		if _, isSealed := keyID(stored); isSealed || sealedPrefix(stored) {
			if err == nil {
				// Only a value sealed under k1 for exactly this row opens.
				again, serr := s.seal(a, plain)
				if serr != nil {
					t.Fatal(serr)
				}
				if back, oerr := s.open(a, again); oerr != nil || !bytes.Equal(back, plain) {
					t.Fatalf("round trip: %q, %v", back, oerr)
				}
			} else if !errors.Is(err, ErrKey) {
				t.Fatalf("error %v is not ErrKey", err)
			}
			return
		}
		if err != nil || !bytes.Equal(plain, stored) {
			t.Fatalf("a plain value changed: %q → %q, %v", stored, plain, err)
		}
	})
}
