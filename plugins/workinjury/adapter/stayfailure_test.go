package adapter

import (
	"encoding/json"
	"testing"
)

// TestFeeDetailFailureIsOfItsStay: detail_no is unique only within one
// stay, so a GYD102 batch can hold a detail of another stay with the same
// number (a stay revoked and admitted again under the same akc190). A
// detail that cannot be delivered must be fed back as failed alone: the
// other stay's detail of the same number was published and is
// acknowledged (result_flag 1), else the national system hands it out
// again and it is delivered twice. Each feedback record still carries the
// detail's own number as record_id.
func TestFeeDetailFailureIsOfItsStay(t *testing.T) {
	t.Parallel()
	c := newChain(t)
	c.stay("ZY0971")
	c.mustOK(c.send("GYD101", map[string]any{}))
	c.impl.hook = func(p string) error {
		if p == "stored" {
			return errCrash
		}
		return nil
	}
	if r := c.send("GYD102", map[string]any{"akb020": hospital, "akc190": "ZY0971"}); r.Status == "ok" {
		t.Fatalf("the crashed GYD102 answered ok")
	}
	c.impl.hook = nil
	// The stored batch as a national system may hand it out: the first
	// detail undeliverable (no fee_time), and a detail of another stay
	// with the same number.
	h := hostFor(c.host, testSite)
	var st dlState
	if _, err := getJSON(t.Context(), h, "dl/GYD102", &st); err != nil || st.Step != stepStored || len(st.Records) == 0 {
		t.Fatalf("state %+v (%v), want a stored batch", st, err)
	}
	var first map[string]any
	if err := json.Unmarshal(st.Records[0], &first); err != nil {
		t.Fatal(err)
	}
	other := map[string]any{}
	for k, v := range first {
		other[k] = v
	}
	other["ykc700"] = "JZ-OTHER-STAY-0001"
	delete(first, "fee_time")
	for i, rec := range []map[string]any{first, other} {
		b, err := json.Marshal(rec)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			st.Records[0] = b
		} else {
			st.Records = append(st.Records, b)
		}
	}
	if err := putJSON(t.Context(), h, "dl/GYD102", st); err != nil {
		t.Fatal(err)
	}
	c.send("GYD102", map[string]any{"akb020": hospital, "akc190": "ZY0971"})
	fb := c.sim.Received("GYU008")
	if len(fb) == 0 {
		t.Fatal("no GYU008 sent")
	}
	recs, _ := fb[len(fb)-1].Input["records"].([]any)
	if len(recs) != len(st.Records) {
		t.Fatalf("feedback of %d records, want %d", len(recs), len(st.Records))
	}
	no := str(first, "detail_no")
	for i, want := range map[int]string{0: "0", len(recs) - 1: "1"} {
		r := recs[i].(map[string]any)
		if r["record_id"] != no || r["result_flag"] != want {
			t.Errorf("feedback record %d = %v, want record_id %s with result_flag %s", i, r, no, want)
		}
	}
	var delivered bool
	for _, ev := range c.events("workinjury.fee_detail.downloaded") {
		var p struct {
			Record map[string]any `json:"record"`
		}
		if err := json.Unmarshal(ev.Payload, &p); err != nil {
			t.Fatal(err)
		}
		delivered = delivered || str(p.Record, "ykc700") == "JZ-OTHER-STAY-0001"
	}
	if !delivered {
		t.Error("the other stay's detail was not published")
	}
}

// TestFailedReasonOfOlderStates: failures kept by stay are found by stay
// only; failures a state written before kept by bare detail_no still flag
// the record failed (an undelivered record is never acknowledged).
func TestFailedReasonOfOlderStates(t *testing.T) {
	t.Parallel()
	stayA := map[string]any{"ykc700": "JZA", "detail_no": "0001"}
	stayB := map[string]any{"ykc700": "JZB", "detail_no": "0001"}
	for name, tc := range map[string]struct {
		failed map[string]string
		rec    map[string]any
		want   bool
	}{
		"failed detail of its stay":      {map[string]string{"JZA/0001": "x"}, stayA, true},
		"same number, another stay":      {map[string]string{"JZA/0001": "x"}, stayB, false},
		"older state, bare detail_no":    {map[string]string{"0001": "x"}, stayB, true},
		"older state, another detail_no": {map[string]string{"0002": "x"}, stayB, false},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			id := str(tc.rec, "detail_no")
			if _, got := failedReason(tc.failed, failureKey("GYD102", tc.rec, id), id); got != tc.want {
				t.Errorf("failed %v, record %v: flagged %v, want %v", tc.failed, tc.rec, got, tc.want)
			}
		})
	}
}
