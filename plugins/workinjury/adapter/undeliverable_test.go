package adapter

import (
	"strings"
	"testing"

	"github.com/medgate/medgate/plugins/sdk"
	wisim "github.com/medgate/medgate/test/sim/workinjury"
)

// TestUndeliverableRecordIsReported: a record that cannot be delivered is
// fed back as failed and offered again by the national system, so it may
// fail on every run (an attachment the national system no longer has, a
// record breaking the field list). Staff must learn which record and why:
// the job's result and a download message's reply carry a warning naming
// the record and the reason, not just a count.
func TestUndeliverableRecordIsReported(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		opts   []envOption
		run    func(e *env) sdk.Diagnostics
		record string
		reason string
	}{
		"an attachment that cannot be fetched (GYD001 job)": {
			opts: []envOption{withSeed(func(s *wisim.Server) {
				s.AddApplication(wisim.SampleApplication("UR", 1, "350200"))
				bad := wisim.SampleApplication("UR", 2, "350200")
				bad["attachments"] = []any{map[string]any{"attachment_id": "FJ-GONE", "attachment_type": "01"}}
				s.AddApplication(bad)
			})},
			run:    func(e *env) sdk.Diagnostics { return e.runJob(JobFilingApplications).Diagnostics },
			record: "SQUR00000002", reason: "FJ-GONE",
		},
		"a record breaking the field list (GYD006 message)": {
			opts: []envOption{withSeed(func(s *wisim.Server) {
				s.AddFiling(wisim.SampleFiling("UR", 1, "350200"))
				s.AddFiling(wisim.SampleFiling("UR", 2, "350200"))
			}), withAnswers("GYD006", func(answer map[string]any) {
				if recs, _ := answer["records"].([]any); len(recs) > 1 {
					delete(recs[1].(map[string]any), "aac003")
				}
			})},
			run: func(e *env) sdk.Diagnostics {
				r := e.send("GYD006", map[string]any{})
				if r.Status != sdk.StatusOK {
					e.t.Fatalf("GYD006: %s %s", r.Status, r.Diagnostics)
				}
				return r.Diagnostics
			},
			record: "BAUR00000002", reason: "aac003",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, tc.opts...)
			ds := tc.run(e)
			if ds.HasError() {
				t.Fatalf("diagnostics %s: want the batch delivered and fed back", ds)
			}
			var warned bool
			for _, d := range ds {
				text := d.Summary + " " + d.Detail
				warned = warned || (d.Severity == sdk.SeverityWarning && strings.Contains(text, tc.record) && strings.Contains(text, tc.reason))
			}
			if !warned {
				t.Fatalf("diagnostics %q: want a warning naming record %s and why (%s)", ds, tc.record, tc.reason)
			}
		})
	}
}
