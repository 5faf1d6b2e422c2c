package adapter

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	wisim "github.com/medgate/medgate/test/sim/workinjury"
)

// TestDateRangeRedeliveryGetsIDsOfItsOwn: staff ask with a date-range
// GYR005 for records downloaded before (lost locally). The records handed
// out again must not come under the event ids they had, or a platform that
// drops known ids drops the very re-delivery asked for: each gets an id of
// its own, naming the GYR005 serial, and a record whose earlier id is
// known (it has update_time) carries it in redeliveryOf. A re-delivery
// batch published again after a crash keeps those ids (duplicates must
// still be dropped), and once the code has no more records, new records
// are published as usual.
func TestDateRangeRedeliveryGetsIDsOfItsOwn(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		code, job, typ string
		add            func(s *wisim.Server, i int)
		key            func(i int) string
		earlierKnown   bool // the id does not name the batch: redeliveryOf is set
	}{
		"filings (update_time)": {"GYD006", JobFilings, "workinjury.filing.downloaded",
			func(s *wisim.Server, i int) { s.AddFiling(wisim.SampleFiling("RV", i, "350200")) },
			func(i int) string { return fmt.Sprintf("BARV%08d", i) }, true},
		"applications (no update_time)": {"GYD001", JobFilingApplications, "workinjury.filing_application.downloaded",
			func(s *wisim.Server, i int) { s.AddApplication(wisim.SampleApplication("RV", i, "350200")) },
			func(i int) string { return fmt.Sprintf("SQRV%08d", i) }, false},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, withSeed(func(s *wisim.Server) {
				for i := 1; i <= 3; i++ {
					tc.add(s, i)
				}
			}))
			if r := e.runJob(tc.job); r.Diagnostics.HasError() {
				t.Fatalf("first run: %s", r.Diagnostics)
			}
			first := map[string]string{} // record key → event id
			for _, ev := range e.events(tc.typ) {
				first[ev.Key] = ev.ID
			}
			if len(first) != 3 {
				t.Fatalf("first run published %d records, want 3", len(first))
			}
			r := e.send("GYR005", map[string]any{"download_code": tc.code, "aae030": "2000-01-01", "aae031": "2099-12-31", "reason": "本地数据丢失"})
			if out := e.mustOK(r); out["accept_flag"] != "1" {
				t.Fatalf("GYR005 = %v", out)
			}
			serial := r.External.MsgID
			crashed := false
			e.impl.hook = func(p string) error {
				if p == "published:2" && !crashed {
					crashed = true
					return errCrash
				}
				return nil
			}
			if r := e.runJob(tc.job); !r.Diagnostics.HasError() {
				t.Fatalf("the crashed run reported no error: %s", r.Summary)
			}
			e.connect()
			if r := e.runJob(tc.job); r.Diagnostics.HasError() {
				t.Fatalf("resumed run: %s", r.Diagnostics)
			}
			again := map[string]string{} // record key → event id of the re-delivery
			for _, ev := range e.events(tc.typ)[3:] {
				var p struct {
					RedeliveryOf *string `json:"redeliveryOf"`
				}
				if err := json.Unmarshal(ev.Payload, &p); err != nil {
					t.Fatal(err)
				}
				if ev.ID == first[ev.Key] || !strings.HasSuffix(ev.ID, "~"+serial) {
					t.Errorf("re-delivered %s under id %s, delivered before as %s; want an id of its own naming GYR005 serial %s", ev.Key, ev.ID, first[ev.Key], serial)
				}
				if tc.earlierKnown && (p.RedeliveryOf == nil || *p.RedeliveryOf != first[ev.Key]) {
					t.Errorf("re-delivered %s: redeliveryOf %v, want %s", ev.Key, p.RedeliveryOf, first[ev.Key])
				}
				if !tc.earlierKnown && p.RedeliveryOf != nil {
					t.Errorf("re-delivered %s: redeliveryOf %q, but its earlier id named a batch not known here", ev.Key, *p.RedeliveryOf)
				}
				if prev, ok := again[ev.Key]; ok && prev != ev.ID {
					t.Errorf("%s published again after the crash under id %s, first %s: the same batch must keep its ids", ev.Key, ev.ID, prev)
				}
				again[ev.Key] = ev.ID
			}
			if len(again) != 3 {
				t.Fatalf("%d records re-delivered, want 3", len(again))
			}
			// The re-download is over: a new record comes as usual.
			tc.add(e.sim, 4)
			if r := e.runJob(tc.job); r.Diagnostics.HasError() {
				t.Fatalf("later run: %s", r.Diagnostics)
			}
			evs := e.events(tc.typ)
			last := evs[len(evs)-1]
			if last.Key != tc.key(4) || strings.Contains(last.ID, "~") || strings.Contains(string(last.Payload), "redeliveryOf") {
				t.Errorf("new record after the re-download: key %s, id %s; want an ordinary event", last.Key, last.ID)
			}
		})
	}
}
