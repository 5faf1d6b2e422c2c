package workinjury

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/medgate/medgate/plugins/smenvelope"
)

var jsonSeeds = []string{
	`{}`, ` {"a":1} `, `{"a":"b","c":[1,2,{"d":null}],"e":true,"f":false}`, `{"a":-0.5e+10,"b":0,"c":-0}`,
	`{"a":"中文"}`, `{"a":"\u4e2d"}`, `{"a":"x\"y"}`, `{"a":01}`, `{"a":1.}`, `{"a":.5}`, `{"a":1e}`, `{"a":+1}`,
	`{"a":1} x`, `{"a":1}{}`, `[1]`, `null`, `{"a":1,}`, `{"a" 1}`, `{"a":[1,]}`, `{"a":"` + "\x01" + `"}`,
	`{"a":"` + "\xff" + `"}`, `{"a":{"a":{"a":{}}}}`, `{"a":1,"a":"x"}`, `{"infno":"GYU102","msgid":"T1","sender":"H1","data":"AAAA"}`,
	`{"infno":1,"msgid":null,"sender":true}`, `{"infno":"A","infno":2}`, `{"infno":"A","data":{"x":1}}`, "{\"a\":\t1\r\n}", `{"a":tru}`,
}

// FuzzDecodeObject: whatever the one-pass reader decodes, json.Decoder
// with UseNumber decodes to the same value.
//
//	go test ./test/sim/workinjury -run '^$' -fuzz FuzzDecodeObject -fuzztime 30s
func FuzzDecodeObject(f *testing.F) {
	for _, s := range jsonSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, ok := decodeObject(b)
		if !ok {
			return
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber()
		var want map[string]any
		if err := dec.Decode(&want); err != nil {
			t.Fatalf("%q: the one-pass reader took it, encoding/json says %v", b, err)
		}
		if dec.More() || dec.InputOffset() != int64(len(bytes.TrimRight(b, " \t\r\n"))) {
			t.Fatalf("%q: the one-pass reader took data after the object", b)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: one pass %#v, encoding/json %#v", b, got, want)
		}
	})
}

// FuzzEnvelopeStrings: the members read in one pass are those of
// json.Unmarshal into a map.
//
//	go test ./test/sim/workinjury -run '^$' -fuzz FuzzEnvelopeStrings -fuzztime 30s
func FuzzEnvelopeStrings(f *testing.F) {
	for _, s := range jsonSeeds {
		f.Add([]byte(s), "infno", "a")
	}
	f.Fuzz(func(t *testing.T, b []byte, n1, n2 string) {
		got, ok := envelopeStrings(b, n1, n2)
		if !ok {
			return
		}
		// The simulator reads the members whatever the error: a number
		// too large for float64 is an error that still fills the map.
		var raw map[string]any
		var te *json.UnmarshalTypeError
		if err := json.Unmarshal(b, &raw); err != nil && !errors.As(err, &te) || raw == nil {
			t.Fatalf("%q: the one-pass reader took it, encoding/json says %v", b, err)
		}
		for i, n := range []string{n1, n2} {
			want, _ := raw[n].(string)
			if got[i] != want {
				t.Fatalf("%q: member %q is %q in one pass, %q with encoding/json", b, n, got[i], want)
			}
		}
	})
}

// TestRequestsTakeTheOnePassReader: a sealed GYU102 request and its
// business data are read in one pass, the same as encoding/json reads
// them, so the fallback is not what runs in practice.
func TestRequestsTakeTheOnePassReader(t *testing.T) {
	t.Parallel()
	c := newClient(t, nil)
	fee := make([]any, 3)
	for i := range fee {
		fee[i] = SampleFeeLine("D"+string(rune('1'+i)), "10.00", "2", "5.00", day0.Add(time.Hour))
	}
	plain, _ := json.Marshal(map[string]any{"ykc700": "JZ1", "akc190": "住院1", "fee": fee})
	got, ok := decodeObject(plain)
	if !ok {
		t.Fatalf("the business data of a GYU102 is not read in one pass: %s", plain)
	}
	var want map[string]any
	dec := json.NewDecoder(bytes.NewReader(plain))
	dec.UseNumber()
	if err := dec.Decode(&want); err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("one pass %v, encoding/json %v (%v)", got, want, err)
	}
	env, err := sealRequest(c, "GYU102", "T00000001", plain)
	if err != nil {
		t.Fatal(err)
	}
	f := c.opts.Fields
	code, serial, _ := envelopeHead(f, env)
	if _, ok := envelopeStrings(env, f.TxCode); !ok || code != "GYU102" || serial != "T00000001" {
		t.Fatalf("envelope read in one pass: %v; code %q serial %q", ok, code, serial)
	}
}

// sealRequest seals plain as the adapter does and returns the envelope's JSON.
func sealRequest(c *client, code, serial string, plain []byte) ([]byte, error) {
	env, err := smenvelope.Seal(c.opts, c.keys, map[string]string{c.opts.Fields.TxCode: code, c.opts.Fields.MsgID: serial}, plain)
	if err != nil {
		return nil, err
	}
	return json.Marshal(env)
}
