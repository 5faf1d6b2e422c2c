package console

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/medgate/medgate/host/internal/access"
	"github.com/medgate/medgate/host/internal/audit"
	"github.com/medgate/medgate/host/internal/config"
	"github.com/medgate/medgate/host/internal/siteadmin"
	"github.com/medgate/medgate/host/internal/store"
	"github.com/medgate/medgate/plugins/sdk"
)

// siteHost is a running medgate for the site pages: it reloads by
// reading the file.
type siteHost struct {
	cfg *config.Config
}

func (h *siteHost) Config() *config.Config { return h.cfg }

func (h *siteHost) Plugins() []siteadmin.Plugin {
	return []siteadmin.Plugin{
		{Name: "ecard", Version: "1.2.0", Running: true, Settings: []sdk.Setting{
			{Name: "url", Type: sdk.SettingURL, Required: true, Description: "平台地址 the platform's address"},
			{Name: "mode", Type: sdk.SettingString, Enum: []string{"test", "live"}, Default: "test"},
			{Name: "retries", Type: sdk.SettingInt},
			{Name: "token", Type: sdk.SettingSecret},
		}},
		{Name: "tracecode", Version: "0.9.0", Running: false, Restarts: 2, LastError: "exit status 2", Settings: []sdk.Setting{}},
	}
}

func (h *siteHost) Reload(context.Context) error {
	cfg, err := config.Load(h.cfg.File)
	if err != nil {
		return err
	}
	h.cfg = cfg
	return nil
}

const sitesYAML = `# test configuration
kafka:
  embedded: {}
plugins:
  - name: ecard
    path: ./plugin
    sha256: SUM
  - name: tracecode
    path: ./plugin
    sha256: SUM
sites:
  - code: s1
    name: 思明院区
    plugins:
      # the e-card platform
      ecard:
        settings:
          url: http://127.0.0.1:1/
`

func newSiteAdmin(t *testing.T) (*siteadmin.Service, string) {
	t.Helper()
	cfg, path := loadSitesConfig(t)
	return siteadmin.New(&siteHost{cfg: cfg}), path
}

// loadSitesConfig writes sitesYAML to a temporary file and loads it.
func loadSitesConfig(t *testing.T) (*config.Config, string) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "plugin"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte("#!/bin/sh\n"))
	path := filepath.Join(dir, "medgate.yaml")
	if err := os.WriteFile(path, []byte(strings.ReplaceAll(sitesYAML, "SUM", hex.EncodeToString(sum[:]))), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return cfg, path
}

