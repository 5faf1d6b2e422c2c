package api

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/medgate/medgate/host/internal/access"
	"github.com/medgate/medgate/host/internal/audit"
	"github.com/medgate/medgate/host/internal/scheduler"
	"github.com/medgate/medgate/host/internal/siteadmin"
	"github.com/medgate/medgate/host/internal/sites"
	"github.com/medgate/medgate/host/internal/store"
	"github.com/medgate/medgate/plugins/sdk"
)

// memAudit is an audit store in memory that fails with err while it is
// set.
type memAudit struct {
	mu  sync.Mutex
	got []store.AuditEntry
	err error
	// upTo, when positive, fails every entry once it holds that many.
	upTo int
}

func (m *memAudit) AppendAudit(_ context.Context, e store.AuditEntry) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return 0, m.err
	}
	if m.upTo > 0 && len(m.got) >= m.upTo {
		return 0, errors.New("store: sqlite: append audit: disk I/O error")
	}
	m.got = append(m.got, e)
	return int64(len(m.got)), nil
}

func (m *memAudit) entries() []store.AuditEntry {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]store.AuditEntry(nil), m.got...)
}

// testAudit is a recorder into memory (log nil: discarded), for tests
// that do not read the audit log: without one every change is refused.
func testAudit(log *slog.Logger) *audit.Recorder {
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return audit.New(&memAudit{}, log)
}

// changeBackend counts the changes the admin API made.
type changeBackend struct {
	fakeBackend
	st                   *changeStore
	jobs, replays, loads atomic.Int32
	bulkReplays          atomic.Int32 // of bulk-1, which only a bulk replay selects
}

// Plugins declares one command, p c, for admins (commandCheck).
func (b *changeBackend) Plugins() any {
	return []sites.Info{{Name: "p", Sites: []string{"s1"}, Commands: []sdk.Command{{Name: "c", Operation: "p.c", Role: sdk.RoleAdmin}}}}
}

func (b *changeBackend) Store() store.Store           { return b.st }
func (b *changeBackend) Reload(context.Context) error { b.loads.Add(1); return nil }
func (b *changeBackend) TriggerJob(_ context.Context, id string) (scheduler.Run, error) {
	b.jobs.Add(1)
	return scheduler.Run{Job: id}, nil
}
func (b *changeBackend) Replay(_ context.Context, id string) error {
	if id == "bulk-1" {
		b.bulkReplays.Add(1)
		return nil
	}
	b.replays.Add(1)
	return nil
}

type changeStore struct {
	*store.SQLite
	rekeys atomic.Int32
}

func (s *changeStore) Rekey(context.Context) (int64, error) { s.rekeys.Add(1); return 3, nil }

