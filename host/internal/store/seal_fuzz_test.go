package store

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzSealOpen: whatever bytes a column holds (corruption, an attacker
// with write access to the database), open never panics, never returns
// data for a value it cannot authenticate, and round-trips what seal wrote.
func FuzzSealOpen(f *testing.F) {
	s, err := newSealer([]Key{{ID: "k1", Secret: bytes.Repeat([]byte{7}, 32)}})
	if err != nil {
		f.Fatal(err)
	}
	s.compress = true
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
	f.Add(sealed[:len(sealed)-1], "m1")
	f.Add([]byte(sealMagic), "m1")
	f.Add([]byte(sealMagic+"\x02k1"), "m1")
	f.Add([]byte(sealMagic+"\xffk1"), "m1")
	f.Add([]byte(`{"plain":true}`), "m1")
	f.Add([]byte{}, "")
	f.Fuzz(func(t *testing.T, stored []byte, id string) {
		a := aad("messages.reply", id)
		plain, err := s.open(a, stored)
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
