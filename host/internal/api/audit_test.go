package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/medgate/medgate/host/internal/audit"
	"github.com/medgate/medgate/host/internal/config"
	"github.com/medgate/medgate/host/internal/scheduler"
	"github.com/medgate/medgate/host/internal/store"
)

// TestNoAuditStoreIsLogged: an admin API started without an audit
// recorder records nothing, so it makes no change: it refuses each (500
// audit_unavailable) and logs it as an error naming the action and the
// caller.
func TestNoAuditStoreIsLogged(t *testing.T) {
	t.Parallel()
	var logs logBuffer
	srv := httptest.NewServer(Handler(okBackend(), Options{IngressTimeout: time.Second, AdminToken: "tok-0123456789abcdef", MaxBodyBytes: 1 << 10,
		Registry: prometheus.NewRegistry(), Logger: slog.New(slog.NewTextHandler(&logs, nil))}))
	defer srv.Close()
	req, _ := http.NewRequest("POST", srv.URL+"/admin/reload", nil)
	req.Header.Set("Authorization", "Bearer tok-0123456789abcdef")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusInternalServerError || !strings.Contains(string(body), "audit_unavailable") {
		t.Errorf("a reload without an audit store: HTTP %d %s; want 500 audit_unavailable", resp.StatusCode, body)
	}
	if got := logs.String(); !strings.Contains(got, "level=ERROR") || !strings.Contains(got, "audit: entry not recorded") ||
		!strings.Contains(got, "action=config.reload") || !strings.Contains(got, "actor=admin-token") {
		t.Errorf("the unrecorded reload is not logged as an error with its action and caller:\n%s", got)
	}
}

