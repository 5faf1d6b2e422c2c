package api

import (
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

	"github.com/prometheus/client_golang/prometheus"

	"github.com/medgate/medgate/host/internal/audit"
	"github.com/medgate/medgate/host/internal/store"
)

// TestNoAuditStoreIsLogged: an admin API started without an audit
// recorder records nothing, but logs every change it would have recorded
// as an error naming the action and the caller, so no change goes
// unaudited unnoticed.
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
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
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
