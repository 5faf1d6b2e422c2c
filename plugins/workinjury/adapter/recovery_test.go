package adapter

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/medgate/medgate/plugins/sdk"
	wisim "github.com/medgate/medgate/test/sim/workinjury"
)

func institution(akb020 string) map[string]any {
	return map[string]any{"akb020": akb020, "akb021": "测试协议机构" + akb020, "institution_type": "1", "aab299": "350200", "aae030": "2024-01-01", "valid_flag": "1"}
}

// TestUploadReconciledBeforeResend: whatever goes wrong after the request
// left, the retry asks GYD053 about the original serial first, so the
// national system accepts the upload exactly once.
func TestUploadReconciledBeforeResend(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		fault     wisim.Fault
		processed bool // the first request took effect
	}{
		"success but lost reply":  {wisim.Fault{Kind: wisim.FaultLostReply}, true},
		"timeout after success":   {wisim.Fault{Kind: wisim.FaultTimeout, After: true}, true},
		"bad response signature":  {wisim.Fault{Kind: wisim.FaultBadSignature}, true},
		"timeout before":          {wisim.Fault{Kind: wisim.FaultTimeout}, false},
		"HTTP 503":                {wisim.Fault{Kind: wisim.Fault5xx}, false},
		"garbage":                 {wisim.Fault{Kind: wisim.FaultGarbage}, false},
		"unsigned error response": {wisim.Fault{Kind: wisim.FaultUnsigned}, false},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			// Only the timeout cases wait for the client to give up; 2s
			// leaves the retry's GYD053 and resend room on a loaded machine.
			timeout := "10s"
			if tc.fault.Kind == wisim.FaultTimeout {
				timeout = "2s"
			}
			e := newEnv(t, withSettings(setTimeout, timeout))
			tc.fault.Code = "GYU009"
			e.sim.Inject(tc.fault)
			akb := "H350200" + fmt.Sprint(len(name))
			first := e.handle("up-1", "GYU009", institution(akb), false)
			if first.Status != sdk.StatusFailed || !first.Retryable {
				t.Fatalf("first attempt: %s retryable=%v %s; want failed and retryable", first.Status, first.Retryable, first.Diagnostics)
			}
			second := e.handle("up-1", "GYU009", institution(akb), true)
			if second.Status != sdk.StatusOK {
				t.Fatalf("second attempt: %s %s", second.Status, second.Diagnostics)
			}
			if n := e.sim.Accepted("GYU009", akb); n != 1 {
				t.Fatalf("the national system accepted the upload %d times, want exactly 1", n)
			}
			sent := len(e.sim.Received("GYU009"))
			if tc.processed && sent != 1 {
				t.Fatalf("GYU009 sent %d times; a processed upload must not be resent", sent)
			}
			if !tc.processed && sent != 2 {
				t.Fatalf("GYU009 sent %d times; want 2 (GYD053 said it never arrived)", sent)
			}
			// The retry asked GYD053 about the first serial before anything
			// else; an unsigned error was also put to GYD053 at once
			// (guarantee 8).
			first053 := e.sim.Received("GYU009")[0].Serial
			want := 1
			if tc.fault.Kind == wisim.FaultUnsigned {
				want = 2
			}
			if n := queriesAbout(e, first053); n != want {
				t.Fatalf("GYD053 asked %d times about serial %s, want %d", n, first053, want)
			}
			all053 := e.journaled("GYD053")
			// A third delivery of the same message returns the stored outcome.
			third := e.handle("up-1", "GYU009", institution(akb), true)
			if third.Status != sdk.StatusOK || len(e.sim.Received("GYU009")) != sent || e.journaled("GYD053") != all053 {
				t.Fatalf("third attempt called the national system again: %s", third.Status)
			}
		})
	}
}

// queriesAbout counts the GYD053 queries about serial.
func queriesAbout(e *env, serial string) int {
	n := 0
	for _, r := range e.sim.Received("GYD053") {
		if r.Input["orig_msg_id"] == serial {
			n++
		}
	}
	return n
}