func TestSitesAndPlugins(t *testing.T) {
	t.Parallel()
	sites, path := newSiteAdmin(t)
	f := newFixture(t, testToken, func(o *Options) { o.Sites = sites })
	pw := f.addUser("li.admin", access.Admin)
	c := f.client()
	c.signIn("li.admin", pw)

	body := c.get("/console/admin/sites").body
	for _, want := range []string{"站点与插件 Sites and plugins", "思明院区", "ecard", "已启用 enabled", "tracecode", "未配置 not listed", "/console/admin/sites/s1/ecard"} {
		if !strings.Contains(body, want) {
			t.Errorf("sites page lacks %q", want)
		}
	}
	form := c.get("/console/admin/sites/s1/ecard").body
	for _, want := range []string{`name="s.url" value="http://127.0.0.1:1/"`, `<select name="s.mode">`, `<option value="live"`, "默认 default: test",
		`name="s.token"`, "env:NAME 或 file:/path", `name="enabled" checked`, "平台地址"} {
		if !strings.Contains(form, want) {
			t.Errorf("settings form lacks %q", want)
		}
	}
	before, _ := os.ReadFile(path)

	// Every problem at once; the file untouched.
	r := c.post("/console/admin/sites/s1/ecard", url.Values{"csrf": {c.csrf}, "enabled": {"on"}, "s.url": {""}, "s.mode": {"prod"},
		"s.retries": {"three"}, "s.token": {"plain-secret"}})
	if r.code != http.StatusUnprocessableEntity {
		t.Fatalf("bad settings: %d", r.code)
	}
	for _, want := range []string{"not saved", "settings.url: is required", "settings.mode", "settings.retries", "settings.token", `value="three"`} {
		if !strings.Contains(r.body, want) {
			t.Errorf("refusal lacks %q", want)
		}
	}
	// A secret typed in place of its reference is not shown back (nor
	// kept in the browser's form history of the page).
	if strings.Contains(r.body, "plain-secret") {
		t.Error("the refusal shows the secret typed in the form")
	}
	if after, _ := os.ReadFile(path); string(after) != string(before) {
		t.Fatal("a refused change rewrote the file")
	}

	// A good change is saved, reloaded, and the comments stay.
	r = c.action("/console/admin/sites/s1/ecard", url.Values{"enabled": {"on"}, "s.url": {"https://ecard.example/"}, "s.mode": {"live"}, "s.retries": {"3"}})
	if r.code != 200 || !strings.Contains(r.body, "已保存并生效") || !strings.Contains(r.body, `value="https://ecard.example/"`) {
		t.Fatalf("save: %d %s", r.code, r.body)
	}
	after, _ := os.ReadFile(path)
	for _, want := range []string{"# the e-card platform", "url: https://ecard.example/", "mode: live", `retries: "3"`} {
		if !strings.Contains(string(after), want) {
			t.Errorf("file lacks %q:\n%s", want, after)
		}
	}

	// Disable from the sites page, then enable tracecode (no settings).
	if r := c.action("/console/admin/sites/s1/ecard/enabled", url.Values{"enabled": {"false"}}); r.code != 200 {
		t.Fatalf("disable: %d", r.code)
	}
	if r := c.action("/console/admin/sites/s1/tracecode/enabled", url.Values{"enabled": {"true"}}); r.code != 200 {
		t.Fatalf("enable: %d", r.code)
	}
	body = c.get("/console/admin/sites").body
	if !strings.Contains(body, "已停用 disabled") {
		t.Error("ecard does not show as disabled")
	}
	if sp, _ := sites.SitePlugin("s1", "tracecode"); !sp.Enabled {
		t.Error("tracecode not enabled")
	}

	status := c.get("/console/admin/plugins").body
	for _, want := range []string{"插件状态 Plugin status", "1.2.0", "0.9.0", "exit status 2", "停止 down", "运行中 up", hexSum()} {
		if !strings.Contains(status, want) {
			t.Errorf("plugin status lacks %q", want)
		}
	}
	if r := c.get("/console/admin/sites/s9/ecard"); r.code != http.StatusNotFound {
		t.Errorf("unknown site: %d", r.code)
	}

	got, err := f.st.ListAudit(t.Context(), store.AuditFilter{Action: "site.plugin.update"})
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, e := range got {
		lines = append(lines, e.Target+" "+e.Outcome+" "+e.Detail)
	}
	joined := strings.Join(lines, "\n")
	for _, want := range []string{"tracecode/s1 ok 修改院区 s1 的插件 tracecode。enabled true", "ecard/s1 ok 修改院区 s1 的插件 ecard。enabled false",
		"ecard/s1 ok 修改院区 s1 的插件 ecard。enabled true; settings changed: url, mode, retries", "ecard/s1 refused 修改院区 s1 的插件 ecard。"} {
		if !strings.Contains(joined, want) {
			t.Errorf("audit lacks %q:\n%s", want, joined)
		}
	}
}

func hexSum() string {
	sum := sha256.Sum256([]byte("#!/bin/sh\n"))
	return hex.EncodeToString(sum[:])
}

// flakyHost is a siteHost whose next reloads fail as medgate's own
// failures do (a plugin that cannot start), not as a configuration
// problem.
type flakyHost struct {
	siteHost
	fails atomic.Int32
}

func (h *flakyHost) Reload(ctx context.Context) error {
	if h.fails.Add(-1) >= 0 {
		return errors.New("start plugin ecard: fork/exec ./plugin: resource temporarily unavailable")
	}
	h.fails.Store(0)
	return h.siteHost.Reload(ctx)
}

