package adapter

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/medgate/medgate/plugins/sdk"
	wisim "github.com/medgate/medgate/test/sim/workinjury"
)

// TestOversizeRecordIsDeliveredOrFedBack: a downloaded record larger than
// the host takes in one state value (GYD001's attachment list has no
// bound) must neither block its code (every run asking for the same batch
// again) nor be lost. It is stored in parts and delivered whole; when even
// its event is larger than the host publishes, it is fed back as failed
// with a reason the national side understands, the rest of the batch is
// delivered and acknowledged, and the operator is told (ALERT, event):
// published, it would be refused by the events topic on every try.
func TestOversizeRecordIsDeliveredOrFedBack(t *testing.T) {
	t.Parallel()
	const stateLimit = 8 << 10
	cases := map[string]struct {
		kafkaLimit int  // the adapter's bound of an event (0: its default)
		delivered  bool // the big record reaches the platform
		wantReason string
	}{
		"stored in parts and delivered whole":                {delivered: true},
		"its event above the events topic's bound: fed back": {kafkaLimit: 6 << 10, wantReason: "字节"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			const attachments = 120
			big := wisim.SampleApplication("OV", 2, "350200")
			var atts []wisim.Attachment
			for i := range attachments {
				atts = append(atts, wisim.SampleAttachment(fmt.Sprintf("FJOV%06d", i)))
			}
			e := newEnv(t, withStateLimit(stateLimit), withSeed(func(s *wisim.Server) {
				s.AddApplication(wisim.SampleApplication("OV", 1, "350200"))
				s.AddApplication(big, atts...)
				s.AddApplication(wisim.SampleApplication("OV", 3, "350200"))
			}))
			logs := &logBuffer{}
			e.logger = slog.New(slog.NewTextHandler(logs, nil))
			e.connect()
			if tc.kafkaLimit > 0 {
				e.impl.eventBytes = tc.kafkaLimit
			}
			r := e.runJob(JobFilingApplications)
			if r.Diagnostics.HasError() {
				t.Fatalf("job: %s", r.Diagnostics)
			}
			b := nonEmpty(e.sim.Batches("GYD001"))
			if len(b) != 1 || b[0].Records != 3 || !b[0].Acked || b[0].Feedbacks != 1 || b[0].Deliveries != 1 {
				t.Fatalf("batches %+v; want one batch of 3 records, handed out once and acknowledged once", b)
			}
			fb := e.sim.Received("GYU008")
			if len(fb) != 1 {
				t.Fatalf("%d GYU008 sent, want 1", len(fb))
			}
			bigNo := big["apply_no"].(string)
			recs, _ := fb[0].Input["records"].([]any)
			if len(recs) != 3 {
				t.Fatalf("feedback of %d records, want 3: %v", len(recs), recs)
			}
			for _, x := range recs {
				rr := x.(map[string]any)
				want := "1"
				if rr["record_id"] == bigNo && !tc.delivered {
					want = "0"
					if reason, _ := rr["fail_reason"].(string); !strings.Contains(reason, tc.wantReason) {
						t.Errorf("fail_reason %q of the oversize record: want it to say its size (%q)", reason, tc.wantReason)
					}
				}
				if rr["result_flag"] != want {
					t.Errorf("feedback record %v: want result_flag %s", rr, want)
				}
			}
			evs := e.events("workinjury.filing_application.downloaded")
			var got *sdk.Event
			for i, ev := range evs {
				if ev.Key == bigNo {
					got = &evs[i]
				}
			}
			switch {
			case tc.delivered && got == nil:
				t.Fatalf("no event of the oversize record %s among %d events", bigNo, len(evs))
			case tc.delivered:
				var p struct {
					Record      json.RawMessage  `json:"record"`
					Attachments []map[string]any `json:"attachments"`
				}
				if err := json.Unmarshal(got.Payload, &p); err != nil {
					t.Fatal(err)
				}
				if len(p.Record) <= stateLimit {
					t.Fatalf("the record is %d bytes, not above the %d of one state value: the test proves nothing", len(p.Record), stateLimit)
				}
				var rec map[string]any
				if err := json.Unmarshal(p.Record, &rec); err != nil {
					t.Fatal(err)
				}
				if list, _ := rec["attachments"].([]any); len(list) != attachments || len(p.Attachments) != attachments {
					t.Fatalf("the delivered record lists %d attachments and its event carries %d, want %d each", len(list), len(p.Attachments), attachments)
				}
				if len(evs) != 3 {
					t.Fatalf("%d events, want 3", len(evs))
				}
			default:
				if got != nil {
					t.Fatalf("the oversize record was published although the host refuses it")
				}
				if len(evs) != 2 {
					t.Fatalf("%d events, want the 2 other records", len(evs))
				}
				if n := len(e.events("workinjury.download.record_too_large")); n != 1 {
					t.Errorf("%d workinjury.download.record_too_large events, want 1", n)
				}
				if logs.count("ALERT") == 0 {
					t.Errorf("no ALERT logged for the record that cannot be delivered")
				}
				if !strings.Contains(r.Diagnostics.String(), bigNo) {
					t.Errorf("the job's result does not name the record fed back as failed: %s", r.Diagnostics)
				}
			}
			if left, err := e.host.Scan(t.Context(), testSite, "dl/GYD001/batch/", 0); err != nil || len(left) != 0 {
				t.Errorf("%d values left under dl/GYD001/batch/ after the batch was acknowledged (%v)", len(left), err)
			}
		})
	}
}