// TestReconcileUnavailable: when GYD053 itself cannot answer, nothing is
// resent; a later attempt reconciles.
func TestReconcileUnavailable(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.sim.Inject(wisim.Fault{Code: "GYU009", Kind: wisim.FaultLostReply})
	e.sim.Inject(wisim.Fault{Code: "GYD053", Kind: wisim.Fault5xx})
	if r := e.handle("u", "GYU009", institution("H1"), false); r.Status != sdk.StatusFailed {
		t.Fatalf("first: %s", r.Status)
	}
	if r := e.handle("u", "GYU009", institution("H1"), true); r.Status != sdk.StatusFailed || !r.Retryable {
		t.Fatalf("second: %s %s", r.Status, r.Diagnostics)
	}
	if r := e.handle("u", "GYU009", institution("H1"), true); r.Status != sdk.StatusOK {
		t.Fatalf("third: %s %s", r.Status, r.Diagnostics)
	}
	if n := len(e.sim.Received("GYU009")); n != 1 {
		t.Fatalf("GYU009 sent %d times, want 1", n)
	}
}

// TestBusinessErrorIsRejected: a verified business error is the final
// answer (rejected), with the national code and message.
func TestBusinessErrorIsRejected(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.sim.Inject(wisim.Fault{Code: "GYU009", Kind: wisim.FaultBusiness, ErrCode: "E7001", ErrMessage: "协议已过期"})
	r := e.send("GYU009", institution("H2"))
	if r.Status != sdk.StatusRejected || r.External.Code != "E7001" || r.External.Message != "协议已过期" || r.External.MsgID == "" {
		t.Fatalf("%s %+v", r.Status, r.External)
	}
}

var errCrash = errors.New("simulated crash")

// TestDownloadResumesAfterCrash kills the workflow at every step and
// resumes it with a fresh adapter instance: every record is published once,
// the feedback is accepted once, and nothing is downloaded twice except the
// batch whose reply was lost (asked for again with GYR005).
func TestDownloadResumesAfterCrash(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		point       string
		deliveries  int
		feedbackTxs int // GYU008 requests the simulator received
	}{
		"after the download answered": {"fetch:answered", 2, 1},
		"after the batch was stored":  {"stored", 1, 1},
		"after the first record":      {"published:1", 1, 1},
		"after the fourth record":     {"published:4", 1, 1},
		"after the feedback answered": {"feedback:answered", 1, 1},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, withSeed(func(s *wisim.Server) {
				for i := 1; i <= 5; i++ {
					s.AddApplication(wisim.SampleApplication("CR", i, "350200"), wisim.SampleAttachment(fmt.Sprintf("FJCR%d", i)))
				}
			}))
			crashed := false
			e.impl.hook = func(p string) error {
				if p == tc.point && !crashed {
					crashed = true
					return errCrash
				}
				return nil
			}
			if r := e.runJob(JobFilingApplications); !r.Diagnostics.HasError() {
				t.Fatalf("the crashed run reported no error: %s", r.Summary)
			}
			e.connect() // a new plugin process: no hook, same host state
			if r := e.runJob(JobFilingApplications); r.Diagnostics.HasError() {
				t.Fatalf("resumed run: %s", r.Diagnostics)
			}
			evs := e.events("workinjury.filing_application.downloaded")
			ids := map[string]int{}
			for _, ev := range evs {
				ids[ev.ID]++
			}
			if len(evs) != 5 || len(ids) != 5 {
				t.Fatalf("%d events with %d distinct ids, want 5 and 5", len(evs), len(ids))
			}
			b := nonEmpty(e.sim.Batches("GYD001"))
			if len(b) != 1 || b[0].Feedbacks != 1 || b[0].Deliveries != tc.deliveries {
				t.Fatalf("batches %+v; want one batch, acknowledged once, delivered %d time(s)", b, tc.deliveries)
			}
			if n := len(e.sim.Received("GYU008")); n != tc.feedbackTxs {
				t.Fatalf("GYU008 sent %d times, want %d", n, tc.feedbackTxs)
			}
			if n := e.sim.Pending("GYD001"); n != 0 {
				t.Fatalf("%d applications still pending", n)
			}
		})
	}
}

