package adapter

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/medgate/medgate/plugins/sdk"
	wisim "github.com/medgate/medgate/test/sim/workinjury"
)

// TestQueriesByMessage: the transactions the adapter otherwise calls only
// inside its own workflows – GYD008 (downloads not yet acknowledged), GYD053
// (general transaction query) and GYD054 (one attachment) – are reachable as
// platform messages (workinjury.<code>) and answer with what the national
// system holds.
func TestQueriesByMessage(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		code string
		opts []envOption
		// prepare brings the simulator into the state the query reads and
		// returns the message's payload and a check of its answer.
		prepare func(e *env) (payload map[string]any, check func(out map[string]any) error)
	}{
		"GYD008 names the batch whose download answer was lost": {code: "GYD008",
			opts: []envOption{withSeed(func(s *wisim.Server) {
				for i := 1; i <= 3; i++ {
					s.AddFiling(wisim.SampleFiling("UNACK", i, "350200"))
				}
			})},
			prepare: func(e *env) (map[string]any, func(map[string]any) error) {
				e.sim.Inject(wisim.Fault{Code: "GYD006", Kind: wisim.FaultLostReply, Times: 1})
				if r := e.runJob(JobFilings); !r.Diagnostics.HasError() {
					e.t.Fatalf("the run whose download answer was lost: %s, want it stopped", r.Summary)
				}
				b := e.sim.Batches("GYD006")
				if len(b) != 1 || b[0].Acked {
					e.t.Fatalf("simulator batches %+v, want one unacknowledged", b)
				}
				return map[string]any{"download_code": "GYD006"}, func(out map[string]any) error {
					list, _ := out["batches"].([]any)
					if fmt.Sprint(out["batch_count"]) != "1" || len(list) != 1 {
						return fmt.Errorf("answer %v, want the one unacknowledged batch", out)
					}
					got, _ := list[0].(map[string]any)
					if got["batch_no"] != b[0].No || got["download_code"] != "GYD006" || fmt.Sprint(got["record_count"]) != "3" {
						return fmt.Errorf("batch %v, want %s of GYD006 with 3 records", got, b[0].No)
					}
					return nil
				}
			}},
		"GYD053 reports an accepted upload and its output": {code: "GYD053",
			prepare: func(e *env) (map[string]any, func(map[string]any) error) {
				r := e.send("GYU009", institution("H35020307777"))
				e.mustOK(r)
				serial := r.External.MsgID
				return map[string]any{"orig_code": "GYU009", "orig_msg_id": serial}, func(out map[string]any) error {
					if out["trans_status"] != "1" || out["orig_msg_id"] != serial || out["orig_code"] != "GYU009" {
						return fmt.Errorf("answer %v, want trans_status 1 about GYU009 %s", out, serial)
					}
					return nil
				}
			}},
		"GYD053 reports a serial it never saw": {code: "GYD053",
			prepare: func(e *env) (map[string]any, func(map[string]any) error) {
				return map[string]any{"orig_code": "GYU101", "orig_msg_id": "35020020250401093000999999"}, func(out map[string]any) error {
					if out["trans_status"] != "9" {
						return fmt.Errorf("answer %v, want trans_status 9 (no such transaction)", out)
					}
					return nil
				}
			}},
		"GYD054 returns the uploaded file": {code: "GYD054",
			prepare: func(e *env) (map[string]any, func(map[string]any) error) {
				in := attachmentUpload(1)
				want := in["attachments"].([]any)[0].(map[string]any)
				id := e.uploadAttachments(1)[0]
				return map[string]any{"attachment_id": id}, func(out map[string]any) error {
					if out["attachment_id"] != id || out["file_content"] != want["file_content"] || out["file_name"] != want["file_name"] {
						return fmt.Errorf("answer %v, want attachment %s with the uploaded content", out, id)
					}
					return nil
				}
			}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, tc.opts...)
			payload, check := tc.prepare(e)
			before := len(e.sim.Received(tc.code))
			out := e.mustOK(e.send(tc.code, payload))
			if got := e.sim.Received(tc.code); len(got) != before+1 {
				t.Fatalf("the simulator saw %d %s request(s) for the message, want 1", len(got)-before, tc.code)
			}
			if err := check(out); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestDownloadOf1200Records: 1,200 pending filings are fetched by one
// scheduled run (default settings) in batches of 500, 500 and 200, each
// acknowledged with one GYU008 naming its batch and every record before
// the next is fetched; the download jobs are declared every 30 minutes.
func TestDownloadOf1200Records(t *testing.T) {
	t.Parallel()
	d, err := New(WithLogger(discardLogger())).Describe(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	intervals := map[string]time.Duration{}
	for _, j := range d.Jobs {
		intervals[j.Name] = j.Interval
	}
	for _, job := range []string{JobFilingApplications, JobFilings, JobInstitutions} {
		if intervals[job] != 30*time.Minute {
			t.Errorf("job %s runs every %s, want 30m (the requirements' polling frequency)", job, intervals[job])
		}
	}

	e := newEnv(t, withSeed(func(s *wisim.Server) {
		for i := 1; i <= 1200; i++ {
			s.AddFiling(wisim.SampleFiling("BIG", i, "350200"))
		}
	}))
	r := e.runJob(JobFilings)
	if r.Diagnostics.HasError() || r.Processed != 1200 {
		t.Fatalf("run: %s %s, processed %d, want 1200", r.Summary, r.Diagnostics, r.Processed)
	}
	b := e.sim.Batches("GYD006")
	if len(b) != 3 || b[0].Records != 500 || b[1].Records != 500 || b[2].Records != 200 {
		t.Fatalf("batches %+v, want 500, 500, 200", b)
	}
	feedbacks := e.sim.Received("GYU008")
	if len(feedbacks) != 3 {
		t.Fatalf("%d GYU008 sent, want one per batch", len(feedbacks))
	}
	for i, x := range b {
		if !x.Acked || x.Feedbacks != 1 || x.Deliveries != 1 {
			t.Errorf("batch %s: acked %v, %d feedbacks, %d deliveries; want acknowledged once, delivered once", x.No, x.Acked, x.Feedbacks, x.Deliveries)
		}
		in := feedbacks[i].Input
		recs, _ := in["records"].([]any)
		if in["batch_no"] != x.No || in["download_code"] != "GYD006" || fmt.Sprint(in["record_count"]) != fmt.Sprint(x.Records) || len(recs) != x.Records {
			t.Errorf("GYU008 %d: batch %v of %v, record_count %v, %d records; want batch %s, GYD006, %d", i, in["batch_no"], in["download_code"], in["record_count"], len(recs), x.No, x.Records)
		}
	}
	// Each batch was fetched after the previous one was acknowledged.
	fetches := e.sim.Received("GYD006")
	if len(fetches) < 3 {
		t.Fatalf("%d GYD006 calls", len(fetches))
	}
	for i := 1; i < 3; i++ {
		if fetches[i].At.Before(feedbacks[i-1].At) {
			t.Errorf("batch %d fetched before batch %d was acknowledged", i+1, i)
		}
	}
	if n := len(e.events("workinjury.filing.downloaded")); n != 1200 {
		t.Fatalf("%d events, want 1200", n)
	}
}

// TestLateUploadAlerts: an upload past its 30-minute deadline logs one
// ALERT line naming the transaction and the message (and publishes
// workinjury.upload.late), however often it is retried; one in time logs
// none.
func TestLateUploadAlerts(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	logs := &logBuffer{}
	e.connectLogged(logs)
	send := func(id string, occurred time.Time, attempt int) *sdk.HandleResponse {
		b, _ := json.Marshal(institution("H3502030" + id[len(id)-4:]))
		r, err := e.p.Handle(t.Context(), &sdk.HandleRequest{Site: testSite, Type: Name + ".GYU009", MessageID: id, Key: id,
			Format: "json", Payload: b, Attempt: attempt, Recovering: attempt > 1, OccurredAt: occurred, Deadline: occurred.Add(30 * time.Minute)})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	e.mustOK(send("in-time-0001", time.Now().Add(-29*time.Minute), 1))
	if n := logs.count("ALERT"); n != 0 {
		t.Fatalf("%d ALERT lines for an upload in time", n)
	}
	e.sim.Inject(wisim.Fault{Code: "GYU009", Kind: wisim.Fault5xx, Times: 1})
	occurred := time.Now().Add(-31 * time.Minute)
	if r := send("late-0002", occurred, 1); r.Status != sdk.StatusFailed || !r.Retryable {
		t.Fatalf("late upload, national system down: %s retryable=%v", r.Status, r.Retryable)
	}
	e.mustOK(send("late-0002", occurred, 2))
	if n := logs.count("ALERT"); n != 1 {
		t.Fatalf("%d ALERT lines, want 1 for the late upload", n)
	}
	line := ""
	for _, l := range strings.Split(logs.buf.String(), "\n") {
		if strings.Contains(l, "ALERT") {
			line = l
		}
	}
	for _, want := range []string{"code=GYU009", "message=late-0002", "timedFrom=occurredAt", "overdue="} {
		if !strings.Contains(line, want) {
			t.Errorf("ALERT line %q lacks %s", line, want)
		}
	}
	if n := len(e.events("workinjury.upload.late")); n != 1 {
		t.Fatalf("%d late events, want 1", n)
	}
}

// TestGYD104ListsThePersonsSettlements: GYD104 (one person's settlements,
// a query without feedback) answers with the settlement the chain made,
// by its settle_no and stay, and with none for another person.
func TestGYD104ListsThePersonsSettlements(t *testing.T) {
	t.Parallel()
	c := newChain(t)
	v, s := c.settle("ZY1301")
	out := c.mustOK(c.send("GYD104", map[string]any{"aac002": c.filing["aac002"]}))
	recs, _ := out["records"].([]any)
	if fmt.Sprint(out["record_count"]) != "1" || len(recs) != 1 {
		t.Fatalf("GYD104 answer %v, want the one settlement", out)
	}
	if r, _ := recs[0].(map[string]any); r["settle_no"] != s || r["ykc700"] != v || r["akb020"] != hospital {
		t.Fatalf("GYD104 record %v, want settlement %s of stay %s at %s", r, s, v, hospital)
	}
	other := c.mustOK(c.send("GYD104", map[string]any{"aac002": "350203199901010019"}))
	if fmt.Sprint(other["record_count"]) != "0" || other["records"] != nil {
		t.Fatalf("GYD104 of another person %v, want no settlement", other)
	}
}
