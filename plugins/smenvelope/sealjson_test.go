package smenvelope

import (
	"bytes"
	"encoding/json"
	"testing"
)

// TestSealJSON checks, under every option combination, that SealJSON's body
// opens and is byte for byte what encoding/json writes for the same
// members (key order, escaping of <, > and & and of non-ASCII text).
func TestSealJSON(t *testing.T) {
	ours, peer := testKeys(t)
	business := businessJSON(2 << 10)
	env := testEnv()
	env["sender"] = `医院<A&B>"x"`
	for _, o := range allCombos() {
		body, err := SealJSON(o, ours, env, business)
		if err != nil {
			t.Fatalf("SealJSON(%s): %v", comboName(o), err)
		}
		got, renv, err := Open(o, peer, body)
		if err != nil || !bytes.Equal(got, business) {
			t.Fatalf("Open(SealJSON(%s)) = %v, same business %v", comboName(o), err, bytes.Equal(got, business))
		}
		if renv["sender"] != env["sender"] {
			t.Fatalf("%s: sender %q, want %q", comboName(o), renv["sender"], env["sender"])
		}
		var m map[string]any
		if err := json.Unmarshal(body, &m); err != nil {
			t.Fatalf("%s: body is not JSON: %v", comboName(o), err)
		}
		if want := mustJSON(t, m); !bytes.Equal(body, want) {
			t.Fatalf("%s: SealJSON body differs from json.Marshal of its members:\n got %.300s\nwant %.300s", comboName(o), body, want)
		}
	}
}
