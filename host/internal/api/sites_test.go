package api

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/medgate/medgate/host/internal/access"
	"github.com/medgate/medgate/host/internal/audit"
	"github.com/medgate/medgate/host/internal/config"
	"github.com/medgate/medgate/host/internal/siteadmin"
	"github.com/medgate/medgate/host/internal/store"
	"github.com/medgate/medgate/plugins/sdk"
)

type siteHost struct{ cfg *config.Config }

func (h *siteHost) Config() *config.Config { return h.cfg }
func (h *siteHost) Plugins() []siteadmin.Plugin {
	return []siteadmin.Plugin{{Name: "ecard", Version: "1.2.0", Running: true, Restarts: 1, LastError: "killed", Settings: []sdk.Setting{
		{Name: "url", Type: sdk.SettingURL, Required: true}, {Name: "retries", Type: sdk.SettingInt}}}}
}
func (h *siteHost) Reload(context.Context) error {
	cfg, err := config.Load(h.cfg.File)
	if err == nil {
		h.cfg = cfg
	}
	return err
}

// siteFixture writes a configuration with one plugin (a checksummed
// script) enabled on site s1 with one setting, url: http://a/ followed by
// comment (a YAML comment the edits must keep, or ""), loads it, and opens
// a store in the same directory, closed when t ends.
func siteFixture(t *testing.T, comment string) (*config.Config, *store.SQLite) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "plugin"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte("#!/bin/sh\n"))
	path := filepath.Join(dir, "medgate.yaml")
	src := "kafka:\n  embedded: {}\nplugins:\n  - name: ecard\n    path: ./plugin\n    sha256: " + hex.EncodeToString(sum[:]) +
		"\nsites:\n  - code: s1\n    plugins:\n      ecard:\n        settings:\n          url: http://a/" + comment + "\n"
	if comment != "" {
		src = "# keep me\n" + src
	}
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.OpenSQLite(t.Context(), filepath.Join(dir, "a.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return cfg, st
}

// auditedSiteServer serves the admin API over host's sites, auditing
// into st, until t ends.
func auditedSiteServer(t *testing.T, st *store.SQLite, host siteadmin.Host) *httptest.Server {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv := httptest.NewServer(Handler(okBackend(), Options{IngressTimeout: time.Second, MaxBodyBytes: 1 << 10, Registry: prometheus.NewRegistry(),
		Logger: log, Audit: audit.New(st, log), Sites: siteadmin.New(host)}))
	t.Cleanup(srv.Close)
	return srv
}

func TestAdminSites(t *testing.T) {
	t.Parallel()
	cfg, st := siteFixture(t, " # the simulator")
	path := cfg.File
	sum := sha256.Sum256([]byte("#!/bin/sh\n"))
	users := access.NewUsers(st, access.Params{Memory: 64, Time: 1, Threads: 1, KeyLen: 32})
	for _, r := range access.Roles {
		if err := users.Add(t.Context(), "u-"+r.String(), r, "pw-0123456789", nil); err != nil {
			t.Fatal(err)
		}
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv := httptest.NewServer(Handler(okBackend(), Options{IngressTimeout: time.Second, MaxBodyBytes: 1 << 10, Registry: prometheus.NewRegistry(),
		Logger: log, Users: users, Audit: audit.New(st, log), Sites: siteadmin.New(&siteHost{cfg: cfg})}))
	defer srv.Close()
	call := func(method, p, user, body string) (int, string) {
		req, _ := http.NewRequest(method, srv.URL+p, strings.NewReader(body))
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		req.SetBasicAuth(user, "pw-0123456789")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	cases := []struct {
		name, method, path, user, body string
		code                           int
		want                           string
	}{
		{"viewer cannot list sites", "GET", "/admin/sites", "u-viewer", "", 403, "forbidden"},
		{"operator cannot edit sites", "PUT", "/admin/sites/s1/plugins/ecard", "u-operator", `{"enabled":false}`, 403, "needs the role admin"},
		{"operator cannot read plugin status", "GET", "/admin/plugins/status", "u-operator", "", 403, "forbidden"},
		{"admin lists sites", "GET", "/admin/sites", "u-admin", "", 200, `"url","Type":"url","Required":true`},
		{"admin reads one", "GET", "/admin/sites/s1/plugins/ecard", "u-admin", "", 200, `"value":"http://a/"`},
		{"unknown site", "GET", "/admin/sites/s9/plugins/ecard", "u-admin", "", 404, "not_found"},
		{"every problem at once", "PUT", "/admin/sites/s1/plugins/ecard", "u-admin", `{"settings":{"url":"","retries":"x","colour":"red"}}`, 422, "settings.url: is required"},
		{"body over 1 MiB", "PUT", "/admin/sites/s1/plugins/ecard", "u-admin", `{"settings":{"url":"` + strings.Repeat("x", 1<<20) + `"}}`, 413, "too_large"},
		{"unknown field", "PUT", "/admin/sites/s1/plugins/ecard", "u-admin", `{"enable":true}`, 400, "bad_body"},
		{"change settings", "PUT", "/admin/sites/s1/plugins/ecard", "u-admin", `{"settings":{"url":"https://b/","retries":"2"}}`, 200, `"value":"https://b/"`},
		{"disable", "PUT", "/admin/sites/s1/plugins/ecard", "u-admin", `{"enabled":false}`, 200, `"enabled":false`},
		{"status", "GET", "/admin/plugins/status", "u-admin", "", 200, `"sha256":"` + hex.EncodeToString(sum[:])},
	}
	for _, tc := range cases {
		code, body := call(tc.method, tc.path, tc.user, tc.body)
		if code != tc.code || !strings.Contains(body, tc.want) {
			t.Errorf("%s: %d %s\nwant %d with %q", tc.name, code, body, tc.code, tc.want)
		}
		if tc.name == "every problem at once" && (!strings.Contains(body, "settings.retries") || !strings.Contains(body, "settings.colour")) {
			t.Errorf("not every problem listed: %s", body)
		}
	}
	data, _ := os.ReadFile(path)
	for _, want := range []string{"# keep me", "url: https://b/ # the simulator", `retries: "2"`, "enabled: false"} {
		if !strings.Contains(string(data), want) {
			t.Errorf("file lacks %q:\n%s", want, data)
		}
	}
	entries, _ := st.ListAudit(t.Context(), store.AuditFilter{Action: "site.plugin.update"})
	var got []string
	for _, e := range entries {
		got = append(got, e.Actor+" "+e.Outcome+" "+e.Detail)
	}
	// Each change attempted first, then its outcome naming the attempt.
	// Details lead in Chinese, the English after it.
	const route = "管理 API 调用 PUT /admin/sites/{site}/plugins/{plugin}。admin API PUT /admin/sites/{site}/plugins/{plugin}"
	const attempted = "u-admin attempted " + route
	const lww = "; without a base (last writer wins)"
	const change = "修改院区 s1 的插件 ecard。"
	want := "u-admin ok " + change + "enabled false" + lww + "; attempt #10|" + attempted + "|u-admin ok " + change + "settings set: retries, url" + lww + "; attempt #8|" + attempted +
		"|u-admin refused " + route + ": 400 bad_body; attempt #6|" + attempted +
		"|u-admin refused " + route + ": 413 too_large; attempt #4|" + attempted +
		"|u-admin refused " + change + "settings set: colour, retries, url" + lww + "; attempt #2|" + attempted
	if strings.Join(got, "|") != want {
		t.Errorf("audit:\n got %s\nwant %s", strings.Join(got, "|"), want)
	}
	var sp siteadmin.SitePlugin
	_, body := call("GET", "/admin/sites/s1/plugins/ecard", "u-admin", "")
	if err := json.Unmarshal([]byte(body), &sp); err != nil || sp.Enabled || !sp.Listed {
		t.Fatalf("after disable: %+v %v", sp, err)
	}
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

// TestSiteChangeOutcomeAudited: a site change is audited ok when done,
// refused when the operator's input was wrong (an unknown site, settings
// with problems, a body that is not a change), and failed when medgate could not do it (the reload
// failed), never refused for medgate's own failure.
func TestSiteChangeOutcomeAudited(t *testing.T) {
	t.Parallel()
	cfg, st := siteFixture(t, "")
	host := &flakyHost{siteHost: siteHost{cfg: cfg}}
	srv := auditedSiteServer(t, st, host)

	cases := []struct {
		name, path, body string
		reloadFails      int32
		code             int
		outcome          string
	}{
		{"done", "/admin/sites/s1/plugins/ecard", `{"settings":{"url":"https://b/"}}`, 0, 200, audit.OK},
		{"settings with problems", "/admin/sites/s1/plugins/ecard", `{"settings":{"url":"","retries":"x"}}`, 0, 422, audit.Refused},
		{"unknown site", "/admin/sites/s9/plugins/ecard", `{"enabled":true}`, 0, 404, audit.Refused},
		{"unknown plugin", "/admin/sites/s1/plugins/nope", `{"enabled":true}`, 0, 404, audit.Refused},
		{"body not readable", "/admin/sites/s1/plugins/ecard", `{"enabled":`, 0, 400, audit.Refused},
		{"unknown field", "/admin/sites/s1/plugins/ecard", `{"enable":true}`, 0, 400, audit.Refused},
		{"nothing to change", "/admin/sites/s1/plugins/ecard", `{}`, 0, 400, audit.Refused},
		{"body too large", "/admin/sites/s1/plugins/ecard", `{"settings":{"url":"` + strings.Repeat("x", maxSiteChangeBytes) + `"}}`, 0, 413, audit.Refused},
		{"reload fails, the previous configuration is back", "/admin/sites/s1/plugins/ecard", `{"enabled":false}`, 1, 500, audit.Failed},
		{"reload fails, and so does reloading the previous one", "/admin/sites/s1/plugins/ecard", `{"enabled":false}`, 2, 500, audit.Failed},
	}
	recorded := 0
	for _, tc := range cases {
		host.fails.Store(tc.reloadFails)
		req, _ := http.NewRequest("PUT", srv.URL+tc.path, strings.NewReader(tc.body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.code {
			t.Errorf("%s: HTTP %d %s; want %d", tc.name, resp.StatusCode, b, tc.code)
		}
		got, err := st.ListAudit(t.Context(), store.AuditFilter{Action: "site.plugin.update", Limit: 100})
		if err != nil || len(got) != recorded+2 {
			t.Fatalf("%s: audit log: %d entries (%v), want %d", tc.name, len(got), err, recorded+2)
		}
		recorded += 2 // attempted, then the outcome
		if got[1].Outcome != audit.Attempted || got[0].Outcome != tc.outcome {
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
// be put back, is a failure of medgate's (500, audited failed), not a
// refusal of the input (422 "the configuration in force stays"): the file
// is not as it was.
func TestSiteChangeNotPutBack(t *testing.T) {
	t.Parallel()
	cfg, st := siteFixture(t, "")
	host := &brokenPutBackHost{siteHost: siteHost{cfg: cfg}}
	srv := auditedSiteServer(t, st, host)

	host.armed.Store(true)
	req, _ := http.NewRequest("PUT", srv.URL+"/admin/sites/s1/plugins/ecard", strings.NewReader(`{"settings":{"url":"https://b/"}}`))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusInternalServerError || strings.Contains(string(b), "stays") {
		t.Errorf("HTTP %d %s; want 500, not an answer saying the configuration in force stays", resp.StatusCode, b)
	}
	got, err := st.ListAudit(t.Context(), store.AuditFilter{Action: "site.plugin.update", Limit: 1})
	if err != nil || len(got) != 1 {
		t.Fatalf("audit log: %v %v", got, err)
	}
	if got[0].Outcome != audit.Failed {
		t.Errorf("audited %q (%s); want %q", got[0].Outcome, got[0].Detail, audit.Failed)
	}
}
