package cli

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestSendRefusedReplyWarnings: `medgate send` prints a refused reply
// whole, its warnings and errors too (masked), not only an ok reply's:
// the status decides nothing of what is printed.
func TestSendRefusedReplyWarnings(t *testing.T) {
	t.Parallel()
	for _, status := range []string{"rejected", "invalid", "failed", "ok"} {
		t.Run(status, func(t *testing.T) {
			t.Parallel()
			raw, _ := json.Marshal(map[string]any{"id": "r-1", "requestId": "m-1", "site": "s1", "type": "ecard.register", "status": status,
				"errors":   []map[string]string{{"field": "$.person.document.number", "rule": "state", "message": "already registered"}},
				"warnings": []map[string]string{{"field": "$.person.mobile", "rule": "differs", "message": "手机 " + maskMobile + " differs"}}})
			var got struct {
				Status   string
				Errors   []map[string]string
				Warnings []map[string]string
			}
			out := shownRawReply(raw, false)
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatalf("%v: %s", err, out)
			}
			if got.Status != status || len(got.Errors) != 1 || len(got.Warnings) != 1 ||
				got.Warnings[0]["message"] != "手机 138****5678 differs" || strings.Contains(string(out), maskMobile) {
				t.Errorf("printed %s", out)
			}
		})
	}
}
