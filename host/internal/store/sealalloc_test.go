package store

import (
	"bytes"
	"testing"
)

// TestSealAllocations: encrypting a small value at rest (a GYD051's
// request, reply and journal bodies: four per message) allocates its
// output and the additional data handed to AES-GCM, and joining the
// additional data one string. Until 2026-12-05 the nonce had a buffer of
// its own and the additional data was built in a bytes.Buffer, then
// copied into a string (12 of the 102 allocations of a GYD051's write).
func TestSealAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector changes what allocates")
	}
	s, err := newSealer([]Key{{ID: "k", Secret: bytes.Repeat([]byte{7}, 32)}})
	if err != nil {
		t.Fatal(err)
	}
	value := []byte(`{"id":"r","requestId":"m","status":"ok","payload":{"filing_valid":"1"}}`)
	cases := map[string]struct {
		f   func()
		max float64
	}{
		"aad": {func() { _ = aad("messages.reply", "m-1") }, 1},
		"seal": {func() {
			if _, err := s.seal("messages.reply\x00m-1\x00", value); err != nil {
				t.Fatal(err)
			}
		}, 2},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := testing.AllocsPerRun(100, tc.f); got > tc.max {
				t.Errorf("%s allocates %.0f times, want at most %.0f", name, got, tc.max)
			}
		})
	}
	// What seal wrote still opens, bound to its aad.
	b, err := s.seal(aad("messages.reply", "m-1"), value)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.open(aad("messages.reply", "m-1"), b); err != nil || !bytes.Equal(got, value) {
		t.Fatalf("open(seal(v)) = %q, %v", got, err)
	}
	if _, err := s.open(aad("messages.reply", "m-2"), b); err == nil {
		t.Fatal("a value opened under another row's aad")
	}
}
