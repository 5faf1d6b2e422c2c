package adapter

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
)

// canonicalCases are payloads and whether each is already what marshal
// writes for it.
var canonicalCases = []struct {
	name, in  string
	canonical bool
}{
	{"empty object", `{}`, true},
	{"sorted members", `{"a":"1","b":2.50,"c":[{"x":true,"y":null}],"d":{}}`, true},
	{"nested sorted", `{"fee":[{"a":"1","b":"2"},{"a":"3","b":"4"}],"ykc700":"V1"}`, true},
	{"Chinese text", `{"aac003":"张三","akb021":"厦门市第一医院"}`, true},
	{"HTML characters travel as written", `{"a":"<b>&amp;</b>"}`, true},
	{"empty array and string", `{"a":[],"b":""}`, true},
	{"numbers as written", `{"a":-0,"b":1e5,"c":1.50}`, true},
	{"space after colon", `{"a": "1"}`, false},
	{"leading space", ` {"a":"1"}`, false},
	{"trailing newline", "{\"a\":\"1\"}\n", false},
	{"space in array", `{"a":[1, 2]}`, false},
	{"unsorted members", `{"b":"1","a":"2"}`, false},
	{"unsorted in a line", `{"fee":[{"a":"1","b":"2"},{"b":"3","a":"4"}]}`, false},
	{"duplicate member", `{"a":"1","a":"2"}`, false},
	{"U+2028 in a value", "{\"a\":\"x\u2028y\"}", false},
	{"U+2029 in a name", "{\"a\u2029\":\"1\"}", false},
}

func TestParsePayloadCanonical(t *testing.T) {
	for _, tc := range canonicalCases {
		t.Run(tc.name, func(t *testing.T) {
			doc, canonical, ok := parsePayloadCanonical([]byte(tc.in))
			if !ok {
				t.Fatalf("parsePayloadCanonical(%q) refused it", tc.in)
			}
			if canonical != tc.canonical {
				t.Fatalf("parsePayloadCanonical(%q): canonical %v, want %v", tc.in, canonical, tc.canonical)
			}
			got, err := marshal(doc)
			if err != nil {
				t.Fatal(err)
			}
			if tc.canonical != bytes.Equal(got, []byte(tc.in)) {
				t.Fatalf("marshal gives %s for %s; canonical %v", got, tc.in, tc.canonical)
			}
			_, raw, ds := decodePayload([]byte(tc.in))
			if ds.HasError() || (raw != nil) != tc.canonical {
				t.Fatalf("decodePayload(%q) = raw %q, %v", tc.in, raw, ds)
			}
		})
	}
}

// TestGYU102PayloadIsCanonical checks that a 500-line GYU102 as
// encoding/json writes it is sent as received.
func TestGYU102PayloadIsCanonical(t *testing.T) {
	payload := gyu102Payload(t)
	doc, raw, ds := decodePayload(payload)
	if ds.HasError() || raw == nil {
		t.Fatalf("a GYU102 payload from encoding/json is not taken as it is: %v", ds)
	}
	want, err := marshal(doc)
	if err != nil || !bytes.Equal(want, raw) {
		t.Fatalf("marshal of the decoded payload differs from the payload (err %v)", err)
	}
	got, owned, err := requestJSON(requestInput(doc, raw))
	if err != nil || owned || !bytes.Equal(got, want) {
		t.Fatalf("requestJSON: owned %v, err %v, equal %v", owned, err, bytes.Equal(got, want))
	}
}

// FuzzCanonicalPayload checks what parsePayloadCanonical calls canonical:
// marshal of the decoded object gives the input back byte for byte, and
// the decoded object is what encoding/json (UseNumber) decodes.
//
//	go test -run '^$' -fuzz FuzzCanonicalPayload -fuzztime 30s ./plugins/workinjury/adapter
func FuzzCanonicalPayload(f *testing.F) {
	for _, tc := range canonicalCases {
		f.Add([]byte(tc.in))
	}
	f.Add([]byte(`{"a":{"b":[1,2,{"c":"d"}]},"e":false}`))
	f.Add([]byte(`{"a":"\u00e9"}`))
	f.Add([]byte(`{"a":"1","b":1,"c":["1",1,"1",1.0]}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		doc, canonical, ok := parsePayloadCanonical(in)
		if !ok {
			return
		}
		dec := json.NewDecoder(bytes.NewReader(in))
		dec.UseNumber()
		var want map[string]any
		if err := dec.Decode(&want); err != nil {
			t.Fatalf("parsePayloadCanonical accepted %q, encoding/json does not: %v", in, err)
		}
		if !reflect.DeepEqual(doc, want) {
			t.Fatalf("parsePayloadCanonical(%q) = %#v, encoding/json gives %#v", in, doc, want)
		}
		if !canonical {
			return
		}
		got, err := marshal(doc)
		if err != nil {
			t.Fatalf("marshal of %q: %v", in, err)
		}
		if !bytes.Equal(got, in) {
			t.Fatalf("%q was taken as canonical, marshal writes %q", in, got)
		}
	})
}

// TestRepeatedValuesKeepTheirType checks that values shared between lines
// (box) keep apart a string and a number of the same text.
func TestRepeatedValuesKeepTheirType(t *testing.T) {
	in := `{"fee":[{"a":"1","b":1},{"a":"1","b":1}],"x":"1","y":1}`
	got, ok := parsePayload([]byte(in))
	if !ok {
		t.Fatal("refused")
	}
	want := map[string]any{"fee": []any{map[string]any{"a": "1", "b": json.Number("1")}, map[string]any{"a": "1", "b": json.Number("1")}},
		"x": "1", "y": json.Number("1")}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("parsePayload(%s) = %#v", in, got)
	}
}
