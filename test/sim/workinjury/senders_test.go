package workinjury

import (
	"bytes"
	"crypto/ecdsa"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/medgate/medgate/plugins/smenvelope"
)

// TestSendersEachWithItsOwnKey: with one registered key per institution,
// each institution's requests verify with its own key and are answered
// encrypted to it; a request that names one institution but is signed
// with another's key, or names an institution with no key, is refused
// with an unsigned E0001.
func TestSendersEachWithItsOwnKey(t *testing.T) {
	base := keysOnce()
	a, err := base.NewHospital()
	if err != nil {
		t.Fatal(err)
	}
	b, err := base.NewHospital()
	if err != nil {
		t.Fatal(err)
	}
	o := smenvelope.Defaults()
	srv, err := New(Config{Options: o, Keys: smenvelope.Keys{Private: base.National},
		Senders: map[string]*ecdsa.PublicKey{"SITEA": &a.Hospital.PublicKey}})
	if err != nil {
		t.Fatal(err)
	}
	srv.AddSender("SITEB", &b.Hospital.PublicKey)
	f := SampleFiling("BN", 1, "350200")
	srv.AddFiling(f)

	call := func(sender string, kp KeyPair, serial string) map[string]any {
		t.Helper()
		plain, _ := json.Marshal(map[string]any{"aac002": f["aac002"], "aac003": f["aac003"], "akb020": "H35020300123", "visit_date": f["aae030"]})
		env, err := smenvelope.Seal(o, kp.AdapterKeys(), map[string]string{"infno": "GYD051", "msgid": serial, "sender": sender}, plain)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := json.Marshal(env)
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body)))
		if rec.Code != http.StatusOK {
			t.Fatalf("%s: HTTP %d %s", serial, rec.Code, rec.Body)
		}
		out, _, err := smenvelope.Open(o, kp.AdapterKeys(), rec.Body.Bytes())
		if err != nil {
			var ans map[string]any
			_ = json.Unmarshal(rec.Body.Bytes(), &ans)
			var be *smenvelope.BusinessError
			if errors.As(err, &be) {
				return ans
			}
			if ans["code"] != nil {
				return ans
			}
			t.Fatalf("%s: open the answer: %v", serial, err)
		}
		var data map[string]any
		if err := json.Unmarshal(out, &data); err != nil {
			t.Fatal(err)
		}
		return data
	}
	for _, tc := range []struct {
		sender string
		kp     KeyPair
	}{{"SITEA", a}, {"SITEB", b}} {
		if out := call(tc.sender, tc.kp, "OK-"+tc.sender); out["filing_valid"] != "1" {
			t.Errorf("%s with its own key: %v, want a valid filing, answered to its key", tc.sender, out)
		}
	}
	for _, tc := range []struct {
		name, sender string
		kp           KeyPair
	}{
		{"B's key naming A", "SITEA", b},
		{"A's key naming B", "SITEB", a},
		{"unknown sender", "SITEC", a},
		{"no sender", "", a},
	} {
		ans := call(tc.sender, tc.kp, "BAD")
		if ans["code"] != "E0001" || ans["sign"] != nil || ans["data"] != nil {
			t.Errorf("%s: answered %v, want an unsigned E0001", tc.name, ans)
		}
	}
	if _, err := New(Config{Options: o, Keys: smenvelope.Keys{Private: base.National}}); err == nil {
		t.Error("New with no hospital key at all succeeded")
	}
}
