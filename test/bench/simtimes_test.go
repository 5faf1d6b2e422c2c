package bench

import (
	"encoding/json"
	"testing"
)

// TestEnvelopeMember: the serial is read from the envelope's member, never
// from a member's text that mentions it, and an envelope without it gives
// nothing.
func TestEnvelopeMember(t *testing.T) {
	enc := func(m map[string]any) []byte {
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	cases := []struct {
		name string
		body []byte
		want string
		ok   bool
	}{
		{"member", enc(map[string]any{"infno": "GYU102", "msgid": "S1", "data": "QUJD"}), "S1", true},
		{"quoted inside text first", enc(map[string]any{"a": `"msgid":"fake"`, "msgid": "S2"}), "S2", true},
		{"only inside text", enc(map[string]any{"a": `"msgid":"fake"`}), "", false},
		{"not a string", []byte(`{"msgid":12}`), "", false},
		{"absent", []byte(`{"infno":"GYD051"}`), "", false},
		{"not JSON", []byte(`garbage`), "", false},
	}
	for _, c := range cases {
		got, ok := envelopeMember(c.body, "msgid")
		if got != c.want || ok != c.ok {
			t.Errorf("%s: envelopeMember(%s) = %q, %v; want %q, %v", c.name, c.body, got, ok, c.want, c.ok)
		}
	}
}