// TestDownloadStateLost: with the adapter state gone while a batch is
// outstanding, the refused download is recovered with GYD008 + GYR005.
func TestDownloadStateLost(t *testing.T) {
	t.Parallel()
	e := newEnv(t, withSeed(func(s *wisim.Server) {
		for i := 1; i <= 3; i++ {
			s.AddApplication(wisim.SampleApplication("LOST", i, "350200"))
		}
	}))
	e.impl.hook = func(p string) error {
		if p == "stored" {
			return errCrash
		}
		return nil
	}
	e.runJob(JobFilingApplications)
	e.host = newHostForTest() // the store is gone
	// A real store loss does not happen within the second of the last
	// serial; move the new sequence past the old serials so that GYD053
	// (which decides unsigned answers) is not asked about a reused one.
	for range 100 {
		if _, err := hostFor(e.host, testSite).NextSequence(t.Context(), "serial"); err != nil {
			t.Fatal(err)
		}
	}
	e.connect()
	// A new download is refused while the batch is outstanding…
	if r := e.runJob(JobFilingApplications); r.Diagnostics.HasError() {
		t.Fatalf("run after state loss: %s", r.Diagnostics)
	}
	// …and recovered: the same batch again, then acknowledged.
	if n := len(e.events("workinjury.filing_application.downloaded")); n != 3 {
		t.Fatalf("%d events, want 3", n)
	}
	b := nonEmpty(e.sim.Batches("GYD001"))
	if len(b) != 1 || b[0].Deliveries != 2 || b[0].Feedbacks != 1 {
		t.Fatalf("batches %+v", b)
	}
	if e.sim.Accepted("GYR005", b[0].No) != 1 {
		t.Fatal("no GYR005 re-download request")
	}
}

// TestDownloadIncremental: 1,100 records come in batches of at most 500,
// each acknowledged before the next; maxBatchesPerRun bounds one run.
func TestDownloadIncremental(t *testing.T) {
	t.Parallel()
	e := newEnv(t, withSettings(setMaxBatches, "2"), withSeed(func(s *wisim.Server) {
		for i := 1; i <= 1100; i++ {
			s.AddFiling(wisim.SampleFiling("INC", i, "350200"))
		}
	}))
	r := e.runJob(JobFilings)
	if r.Diagnostics.HasError() || r.Processed != 1000 {
		t.Fatalf("first run: %s, processed %d", r.Diagnostics, r.Processed)
	}
	r = e.runJob(JobFilings)
	if r.Diagnostics.HasError() || r.Processed != 100 {
		t.Fatalf("second run: %s, processed %d", r.Diagnostics, r.Processed)
	}
	b := e.sim.Batches("GYD006")
	if len(b) != 3 || b[0].Records != 500 || b[1].Records != 500 || b[2].Records != 100 {
		t.Fatalf("batches %+v", b)
	}
	for _, x := range b {
		if x.Feedbacks != 1 || x.Deliveries != 1 {
			t.Fatalf("batch %s: %d feedbacks, %d deliveries", x.No, x.Feedbacks, x.Deliveries)
		}
	}
	if n := len(e.events("workinjury.filing.downloaded")); n != 1100 {
		t.Fatalf("%d events, want 1100", n)
	}
	// Downloaded filings feed the rules: a downloaded valid filing blocks
	// nothing here (another province's person), but its number is known.
	var f filingState
	if ver, _ := getJSON(t.Context(), hostFor(e.host, testSite), "filing/BAINC00000001", &f); ver == 0 || f.Status != "1" {
		t.Fatalf("downloaded filing not recorded: %+v", f)
	}
}

