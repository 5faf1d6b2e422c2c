package cli

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestCurlHintSendsJSON checks the first-message hint of medgate run: the
// ingress answers 415 to a body without Content-Type: application/json, so
// the hint must send it, with a JSON body for the site.
func TestCurlHintSendsJSON(t *testing.T) {
	t.Parallel()
	hint := curlHint("127.0.0.1:8080", "demo")
	// The hint quotes its arguments with single quotes: every odd part is one.
	parts := strings.Split(hint, "'")
	if len(parts) != 5 {
		t.Fatalf("hint %q: want two single-quoted arguments", hint)
	}
	if !strings.HasSuffix(strings.TrimSpace(parts[0]), "-H") || parts[1] != "Content-Type: application/json" {
		t.Errorf("hint %q does not send -H 'Content-Type: application/json'", hint)
	}
	if !strings.HasSuffix(strings.TrimSpace(parts[2]), "-d") {
		t.Errorf("hint %q: the body does not follow -d", hint)
	}
	var msg struct{ ID, Site, Type string }
	if err := json.Unmarshal([]byte(parts[3]), &msg); err != nil || msg.Site != "demo" || msg.ID == "" || msg.Type == "" {
		t.Errorf("hint body %q is not a message for site demo: %v", parts[3], err)
	}
	if !strings.HasPrefix(hint, "curl -s http://127.0.0.1:8080/v1/messages ") {
		t.Errorf("hint %q does not post to the ingress", hint)
	}
}
