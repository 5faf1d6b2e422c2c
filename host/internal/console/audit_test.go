package console

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/medgate/medgate/host/internal/access"
	"github.com/medgate/medgate/host/internal/audit"
	"github.com/medgate/medgate/host/internal/store"
)

// logBuffer is a log destination the server's goroutines may write to
// while the test reads it.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestNoAuditStoreIsLogged: a console started without an audit recorder
// records nothing, so it signs nobody in and makes no change (the job
// does not run), and logs every sign-in and change it would have recorded
// as an error naming the action and the user.
func TestNoAuditStoreIsLogged(t *testing.T) {
	t.Parallel()
	var logs logBuffer
	f := newFixture(t, testToken, func(o *Options) { o.Audit, o.Logger = nil, slog.New(slog.NewTextHandler(&logs, nil)) })
	c := f.client()
	if r := c.post("/console/login", url.Values{"user": {"op01"}, "password": {testToken}}); r.code != http.StatusInternalServerError {
		t.Errorf("a sign-in without an audit store: HTTP %d; want 500", r.code)
	}
	// A session the console holds anyway (e.g. started before).
	s, _ := f.c.sessions.create("op01", access.Operator, viaToken, "", nil)
	req, _ := http.NewRequest("POST", f.srv.URL+"/console/jobs/run", strings.NewReader(url.Values{"csrf": {s.csrf}, "job": {"tracecode/s1/stockin-sync"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	req.AddCookie(&http.Cookie{Name: cookieName, Value: s.id})
	if r := c.do(req); r.code != http.StatusInternalServerError || len(f.b.triggered) != 0 {
		t.Errorf("a job run without an audit store: HTTP %d, jobs run %v; want 500 and none", r.code, f.b.triggered)
	}
	got := logs.String()
	for _, want := range []string{`msg="audit: entry not recorded: no audit store" action=login actor=op01`,
		`msg="audit: entry not recorded: no audit store" action=job.run actor=op01`} {
		if !strings.Contains(got, want) {
			t.Errorf("the log lacks %s:\n%s", want, got)
		}
	}
	if !strings.Contains(got, "level=ERROR") {
		t.Errorf("the loss is not logged as an error:\n%s", got)
	}
}

// TestEveryAuditedRouteRunsWithARecorder: every route that needs a
// sign-in runs its handler with the audit recorder and the signed-in
// user in its context, so what it records reaches the audit log under
// the user's name. (The public sign-in records through the recorder
// itself.)
func TestEveryAuditedRouteRunsWithARecorder(t *testing.T) {
	t.Parallel()
	f := newFixture(t, testToken)
	var mu sync.Mutex
	ran := map[string]error{}
	probe := func(w http.ResponseWriter, r *http.Request) {
		err := audit.Record(r.Context(), audit.Entry{Action: "probe", Target: r.Pattern})
		mu.Lock()
		ran[r.Pattern] = err
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}
	table := f.c.routeTable()
	var audited []route
	for i := range table {
		if table[i].role != access.Public {
			table[i].h = probe
			audited = append(audited, table[i])
		}
	}
	srv := httptest.NewServer(f.c.routes(table))
	defer srv.Close()
	s, _ := f.c.sessions.create("li.admin", access.Admin, viaToken, "", nil)
	for _, rt := range audited {
		method, path, _ := strings.Cut(rt.pattern, " ")
		var body *strings.Reader
		if method == http.MethodPost {
			body = strings.NewReader(url.Values{"csrf": {s.csrf}}.Encode())
		} else {
			body = strings.NewReader("")
		}
		req, _ := http.NewRequest(method, srv.URL+wildRE.ReplaceAllString(strings.ReplaceAll(path, "{$}", ""), "x"), body)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		req.AddCookie(&http.Cookie{Name: cookieName, Value: s.id})
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
	entries, err := f.st.ListAudit(t.Context(), store.AuditFilter{Action: "probe", Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	if len(audited) == 0 || len(entries) != len(audited) {
		t.Errorf("%d entries recorded by %d routes", len(entries), len(audited))
	}
	for _, e := range entries {
		if e.Actor != "li.admin" || e.Role != "admin" {
			t.Errorf("%s recorded by %q (%s), not the signed-in user", e.Target, e.Actor, e.Role)
		}
	}
}
