package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/medgate/medgate/test/harness"
	"github.com/medgate/medgate/test/testenv"
)

// post sends a form with the session's CSRF token and follows a redirect.
func (b *browser) post(path string, form url.Values) (int, string) {
	b.t.Helper()
	form.Set("csrf", b.csrf)
	code, body, h := b.do("POST", path, form)
	if code == http.StatusSeeOther {
		code, body, _ = b.do("GET", h.Get("Location"), nil)
	}
	return code, body
}

func (b *browser) signIn(user, password string) {
	b.t.Helper()
	code, body, _ := b.do("POST", "/console/login", url.Values{"user": {user}, "password": {password}})
	if code != http.StatusSeeOther {
		b.t.Fatalf("sign in as %s: %d\n%s", user, code, body)
	}
	if code, _, _ := b.do("GET", "/console/", nil); code != 200 || b.csrf == "" {
		b.t.Fatalf("overview after sign-in: %d", code)
	}
}

// TestConsoleAccess runs real medgate with the ecard plugin: users made
// with `medgate user add`, roles enforced on console and admin API, the
// plugin disabled and re-enabled for a site from the admin page (the
// configuration file rewritten with its comments and reloaded: messages
// are refused, then served again), and every step in the audit log.
func TestConsoleAccess(t *testing.T) {
	t.Parallel()
	const token = "e2e-access-admin-token-0123456789"
	bins := harness.Binaries(t)
	cfg := harness.NewConfig(t, nil)
	cfg.Embedded = true
	cfg.Listen = testenv.FreeAddr(t)
	cfg.Brokers = []string{cfg.Listen}
	ecardConfig(t, cfg)
	tokenFile := filepath.Join(cfg.Dir, "secrets", "admin-token")
	if err := os.WriteFile(tokenFile, []byte(token), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg.Extra["http"] = map[string]any{"listen": "127.0.0.1:0", "adminToken": "file:" + tokenFile}
	cfg.Extra["console"] = map[string]any{"maxSessionsPerUser": 1}
	cfgPath := cfg.Write(t, bins)
	src, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfgPath, append([]byte("# written by TestConsoleAccess: this comment must survive\n"), src...), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, u := range [][2]string{{"pharm01", "operator"}, {"li.admin", "admin"}, {"zhao.view", "viewer"}} {
		cmd := exec.Command(bins.Medgate, "user", "add", "-config", cfgPath, u[0], u[1])
		cmd.Stdin = strings.NewReader("pw-" + u[0] + "-0123456789\n")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("medgate user add %s: %v\n%s", u[0], err, out)
		}
	}
	mg := harness.Start(t, bins, cfgPath)
	in := &ingress{t: t, addr: mg.HTTPAddr}
	register := func() (int, harness.Reply) {
		return in.call("ecard.register", map[string]any{"name": "张三丰", "idType": "01", "idNumber": "11010519491231002X", "phone": "13812345678"})
	}
	if code, r := register(); code != 200 {
		t.Fatalf("register before any change: %d %+v", code, r)
	}

	// console.maxSessionsPerUser is 1: a second sign-in by one user ends
	// the first session, and no other user's.
	first := newBrowser(t, mg.HTTPAddr)
	first.signIn("zhao.view", "pw-zhao.view-0123456789")
	viewer := newBrowser(t, mg.HTTPAddr)
	viewer.signIn("zhao.view", "pw-zhao.view-0123456789")
	if code, _, h := first.do("GET", "/console/", nil); code != http.StatusSeeOther || !strings.HasPrefix(h.Get("Location"), "/console/login") {
		t.Fatalf("the first of two sessions with maxSessionsPerUser 1 still opens the overview: %d", code)
	}
	if code, body := viewer.post("/console/jobs/run", url.Values{"job": {"x/s1/y"}}); code != http.StatusForbidden || !strings.Contains(body, "权限不足") {
		t.Fatalf("viewer runs a job: %d", code)
	}
	op := newBrowser(t, mg.HTTPAddr)
	op.signIn("pharm01", "pw-pharm01-0123456789")
	if code, _, _ := op.do("GET", "/console/admin/sites", nil); code != http.StatusForbidden {
		t.Fatalf("operator opens the sites page: %d", code)
	}

	admin := newBrowser(t, mg.HTTPAddr)
	admin.signIn("li.admin", "pw-li.admin-0123456789")
	if _, body, _ := admin.do("GET", "/console/admin/sites", nil); !strings.Contains(body, "/console/admin/sites/s1/ecard") || !strings.Contains(body, "已启用 enabled") {
		t.Fatalf("sites page:\n%s", body)
	}
	if _, body, _ := admin.do("GET", "/console/admin/sites/s1/ecard", nil); !strings.Contains(body, `name="s.identitySecret"`) || !strings.Contains(body, `name="s.tempCardPrefixes"`) {
		t.Fatalf("the settings form is not generated from ecard's declared settings:\n%s", body)
	}
	if code, body := admin.post("/console/admin/sites/s1/ecard/enabled", url.Values{"enabled": {"false"}}); code != 200 || !strings.Contains(body, "已保存并生效") {
		t.Fatalf("disable: %d\n%s", code, body)
	}
	if code, r := register(); code == 200 || !strings.Contains(strings.Join(errorRules(r), ","), "disabled") {
		t.Fatalf("register while disabled: %d %+v", code, r)
	}
	data, _ := os.ReadFile(cfgPath)
	if !strings.Contains(string(data), "this comment must survive") || !strings.Contains(string(data), "enabled: false") {
		t.Fatalf("configuration file after disabling:\n%s", data)
	}
	if _, err := os.Stat(cfgPath + ".bak"); err != nil {
		t.Fatalf("no .bak: %v", err)
	}
	// A bad setting is refused with the problem, and nothing changes.
	code, body := admin.post("/console/admin/sites/s1/ecard", url.Values{"enabled": {"on"}, "s.identitySecret": {"plain-text-secret"}})
	if code != http.StatusUnprocessableEntity || !strings.Contains(body, "identitySecret") {
		t.Fatalf("bad setting: %d\n%s", code, body)
	}
	if code, _ := register(); code == 200 {
		t.Fatal("the refused change enabled the plugin")
	}
	if code, body := admin.post("/console/admin/sites/s1/ecard/enabled", url.Values{"enabled": {"true"}}); code != 200 || !strings.Contains(body, "已保存并生效") {
		t.Fatalf("enable: %d\n%s", code, body)
	}
	if code, r := register(); code != 200 {
		t.Fatalf("register after enabling again: %d %+v", code, r)
	}
	if _, body, _ := admin.do("GET", "/console/admin/plugins", nil); !strings.Contains(body, bins.SHA256["ecard"]) || !strings.Contains(body, "运行中 up") {
		t.Fatalf("plugin status:\n%s", body)
	}

	// The admin API: roles by HTTP Basic, and the audit log.
	api := func(method, path, user, pw string) (int, string) {
		req, _ := http.NewRequest(method, "http://"+mg.HTTPAddr+path, nil)
		req.SetBasicAuth(user, pw)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := api("POST", "/admin/reload", "pharm01", "pw-pharm01-0123456789"); code != http.StatusForbidden {
		t.Fatalf("operator reloads: %d", code)
	}
	// The CLI's admin shortcuts as a user ($MEDGATE_USER, password on stdin).
	cli := func(user string, args ...string) string {
		cmd := exec.Command(bins.Medgate, args...)
		cmd.Env = append(os.Environ(), "MEDGATE_USER="+user)
		cmd.Stdin = strings.NewReader("pw-" + user + "-0123456789\n")
		out, _ := cmd.CombinedOutput()
		return string(out)
	}
	if out := cli("pharm01", "reload", "-config", cfgPath, "-addr", mg.HTTPAddr); !strings.Contains(out, "403") || !strings.Contains(out, "needs the role admin") {
		t.Fatalf("medgate reload as an operator:\n%s", out)
	}
	if out := cli("li.admin", "reload", "-config", cfgPath, "-addr", mg.HTTPAddr); !strings.Contains(out, "reloaded") {
		t.Fatalf("medgate reload as an admin:\n%s", out)
	}
	code, body = api("GET", "/admin/audit?limit=100", "li.admin", "pw-li.admin-0123456789")
	var audit struct {
		Entries []struct{ User, Action, Target, Outcome string }
	}
	if code != 200 || json.Unmarshal([]byte(body), &audit) != nil {
		t.Fatalf("GET /admin/audit: %d %s", code, body)
	}
	var seen []string
	for _, e := range audit.Entries {
		seen = append(seen, e.User+" "+e.Action+" "+e.Target+" "+e.Outcome)
	}
	all := strings.Join(seen, "\n")
	for _, want := range []string{"li.admin site.plugin.update ecard/s1 ok", "li.admin site.plugin.update ecard/s1 refused", "zhao.view console.refused /console/jobs/run refused",
		"pharm01 api.refused /admin/reload refused", "li.admin config.reload /admin/reload ok", "li.admin login  ok", "user.add pharm01 ok"} {
		if !strings.Contains(all, want) {
			t.Errorf("audit lacks %q:\n%s", want, all)
		}
	}
}

// errorRules lists the rules of a reply's errors.
func errorRules(r harness.Reply) []string {
	var out []string
	for _, e := range r.Errors {
		out = append(out, e.Rule)
	}
	return out
}