// TestChangeNotMadeWithoutItsAuditEntry: every kind of change of the admin
// API (run a job, replay, reload, re-encrypt, change a site's plugin,
// unlock a user's sign-in or the admin token) is
// recorded as attempted before it is made; when the audit log cannot take
// that entry the change is not made: 503 audit_unavailable with
// Retry-After naming the store while the store is passing unavailable, 500
// for a fault that is not one (no audit store). Once the audit log is back
// the same request is made and audited twice: attempted, then its outcome
// naming the attempt.
func TestChangeNotMadeWithoutItsAuditEntry(t *testing.T) {
	t.Parallel()
	cfg, st := siteFixture(t, "")
	before, err := os.ReadFile(cfg.File)
	if err != nil {
		t.Fatal(err)
	}
	b := &changeBackend{fakeBackend: *okBackend(), st: &changeStore{SQLite: st}}
	if _, _, err := st.BeginMessage(t.Context(), store.Message{ID: "bulk-1", Site: "s1", Type: "bulk.test", ReceivedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if err := st.FinishMessage(t.Context(), "bulk-1", "failed", []byte("{}"), 1); err != nil {
		t.Fatal(err)
	}
	sink := &memAudit{}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	rec := audit.New(sink, log)
	reg := prometheus.NewRegistry()
	srv := httptest.NewServer(Handler(b, Options{IngressTimeout: time.Second, AdminToken: "tok-0123456789abcdef", MaxBodyBytes: 1 << 10,
		Registry: reg, Logger: log, Audit: rec, Sites: siteadmin.New(&siteHost{cfg: cfg})}))
	defer srv.Close()
	siteChanged := func() int32 {
		now, err := os.ReadFile(cfg.File)
		if err != nil {
			t.Fatal(err)
		}
		if string(now) != string(before) {
			return 1
		}
		return 0
	}
	cases := map[string]struct {
		method, path, body, action string
		made                       func() int32
	}{
		"run a job":            {"POST", "/admin/jobs/p/s1/j/run", "", "job.run", b.jobs.Load},
		"replay":               {"POST", "/admin/messages/m1/replay", "", "message.replay", b.replays.Load},
		"replay in bulk":       {"POST", "/admin/messages/replay?type=bulk.", "", "message.replay.bulk", b.bulkReplays.Load},
		"reload":               {"POST", "/admin/reload", "", "config.reload", b.loads.Load},
		"re-encrypt the store": {"POST", "/admin/store/rekey", "", "store.rekey", b.st.rekeys.Load},
		"change a site plugin": {"PUT", "/admin/sites/s1/plugins/ecard", `{"settings":{"url":"http://b/"}}`, "site.plugin.update", siteChanged},
		"grant a reveal":       {"POST", "/admin/personal/reveal?site=s1&target=cli-1", "", "personal.reveal", revealsGranted(sink)},
		"check a command":      {"POST", "/admin/commands/check?plugin=p&command=c&site=s1&target=cli-2", "", "command.check", granted(sink, "command.check")},
		"unlock a user":        {"POST", "/admin/users/amy/unlock", "", "user.unlock", granted(sink, "user.unlock")},
		"unlock the token":     {"POST", "/admin/token/unlock", "", "token.unlock", granted(sink, "token.unlock")},
	}
	// Every change route of the admin API is a case.
	s := &server{}
	for _, rt := range s.adminRoutes() {
		method, path, _ := strings.Cut(rt.pattern, " ")
		if method == http.MethodGet {
			continue
		}
		found := false
		for _, tc := range cases {
			found = found || tc.method == method && auditActions[rt.pattern] == tc.action && strings.Count(tc.path, "/") == strings.Count(path, "/")
		}
		if !found {
			t.Errorf("the change route %s has no case", rt.pattern)
		}
	}
	call := func(method, path, body string) (*http.Response, string) {
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer tok-0123456789abcdef")
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		return resp, string(out)
	}
	failures := map[string]struct {
		err   error
		code  int
		retry string
		want  string
	}{
		"store locked": {sqliteBusy(t), 503, "5", "the store (SQLite) is unavailable"},
		"store fault":  {errors.New("audit_log: no such table"), 500, "", "tell medgate's administrator"},
	}
	for name, tc := range cases {
		for fname, f := range failures {
			sink.mu.Lock()
			sink.err = f.err
			sink.mu.Unlock()
			resp, body := call(tc.method, tc.path, tc.body)
			if resp.StatusCode != f.code || resp.Header.Get("Retry-After") != f.retry || !strings.Contains(body, `"code":"audit_unavailable"`) ||
				!strings.Contains(body, "nothing was changed") || !strings.Contains(body, f.want) {
				t.Errorf("%s, %s: HTTP %d Retry-After %q %s; want %d, Retry-After %q, audit_unavailable naming %q",
					name, fname, resp.StatusCode, resp.Header.Get("Retry-After"), body, f.code, f.retry, f.want)
			}
			if n := tc.made(); n != 0 {
				t.Errorf("%s, %s: the change was made (%d) although its audit entry was not written", name, fname, n)
			}
		}
	}
	if got := lostTotal(t, reg); got != float64(2*len(cases)) {
		t.Errorf("medgate_audit_entries_lost_total = %v, want %d", got, 2*len(cases))
	}

	// The audit log back: made, and audited attempted then ok.
	sink.mu.Lock()
	sink.err = nil
	sink.mu.Unlock()
	for name, tc := range cases {
		n := len(sink.entries())
		if resp, body := call(tc.method, tc.path, tc.body); resp.StatusCode >= 300 {
			t.Errorf("%s: HTTP %d %s", name, resp.StatusCode, body)
		}
		if tc.made() != 1 {
			t.Errorf("%s: the change was not made once the audit log was back", name)
		}
		got := sink.entries()[n:]
		if len(got) != 2 || got[0].Outcome != audit.Attempted || got[0].Action != tc.action || got[1].Outcome != audit.OK ||
			!strings.HasSuffix(got[1].Detail, "attempt #"+strconv.Itoa(n+1)) {
			t.Errorf("%s: audited %+v; want attempted %s, then ok naming attempt #%d", name, got, tc.action, n+1)
		}
	}
}

// revealsGranted counts the reveals sink recorded granted (ok): a grant
// (POST /admin/personal/reveal) changes nothing but the audit log.
func revealsGranted(sink *memAudit) func() int32 {
	return func() int32 {
		var n int32
		for _, e := range sink.entries() {
			if e.Action == "personal.reveal" && e.Outcome == audit.OK {
				n++
			}
		}
		return n
	}
}

// granted counts the entries of action sink recorded ok: a check changes
// nothing but the audit log.
func granted(sink *memAudit, action string) func() int32 {
	return func() int32 {
		var n int32
		for _, e := range sink.entries() {
			if e.Action == action && e.Outcome == audit.OK {
				n++
			}
		}
		return n
	}
}

// lostTotal is the registry's medgate_audit_entries_lost_total.
func lostTotal(t *testing.T, reg *prometheus.Registry) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "medgate_audit_entries_lost_total" {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatal("medgate_audit_entries_lost_total is not exported")
	return 0
}

// TestTokenAsUserNameNotRecorded: the admin token sent as an HTTP Basic
// user name is refused like any wrong password, and neither the audit
// log nor the log holds it.
func TestTokenAsUserNameNotRecorded(t *testing.T) {
	t.Parallel()
	st, err := store.OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "a.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	const token = "tok-0123456789abcdef"
	users := access.NewUsers(st, access.Params{Memory: 64, Time: 1, Threads: 1, KeyLen: 32})
	if err := users.Add(t.Context(), "u-admin", access.Admin, "pw-0123456789", nil); err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, okBackend(), Options{AdminToken: token, Users: users, Audit: audit.New(st, nil)})
	req, _ := http.NewRequest("GET", f.srv.URL+"/admin/plugins", nil)
	req.SetBasicAuth(token, "anything-0123")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || strings.Contains(string(body), token) {
		t.Errorf("HTTP %d %s; want 401 without the token", resp.StatusCode, body)
	}
	es, err := st.ListAudit(t.Context(), store.AuditFilter{Action: "login"})
	if err != nil || len(es) != 1 {
		t.Fatalf("audit: %+v %v; want one refused sign-in", es, err)
	}
	if e := es[0]; strings.Contains(e.Actor+e.Detail+e.Target, token) {
		t.Errorf("the audit entry holds the admin token: %+v", e)
	}
	if strings.Contains(f.logs.String(), token) {
		t.Errorf("the log holds the admin token:\n%s", f.logs.String())
	}
}

// TestClientTokenAsUserNameNotRecorded: an ingress client's token sent as
// an HTTP Basic user name on the admin API (a HIS integrator's curl -u
// TOKEN:) is refused like the admin token sent so: the token, a
// 64-character hex string that passes for a user name, is in neither the
// log nor the audit log, which name the client instead.
func TestClientTokenAsUserNameNotRecorded(t *testing.T) {
	t.Parallel()
	const (
		admin  = "tok-0123456789abcdef"
		client = "8f3c2a1b9d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a" // openssl rand -hex 32
	)
	for _, tc := range []struct{ name, token, names string }{
		{"admin token", admin, "the admin token"},
		{"client token", client, "the token of the ingress client his-lab"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			st, err := store.OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "a.db"))
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			users := access.NewUsers(st, access.Params{Memory: 64, Time: 1, Threads: 1, KeyLen: 32})
			if err := users.Add(t.Context(), "u-admin", access.Admin, "pw-0123456789", nil); err != nil {
				t.Fatal(err)
			}
			f := newFixture(t, okBackend(), Options{AdminToken: admin, Clients: []Client{{Name: "his-lab", Token: client}}, Users: users, Audit: audit.New(st, nil)})
			req, _ := http.NewRequest("GET", f.srv.URL+"/admin/plugins", nil)
			req.SetBasicAuth(tc.token, "")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized || strings.Contains(string(body), tc.token) {
				t.Errorf("HTTP %d %s; want 401 without the token", resp.StatusCode, body)
			}
			es, err := st.ListAudit(t.Context(), store.AuditFilter{Action: "login"})
			if err != nil || len(es) != 1 {
				t.Fatalf("audit: %+v %v; want one refused sign-in", es, err)
			}
			if e := es[0]; strings.Contains(e.Actor+e.Detail+e.Target, tc.token) || !strings.Contains(e.Actor, tc.names) {
				t.Errorf("the audit entry holds the token or does not say whose it is (%s): %+v", tc.names, e)
			}
			if logs := f.logs.String(); strings.Contains(logs, tc.token) || !strings.Contains(logs, tc.names+" was sent as the user name") {
				t.Errorf("the log holds the token or does not say whose it is (%s):\n%s", tc.names, logs)
			}
		})
	}
}