// TestSiteChangeOutcomeAudited: a site change from the console is
// audited ok when done, refused when the operator's input was wrong
// (settings with problems, shown on the form with 422), and failed when
// medgate could not do it (the reload failed: an error page with 500,
// which does not claim the file is untouched).
func TestSiteChangeOutcomeAudited(t *testing.T) {
	t.Parallel()
	cfg, _ := loadSitesConfig(t)
	host := &flakyHost{siteHost: siteHost{cfg: cfg}}
	f := newFixture(t, testToken, func(o *Options) { o.Sites = siteadmin.New(host) })
	pw := f.addUser("li.admin", access.Admin)
	c := f.client()
	c.signIn("li.admin", pw)

	cases := []struct {
		name, path  string
		form        url.Values
		reloadFails int32
		code        int
		outcome     string
		page        string
	}{
		{"saved", "/console/admin/sites/s1/ecard", url.Values{"enabled": {"on"}, "s.url": {"https://ecard.example/"}}, 0, http.StatusSeeOther, audit.OK, ""},
		{"settings with problems", "/console/admin/sites/s1/ecard", url.Values{"enabled": {"on"}, "s.url": {""}}, 0, http.StatusUnprocessableEntity, audit.Refused, "settings.url: is required"},
		{"reload fails on save", "/console/admin/sites/s1/ecard", url.Values{"enabled": {"on"}, "s.url": {"https://other.example/"}}, 1, http.StatusInternalServerError, audit.Failed, "previous configuration is back in force"},
		{"reload fails on disable", "/console/admin/sites/s1/ecard/enabled", url.Values{"enabled": {"false"}}, 1, http.StatusInternalServerError, audit.Failed, "previous configuration is back in force"},
		{"reload of the previous one fails too", "/console/admin/sites/s1/ecard/enabled", url.Values{"enabled": {"false"}}, 2, http.StatusInternalServerError, audit.Failed, "reloading it failed too"},
		{"disabled", "/console/admin/sites/s1/ecard/enabled", url.Values{"enabled": {"false"}}, 0, http.StatusSeeOther, audit.OK, ""},
	}
	for _, tc := range cases {
		host.fails.Store(tc.reloadFails)
		tc.form.Set("csrf", c.csrf)
		r := c.post(tc.path, tc.form)
		if r.code != tc.code || !strings.Contains(r.body, tc.page) {
			t.Errorf("%s: HTTP %d; want %d with %q:\n%s", tc.name, r.code, tc.code, tc.page, r.body)
		}
		if tc.outcome == audit.Failed && strings.Contains(r.body, "The file was not changed") {
			t.Errorf("%s: a failed change is shown as a refused one", tc.name)
		}
		got, err := f.st.ListAudit(t.Context(), store.AuditFilter{Action: "site.plugin.update", Limit: 1})
		if err != nil || len(got) != 1 {
			t.Fatalf("%s: audit log: %v %v", tc.name, got, err)
		}
		if got[0].Outcome != tc.outcome {
			t.Errorf("%s: audited %q (%s); want %q", tc.name, got[0].Outcome, got[0].Detail, tc.outcome)
		}
	}
}

// brokenPutBackHost is a siteHost whose next reload finds configuration
// problems (a plugin refused the settings) and leaves the configuration
// file's place unwritable, so the previous file cannot be put back.
type brokenPutBackHost struct {
	siteHost
	armed atomic.Bool
}

func (h *brokenPutBackHost) Reload(ctx context.Context) error {
	if !h.armed.CompareAndSwap(true, false) {
		return h.siteHost.Reload(ctx)
	}
	path := h.cfg.File
	if err := os.Remove(path); err != nil {
		return err
	}
	// A directory with something in it: nothing can be renamed over it.
	if err := os.MkdirAll(filepath.Join(path, "in-the-way"), 0o700); err != nil {
		return err
	}
	return config.Problems{{File: path, Path: "sites[0].plugins.ecard", Message: "plugin ecard refused its settings: url is not reachable"}}
}

// TestSiteChangeNotPutBack: a change whose reload found configuration
// problems after the file was written, and whose previous file could not
// be put back, is a failure of medgate's, not a refusal of the input: the
// file is not as it was. It is audited failed and answered with the error
// page naming the kept copy (.bak), never with the form saying the file was
// not changed.
func TestSiteChangeNotPutBack(t *testing.T) {
	t.Parallel()
	cfg, path := loadSitesConfig(t)
	host := &brokenPutBackHost{siteHost: siteHost{cfg: cfg}}
	f := newFixture(t, testToken, func(o *Options) { o.Sites = siteadmin.New(host) })
	pw := f.addUser("li.admin", access.Admin)
	c := f.client()
	c.signIn("li.admin", pw)

	host.armed.Store(true)
	r := c.post("/console/admin/sites/s1/ecard", url.Values{"enabled": {"on"}, "s.url": {"https://other.example/"}, "csrf": {c.csrf}})
	if r.code != http.StatusInternalServerError || !strings.Contains(r.body, path+".bak") || strings.Contains(r.body, "The file was not changed") {
		t.Errorf("HTTP %d; want 500 naming %s.bak, not the form saying the file was not changed:\n%s", r.code, path, r.body)
	}
	got, err := f.st.ListAudit(t.Context(), store.AuditFilter{Action: "site.plugin.update", Limit: 1})
	if err != nil || len(got) != 1 {
		t.Fatalf("audit log: %v %v", got, err)
	}
	if got[0].Outcome != audit.Failed {
		t.Errorf("audited %q (%s); want %q", got[0].Outcome, got[0].Detail, audit.Failed)
	}
}
