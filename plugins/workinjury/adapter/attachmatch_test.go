package adapter

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/medgate/medgate/plugins/sdk"
	wisim "github.com/medgate/medgate/test/sim/workinjury"
)

// attachmentMismatches are signed GYD054 answers that are not the
// attachment asked for: another attachment, a size its content does not
// have, content that is no base64 (the simulator's FaultAlter).
var attachmentMismatches = map[string]struct {
	set  map[string]any
	want string // in the diagnostic or the feedback reason
}{
	"another attachment":        {set: map[string]any{"attachment_id": "FJOTHER000001"}, want: "FJOTHER000001"},
	"size not its content's":    {set: map[string]any{"file_size": 999999}, want: "999999"},
	"content that is no base64": {set: map[string]any{"file_content": "%PDF-1.4 not base64"}, want: "Base64"},
}

// TestAttachmentAnswerNotTheOneAsked: a GYD054 answer is passed on only
// when it is the attachment asked for, whole: its attachment_id is the one
// asked, its content base64 and as long as its file_size says. Otherwise
// the HIS would file another worker's document, or a truncated one, under
// the attachment it asked for. A query sent by a message is failed
// (retryable: asking again may get the right file), nothing passed on.
func TestAttachmentAnswerNotTheOneAsked(t *testing.T) {
	t.Parallel()
	for name, tc := range attachmentMismatches {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			id := e.uploadAttachments(1)[0]
			e.sim.Inject(wisim.Fault{Code: "GYD054", Kind: wisim.FaultAlter, Set: tc.set})
			r := e.send("GYD054", map[string]any{"attachment_id": id})
			if r.Status != sdk.StatusFailed || !r.Retryable {
				t.Fatalf("status %s (retryable %v), want failed and retryable: %s %s", r.Status, r.Retryable, r.Diagnostics, r.Payload)
			}
			if len(r.Payload) != 0 {
				t.Errorf("payload %.80s passed on", r.Payload)
			}
			if d := r.Diagnostics.String(); !strings.Contains(d, id) || !strings.Contains(d, tc.want) {
				t.Errorf("diagnostics %s do not name attachment %s and %q", d, id, tc.want)
			}
			// Asked again, the right answer is passed on.
			out := e.mustOK(e.send("GYD054", map[string]any{"attachment_id": id}))
			if out["attachment_id"] != id {
				t.Fatalf("answer %v", out)
			}
		})
	}
}

// TestDownloadedAttachmentNotTheOneAsked: a filing application whose
// attachment (GYD054) comes back as another attachment, or not whole, is
// not published with it: the record is fed back as failed, naming the
// attachment, so that the national system offers it again.
func TestDownloadedAttachmentNotTheOneAsked(t *testing.T) {
	t.Parallel()
	for name, tc := range attachmentMismatches {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, withSeed(func(s *wisim.Server) { s.Seed(1, 0) }))
			e.sim.Inject(wisim.Fault{Code: "GYD054", Kind: wisim.FaultAlter, Set: tc.set})
			if r := e.runJob(JobFilingApplications); r.Diagnostics.HasError() {
				t.Fatalf("run: %s %s", r.Summary, r.Diagnostics)
			}
			if evs := e.events("workinjury.filing_application.downloaded"); len(evs) != 0 {
				t.Fatalf("%d events published, want none: %.300s", len(evs), evs[0].Payload)
			}
			fb := e.sim.Received("GYU008")
			if len(fb) != 1 {
				t.Fatalf("%d GYU008, want 1", len(fb))
			}
			recs, _ := fb[0].Input["records"].([]any)
			if len(recs) != 1 {
				t.Fatalf("feedback %v", fb[0].Input)
			}
			rec := recs[0].(map[string]any)
			reason, _ := rec["fail_reason"].(string)
			if rec["result_flag"] != "0" || !strings.Contains(reason, "FJDEMO000001") || !strings.Contains(reason, tc.want) {
				b, _ := json.Marshal(rec)
				t.Fatalf("feedback record %s, want result_flag 0 naming the attachment and %q", b, tc.want)
			}
		})
	}
}

// TestAttachmentUploadAnswerWithoutEveryID: an accepted GYU002 whose signed
// answer does not give one attachment id for each file sent (a file left
// out, an entry without its id) cannot say which files the national system
// holds, nor the HIS refer to the missing one in GYU006 or GYU103. It is
// not answered ok with the ids it happens to carry: failed, not retryable,
// nothing applied (no attachment known here) and nothing resent; a replay
// reconciles it with GYD053 and then answers every id.
func TestAttachmentUploadAnswerWithoutEveryID(t *testing.T) {
	t.Parallel()
	in := attachmentUpload(2)
	cases := map[string]struct {
		set map[string]any
		ok  bool
	}{
		"every file with its id": {ok: true},
		"a file left out": {set: map[string]any{"attachments": []any{
			map[string]any{"file_name": "认定书0.pdf", "attachment_id": "FJLEFT0001"}}}},
		"an entry without its id": {set: map[string]any{"attachments": []any{
			map[string]any{"file_name": "认定书0.pdf", "attachment_id": "FJLEFT0001"}, map[string]any{"file_name": "认定书1.pdf", "attachment_id": ""}}}},
		"one id for both files": {set: map[string]any{"attachments": []any{
			map[string]any{"file_name": "认定书0.pdf", "attachment_id": "FJLEFT0001"}, map[string]any{"file_name": "认定书1.pdf", "attachment_id": "FJLEFT0001"}}}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			if tc.set != nil {
				e.sim.Inject(wisim.Fault{Code: "GYU002", Kind: wisim.FaultAlter, Set: tc.set})
			}
			r := e.handle("m-att", "GYU002", in, false)
			if tc.ok {
				e.mustOK(r)
				return
			}
			if r.Status != sdk.StatusFailed || r.Retryable {
				t.Fatalf("status %s (retryable %v), want failed, not retryable: %s %s", r.Status, r.Retryable, r.Diagnostics, r.Payload)
			}
			if !strings.Contains(r.Diagnostics.String(), "attachments") {
				t.Errorf("diagnostics %s do not say what the answer lacks", r.Diagnostics)
			}
			entries, err := hostFor(e.host, testSite).Scan(t.Context(), "att/", 10)
			if err != nil || len(entries) != 0 {
				t.Fatalf("%d attachments known here (%v), want none", len(entries), err)
			}
			sent := len(e.sim.Received("GYU002"))
			out := e.mustOK(e.handle("m-att", "GYU002", in, true))
			if got := len(e.sim.Received("GYU002")); got != sent {
				t.Fatalf("the replay sent GYU002 again (%d, want %d)", got, sent)
			}
			if atts, _ := out["attachments"].([]any); len(atts) != 2 {
				t.Fatalf("replay answer %v, want both ids", out)
			}
		})
	}
}
