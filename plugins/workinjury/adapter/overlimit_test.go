package adapter

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	wisim "github.com/medgate/medgate/test/sim/workinjury"
)

// TestBatchAboveTheLimitIsDelivered: a national system that breaks its own
// limit (单次最多下载500条) and hands out a batch of more than 500 records
// cannot be made to keep it from here, and asking for the batch again gets
// the same batch. The run is not stuck: every record is stored and
// published, the batch is fed back in parts of at most 500 records (a
// GYU008 carries no more, 单次最多上传500条), each record once with the flag
// of what was delivered, and operators are told (a warning in the run's
// result, an ALERT line, a workinjury.download.batch_over_limit event).
// A part whose reply is lost is reconciled with GYD053, never sent twice.
func TestBatchAboveTheLimitIsDelivered(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		records   int
		lostPart  int // the part (1-based) of the feedback whose reply is lost; 0: none
		wantParts int
	}{
		"501 records: two parts":                     {records: 501, wantParts: 2},
		"1001 records, the second part's reply lost": {records: 1001, lostPart: 2, wantParts: 3},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			filingNo := func(i int) string { return wisim.SampleFiling("OL", i, "350200")["filing_no"].(string) }
			e := newEnv(t, withSim(func(cfg *wisim.Config) { cfg.OverBatchLimit = tc.records }), withSeed(func(s *wisim.Server) {
				for i := 1; i <= tc.records; i++ {
					s.AddFiling(wisim.SampleFiling("OL", i, "350200"))
				}
			}))
			if tc.lostPart > 0 {
				first := filingNo((tc.lostPart-1)*maxBatch + 1)
				e.sim.Inject(wisim.Fault{Code: "GYU008", Kind: wisim.FaultLostReply, Match: func(in map[string]any) bool {
					recs, _ := in["records"].([]any)
					return len(recs) > 0 && fmt.Sprint(recs[0].(map[string]any)["record_id"]) == first
				}})
			}
			r := e.runJob(JobFilings)
			if r.Diagnostics.HasError() {
				t.Fatalf("the run failed: %s", r.Diagnostics)
			}
			warned := false
			for _, d := range r.Diagnostics {
				warned = warned || (d.Rule == "over-limit" && strings.Contains(d.Summary, fmt.Sprint(tc.records)))
			}
			if !warned {
				t.Errorf("the run's result does not warn of the batch above the limit (rule over-limit): %s", r.Diagnostics)
			}
			if n := len(e.events("workinjury.filing.downloaded")); n != tc.records {
				t.Fatalf("%d records published, want all %d", n, tc.records)
			}
			fed := map[string]int{}
			sent := e.sim.Received("GYU008")
			for _, q := range sent {
				recs, _ := q.Input["records"].([]any)
				if len(recs) > maxBatch {
					t.Errorf("a GYU008 carries %d records, more than %d", len(recs), maxBatch)
				}
				for _, x := range recs {
					fed[fmt.Sprint(x.(map[string]any)["record_id"])]++
				}
			}
			if len(sent) != tc.wantParts || len(fed) != tc.records {
				t.Fatalf("GYU008 sent %d times naming %d records; want %d parts naming all %d", len(sent), len(fed), tc.wantParts, tc.records)
			}
			for id, n := range fed {
				if n != 1 {
					t.Errorf("record %s fed back %d times, want once", id, n)
				}
			}
			b := nonEmpty(e.sim.Batches("GYD006"))
			if len(b) != 1 || !b[0].Acked || b[0].Feedbacks != tc.wantParts || e.sim.Pending("GYD006") != 0 {
				t.Fatalf("batches %+v, pending %d; want the batch acknowledged in %d parts", b, e.sim.Pending("GYD006"), tc.wantParts)
			}
			alerts := e.events("workinjury.download.batch_over_limit")
			if len(alerts) != 1 {
				t.Fatalf("%d batch_over_limit events, want 1", len(alerts))
			}
			var p map[string]any
			if err := json.Unmarshal(alerts[0].Payload, &p); err != nil || p["batchNo"] != b[0].No || p["records"] != float64(tc.records) || p["limit"] != float64(maxBatch) {
				t.Errorf("batch_over_limit payload %s (%v); want the batch, its size and the limit", alerts[0].Payload, err)
			}
			var st dlState
			if _, err := getJSON(t.Context(), hostFor(e.host, testSite), "dl/GYD006", &st); err != nil || st.Step != stepDone || st.LastBatchNo != b[0].No {
				t.Fatalf("workflow %+v (%v); want done with cursor %s", st, err, b[0].No)
			}
		})
	}
}
