package adapter

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/medgate/medgate/plugins/sdk"
	wisim "github.com/medgate/medgate/test/sim/workinjury"
)

// attachmentFormats are GYD054 answers whose content is, or is not, what
// the attachment's file_format and file name say (a PDF, 认定书0.pdf or
// 工伤认定决定书.pdf unless set says otherwise).
var attachmentFormats = map[string]struct {
	content string
	set     map[string]any // more answer fields
	want    []string       // in the problem; none: the content matches
}{
	"a PDF, as it says": {content: "%PDF-1.7\n%%EOF\n"},
	"an HTML error page named pdf": {content: "<!DOCTYPE html><html><body>502 Bad Gateway</body></html>",
		want: []string{"file_format pdf says a PDF document", "*.pdf", "text/html"}},
	"a JPEG named pdf": {content: "\xFF\xD8\xFF\xE0\x00\x10JFIF\x00", want: []string{"a PDF document", "a JPEG image"}},
	"a PDF whose name says jpg": {content: "%PDF-1.4\n", set: map[string]any{"file_name": "认定书.jpg"},
		want: []string{"file name (*.jpg) says a JPEG image", "a PDF document"}},
	"a format without a known signature": {content: "<ofd/>", set: map[string]any{"file_format": "ofd", "file_name": "认定书.ofd"}},
}

// alter is the FaultAlter setting of a GYD054 answer to content, with
// set's fields.
func alter(content string, set map[string]any) map[string]any {
	m := map[string]any{"file_content": base64.StdEncoding.EncodeToString([]byte(content)), "file_size": len(content)}
	for k, v := range set {
		m[k] = v
	}
	return m
}

// TestAttachmentQueryNotItsFormat: a GYD054 whose content is not what its
// name says (an error page as 工伤认定决定书.pdf) was answered ok as the
// document. It is still passed on, but marked: a warning (rule format) on
// $.file_content saying what the name says and what the content is, and
// an ALERT event. Content that is what it says is passed on as before.
func TestAttachmentQueryNotItsFormat(t *testing.T) {
	t.Parallel()
	for name, tc := range attachmentFormats {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			id := e.uploadAttachments(1)[0]
			e.sim.Inject(wisim.Fault{Code: "GYD054", Kind: wisim.FaultAlter, Set: alter(tc.content, tc.set)})
			r := e.send("GYD054", map[string]any{"attachment_id": id})
			out := e.mustOK(r)
			if got, _ := base64.StdEncoding.DecodeString(out["file_content"].(string)); string(got) != tc.content {
				t.Fatalf("content passed on %q, want %q", got, tc.content)
			}
			evs := e.events("workinjury.attachment.format_mismatch")
			if len(tc.want) == 0 {
				if len(r.Diagnostics) != 0 || len(evs) != 0 {
					t.Fatalf("content as it says: diagnostics %s, %d events, want none", r.Diagnostics, len(evs))
				}
				return
			}
			if !hasField(r, "$.file_content", "format") || r.Diagnostics[0].Severity != sdk.SeverityWarning {
				t.Fatalf("diagnostics %s, want a warning on $.file_content (rule format)", r.Diagnostics)
			}
			d := r.Diagnostics.String()
			for _, w := range append([]string{id, "do not file it"}, tc.want...) {
				if !strings.Contains(d, w) {
					t.Errorf("warning %s does not say %q", d, w)
				}
			}
			if strings.Contains(d, "认定书") {
				t.Errorf("warning %s quotes the file name", d)
			}
			if len(evs) != 1 || !strings.Contains(string(evs[0].Payload), id) || !strings.Contains(string(evs[0].Payload), tc.want[0]) {
				t.Fatalf("%d format_mismatch events (%v), want 1 naming %s and %q", len(evs), evs, id, tc.want[0])
			}
		})
	}
}

// TestDownloadedAttachmentNotItsFormat: a filing application whose
// attachment (GYD054) is not what its name says was published as a good
// download. It is still delivered (and acknowledged), with the
// attachment's format_problem saying what the name says and what the
// content is, and an ALERT event; one that is what it says has none.
func TestDownloadedAttachmentNotItsFormat(t *testing.T) {
	t.Parallel()
	for name, tc := range attachmentFormats {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, withSeed(func(s *wisim.Server) { s.Seed(1, 0) }))
			e.sim.Inject(wisim.Fault{Code: "GYD054", Kind: wisim.FaultAlter, Set: alter(tc.content, tc.set)})
			if r := e.runJob(JobFilingApplications); r.Diagnostics.HasError() {
				t.Fatalf("run: %s %s", r.Summary, r.Diagnostics)
			}
			evs := e.events("workinjury.filing_application.downloaded")
			if len(evs) != 1 {
				t.Fatalf("%d events published, want 1", len(evs))
			}
			var body struct {
				Attachments []map[string]any `json:"attachments"`
			}
			if err := json.Unmarshal(evs[0].Payload, &body); err != nil || len(body.Attachments) != 1 {
				t.Fatalf("event %.300s (%v), want one attachment", evs[0].Payload, err)
			}
			problem, _ := body.Attachments[0]["format_problem"].(string)
			alerts := e.events("workinjury.attachment.format_mismatch")
			if len(tc.want) == 0 {
				if problem != "" || len(alerts) != 0 {
					t.Fatalf("content as it says: format_problem %q, %d alerts, want none", problem, len(alerts))
				}
				return
			}
			for _, w := range append([]string{"FJDEMO000001", "do not file it"}, tc.want...) {
				if !strings.Contains(problem, w) {
					t.Errorf("format_problem %q does not say %q", problem, w)
				}
			}
			if len(alerts) != 1 || !strings.Contains(string(alerts[0].Payload), "FJDEMO000001") {
				t.Fatalf("%d format_mismatch events (%v), want 1 naming FJDEMO000001", len(alerts), alerts)
			}
			fb := e.sim.Received("GYU008")
			if len(fb) != 1 {
				t.Fatalf("%d GYU008, want 1", len(fb))
			}
			if recs, _ := fb[0].Input["records"].([]any); len(recs) != 1 || recs[0].(map[string]any)["result_flag"] != "1" {
				t.Fatalf("feedback %v, want the record acknowledged as received", fb[0].Input)
			}
		})
	}
}
