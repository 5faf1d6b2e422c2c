package adapter

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

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

// TestDateRangeRedeliveryLeavesNewRecordsOrdinary: the batches that follow
// a date-range GYR005 carry the records handed out again mixed with
// records that are new. A record changed after the GYR005 was sent cannot
// be one delivered before (every record version delivered before had its
// update_time by then): it is published as any new record, under its
// ordinary id and without redeliveryOf, which would tell the platform it
// had the record before – and a platform restoring lost data could then
// skip the business a new record starts (an application to audit, a
// filing to honour). A record whose update_time does not tell (not after
// the GYR005) keeps the re-delivery id: dropping a re-delivery is worse
// than an id of its own.
func TestDateRangeRedeliveryLeavesNewRecordsOrdinary(t *testing.T) {
	t.Parallel()
	e := newEnv(t, withSeed(func(s *wisim.Server) {
		for i := 1; i <= 2; i++ {
			s.AddFiling(wisim.SampleFiling("RN", i, "350200"))
		}
	}))
	if r := e.runJob(JobFilings); r.Diagnostics.HasError() {
		t.Fatalf("first run: %s", r.Diagnostics)
	}
	r := e.send("GYR005", map[string]any{"download_code": "GYD006", "aae030": "2000-01-01", "aae031": "2099-12-31", "reason": "本地数据丢失"})
	if out := e.mustOK(r); out["accept_flag"] != "1" {
		t.Fatalf("GYR005 = %v", out)
	}
	serial := r.External.MsgID
	// Filing 3 is new, changed after the GYR005; filing 4 is new too,
	// but its update_time (before the GYR005) cannot tell it from one
	// delivered before.
	fresh := wisim.SampleFiling("RN", 3, "350200")
	fresh["update_time"] = time.Now().In(cst).Add(2 * time.Second).Format("2006-01-02 15:04:05")
	e.sim.AddFiling(fresh)
	e.sim.AddFiling(wisim.SampleFiling("RN", 4, "350200"))
	if r := e.runJob(JobFilings); r.Diagnostics.HasError() {
		t.Fatalf("re-download run: %s", r.Diagnostics)
	}
	cases := map[string]struct {
		redelivery bool // the re-delivery id (~serial) wanted
	}{
		"BARN00000001": {redelivery: true},
		"BARN00000002": {redelivery: true},
		"BARN00000003": {redelivery: false},
		"BARN00000004": {redelivery: true},
	}
	got := map[string]bool{}
	for _, ev := range e.events("workinjury.filing.downloaded")[2:] {
		tc, ok := cases[ev.Key]
		if !ok {
			t.Fatalf("unexpected record %s", ev.Key)
		}
		got[ev.Key] = true
		marked := strings.HasSuffix(ev.ID, "~"+serial)
		claims := strings.Contains(string(ev.Payload), "redeliveryOf")
		if marked != tc.redelivery || claims != tc.redelivery {
			t.Errorf("%s: id %s (re-delivery id %v), redeliveryOf %v; want the re-delivery id and redeliveryOf %v", ev.Key, ev.ID, marked, claims, tc.redelivery)
		}
	}
	if len(got) != len(cases) {
		t.Fatalf("re-download run published %v, want %d records", got, len(cases))
	}
}

func TestRedeliveryBound(t *testing.T) {
	t.Parallel()
	sent := time.Date(2025, 5, 10, 9, 30, 15, 700_000_000, cst)
	cases := map[string]struct {
		to, want string
	}{
		"range ending today: the GYR005's time":  {to: "2025-05-10", want: "2025-05-10 09:30:15"},
		"range ending later":                     {to: "2099-12-31", want: "2025-05-10 09:30:15"},
		"range ended before: the end of its day": {to: "2025-05-03", want: "2025-05-03 23:59:59"},
		"range end as a datetime":                {to: "2025-05-03 12:00:00", want: "2025-05-03 23:59:59"},
		"no readable range end":                  {to: "", want: "2025-05-10 09:30:15"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if got := redeliveryBound(tc.to, sent.UTC()); got != tc.want {
				t.Fatalf("redeliveryBound(%q) = %s, want %s", tc.to, got, tc.want)
			}
		})
	}
}

func TestNewSince(t *testing.T) {
	t.Parallel()
	const before = "2025-05-10 09:30:15"
	cases := map[string]struct {
		updated, before string
		want            bool
	}{
		"changed after":                      {updated: "2025-05-10 09:30:16", before: before, want: true},
		"changed in that second":             {updated: "2025-05-10 09:30:15", before: before},
		"changed before":                     {updated: "2025-04-01 10:00:00", before: before},
		"changed after, T layout":            {updated: "2025-05-10T10:00:00", before: before, want: true},
		"changed after, compact":             {updated: "20250510100000", before: before, want: true},
		"no update_time":                     {updated: "", before: before},
		"unreadable update_time":             {updated: "10/05/2025", before: before},
		"re-download stored without a bound": {updated: "2025-05-10 10:00:00", before: ""},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if got := newSince(tc.updated, tc.before); got != tc.want {
				t.Fatalf("newSince(%q, %q) = %v, want %v", tc.updated, tc.before, got, tc.want)
			}
		})
	}
}
