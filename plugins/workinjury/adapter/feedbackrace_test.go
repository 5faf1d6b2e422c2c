package adapter

import (
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/medgate/medgate/plugins/sdk"
	wisim "github.com/medgate/medgate/test/sim/workinjury"
)

// TestFeedbackFlagsAreTheBatchsOwn: two instances share the store (the
// scheduled GYD001 job on one, a workinjury.GYD001 message on the other).
// The message's run finishes the batch the job was publishing, fetches the
// next and publishes it, while the slower job writes the publishing
// progress of the earlier batch once more before its compare-and-set
// stops it. The feedback of the later batch must still flag its own
// undeliverable record as failed (result_flag 0): acknowledged with the
// earlier batch's flags, that record would never be offered again, and it
// was published nowhere.
func TestFeedbackFlagsAreTheBatchsOwn(t *testing.T) {
	t.Parallel()
	bad := func(i int) map[string]any {
		a := wisim.SampleApplication("FO", i, "350200")
		a["attachments"] = []any{map[string]any{"attachment_id": fmt.Sprintf("FJ-MISSING-%d", i), "attachment_type": "01"}}
		return a
	}
	e := newEnv(t, withSim(func(c *wisim.Config) { c.BatchSize = 2 }), withSeed(func(s *wisim.Server) {
		s.AddApplication(bad(1))
		s.AddApplication(wisim.SampleApplication("FO", 2, "350200"), wisim.SampleAttachment("FJFO2"))
		s.AddApplication(bad(3))
		s.AddApplication(wisim.SampleApplication("FO", 4, "350200"), wisim.SampleAttachment("FJFO4"))
	}))
	const wait = 20 * time.Second // a deadline for a hung run, not a pause
	aPaused, aGo, aWrote := make(chan struct{}), make(chan struct{}), make(chan struct{})
	var aPoints atomic.Int32
	// Instance A (the job) stops after the first record of the first
	// batch, and goes on only once B has published the second batch.
	e.impl.hook = func(p string) error {
		switch {
		case p == "published:1" && aPoints.Add(1) == 1:
			close(aPaused)
			select {
			case <-aGo:
			case <-time.After(wait):
				return fmt.Errorf("instance A: not released")
			}
		case p == "published:2" && aPoints.Add(1) == 2:
			close(aWrote)
		}
		return nil
	}
	aDone := make(chan *sdk.RunJobResponse, 1)
	go func() {
		r, err := e.p.RunJob(context.Background(), &sdk.RunJobRequest{Site: testSite, Job: JobFilingApplications, Now: time.Now(), TraceID: "a"})
		if err != nil {
			r = &sdk.RunJobResponse{Summary: err.Error()}
		}
		aDone <- r
	}()
	select {
	case <-aPaused:
	case <-time.After(wait):
		t.Fatal("instance A never published the first record")
	}
	// Instance B: a second plugin process on the same store.
	implB := New(WithLogger(discardLogger()))
	var bSecond atomic.Int32
	implB.hook = func(p string) error {
		if p == "published:2" && bSecond.Add(1) == 2 {
			// B has published the second batch: A writes the first
			// batch's progress once more before B feeds its batch back.
			close(aGo)
			select {
			case <-aWrote:
			case <-time.After(wait):
				return fmt.Errorf("instance B: A never wrote its progress")
			}
		}
		return nil
	}
	pB := connectPlugin(t, implB, e.host)
	if r, err := pB.Configure(context.Background(), &sdk.ConfigureRequest{Site: testSite, Settings: e.settings}); err != nil || r.Diagnostics.HasError() {
		t.Fatalf("configure B: %v %v", err, r)
	}
	b, _ := json.Marshal(map[string]any{})
	rB, err := pB.Handle(context.Background(), &sdk.HandleRequest{Site: testSite, Type: Name + ".GYD001", MessageID: "b-1", Key: "b-1",
		Format: "json", Payload: b, Attempt: 1, Deadline: time.Now().Add(time.Minute)})
	if err != nil || rB.Status != sdk.StatusOK {
		t.Fatalf("instance B: %v %+v", err, rB)
	}
	select {
	case <-aDone:
	case <-time.After(wait):
		t.Fatal("instance A never finished")
	}
	published := map[string]bool{}
	for _, ev := range e.events("workinjury.filing_application.downloaded") {
		published[ev.Key] = true
	}
	// Whatever was acknowledged (result_flag 1) was delivered.
	for _, fb := range e.sim.Received("GYU008") {
		recs, _ := fb.Input["records"].([]any)
		for _, x := range recs {
			r := x.(map[string]any)
			if id := r["record_id"].(string); r["result_flag"] == "1" && !published[id] {
				t.Errorf("batch %v acknowledged record %s (result_flag 1), which was never published", fb.Input["batch_no"], id)
			}
		}
	}
	if published["SQFO00000001"] || published["SQFO00000003"] {
		t.Error("a record whose attachment is missing was published")
	}
}