// TestUndeliverableRecord: a record whose attachment cannot be fetched is
// fed back as failed and offered again later; the others are delivered.
func TestUndeliverableRecord(t *testing.T) {
	t.Parallel()
	e := newEnv(t, withSeed(func(s *wisim.Server) {
		s.AddApplication(wisim.SampleApplication("UD", 1, "350200"), wisim.SampleAttachment("FJUD1"))
		bad := wisim.SampleApplication("UD", 2, "350200")
		bad["attachments"] = []any{map[string]any{"attachment_id": "FJ-MISSING", "attachment_type": "01"}}
		s.AddApplication(bad)
	}))
	if r := e.runJob(JobFilingApplications); r.Diagnostics.HasError() {
		t.Fatalf("job: %s", r.Diagnostics)
	}
	if n := len(e.events("workinjury.filing_application.downloaded")); n != 1 {
		t.Fatalf("%d events, want 1", n)
	}
	fb := e.sim.Received("GYU008")
	if len(fb) != 1 {
		t.Fatalf("%d feedbacks", len(fb))
	}
	recs := fb[0].Input["records"].([]any)
	flags := map[string]string{}
	for _, x := range recs {
		r := x.(map[string]any)
		flags[r["record_id"].(string)] = r["result_flag"].(string)
	}
	if flags["SQUD00000001"] != "1" || flags["SQUD00000002"] != "0" {
		t.Fatalf("feedback flags %v", flags)
	}
	if e.sim.Pending("GYD001") != 1 {
		t.Fatalf("the failed record is not offered again")
	}
}

// nonEmpty drops the empty batches a run ends with when nothing is left.
func nonEmpty(bs []wisim.BatchInfo) []wisim.BatchInfo {
	var out []wisim.BatchInfo
	for _, b := range bs {
		if b.Records > 0 {
			out = append(out, b)
		}
	}
	return out
}

// TestFeedbackRefusedIsResentUnderNewSerial: a GYU008 that the national
// system refused on every try of a run is sent again by the next run under
// a new serial; a serial is never reused (the national system refuses a
// repeated one).
func TestFeedbackRefusedIsResentUnderNewSerial(t *testing.T) {
	t.Parallel()
	e := newEnv(t, withSettings(setFeedbackBackoff, "10ms"), withSeed(func(s *wisim.Server) {
		for i := 1; i <= 2; i++ {
			s.AddApplication(wisim.SampleApplication("FR", i, "350200"))
		}
	}))
	e.sim.Inject(wisim.Fault{Code: "GYU008", Kind: wisim.FaultBusiness, Times: feedbackRefusedTries, ErrCode: "E9001", ErrMessage: "系统繁忙"})
	if r := e.runJob(JobFilingApplications); !r.Diagnostics.HasError() {
		t.Fatalf("the refused feedback reported no error: %s", r.Summary)
	}
	if r := e.runJob(JobFilingApplications); r.Diagnostics.HasError() {
		t.Fatalf("second run: %s", r.Diagnostics)
	}
	fb := e.sim.Received("GYU008")
	serials := map[string]bool{}
	for _, x := range fb {
		serials[x.Serial] = true
	}
	if len(fb) != feedbackRefusedTries+1 || len(serials) != len(fb) {
		t.Fatalf("GYU008 sent %d times (serials %v), want %d under distinct serials", len(fb), fb, feedbackRefusedTries+1)
	}
	b := nonEmpty(e.sim.Batches("GYD001"))
	if len(b) != 1 || b[0].Feedbacks != 1 || e.sim.Pending("GYD001") != 0 {
		t.Fatalf("batches %+v, pending %d; want the batch acknowledged", b, e.sim.Pending("GYD001"))
	}
}

