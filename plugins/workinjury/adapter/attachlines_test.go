package adapter

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/medgate/medgate/plugins/sdk"
)

// wrapLines cuts s into lines of n characters joined by sep, as MIME
// encoders write base64 (RFC 2045: 76 characters, CRLF).
func wrapLines(s string, n int, sep string) string {
	var lines []string
	for len(s) > n {
		lines = append(lines, s[:n])
		s = s[n:]
	}
	return strings.Join(append(lines, s), sep)
}

// TestAttachmentContentWithLineBreaks: base64 wrapped in lines passed the
// GYU002 checks (Go's decoder skips CR and LF) and went out as given; the
// national system's strict decoder refused it. The line breaks are now
// removed before sending (the bytes are the same, and nothing signs the
// content as given); any other character that is not base64 is still
// refused, naming the field, nothing sent.
func TestAttachmentContentWithLineBreaks(t *testing.T) {
	t.Parallel()
	file := "%PDF-1.4 " + strings.Repeat("工伤认定决定书 page ", 12)
	plain := base64.StdEncoding.EncodeToString([]byte(file))
	tests := map[string]struct {
		content string
		ok      bool
	}{
		"one line":                    {content: plain, ok: true},
		"MIME lines (CRLF)":           {content: wrapLines(plain, 76, "\r\n"), ok: true},
		"lines ending in LF":          {content: wrapLines(plain, 64, "\n") + "\n", ok: true},
		"a bare CR":                   {content: plain[:40] + "\r" + plain[40:], ok: true},
		"spaces between the lines":    {content: wrapLines(plain, 76, " ")},
		"a tab":                       {content: plain[:40] + "\t" + plain[40:]},
		"a character not of base64":   {content: plain[:40] + "*" + plain[41:]},
		"line breaks and a space too": {content: wrapLines(plain, 76, "\r\n") + " "},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			in := map[string]any{"biz_type": "1", "biz_no": "LOCAL0001", "attachments": []any{map[string]any{
				"attachment_type": "01", "file_name": "认定书.pdf", "file_format": "pdf", "file_size": len(file), "file_content": tc.content}}}
			r := e.send("GYU002", in)
			sent := e.sim.Received("GYU002")
			if !tc.ok {
				if r.Status != sdk.StatusInvalid || !hasField(r, "$.attachments[0].file_content", "type") {
					t.Fatalf("status %s, want invalid at $.attachments[0].file_content: %s", r.Status, r.Diagnostics)
				}
				if len(sent) != 0 {
					t.Fatalf("an invalid attachment reached the national system %d times", len(sent))
				}
				return
			}
			out := e.mustOK(r)
			if atts, _ := out["attachments"].([]any); len(atts) != 1 {
				t.Fatalf("answer %v", out)
			}
			if len(sent) != 1 {
				t.Fatalf("GYU002 reached the national system %d times, want 1", len(sent))
			}
			att := sent[0].Input["attachments"].([]any)[0].(map[string]any)
			if att["file_content"] != plain {
				t.Errorf("sent file_content %.100q, want the base64 on one line", att["file_content"])
			}
		})
	}
}
