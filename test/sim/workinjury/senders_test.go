package workinjury

import (
	"bytes"
	"crypto/ecdsa"
	"encoding/json"
	"errors"
	"fmt"
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

// TestDownloadQueuesPerSender: the national system keeps the download
// queues of each sender (each hospital or agency downloads its own
// increments). Two senders downloading the same code from one simulator
// each get every record once, in batches of their own: one sender's
// unacknowledged batch does not hold the other's downloads back, GYD008
// lists a sender's own batches only, and a sender can neither acknowledge
// (GYU008) nor ask again for (GYR005) a batch of the other.
func TestDownloadQueuesPerSender(t *testing.T) {
	t.Parallel()
	a := newClient(t, nil)
	a.sender = "SITEA"
	b := &client{t: t, srv: a.srv, opts: a.opts, keys: a.keys, sender: "SITEB", n: 1000} // serials of its own
	for i := 1; i <= 3; i++ {
		a.srv.AddApplication(SampleApplication("PS", i, "350200"))
	}
	in := map[string]any{"aab299": "350200"}
	download := func(c *client, wantIDs ...string) string {
		t.Helper()
		code, out := c.call("GYD001", in)
		if code != "0" {
			t.Fatalf("%s: GYD001 answered %s, want a batch of its own", c.sender, code)
		}
		var got []string
		for _, r := range records(out) {
			got = append(got, fmt.Sprint(r["apply_no"]))
		}
		if fmt.Sprint(got) != fmt.Sprint(wantIDs) {
			t.Fatalf("%s: GYD001 handed out %v, want %v", c.sender, got, wantIDs)
		}
		return out["batch_no"].(string)
	}
	ack := func(c *client, batch string, ids ...string) string {
		t.Helper()
		var recs []any
		for _, id := range ids {
			recs = append(recs, map[string]any{"record_id": id, "result_flag": "1"})
		}
		code, _ := c.call("GYU008", map[string]any{"download_code": "GYD001", "batch_no": batch, "record_count": len(recs), "records": recs})
		return code
	}
	outstanding := func(c *client) []string {
		t.Helper()
		_, out := c.call("GYD008", map[string]any{"download_code": "GYD001"})
		var l []string
		list, _ := out["batches"].([]any)
		for _, x := range list {
			l = append(l, fmt.Sprint(x.(map[string]any)["batch_no"]))
		}
		return l
	}
	a1 := download(a, "SQPS00000001", "SQPS00000002")
	b1 := download(b, "SQPS00000001", "SQPS00000002")
	if a1 == b1 {
		t.Fatalf("both senders got batch %s", a1)
	}
	for _, tc := range []struct {
		c    *client
		want string
	}{{a, a1}, {b, b1}} {
		if got := outstanding(tc.c); fmt.Sprint(got) != fmt.Sprint([]string{tc.want}) {
			t.Errorf("%s: GYD008 lists %v, want its own batch %s only", tc.c.sender, got, tc.want)
		}
	}
	if code, _ := b.call("GYD001", in); code != "E2001" {
		t.Fatalf("SITEB: a second GYD001 while its batch is unacknowledged answered %s, want E2001", code)
	}
	if code := ack(b, a1, "SQPS00000001", "SQPS00000002"); code != "E2003" {
		t.Fatalf("SITEB acknowledging SITEA's batch answered %s, want E2003", code)
	}
	if _, out := a.call("GYR005", map[string]any{"download_code": "GYD001", "batch_no": b1, "reason": "lost"}); out["accept_flag"] != "0" {
		t.Fatalf("SITEA asking again for SITEB's batch: %v, want accept_flag 0", out)
	}
	if code := ack(a, a1, "SQPS00000001", "SQPS00000002"); code != "0" {
		t.Fatalf("SITEA acknowledging its batch: %s", code)
	}
	download(a, "SQPS00000003")
	if code, _ := b.call("GYD001", in); code != "E2001" {
		t.Fatalf("SITEB: GYD001 answered %s after SITEA's feedback, want E2001 (its own batch is still unacknowledged)", code)
	}
	if code := ack(b, b1, "SQPS00000001", "SQPS00000002"); code != "0" {
		t.Fatalf("SITEB acknowledging its batch: %s", code)
	}
	download(b, "SQPS00000003")
}

// TestAdmissionDownloadedPerSender: GYD102 needs the stay's admission
// downloaded (GYD101) by the sender asking, as the rest of its downloads:
// an admission another site downloaded is not downloaded for this one
// (E2005).
func TestAdmissionDownloadedPerSender(t *testing.T) {
	t.Parallel()
	c := newChain(t, nil)
	v := c.admit("ZY1")
	a := &client{t: t, srv: c.srv, opts: c.opts, keys: c.keys, sender: "SITEA", n: 2000}
	b := &client{t: t, srv: c.srv, opts: c.opts, keys: c.keys, sender: "SITEB", n: 3000}
	code, out := a.call("GYD101", map[string]any{})
	if code != "0" || len(records(out)) != 1 {
		t.Fatalf("SITEA: GYD101 %s %v, want the admission", code, out)
	}
	if code, _ := a.call("GYU008", map[string]any{"download_code": "GYD101", "batch_no": out["batch_no"], "record_count": 1,
		"records": []any{map[string]any{"record_id": v, "result_flag": "1"}}}); code != "0" {
		t.Fatalf("SITEA: GYU008 %s", code)
	}
	in := map[string]any{"akb020": hospital, "akc190": "ZY1"}
	for _, tc := range []struct {
		c    *client
		want string
	}{{b, "E2005"}, {a, "0"}} {
		if code, _ := tc.c.call("GYD102", in); code != tc.want {
			t.Errorf("%s: GYD102 of the stay answered %s, want %s", tc.c.sender, code, tc.want)
		}
	}
}