// TestInstitutionJobUploadsAChangeBack: an institution of institutionsFile
// that changes and then changes back (an agreement suspended, then
// restored) is uploaded each time; the change back is not answered with
// the stored outcome of the first upload of the same content.
func TestInstitutionJobUploadsAChangeBack(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "institutions.json")
	write := func(valid string) {
		b, err := json.Marshal([]any{with(institution("H35020300777"), "valid_flag", valid)})
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	e := newEnv(t, withSettings(setInstitutionsFile, file))
	for i, valid := range []string{"1", "0", "1"} {
		write(valid)
		if r := e.runJob(JobInstitutions); r.Diagnostics.HasError() || r.Processed != 1 {
			t.Fatalf("run %d (valid_flag %s): %s, processed %d: %s", i+1, valid, r.Summary, r.Processed, r.Diagnostics)
		}
	}
	got := e.sim.Received("GYU009")
	if len(got) != 3 || got[2].Input["valid_flag"] != "1" {
		t.Fatalf("GYU009 received %d times, want 3 with the last valid_flag 1", len(got))
	}
}

// heldBatch runs the GYD001 download of one application (person name)
// with the plugin dying once the batch is stored: the workflow holds the
// batch, not yet fed back. It returns the env and the batch.
func heldBatch(t *testing.T, name string) (*env, []wisim.BatchInfo) {
	t.Helper()
	e := newEnv(t, withSeed(func(s *wisim.Server) {
		s.AddApplication(wisim.SampleApplication(name, 1, "350200"))
	}))
	crashed := false
	e.impl.hook = func(p string) error {
		if p == "stored" && !crashed {
			crashed = true
			return errCrash
		}
		return nil
	}
	e.runJob(JobFilingApplications)
	b := nonEmpty(e.sim.Batches("GYD001"))
	if len(b) != 1 {
		t.Fatalf("batches %+v", b)
	}
	return e, b
}

// TestManualFeedbackOfAHeldBatch: a hand-made GYU008 for the batch the
// download workflow holds is refused before it is sent: the workflow
// feeds that batch back itself, and a second feedback would leave its own
// refused for good, blocking every later download of the code.
func TestManualFeedbackOfAHeldBatch(t *testing.T) {
	t.Parallel()
	e, b := heldBatch(t, "MF")
	r := e.send("GYU008", map[string]any{"download_code": "GYD001", "batch_no": b[0].No, "record_count": 1,
		"records": []any{map[string]any{"record_id": b[0].IDs[0], "result_flag": "1"}}})
	if r.Status != sdk.StatusInvalid || !hasField(r, "$.batch_no", "state") {
		t.Fatalf("manual GYU008 of the held batch: %s %v", r.Status, fields(r))
	}
	if rr := e.runJob(JobFilingApplications); rr.Diagnostics.HasError() {
		t.Fatalf("resumed run: %s", rr.Diagnostics)
	}
	if b := nonEmpty(e.sim.Batches("GYD001")); len(b) != 1 || b[0].Feedbacks != 1 {
		t.Fatalf("batches %+v", b)
	}
}

// TestManualFeedbackOfALostBatch: while the download workflow recovers a
// batch whose download answer was lost (step fetching: nothing of it is
// stored yet, GYD008 and GYR005 ask for it again on the next run), a
// hand-made GYU008 of the code is refused before it is sent too: it would
// acknowledge records nobody stored or published (lost for good), or, sent
// while the workflow feeds the batch back, acknowledge the batch twice with
// flags of its own.
func TestManualFeedbackOfALostBatch(t *testing.T) {
	t.Parallel()
	e := newEnv(t, withSeed(func(s *wisim.Server) {
		s.AddApplication(wisim.SampleApplication("LB", 1, "350200"))
	}))
	e.sim.Inject(wisim.Fault{Code: "GYD001", Kind: wisim.FaultLostReply})
	if r := e.runJob(JobFilingApplications); !r.Diagnostics.HasError() {
		t.Fatalf("run with the download answer lost: %s, want an error", r.Diagnostics)
	}
	b := nonEmpty(e.sim.Batches("GYD001"))
	if len(b) != 1 {
		t.Fatalf("batches %+v", b)
	}
	r := e.send("GYU008", map[string]any{"download_code": "GYD001", "batch_no": b[0].No, "record_count": 1,
		"records": []any{map[string]any{"record_id": b[0].IDs[0], "result_flag": "1"}}})
	if r.Status != sdk.StatusInvalid || !hasField(r, "$.batch_no", "state") {
		t.Fatalf("manual GYU008 of the batch being recovered: %s %v", r.Status, fields(r))
	}
	if rr := e.runJob(JobFilingApplications); rr.Diagnostics.HasError() {
		t.Fatalf("resumed run: %s", rr.Diagnostics)
	}
	if n := len(e.events("workinjury.filing_application.downloaded")); n != 1 {
		t.Fatalf("%d events, want the record published once", n)
	}
	if b := nonEmpty(e.sim.Batches("GYD001")); len(b) != 1 || b[0].Feedbacks != 1 {
		t.Fatalf("batches %+v, want one acknowledged once", b)
	}
}

