package message

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
)

// decodeJSON is the encoding/json decode of decode, without decodeFast.
func decodeJSON(data []byte) (Envelope, bool) {
	var env Envelope
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if dec.Decode(&env) != nil || dec.More() {
		return env, false
	}
	return env, true
}

// largeEnvelope is a GYU102 request of n fee lines as the platform sends it.
func largeEnvelope(n int) []byte {
	var b bytes.Buffer
	b.WriteString(`{"id":"bench-GYU102-1","site":"wi","type":"workinjury.GYU102","occurredAt":"2026-12-03T07:30:00+08:00","payload":{"akc190":"ZY0001","ykc700":"V0001","fee":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"detail_no":"D%07d","item_code":"110200001","item_name":"床位费\u00b7双人间","price":10.00,"qty":2,"amount":"20.00","self":-0.5e1,"ok":true,"note":null,"tags":["a\"b","\\/"]}`, i)
	}
	b.WriteString(`]}}`)
	return b.Bytes()
}

func fastSeeds() [][]byte {
	return [][]byte{
		[]byte(`{"id":"a","site":"s","type":"p.o","payload":{}}`),
		[]byte(` {"id":"a","site":"s","type":"p.o","format":"hl7v2","payload":"MSH|^~\\&|"} ` + "\n"),
		[]byte(`{"id":"a","site":"s","type":"p.o","occurredAt":"2026-11-26T08:30:00+08:00","replyTo":"r","payload":[1,-0,0.5,1e3,2E-7,true,false,null,"\u00e9\n",{"a":{"b":[]}}]}`),
		[]byte(`{}`),
		[]byte(`{"payload":null}`),
		[]byte(`{"ID":"a"}`),
		[]byte(`{"id":"a","id":"b"}`),
		[]byte(`{"id":"a\u0062"}`),
		[]byte(`{"id":"é"}`),
		[]byte(`{"id":1}`),
		[]byte(`{"id":"a","x":1}`),
		[]byte(`{"id":"a"} {}`),
		[]byte(`{"payload":01}`),
		[]byte(`{"payload":1.}`),
		[]byte(`{"payload":"\x"}`),
		[]byte(`{"payload":"` + "\xff\xfe" + `"}`),
		[]byte(`{"payload":[1,]}`),
		[]byte(`{"payload":{"a" 1}}`),
		[]byte(`{"payload":` + string(bytes.Repeat([]byte("["), 70)) + string(bytes.Repeat([]byte("]"), 70)) + `}`),
		largeEnvelope(3),
	}
}

// FuzzDecodeFast: whenever decodeFast decodes an envelope, encoding/json
// decodes the same one without an error.
func FuzzDecodeFast(f *testing.F) {
	for _, s := range fastSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var fast Envelope
		if !decodeFast(data, &fast) {
			return
		}
		slow, ok := decodeJSON(data)
		if !ok {
			t.Fatalf("decodeFast took %q, encoding/json refuses it", data)
		}
		if !reflect.DeepEqual(fast, slow) {
			t.Fatalf("%q:\nfast %+v\njson %+v", data, fast, slow)
		}
	})
}

// TestDecodeFast: the envelopes producers write take the one-pass decode
// (a GYU102 of 500 lines included), with the same result as encoding/json;
// the others are left to encoding/json.
func TestDecodeFast(t *testing.T) {
	t.Parallel()
	takes := map[string]bool{
		`{"id":"a","site":"s","type":"p.o","payload":{}}`: true,
		string(largeEnvelope(500)):                        true,
		`{"id":"a","site":"s","type":"p.o","occurredAt":"2026-11-26T08:30:00+08:00","replyTo":"r","format":"json","payload":[1,-0,0.5,1e3,2E-7,true,false,null,"\u00e9\n",{"a":{"b":[]}}]}`: true,
		` {"id":"a","site":"s","type":"p.o","format":"hl7v2","payload":"MSH|^~\\&|"} ` + "\n":                                                                                               true,
		`{}`:                  true,
		`{"ID":"a"}`:          false, // encoding/json matches names without case
		`{"id":"a","id":"b"}`: false, // the last one wins there
		`{"id":"a\u0062"}`:    false,
		`{"id":"é"}`:          false,
		`{"id":1}`:            false,
		`{"id":"a","x":1}`:    false,
		`{"id":"a"} {}`:       false,
		`{"payload":01}`:      false,
		`{"payload":"\x"}`:    false,
		`{"payload":[1,]}`:    false,
		`{"payload":` + string(bytes.Repeat([]byte("["), maxFastDepth+1)) + string(bytes.Repeat([]byte("]"), maxFastDepth+1)) + `}`: false,
	}
	for in, want := range takes {
		var fast Envelope
		if got := decodeFast([]byte(in), &fast); got != want {
			t.Errorf("decodeFast(%.80q) = %v, want %v", in, got, want)
			continue
		}
		if !want {
			continue
		}
		slow, ok := decodeJSON([]byte(in))
		if !ok || !reflect.DeepEqual(fast, slow) {
			t.Errorf("decodeFast(%.80q) = %+v; encoding/json: %+v, %v", in, fast, slow, ok)
		}
	}
	// The payload is a copy: the caller may reuse its buffer.
	data := []byte(`{"id":"a","site":"s","type":"p.o","payload":{"k":"v"}}`)
	env, errs := Parse(data)
	if errs != nil {
		t.Fatal(errs)
	}
	clear(data)
	if string(env.Payload) != `{"k":"v"}` {
		t.Errorf("payload after the input was cleared: %q", env.Payload)
	}
}
