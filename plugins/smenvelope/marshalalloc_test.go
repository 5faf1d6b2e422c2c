package smenvelope

import (
	"encoding/json"
	"testing"
)

// TestMarshalEnvelopeAllocations: the members of a sealed envelope are
// written into one buffer. Names and values that JSON carries as they are
// (printable ASCII without ", \, <, > or &: field names, codes, serials,
// times, base64 or hex) are written straight; until 2026-12-05 each name
// and each value went through json.Marshal (two allocations each, about
// 30 per envelope, a sixth of a request round's). The bytes stay those
// of json.Marshal (TestSealJSON).
func TestMarshalEnvelopeAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector changes what allocates")
	}
	o := Defaults()
	f := o.Fields
	plain := map[string]any{f.TxCode: "GYD051", f.MsgID: "H35020000120261205160000000123", "sender": "H350200001", "receiver": "GYYD",
		"version": "V1.5.02", f.Timestamp: "20261205160000", f.SignType: "SM2", f.Key: "BEd2b3JrLWluanVyeQ==", f.Sign: "MEUCIQDabc+/=="}
	escaped := map[string]any{f.TxCode: "GYD051", "sender": `医院<A&B>"x"`}
	ct := make([]byte, 48)
	cases := map[string]struct {
		m   map[string]any
		ct  []byte
		max float64
	}{
		"plain members, data from ct":  {plain, ct, 2},
		"plain members, data as text":  {withData(plain, f.Data, "AAAA"), nil, 2},
		"a member that needs escaping": {escaped, ct, 4},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got := testing.AllocsPerRun(50, func() {
				if _, err := marshalEnvelope(o, tc.m, tc.ct); err != nil {
					t.Fatal(err)
				}
			})
			if got > tc.max {
				t.Errorf("marshalEnvelope allocates %.0f times, want at most %.0f", got, tc.max)
			}
		})
	}
}

func withData(m map[string]any, k, v string) map[string]any {
	out := map[string]any{k: v}
	for k, v := range m {
		out[k] = v
	}
	return out
}

// TestAppendJSONString: what appendJSONString writes is json.Marshal's
// text, for text it copies straight and for text it leaves to
// json.Marshal.
func TestAppendJSONString(t *testing.T) {
	for name, s := range map[string]string{
		"empty": "", "code": "GYD051", "time": "2026-12-05 16:00:00", "base64": "ab+/cd==", "space and tilde": " ~",
		"DEL": "a\x7fb", "control": "a\x01b\n", "quote": `a"b`, "backslash": `a\b`, "HTML": "<a&b>",
		"Chinese": "厦门市第一医院", "invalid UTF-8": "a\xffb", "U+2028": "a\u2028b",
	} {
		t.Run(name, func(t *testing.T) {
			want, err := json.Marshal(s)
			if err != nil {
				t.Fatal(err)
			}
			got, err := appendJSONString([]byte("x"), s)
			if err != nil || string(got) != "x"+string(want) {
				t.Errorf("appendJSONString(%q) = %s, %v; want x%s", s, got, err, want)
			}
		})
	}
}

// TestParseEnvelopeAllocations: the strings of an envelope opened are
// parts of one copy of its body. Until 2026-12-05 each member name and
// each string value was a copy of its own (11 of the 25 allocations of
// parsing a 10-member envelope; the data member, most of the body, among
// them).
func TestParseEnvelopeAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector changes what allocates")
	}
	ours, _ := testKeys(t)
	body, err := SealJSON(Defaults(), ours, testEnv(), businessJSON(300))
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct {
		body []byte
		max  float64
	}{
		// A map of 10 members (4 allocations), 10 values in an
		// interface each, one copy of the body.
		"sealed envelope":      {body, 15},
		"numbers and literals": {[]byte(`{"code":0,"ok":true,"none":null,"msg":"成功"}`), 8},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got := testing.AllocsPerRun(50, func() {
				if _, ok := parseFlatObject(tc.body); !ok {
					t.Fatal("not parsed")
				}
			})
			if got > tc.max {
				t.Errorf("parseFlatObject allocates %.0f times, want at most %.0f", got, tc.max)
			}
		})
	}
}
