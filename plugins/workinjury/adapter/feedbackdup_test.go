package adapter

import (
	"fmt"
	"maps"
	"testing"

	wisim "github.com/medgate/medgate/test/sim/workinjury"
)

// TestSameRecordTwiceInABatch: a national system whose increment lists a
// record once per change can hand out one record twice in a batch (two
// changes between downloads). GYU008 acknowledges records by their unique
// id, so the feedback names each record once (the simulator, like a
// national system counting distinct ids, refuses a feedback naming one
// twice: the batch would stay unacknowledged and block every later
// download of the code). The copies come in the order of the changes,
// so the last is the record as it is now, and it decides the flag: 1 when
// it was delivered (an earlier version that could not be is superseded;
// offering the record again would deliver it twice, under a new event id
// for records whose id names their batch), 0 when it could not be, so that
// it is offered again. Every copy that could be delivered is published.
func TestSameRecordTwiceInABatch(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		copyOf  func(rec map[string]any) map[string]any
		before  bool   // the copy comes first, the record as it is last
		flag    string // of the duplicated record
		events  int    // distinct event ids published
		pending int    // records the national system offers again
	}{
		"an identical copy": {
			copyOf: func(rec map[string]any) map[string]any { return maps.Clone(rec) },
			flag:   "1", events: 3, pending: 0,
		},
		"a later version": {
			copyOf: func(rec map[string]any) map[string]any {
				c := maps.Clone(rec)
				c["aae005"], c["update_time"] = "13911112222", "2025-04-01 10:05:00"
				return c
			},
			flag: "1", events: 4, pending: 0,
		},
		"a copy that breaks the schema": {
			copyOf: func(rec map[string]any) map[string]any {
				c := maps.Clone(rec)
				delete(c, "aac003")
				return c
			},
			flag: "0", events: 3, pending: 1,
		},
		"a copy that breaks the schema, then the current one": {
			copyOf: func(rec map[string]any) map[string]any {
				c := maps.Clone(rec)
				delete(c, "aac003")
				c["update_time"] = "2025-04-01 09:55:00"
				return c
			},
			before: true, flag: "1", events: 3, pending: 0,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, withSeed(func(s *wisim.Server) {
				for i := 1; i <= 3; i++ {
					s.AddFiling(wisim.SampleFiling("DUP", i, "350200"))
				}
			}), withAnswers("GYD006", func(answer map[string]any) {
				recs, _ := answer["records"].([]any)
				if len(recs) == 0 {
					return
				}
				first, _ := recs[0].(map[string]any)
				if tc.before {
					answer["records"] = append([]any{tc.copyOf(first)}, recs...)
				} else {
					answer["records"] = append(recs, tc.copyOf(first))
				}
				answer["record_count"] = len(recs) + 1
			}))
			if r := e.runJob(JobFilings); r.Diagnostics.HasError() {
				t.Fatalf("job: %s", r.Diagnostics)
			}
			b := nonEmpty(e.sim.Batches("GYD006"))
			if len(b) != 1 || !b[0].Acked || b[0].Feedbacks != 1 {
				t.Fatalf("batches %+v; want the batch acknowledged once", b)
			}
			fb := e.sim.Received("GYU008")
			recs, _ := fb[len(fb)-1].Input["records"].([]any)
			flags := map[string][]string{}
			for _, x := range recs {
				r := x.(map[string]any)
				id := fmt.Sprint(r["record_id"])
				flags[id] = append(flags[id], fmt.Sprint(r["result_flag"]))
			}
			if len(recs) != 3 || len(flags) != 3 {
				t.Fatalf("feedback records %v, want each of the 3 records once", recs)
			}
			if got := flags["BADUP00000001"]; len(got) != 1 || got[0] != tc.flag {
				t.Errorf("flags of the duplicated record %v, want [%s]", got, tc.flag)
			}
			ids := map[string]bool{}
			for _, ev := range e.events("workinjury.filing.downloaded") {
				ids[ev.ID] = true
			}
			if len(ids) != tc.events {
				t.Errorf("%d distinct event ids, want %d", len(ids), tc.events)
			}
			if n := e.sim.Pending("GYD006"); n != tc.pending {
				t.Errorf("%d records pending at the national system, want %d", n, tc.pending)
			}
		})
	}
}