// TestAttachmentFilesDoNotCollide: attachments whose ids differ only in
// characters a file name cannot keep are written to distinct files, each
// holding its own content (the event's sha256), and an id such as ".."
// does not name a directory.
func TestAttachmentFilesDoNotCollide(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	e := newEnv(t, withSettings(setAttachmentDir, dir), withSeed(func(s *wisim.Server) {
		s.AddApplication(wisim.SampleApplication("AC", 1, "350200"), wisim.SampleAttachment("附件1"), wisim.SampleAttachment("文档1"))
		dots := wisim.SampleAttachment("..")
		dots.Format = ""
		s.AddApplication(wisim.SampleApplication("AC", 2, "350200"), dots)
	}))
	if r := e.runJob(JobFilingApplications); r.Diagnostics.HasError() {
		t.Fatalf("job: %s", r.Diagnostics)
	}
	evs := e.events("workinjury.filing_application.downloaded")
	if len(evs) != 2 {
		t.Fatalf("%d events, want 2", len(evs))
	}
	paths := map[string]bool{}
	for _, ev := range evs {
		var p struct {
			Attachments []struct {
				ID     string `json:"attachment_id"`
				Path   string `json:"path"`
				SHA256 string `json:"sha256"`
			} `json:"attachments"`
		}
		if err := json.Unmarshal(ev.Payload, &p); err != nil {
			t.Fatal(err)
		}
		for _, a := range p.Attachments {
			b, err := os.ReadFile(a.Path)
			if err != nil {
				t.Fatalf("attachment %s: %v", a.ID, err)
			}
			if sum := sha256.Sum256(b); hex.EncodeToString(sum[:]) != a.SHA256 {
				t.Fatalf("attachment %s: file %s does not hold its content", a.ID, a.Path)
			}
			paths[a.Path] = true
		}
	}
	if len(paths) != 3 {
		t.Fatalf("%d distinct files for 3 attachments", len(paths))
	}
}

// TestFeedbackOfABatchAcknowledgedElsewhere: when the batch was
// acknowledged some other way (here out of band, straight at the national
// system), the workflow's own GYU008 is refused; GYD008 then shows the
// batch is no longer outstanding and the workflow closes it instead of
// sending a refused feedback on every run.
func TestFeedbackOfABatchAcknowledgedElsewhere(t *testing.T) {
	t.Parallel()
	e, b := heldBatch(t, "AE")
	if _, err := e.sim.ApplyAs(b[0].Sender, "GYU008", map[string]any{"download_code": "GYD001", "batch_no": b[0].No, "record_count": 1,
		"records": []any{map[string]any{"record_id": b[0].IDs[0], "result_flag": "1"}}}); err != nil {
		t.Fatal(err)
	}
	for run := 2; run <= 3; run++ {
		if r := e.runJob(JobFilingApplications); r.Diagnostics.HasError() {
			t.Fatalf("run %d: %s", run, r.Diagnostics)
		}
	}
	if n := len(e.sim.Received("GYU008")); n != 1 {
		t.Fatalf("GYU008 sent %d times; want 1 (refused, then the batch closed after GYD008)", n)
	}
	var st dlState
	if _, err := getJSON(t.Context(), hostFor(e.host, testSite), "dl/GYD001", &st); err != nil || st.Step != stepDone || st.LastBatchNo != b[0].No {
		t.Fatalf("workflow %+v (%v); want done with cursor %s", st, err, b[0].No)
	}
	if n := len(e.events("workinjury.filing_application.downloaded")); n != 1 {
		t.Fatalf("%d events, want 1", n)
	}
}