// TestFeedbackOfAnOlderStateChecksItsProgress: a workflow state written
// before the batch's failures were kept in it, at the step feedback, takes
// them from the progress; a progress of another batch says nothing about
// this one, so the batch is published again to learn them instead of
// acknowledging an undelivered record.
func TestFeedbackOfAnOlderStateChecksItsProgress(t *testing.T) {
	t.Parallel()
	bad := wisim.SampleApplication("OS", 1, "350200")
	bad["attachments"] = []any{map[string]any{"attachment_id": "FJ-MISSING-OS", "attachment_type": "01"}}
	e := newEnv(t, withSeed(func(s *wisim.Server) {
		s.AddApplication(bad)
		s.AddApplication(wisim.SampleApplication("OS", 2, "350200"), wisim.SampleAttachment("FJOS2"))
	}))
	e.impl.hook = func(p string) error {
		if p == "stored" {
			return errCrash
		}
		return nil
	}
	if r := e.runJob(JobFilingApplications); !r.Diagnostics.HasError() {
		t.Fatalf("the crashed run reported no error: %s", r.Summary)
	}
	// The state as an older version wrote it at the step feedback, with
	// a progress left by a run of another batch.
	h := hostFor(e.host, testSite)
	var st dlState
	if _, err := getJSON(t.Context(), h, "dl/GYD001", &st); err != nil || st.Step != stepStored {
		t.Fatalf("state %+v (%v), want stored", st, err)
	}
	st.Step, st.Failed, st.FeedbackSerial, st.FeedbackDate = stepFeedback, nil, "OLDER-STATE-SERIAL", "2026-01-01"
	if err := putJSON(t.Context(), h, "dl/GYD001", st); err != nil {
		t.Fatal(err)
	}
	if err := putJSON(t.Context(), h, "dl/GYD001/progress", dlProgress{BatchNo: "D-ANOTHER-BATCH", Published: 2}); err != nil {
		t.Fatal(err)
	}
	e.connect()
	if r := e.runJob(JobFilingApplications); r.Diagnostics.HasError() {
		t.Fatalf("resumed run: %s", r.Diagnostics)
	}
	published := map[string]bool{}
	for _, ev := range e.events("workinjury.filing_application.downloaded") {
		published[ev.Key] = true
	}
	fb := e.sim.Received("GYU008")
	if len(fb) == 0 {
		t.Fatal("no GYU008 sent")
	}
	for _, f := range fb {
		for _, x := range f.Input["records"].([]any) {
			r := x.(map[string]any)
			if id := r["record_id"].(string); (r["result_flag"] == "1") != published[id] {
				t.Errorf("batch %v: record %s fed back with result_flag %v, published: %v", f.Input["batch_no"], id, r["result_flag"], published[id])
			}
		}
	}
	if !published["SQOS00000002"] || published["SQOS00000001"] {
		t.Errorf("published %v; want SQOS00000002 only", published)
	}
}
