package smenvelope

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
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

// FuzzParseEnvelope checks the one-pass parser against encoding/json: for
// every input it accepts, the result must be what encoding/json (UseNumber)
// gives, and encoding/json must accept it too.
//
//	go test -run '^$' -fuzz FuzzParseEnvelope -fuzztime 60s ./plugins/smenvelope
func FuzzParseEnvelope(f *testing.F) {
	for _, s := range []string{
		``, `{}`, ` { } `, `null`, `[]`, `{"a":"b"}`, `{"a":"b","a":"c"}`, `{"a":1.5e+3,"b":-0,"c":true,"d":false,"e":null}`,
		`{"a":"\u00e9"}`, `{"a":"é"}`, "{\"a\":\"\xff\"}", `{"a":01}`, `{"a":1.}`, `{"a":{"b":1}}`, `{"a":[1]}`,
		`{"a":"b"} x`, `{"a":"b"}{}`, `{"a" : "b" ,"c":"d"}`, "{\"a\":\"b\tc\"}", `{"a":tru}`, `{"a":1e}`, `{,}`, `{"a":"b",}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		got, ok := parseFlatObject(body)
		if !ok {
			return
		}
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber()
		var want map[string]any
		if err := dec.Decode(&want); err != nil || want == nil {
			t.Fatalf("parseFlatObject accepted %q, encoding/json does not: %v", body, err)
		}
		if _, err := dec.Token(); !errors.Is(err, io.EOF) {
			t.Fatalf("parseFlatObject accepted %q with trailing data", body)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("parseFlatObject(%q) = %#v, encoding/json gives %#v", body, got, want)
		}
	})
}