// TestLostOutcomeIsLoggedAndCounted: when a change's attempt was written
// but its outcome cannot be (the change was made already, and stands),
// the answer is the change's own, the attempt stays in the audit log, and
// the loss is logged as an error naming the attempt and counted in
// medgate_audit_entries_lost_total for an alert.
func TestLostOutcomeIsLoggedAndCounted(t *testing.T) {
	t.Parallel()
	b := &changeBackend{fakeBackend: *okBackend()}
	sink := &memAudit{upTo: 1}
	logs := &logBuffer{}
	log := slog.New(slog.NewTextHandler(logs, nil))
	reg := prometheus.NewRegistry()
	srv := httptest.NewServer(Handler(b, Options{IngressTimeout: time.Second, AdminToken: "tok", MaxBodyBytes: 1 << 10, Registry: reg,
		Logger: log, Audit: audit.New(sink, log)}))
	defer srv.Close()
	req, _ := http.NewRequest("POST", srv.URL+"/admin/reload", nil)
	req.Header.Set("Authorization", "Bearer tok")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || b.loads.Load() != 1 {
		t.Fatalf("reload: HTTP %d, reloaded %d; want 200 and done", resp.StatusCode, b.loads.Load())
	}
	if es := sink.entries(); len(es) != 1 || es[0].Outcome != audit.Attempted || es[0].Action != "config.reload" {
		t.Errorf("audit log %+v; want the attempt only", es)
	}
	if logs := logs.String(); !strings.Contains(logs, "outcome of an attempted change is not recorded") || !strings.Contains(logs, "attempt=1") ||
		!strings.Contains(logs, "level=ERROR") {
		t.Errorf("the lost outcome is not logged as an error naming the attempt:\n%s", logs)
	}
	if got := lostTotal(t, reg); got != 1 {
		t.Errorf("medgate_audit_entries_lost_total = %v, want 1", got)
	}
}