// TestEveryAdminRouteRunsWithARecorder: every admin API route's handler
// runs with the audit recorder and the caller in its context, so what it
// records reaches the audit log under the caller's name.
func TestEveryAdminRouteRunsWithARecorder(t *testing.T) {
	t.Parallel()
	st, err := store.OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "a.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var mu sync.Mutex
	ran := map[string]error{}
	probe := func(w http.ResponseWriter, r *http.Request) error {
		err := audit.Record(r.Context(), audit.Entry{Action: "probe", Target: r.Pattern})
		mu.Lock()
		ran[r.Pattern] = err
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	var routes []route
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv := httptest.NewServer(handler(okBackend(), Options{IngressTimeout: time.Second, AdminToken: "tok-0123456789abcdef", MaxBodyBytes: 1 << 10,
		Registry: prometheus.NewRegistry(), Logger: log, Audit: audit.New(st, log)}, func(s *server) []route {
		routes = s.adminRoutes()
		for i := range routes {
			routes[i].h = probe
		}
		return routes
	}))
	defer srv.Close()
	if len(routes) == 0 {
		t.Fatal("the handler did not take its admin routes from the table it was given: no route ran the probe, so none was checked")
	}
	wild := regexp.MustCompile(`\{[^}]*\}`)
	for _, rt := range routes {
		method, path, _ := strings.Cut(rt.pattern, " ")
		req, _ := http.NewRequest(method, srv.URL+wild.ReplaceAllString(path, "x"), nil)
		req.Header.Set("Authorization", "Bearer tok-0123456789abcdef")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		mu.Lock()
		err, ok := ran[rt.pattern]
		mu.Unlock()
		if resp.StatusCode != http.StatusNoContent || !ok {
			t.Errorf("%s: HTTP %d, handler ran: %v", rt.pattern, resp.StatusCode, ok)
		} else if err != nil {
			t.Errorf("%s: the handler cannot record: %v", rt.pattern, err)
		}
	}
	entries, err := st.ListAudit(t.Context(), store.AuditFilter{Action: "probe", Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != len(routes) {
		t.Errorf("%d entries recorded by %d routes", len(entries), len(routes))
	}
	for _, e := range entries {
		if e.Actor != "admin-token" {
			t.Errorf("%s recorded by %q, not the caller", e.Target, e.Actor)
		}
	}
}

// outcomeBackend answers the admin API's changes with chosen errors; its
// store records the audit log and re-encrypts with a chosen error.
type outcomeBackend struct {
	fakeBackend
	st                  *outcomeStore
	replay, reload, job error
}

func (b *outcomeBackend) Store() store.Store           { return b.st }
func (b *outcomeBackend) Reload(context.Context) error { return b.reload }
func (b *outcomeBackend) TriggerJob(_ context.Context, id string) (scheduler.Run, error) {
	return scheduler.Run{Job: id}, b.job
}
func (b *outcomeBackend) Replay(context.Context, string) error { return b.replay }

type outcomeStore struct {
	*store.SQLite
	rekey error
}

func (s *outcomeStore) Rekey(context.Context) (int64, error) { return 0, s.rekey }

// TestChangeOutcomesAudited: an admin API change its handler answers with
// an error is audited refused when the caller's request was wrong or
// does not apply (an unknown job or message, a message that is not
// failed, a job another instance runs, a configuration with problems, no
// key to re-encrypt with), and failed when medgate could not do it — as
// the console audits the same actions.
func TestChangeOutcomesAudited(t *testing.T) {
	t.Parallel()
	st, err := store.OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "a.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	b := &outcomeBackend{fakeBackend: *okBackend(), st: &outcomeStore{SQLite: st}}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv := httptest.NewServer(Handler(b, Options{IngressTimeout: time.Second, AdminToken: "tok-0123456789abcdef", MaxBodyBytes: 1 << 10,
		Registry: prometheus.NewRegistry(), Logger: log, Audit: audit.New(st, log)}))
	defer srv.Close()
	problems := config.Problems{{Path: "sites[0].code", Message: "is required"}}
	cases := []struct {
		name, path string
		set        func(error)
		err        error
		code       int
		outcome    string
	}{
		{"job ran", "/admin/jobs/p/s1/j/run", func(e error) { b.job = e }, nil, 200, audit.OK},
		{"unknown job", "/admin/jobs/p/s1/j/run", func(e error) { b.job = e }, fmt.Errorf("job p/s1/j: %w", scheduler.ErrUnknownJob), 404, audit.Refused},
		{"job of another instance", "/admin/jobs/p/s1/j/run", func(e error) { b.job = e }, scheduler.ErrNotOwner, 409, audit.Refused},
		{"job failed", "/admin/jobs/p/s1/j/run", func(e error) { b.job = e }, errors.New("GYD008: timeout"), 502, audit.Failed},
		{"replayed", "/admin/messages/m1/replay", func(e error) { b.replay = e }, nil, 202, audit.OK},
		{"unknown message", "/admin/messages/m1/replay", func(e error) { b.replay = e }, store.ErrNotFound, 404, audit.Refused},
		{"not a failed message", "/admin/messages/m1/replay", func(e error) { b.replay = e }, fmt.Errorf("reopen m1: %w", store.ErrConflict), 409, audit.Refused},
		{"replay failed", "/admin/messages/m1/replay", func(e error) { b.replay = e }, errors.New("store: database is locked"), 500, audit.Failed},
		{"reloaded", "/admin/reload", func(e error) { b.reload = e }, nil, 200, audit.OK},
		{"configuration with problems", "/admin/reload", func(e error) { b.reload = e }, problems, 422, audit.Refused},
		{"reload failed", "/admin/reload", func(e error) { b.reload = e }, errors.New("start plugin ecard: fork/exec: resource temporarily unavailable"), 422, audit.Failed},
		{"re-encrypted", "/admin/store/rekey", func(e error) { b.st.rekey = e }, nil, 200, audit.OK},
		{"no key", "/admin/store/rekey", func(e error) { b.st.rekey = e }, fmt.Errorf("rekey: %w", store.ErrKey), 409, audit.Refused},
		{"re-encryption failed", "/admin/store/rekey", func(e error) { b.st.rekey = e }, errors.New("write row 42: disk full"), 409, audit.Failed},
	}
	for _, tc := range cases {
		tc.set(tc.err)
		req, _ := http.NewRequest("POST", srv.URL+tc.path, nil)
		req.Header.Set("Authorization", "Bearer tok-0123456789abcdef")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.code {
			t.Errorf("%s: HTTP %d %s; want %d", tc.name, resp.StatusCode, body, tc.code)
		}
		got, err := st.ListAudit(t.Context(), store.AuditFilter{Limit: 1})
		if err != nil || len(got) != 1 {
			t.Fatalf("%s: audit log: %v %v", tc.name, got, err)
		}
		if got[0].Target != tc.path || got[0].Outcome != tc.outcome {
			t.Errorf("%s: audited %s %q (%s); want %q", tc.name, got[0].Target, got[0].Outcome, got[0].Detail, tc.outcome)
		}
		// Read on the audit page by Chinese-reading admins: the detail
		// leads in Chinese and keeps its English after it.
		if first, _ := utf8.DecodeRuneInString(got[0].Detail); !unicode.Is(unicode.Han, first) || !strings.Contains(got[0].Detail, "admin API POST ") {
			t.Errorf("%s: detail %q; want it to start in Chinese and keep its English (admin API POST …)", tc.name, got[0].Detail)
		}
	}

	// A store engine that does not encrypt: nothing to re-encrypt.
	plain := httptest.NewServer(Handler(okBackend(), Options{IngressTimeout: time.Second, AdminToken: "tok-0123456789abcdef", MaxBodyBytes: 1 << 10,
		Registry: prometheus.NewRegistry(), Logger: log, Audit: audit.New(st, log)}))
	defer plain.Close()
	req, _ := http.NewRequest("POST", plain.URL+"/admin/store/rekey", nil)
	req.Header.Set("Authorization", "Bearer tok-0123456789abcdef")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	got, err := st.ListAudit(t.Context(), store.AuditFilter{Limit: 1})
	if err != nil || len(got) != 1 || resp.StatusCode != http.StatusConflict || got[0].Outcome != audit.Refused {
		t.Errorf("rekey without encryption: HTTP %d, audited %v %v; want 409 and refused", resp.StatusCode, got, err)
	}
}
