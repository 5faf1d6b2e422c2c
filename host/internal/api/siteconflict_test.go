package api

import (
	"encoding/json"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/medgate/medgate/host/internal/access"
	"github.com/medgate/medgate/host/internal/audit"
	"github.com/medgate/medgate/host/internal/siteadmin"
	"github.com/medgate/medgate/host/internal/store"
	"github.com/medgate/medgate/plugins/sdk"
)

// TestSitePutTwoAdmins: two admins GET the same plugin at a site and PUT
// a change each, with what they read as its base. The second PUT keeps
// what the first one changed (a setting, disabling the plugin) unless
// both changed the same setting: then it is refused with 409 conflict
// naming it, audited refused, and the first admin's value stays in the
// file. A base that lacks a part the change sets is refused (400); a PUT
// without a base still sets what it sends (last writer wins).
func TestSitePutTwoAdmins(t *testing.T) {
	t.Parallel()
	cfg, st := siteFixture(t, " # the simulator")
	path := cfg.File
	users := access.NewUsers(st, access.Params{Memory: 64, Time: 1, Threads: 1, KeyLen: 32})
	for _, u := range []string{"li.admin", "wang.admin"} {
		if err := users.Add(t.Context(), u, access.Admin, "pw-0123456789", nil); err != nil {
			t.Fatal(err)
		}
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv := httptest.NewServer(Handler(okBackend(), Options{IngressTimeout: time.Second, MaxBodyBytes: 1 << 10, Registry: prometheus.NewRegistry(),
		Logger: log, Users: users, Audit: audit.New(st, log), Sites: siteadmin.New(&siteHost{cfg: cfg})}))
	t.Cleanup(srv.Close)
	call := func(method, user string, body any) (int, string) {
		t.Helper()
		var rd io.Reader
		if body != nil {
			b, err := json.Marshal(body)
			if err != nil {
				t.Fatal(err)
			}
			rd = strings.NewReader(string(b))
		}
		req, _ := http.NewRequest(method, srv.URL+"/admin/sites/s1/plugins/ecard", rd)
		req.Header.Set("Content-Type", "application/json")
		req.SetBasicAuth(user, "pw-0123456789")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	type base struct {
		Enabled  *bool             `json:"enabled"`
		Settings map[string]string `json:"settings"`
	}
	read := func(user string) base {
		t.Helper()
		code, body := call("GET", user, nil)
		var got struct {
			Base base `json:"base"`
		}
		if err := json.Unmarshal([]byte(body), &got); code != 200 || err != nil || got.Base.Enabled == nil || got.Base.Settings == nil {
			t.Fatalf("GET: %d %s (%v); want the plugin with its base", code, body, err)
		}
		return got.Base
	}
	with := func(b base, k, v string) map[string]string {
		out := maps.Clone(b.Settings)
		out[k] = v
		return out
	}
	file := func() string {
		data, _ := os.ReadFile(path)
		return string(data)
	}
	yes, no := true, false

	// Both read; A changes the url, then B (from its read) the retries.
	baseA, baseB := read("li.admin"), read("wang.admin")
	if code, body := call("PUT", "li.admin", map[string]any{"settings": with(baseA, "url", "https://a/"), "base": baseA}); code != 200 {
		t.Fatalf("A's change: %d %s", code, body)
	}
	if code, body := call("PUT", "wang.admin", map[string]any{"settings": with(baseB, "retries", "2"), "base": baseB}); code != 200 {
		t.Fatalf("B's change of another setting: %d %s", code, body)
	}
	if f := file(); !strings.Contains(f, "url: https://a/ # the simulator") || !strings.Contains(f, `retries: "2"`) {
		t.Fatalf("after both changes, want A's url and B's retries:\n%s", f)
	}

	// B, from the same read, changes the url too: refused, A's stays.
	before := file()
	code, body := call("PUT", "wang.admin", map[string]any{"settings": with(baseB, "url", "https://b/"), "base": baseB})
	var answer struct {
		Code     string   `json:"code"`
		Message  string   `json:"message"`
		Settings []string `json:"settings"`
	}
	if err := json.Unmarshal([]byte(body), &answer); code != http.StatusConflict || err != nil || answer.Code != "conflict" || !slices.Equal(answer.Settings, []string{"url"}) || !strings.Contains(answer.Message, "url") {
		t.Fatalf("both changed url: %d %s; want 409 conflict naming url", code, body)
	}
	if file() != before {
		t.Fatalf("the refused change reached the file:\n%s", file())
	}
	got, err := st.ListAudit(t.Context(), store.AuditFilter{Action: "site.plugin.update", Limit: 1})
	if err != nil || len(got) != 1 || got[0].Actor != "wang.admin" || got[0].Outcome != audit.Refused || !strings.Contains(got[0].Detail, "changed by someone else since the base: url") {
		t.Fatalf("audit of the conflict: %+v %v; want refused by wang.admin naming url", got, err)
	}

	// A disables; B's change from a read before keeps it disabled.
	baseB = read("wang.admin")
	if code, body := call("PUT", "li.admin", map[string]any{"enabled": false, "base": base{Enabled: &yes}}); code != 200 {
		t.Fatalf("A disables: %d %s", code, body)
	}
	if code, body := call("PUT", "wang.admin", map[string]any{"enabled": true, "settings": with(baseB, "retries", "3"), "base": baseB}); code != 200 {
		t.Fatalf("B's change: %d %s", code, body)
	}
	if f := file(); !strings.Contains(f, "enabled: false") || !strings.Contains(f, `retries: "3"`) || !strings.Contains(f, "url: https://a/") {
		t.Fatalf("after A disabled and B changed retries from a read before, want disabled, retries 3, A's url:\n%s", f)
	}

	// A base must hold what the change sets.
	if code, body := call("PUT", "li.admin", map[string]any{"settings": with(baseA, "url", "https://c/"), "base": base{Enabled: &no}}); code != http.StatusBadRequest || !strings.Contains(body, `base lacks \"settings\"`) {
		t.Fatalf("a base without settings: %d %s; want 400", code, body)
	}
	// Without a base, the last writer wins.
	if code, body := call("PUT", "li.admin", map[string]any{"settings": with(baseA, "url", "https://d/")}); code != 200 || !strings.Contains(file(), "url: https://d/") {
		t.Fatalf("a change without a base: %d %s", code, body)
	}
}

// secretHost is a siteHost whose plugin also declares a secret.
type secretHost struct{ siteHost }

func (h *secretHost) Plugins() []siteadmin.Plugin {
	ps := h.siteHost.Plugins()
	ps[0].Settings = append(slices.Clone(ps[0].Settings), sdk.Setting{Name: "token", Type: sdk.SettingSecret})
	return ps
}

// TestSiteSecretWrittenInFileNotReturned: a secret written as such in the
// file (by hand, for a plugin disabled at the site, where the reload does
// not check it) is in no answer of the admin API (the list, GET, its
// base, a refusal); a PUT with the base GET gave keeps it when the change
// leaves it empty (refused: the check asks for a reference) and replaces
// it with a reference.
func TestSiteSecretWrittenInFileNotReturned(t *testing.T) {
	t.Parallel()
	cfg, st := siteFixture(t, "")
	const secret = "plain-literal-secret-42"
	data, _ := os.ReadFile(cfg.File)
	data = []byte(strings.Replace(string(data), "      ecard:\n        settings:\n", "      ecard:\n        enabled: false\n        settings:\n          token: "+secret+"\n", 1))
	if err := os.WriteFile(cfg.File, data, 0o600); err != nil {
		t.Fatal(err)
	}
	host := &secretHost{siteHost{cfg: cfg}}
	if err := host.Reload(t.Context()); err != nil {
		t.Fatal(err)
	}
	srv := auditedSiteServer(t, st, host)
	call := func(method, p, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+p, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	const one = "/admin/sites/s1/plugins/ecard"
	for _, p := range []string{"/admin/sites", one} {
		if code, body := call("GET", p, ""); code != 200 || strings.Contains(body, secret) {
			t.Fatalf("GET %s: %d, returns the secret written in the file:\n%s", p, code, body)
		}
	}
	_, body := call("GET", one, "")
	var got struct {
		Base struct {
			Enabled  *bool             `json:"enabled"`
			Settings map[string]string `json:"settings"`
		} `json:"base"`
	}
	if err := json.Unmarshal([]byte(body), &got); err != nil || got.Base.Settings == nil {
		t.Fatalf("GET: %s (%v)", body, err)
	}
	put := func(change map[string]string) (int, string) {
		settings := maps.Clone(got.Base.Settings)
		maps.Copy(settings, change)
		b, _ := json.Marshal(map[string]any{"settings": settings, "base": got.Base})
		return call("PUT", one, string(b))
	}
	if code, body := put(map[string]string{"retries": "2"}); code != http.StatusUnprocessableEntity || !strings.Contains(body, "secrets are never written") || strings.Contains(body, secret) {
		t.Fatalf("a change leaving the written secret: %d %s; want 422 asking for a reference, without the secret", code, body)
	}
	if code, body := put(map[string]string{"token": "env:ECARD_TOKEN"}); code != 200 || strings.Contains(body, secret) {
		t.Fatalf("replacing the written secret by a reference: %d %s", code, body)
	}
	if data, _ := os.ReadFile(cfg.File); strings.Contains(string(data), secret) || !strings.Contains(string(data), "token: env:ECARD_TOKEN") {
		t.Fatalf("the file after replacing the secret:\n%s", data)
	}
}
