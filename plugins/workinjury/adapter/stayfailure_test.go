package adapter

import (
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/medgate/medgate/schemas"
)

// TestFeeDetailFailureIsOfItsStay: detail_no is unique only within one
// stay, so a GYD102 batch can hold a detail of another stay with the same
// number (a stay revoked and admitted again under the same akc190). A
// detail that cannot be delivered must be fed back as failed alone: the
// other stay's detail of the same number was published and is
// acknowledged (result_flag 1), else the national system hands it out
// again and it is delivered twice. Each feedback record carries the
// detail's own number as record_id and, when the GYU008 schema declares
// the field (medgate's reconstruction does), its stay as ykc700, so the
// two records are told apart; with a GYU008 field list without it (an
// official one, say) the field is not sent.
func TestFeeDetailFailureIsOfItsStay(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		opts     func(t *testing.T) []envOption
		withStay bool
	}{
		"reconstructed GYU008, with the stay": {opts: func(*testing.T) []envOption { return nil }, withStay: true},
		"a GYU008 field list without the stay": {opts: func(t *testing.T) []envOption {
			return []envOption{withSettings(setSchemaDir, gyu008WithoutStay(t))}
		}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := newChain(t, tc.opts(t)...)
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
			// The stored batch as a national system may hand it out: the
			// first detail undeliverable (no fee_time), and a detail of
			// another stay with the same number.
			h := hostFor(c.host, testSite)
			var st dlState
			if _, err := getJSON(t.Context(), h, "dl/GYD102", &st); err != nil || st.Step != stepStored {
				t.Fatalf("state %+v (%v), want a stored batch", st, err)
			}
			if err := c.impl.loadRecords(t.Context(), h, &st); err != nil || len(st.Records) == 0 {
				t.Fatalf("records of the stored batch: %d (%v), want some", len(st.Records), err)
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
			if err := c.impl.storeRecords(t.Context(), h, "dl/GYD102", &st); err != nil {
				t.Fatal(err)
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
			type want struct{ flag, stay string }
			for i, w := range map[int]want{0: {"0", str(first, "ykc700")}, len(recs) - 1: {"1", "JZ-OTHER-STAY-0001"}} {
				r := recs[i].(map[string]any)
				if r["record_id"] != no || r["result_flag"] != w.flag {
					t.Errorf("feedback record %d = %v, want record_id %s with result_flag %s", i, r, no, w.flag)
				}
				stay, has := r["ykc700"]
				switch {
				case tc.withStay && stay != w.stay:
					t.Errorf("feedback record %d = %v, want its stay ykc700 %s", i, r, w.stay)
				case !tc.withStay && has:
					t.Errorf("feedback record %d = %v carries ykc700, which this GYU008 field list does not declare", i, r)
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
		})
	}
}

// gyu008WithoutStay returns a schema overlay (schemaDir) whose GYU008
// records have no ykc700, as an official field list may have them.
func gyu008WithoutStay(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "workinjury"), 0o755); err != nil {
		t.Fatal(err)
	}
	b, err := fs.ReadFile(schemas.EmbeddedFS(), "workinjury/GYU008.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// Drop the item "- name: ykc700" and every line indented below it.
	var kept []string
	skip := -1
	for _, l := range strings.Split(string(b), "\n") {
		indent := len(l) - len(strings.TrimLeft(l, " "))
		if skip >= 0 && (indent > skip || strings.TrimSpace(l) == "") {
			continue
		}
		skip = -1
		if strings.TrimSpace(l) == "- name: ykc700" {
			skip = indent
			continue
		}
		kept = append(kept, l)
	}
	out := []byte(strings.Join(kept, "\n"))
	if strings.Contains(string(out), "name: ykc700") {
		t.Fatal("GYU008: ykc700 not removed from the records; update this test")
	}
	if err := os.WriteFile(filepath.Join(dir, "workinjury", "GYU008.yaml"), out, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
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
