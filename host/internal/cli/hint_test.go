package cli

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/medgate/medgate/host/internal/config"
)

// TestCurlHintSendsJSON checks the first-message hint of medgate run: the
// ingress answers 415 to a body without Content-Type: application/json, so
// the hint must send it, with a JSON body for the site.
func TestCurlHintSendsJSON(t *testing.T) {
	t.Parallel()
	hint := curlHint("127.0.0.1:8080", "demo", "ecard.register", "")
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
// file") and the binary as it was started: on a server installed as the
// README says, the hint named bin/medgate, which is not there.
func TestFirstMessageHintCommandsRun(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ prog, cfgPath string }{
		{"bin/medgate", "deploy/demo/medgate.yaml"},
		{"/opt/medgate/bin/medgate", "/etc/medgate/medgate.yaml"},
	} {
		t.Run(tc.cfgPath, func(t *testing.T) {
			var b strings.Builder
			firstMessageHint(&b, tc.prog, tc.cfgPath, "127.0.0.1:8080", "demo", "ecard.register", "")
			hint := b.String()
			if tc.prog != "bin/medgate" && strings.Contains(hint, " bin/medgate ") {
				t.Errorf("the hint names bin/medgate, not %s as medgate was started:\n%s", tc.prog, hint)
			}
			n := 0
			for _, field := range strings.SplitAfter(hint, tc.prog+" ")[1:] {
				n++
				words := strings.Fields(field)
				if len(words) < 3 || words[1] != "-config" || strings.TrimRight(words[2], ")") != tc.cfgPath {
					t.Errorf("the hint's command `%s %s` does not name -config %s:\n%s", tc.prog, strings.Join(words[:min(len(words), 3)], " "), tc.cfgPath, hint)
				}
			}
			if n < 2 {
				t.Fatalf("the hint names %d commands of %s, want the send and the plugins list:\n%s", n, tc.prog, hint)
			}
		})
	}
}

// TestCurlHintSendsTheIngressToken runs the curl line of the first-message
// hint as printed, in a shell, against a server that wants the token the
// configuration gives the site: with http.clients or http.ingressToken
// set the hint sent none and the ingress answered 401. The token is read
// by the shell where the configuration keeps it, never printed.
func TestCurlHintSendsTheIngressToken(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl is not installed")
	}
	dir := t.TempDir()
	const fileToken, envToken = "file-token-0123456789abcdef", "env-token-0123456789abcdef"
	if err := os.MkdirAll(filepath.Join(dir, "my secrets"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "my secrets", "cashier"), []byte(fileToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("MEDGATE_TEST_HINT_TOKEN", envToken)
	cfgFile := filepath.Join(dir, "medgate.yaml")
	for _, tc := range []struct {
		name string
		http config.HTTP
		want string // the Authorization header the server gets
	}{
		{"no credentials", config.HTTP{}, ""},
		{"client token file, relative, path with a space", config.HTTP{Clients: []config.HTTPClient{{Name: "cashier", Token: "file:my secrets/cashier"}}}, "Bearer " + fileToken},
		{"client of the site after one of another", config.HTTP{Clients: []config.HTTPClient{
			{Name: "other", Token: "file:/nonexistent", Sites: []string{"xm02"}},
			{Name: "cashier", Token: "env:MEDGATE_TEST_HINT_TOKEN", Sites: []string{"xm01"}}}}, "Bearer " + envToken},
		{"ingress token", config.HTTP{IngressToken: "file:" + filepath.Join(dir, "my secrets", "cashier")}, "Bearer " + fileToken},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := make(chan string, 1)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				got <- r.Header.Get("Authorization")
			}))
			defer srv.Close()
			cfg := &config.Config{File: cfgFile, HTTP: tc.http}
			hint := curlHint(strings.TrimPrefix(srv.URL, "http://"), "xm01", "ecard.register", ingressAuth(cfg, "xm01"))
			if strings.Contains(hint, fileToken) || strings.Contains(hint, envToken) {
				t.Fatalf("the hint shows the token: %s", hint)
			}
			if out, err := exec.Command("sh", "-c", hint).CombinedOutput(); err != nil {
				t.Fatalf("the hint %s failed: %v\n%s", hint, err, out)
			}
			if h := <-got; h != tc.want {
				t.Errorf("the hint %s sent Authorization %q, want %q", hint, h, tc.want)
			}
		})
	}
}
