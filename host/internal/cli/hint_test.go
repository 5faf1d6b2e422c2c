package cli

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/medgate/medgate/host/internal/config"
)

// TestCurlHintSendsJSON checks the first-message hint of medgate run: the
// ingress answers 415 to a body without Content-Type: application/json, so
// the hint must send it, with a JSON body for the site.
func TestCurlHintSendsJSON(t *testing.T) {
	t.Parallel()
	hint := curlHint("127.0.0.1:8080", "demo", "ecard.register")
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
	if err := json.Unmarshal([]byte(parts[3]), &msg); err != nil || msg.Site != "demo" || msg.ID == "" || msg.Type != "ecard.register" {
		t.Errorf("hint body %q is not a message for site demo: %v", parts[3], err)
	}
	if !strings.HasPrefix(hint, "curl -s http://127.0.0.1:8080/v1/messages ") {
		t.Errorf("hint %q does not post to the ingress", hint)
	}
}

// TestFirstOperation: the first-message hint of medgate run names an
// operation a site of the configuration can take, from what the plugins
// declare, never a type the host assumes.
func TestFirstOperation(t *testing.T) {
	t.Parallel()
	off := false
	ops := map[string][]string{"alpha": {"alpha.query", "alpha.upload"}, "beta": {"beta.record"}, "empty": nil}
	lookup := func(name string) []string { return ops[name] }
	for _, tc := range []struct {
		name           string
		sites          []config.Site
		wantSite, want string
	}{
		{"first plugin by name", []config.Site{{Code: "s1", Plugins: map[string]config.SitePlugin{"beta": {}, "alpha": {}}}}, "s1", "alpha.query"},
		{"disabled plugin skipped", []config.Site{{Code: "s1", Plugins: map[string]config.SitePlugin{"beta": {}, "alpha": {Enabled: &off}}}}, "s1", "beta.record"},
		{"plugin without operations skipped", []config.Site{{Code: "s1", Plugins: map[string]config.SitePlugin{"empty": {}}}, {Code: "s2", Plugins: map[string]config.SitePlugin{"beta": {}}}}, "s2", "beta.record"},
		{"unknown plugin", []config.Site{{Code: "s1", Plugins: map[string]config.SitePlugin{"gamma": {}}}}, "", ""},
		{"no sites", nil, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			site, typ := firstOperation(&config.Config{Sites: tc.sites}, lookup)
			if site != tc.wantSite || typ != tc.want {
				t.Fatalf("firstOperation = %q %q, want %q %q", site, typ, tc.wantSite, tc.want)
			}
		})
	}
}

// TestFirstMessageHintCommandsRun: every medgate command the first-message
// hint of medgate run names must work when pasted as printed from where
// medgate was started, so each names the configuration medgate runs with
// (without -config the CLI reads ./medgate.yaml, which the demo does not
// have: `bin/medgate plugins` failed with "cannot read the configuration
// file").
func TestFirstMessageHintCommandsRun(t *testing.T) {
	t.Parallel()
	for _, cfgPath := range []string{"deploy/demo/medgate.yaml", "/etc/medgate/medgate.yaml"} {
		t.Run(cfgPath, func(t *testing.T) {
			var b strings.Builder
			firstMessageHint(&b, cfgPath, "127.0.0.1:8080", "demo", "ecard.register")
			hint := b.String()
			n := 0
			for _, field := range strings.SplitAfter(hint, "bin/medgate ")[1:] {
				n++
				words := strings.Fields(field)
				if len(words) < 3 || words[1] != "-config" || strings.TrimRight(words[2], ")") != cfgPath {
					t.Errorf("the hint's command `bin/medgate %s` does not name -config %s:\n%s", strings.Join(words[:min(len(words), 3)], " "), cfgPath, hint)
				}
			}
			if n < 2 {
				t.Fatalf("the hint names %d medgate commands, want the send and the plugins list:\n%s", n, hint)
			}
		})
	}
}