// TestPendingAuditCheck: GYD001's pre-check 校验是否存在待审核备案申请
// read as the national system's precondition (the default) downloads
// whatever it hands out; read locally, no new batch is fetched while an
// application downloaded here awaits its audit, until GYU001 uploads it
// or the national system refuses to take its audit.
func TestPendingAuditCheck(t *testing.T) {
	t.Parallel()
	audit := func(no string) map[string]any {
		return map[string]any{"apply_no": no, "aac002": "440301198507150011", "aac003": "测试申请人1", "audit_result": "1",
			"auditor": "李四", "audit_time": "2025-04-01 09:30:00", "aae030": "2025-04-01", "aae031": "2026-12-31"}
	}
	cases := map[string]struct {
		setting string
		settle  func(e *env, no string) // what happens to the first application (nil: nothing)
		held    bool                    // the second run fetches nothing
	}{
		"national (default): downloads while one awaits audit": {setting: "", held: false},
		"local: held while one awaits audit":                   {setting: pendingAuditLocal, held: true},
		"local: audited, downloads again": {setting: pendingAuditLocal, settle: func(e *env, no string) {
			e.mustOK(e.send("GYU001", audit(no)))
		}},
		"local: audit refused by the national system, downloads again": {setting: pendingAuditLocal, settle: func(e *env, no string) {
			e.sim.Inject(wisim.Fault{Code: "GYU001", Kind: wisim.FaultBusiness, ErrCode: "E3007", ErrMessage: "备案申请已审核"})
			if r := e.send("GYU001", audit(no)); r.Status != sdk.StatusRejected {
				e.t.Fatalf("GYU001: %s %s; want rejected", r.Status, r.Diagnostics)
			}
		}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var opts []envOption
			if tc.setting != "" {
				opts = append(opts, withSettings(setPendingAudit, tc.setting))
			}
			first := wisim.SampleApplication("PA", 1, "350200")
			opts = append(opts, withSeed(func(s *wisim.Server) { s.AddApplication(first) }))
			e := newEnv(t, opts...)
			if r := e.runJob(JobFilingApplications); r.Diagnostics.HasError() || r.Processed != 1 {
				t.Fatalf("first run: %d published, %s", r.Processed, r.Diagnostics)
			}
			if tc.settle != nil {
				tc.settle(e, first["apply_no"].(string))
			}
			e.sim.AddApplication(wisim.SampleApplication("PA", 2, "350200"))
			fetches := len(e.sim.Received("GYD001"))
			r := e.runJob(JobFilingApplications)
			if r.Diagnostics.HasError() {
				t.Fatalf("second run: %s", r.Diagnostics)
			}
			if tc.held {
				if n := len(e.sim.Received("GYD001")); n != fetches || r.Processed != 0 || e.sim.Pending("GYD001") != 1 {
					t.Fatalf("held run: GYD001 sent %d times (before %d), %d published; want no fetch", n, fetches, r.Processed)
				}
				if d := r.Diagnostics.String(); !strings.Contains(d, first["apply_no"].(string)) || !strings.Contains(d, "GYU001") {
					t.Errorf("the held run does not name the application and what to do: %s", d)
				}
				return
			}
			if r.Processed != 1 {
				t.Fatalf("second run published %d records, want the second application (%s)", r.Processed, r.Diagnostics)
			}
		})
	}
}
