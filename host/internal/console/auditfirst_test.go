package console

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/medgate/medgate/host/internal/access"
	"github.com/medgate/medgate/host/internal/audit"
	"github.com/medgate/medgate/host/internal/message"
	"github.com/medgate/medgate/host/internal/store"
)

// auditSink is the fixture's store as the audit log, failing with err
// while err is set.
type auditSink struct {
	store.Store
	err atomic.Pointer[error]
}

func (a *auditSink) AppendAudit(ctx context.Context, e store.AuditEntry) (int64, error) {
	if p := a.err.Load(); p != nil {
		return 0, *p
	}
	return a.Store.AppendAudit(ctx, e)
}

// auditFailures are the ways the audit log fails: a passing outage of the
// store (503 with Retry-After, naming it) and a fault (500).
func auditFailures() map[string]struct {
	err   error
	code  int
	retry string
} {
	refused := fmt.Errorf("store: postgres: append audit: %w",
		&net.OpError{Op: "dial", Net: "tcp", Addr: &net.TCPAddr{IP: net.ParseIP("10.20.0.9"), Port: 5432}, Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)})
	return map[string]struct {
		err   error
		code  int
		retry string
	}{
		"store unreachable": {refused, http.StatusServiceUnavailable, "5"},
		"store fault":       {errors.New("store: sqlite: append audit: no such table: audit_log"), http.StatusInternalServerError, ""},
	}
}

// TestChangeNotMadeWithoutItsAuditEntry: each kind of change of the
// console (run a job, replay one, replay all, send a plugin's form, act on
// a work-list row, adjust and confirm a draft) is recorded as attempted
// before it is made; when the audit log cannot take that entry nothing is
// done: no job runs, no message is replayed or sent, and the page says
// why (503 with Retry-After for a passing outage, naming the store and
// never its error's text; 500 for a fault). Once the audit log is back the
// same post is made, audited attempted and then with its outcome naming
// the attempt.
func TestChangeNotMadeWithoutItsAuditEntry(t *testing.T) {
	t.Parallel()
	sink := &auditSink{}
	f := newFixture(t, testToken, func(o *Options) { o.Audit = audit.New(sink, o.Logger) })
	sink.Store = f.st
	c := f.client()
	c.login("boss")
	made := func() int {
		f.b.mu.Lock()
		defer f.b.mu.Unlock()
		return len(f.b.triggered) + len(f.b.replayed) + len(f.b.sent)
	}
	posts := map[string]struct {
		path string
		form url.Values
	}{
		"run a job":       {"/console/jobs/run", url.Values{"job": {"tracecode/s1/stockin-sync"}}},
		"replay one":      {"/console/messages/replay", url.Values{"id": {"his-42"}}},
		"replay all":      {"/console/messages/replay-all", url.Values{}},
		"send a form":     {"/console/form/ecard/print", url.Values{"site": {"s1"}, "cardNo": {"E0001"}}},
		"work-list row":   {"/console/action", url.Values{"plugin": {"ecard"}, "list": {"recent-cards"}, "action": {"revoke"}, "site": {"s1"}, "row.cardNo": {`"E0001"`}}},
		"adjust a draft":  {"/console/document/tracecode/draft/adjust", url.Values{"site": {"s1"}, "id": {"SUP-001"}, "version": {"3"}, "edit": {"setQty"}, "line": {"1"}, "qty": {"2"}}},
		"confirm a draft": {"/console/document/tracecode/draft/confirm", url.Values{"site": {"s1"}, "id": {"SUP-001"}, "version": {"3"}}},
	}
	for fname, fl := range auditFailures() {
		sink.err.Store(&fl.err)
		for name, p := range posts {
			before := made()
			form := url.Values{}
			for k, v := range p.form {
				form[k] = v
			}
			form.Set("csrf", c.csrf)
			r := c.post(p.path, form)
			if r.code != fl.code || r.h.Get("Retry-After") != fl.retry || !strings.Contains(r.body, "Nothing was done") || strings.Contains(r.body, "10.20.0.9") {
				t.Errorf("%s, %s: HTTP %d Retry-After %q; want %d, Retry-After %q, saying nothing was done (and not the error):\n%s",
					fname, name, r.code, r.h.Get("Retry-After"), fl.code, fl.retry, r.body)
			}
			if made() != before {
				t.Errorf("%s, %s: the change was made although its audit entry was not written", fname, name)
			}
		}
	}
	sink.err.Store(nil)
	before := made()
	c.action("/console/jobs/run", url.Values{"job": {"tracecode/s1/stockin-sync"}})
	if made() != before+1 {
		t.Fatal("the job did not run once the audit log was back")
	}
	es, err := f.st.ListAudit(t.Context(), store.AuditFilter{Action: "job.run", Limit: 2})
	if err != nil || len(es) != 2 {
		t.Fatalf("audit: %v %v", es, err)
	}
	if es[1].Outcome != audit.Attempted || es[0].Outcome != audit.OK || !strings.HasSuffix(es[0].Detail, fmt.Sprintf("attempt #%d", es[1].ID)) {
		t.Errorf("audited %q then %q (%s); want attempted, then ok naming attempt #%d", es[1].Outcome, es[0].Outcome, es[0].Detail, es[1].ID)
	}
}

// TestEveryChangeRouteAuditsFirst: no post of any route (the site
// administration's included) reaches its handler while its audit entry
// cannot be written; only signing out (never refused) and the reveal of
// personal data (which records before it shows) audit themselves.
func TestEveryChangeRouteAuditsFirst(t *testing.T) {
	t.Parallel()
	sink := &auditSink{}
	f := newFixture(t, testToken, func(o *Options) { o.Audit = audit.New(sink, o.Logger) })
	sink.Store = f.st
	var mu sync.Mutex
	ran := map[string]bool{}
	table := f.c.routeTable()
	var posts []route
	for i := range table {
		// The methods that change are named here, not taken from
		// safeMethod: a safeMethod that let POST through unaudited would
		// otherwise leave no route to check.
		if method := strings.Fields(table[i].pattern)[0]; table[i].role != access.Public && method != http.MethodGet && method != http.MethodHead {
			pattern := table[i].pattern
			table[i].h = func(w http.ResponseWriter, _ *http.Request) {
				mu.Lock()
				ran[pattern] = true
				mu.Unlock()
				w.WriteHeader(http.StatusNoContent)
			}
			posts = append(posts, table[i])
		}
	}
	if len(posts) == 0 {
		t.Fatal("routeTable has no change route (a method other than GET or HEAD) to check")
	}
	srv := httptest.NewServer(f.c.routes(table))
	defer srv.Close()
	s, _ := f.c.sessions.create("li.admin", access.Admin, viaToken, "", nil)
	for fname, fl := range auditFailures() {
		sink.err.Store(&fl.err)
		for _, rt := range posts {
			_, path, _ := strings.Cut(rt.pattern, " ")
			req, _ := http.NewRequest(http.MethodPost, srv.URL+wildRE.ReplaceAllString(path, "x"), strings.NewReader(url.Values{"csrf": {s.csrf}}.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Sec-Fetch-Site", "same-origin")
			req.AddCookie(&http.Cookie{Name: cookieName, Value: s.id})
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			mu.Lock()
			done := ran[rt.pattern]
			delete(ran, rt.pattern)
			mu.Unlock()
			if auditsItself[rt.pattern] {
				if !done {
					t.Errorf("%s, %s: the handler, which audits itself, did not run (HTTP %d)", fname, rt.pattern, resp.StatusCode)
				}
				continue
			}
			if done || resp.StatusCode != fl.code {
				t.Errorf("%s, %s: handler ran %v, HTTP %d; want not run, %d", fname, rt.pattern, done, resp.StatusCode, fl.code)
			}
		}
	}
}

// TestChangeEntryHoldsNoFormData: the audit entry of a post names the
// console's own fields, masked, and never copies a plugin form's fields,
// whatever their names: an "id" there may be a patient's ID number.
func TestChangeEntryHoldsNoFormData(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		pattern string
		form    url.Values
		absent  string
	}{
		"a plugin's form field named id":  {formRoute, url.Values{"site": {"s1"}, "id": {"350102199001011234"}, "name": {"张三"}}, "350102199001011234"},
		"a plugin's form field named job": {formRoute, url.Values{"site": {"s1"}, "job": {"13812345678"}}, "13812345678"},
		"an ID number in a row id":        {"POST " + Prefix + "action", url.Values{"plugin": {"ecard"}, "id": {"350102199001011234"}}, "350102199001011234"},
	}
	for name, tc := range cases {
		r := httptest.NewRequest(http.MethodPost, "/console/x", strings.NewReader(tc.form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.Pattern = tc.pattern
		e := changeEntry(r, audit.Attempted)
		if strings.Contains(e.Detail, tc.absent) || strings.Contains(e.Detail, "张三") {
			t.Errorf("%s: the entry holds form data: %q", name, e.Detail)
		}
	}
}

// TestTokenTypedAsNameNotRecorded: the admin token, or an ingress
// client's token (64 hex characters pass for a user name), typed in the
// user field (with anything as the password) is a failed sign-in whose
// audit entry, log line and page never hold the token: it is recorded
// under a placeholder name (the client's token was written in full).
func TestTokenTypedAsNameNotRecorded(t *testing.T) {
	t.Parallel()
	clientToken := strings.Repeat("3f9a", 16)
	for name, typed := range map[string]string{"admin token": testToken, "an ingress client's token": clientToken} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var logs logBuffer
			f := newFixture(t, testToken, func(o *Options) {
				o.Logger = slog.New(slog.NewTextHandler(&logs, nil))
				o.ClientTokens = map[string]string{"his": clientToken}
			})
			c := f.client()
			r := c.post("/console/login", url.Values{"user": {typed}, "password": {"whatever-0123"}})
			if r.code == http.StatusSeeOther || strings.Contains(r.body, typed) {
				t.Errorf("sign-in with the token as the name: HTTP %d, the page shows the token: %v", r.code, strings.Contains(r.body, typed))
			}
			es, err := f.st.ListAudit(t.Context(), store.AuditFilter{Action: "login"})
			if err != nil || len(es) != 1 || es[0].Outcome != audit.Refused {
				t.Fatalf("audit: %+v %v; want one refused sign-in", es, err)
			}
			if e := es[0]; strings.Contains(e.Actor+e.Detail+e.Target, typed) {
				t.Errorf("the audit entry holds the token: %+v", e)
			}
			if strings.Contains(logs.String(), typed) {
				t.Errorf("the log holds the token:\n%s", logs.String())
			}
		})
	}
}

// TestSignInNeedsItsAuditEntry: a sign-in is recorded before its session
// starts; when the audit log cannot take the entry nobody is signed in
// (503 with Retry-After for a passing outage of the store, 500 for a
// fault), with a password, the admin token or a trusted proxy's header.
func TestSignInNeedsItsAuditEntry(t *testing.T) {
	t.Parallel()
	for fname, fl := range auditFailures() {
		t.Run(fname, func(t *testing.T) {
			t.Parallel()
			sink := &auditSink{}
			proxy, err := access.NewProxy("X-Remote-User", "X-Remote-Role", []string{"127.0.0.1/32"})
			if err != nil {
				t.Fatal(err)
			}
			f := newFixture(t, testToken, func(o *Options) { o.Audit, o.Proxy = audit.New(sink, o.Logger), proxy })
			sink.Store = f.st
			pw := f.addUser("li.admin", access.Admin)
			sink.err.Store(&fl.err)
			for name, creds := range map[string][2]string{"password": {"li.admin", pw}, "admin token": {"pharm01", testToken}} {
				c := f.client()
				r := c.post("/console/login", url.Values{"user": {creds[0]}, "password": {creds[1]}})
				if r.code != fl.code || r.h.Get("Retry-After") != fl.retry || len(r.h.Values("Set-Cookie")) != 0 {
					t.Errorf("%s: sign-in with the audit log failing: HTTP %d Retry-After %q cookies %q; want %d, Retry-After %q, no session",
						name, r.code, r.h.Get("Retry-After"), r.h.Values("Set-Cookie"), fl.code, fl.retry)
				}
			}
			c := f.client()
			req, _ := http.NewRequest("GET", f.srv.URL+"/console/", nil)
			req.Header.Set("X-Remote-User", "nurse01")
			req.Header.Set("X-Remote-Role", "viewer")
			if r := c.do(req); r.code != fl.code || len(r.h.Values("Set-Cookie")) != 0 {
				t.Errorf("proxy sign-in with the audit log failing: HTTP %d cookies %q; want %d, no session", r.code, r.h.Values("Set-Cookie"), fl.code)
			}
		})
	}
}

// TestDownloadNeedsItsAuditEntry: a file a plugin handed over (an export,
// which may hold personal data) is sent only once its download is in the
// audit log, as a reveal is shown only then.
func TestDownloadNeedsItsAuditEntry(t *testing.T) {
	t.Parallel()
	sink := &auditSink{}
	f := newFixture(t, testToken, func(o *Options) { o.Audit = audit.New(sink, o.Logger) })
	sink.Store = f.st
	content := []byte("PK\x03\x04 pretend workbook")
	stored, err := f.art.Put("tracecode", "s1", "tracecode-s1-x.xlsx", "", bytes.NewReader(content))
	if err != nil {
		t.Fatal(err)
	}
	f.b.handlers["tracecode.export"] = func(json.RawMessage) *message.Reply {
		return okReply(map[string]any{"artifact": stored.ID, "rows": map[string]int{"codes": 2}})
	}
	c := f.client()
	c.login("a")
	r := c.post("/console/form/tracecode/export", url.Values{"site": {"s1"}, "from": {"2026-11-26"}, "to": {"2026-11-26"}, "csrf": {c.csrf}})
	link := regexp.MustCompile(`/console/download/[0-9a-f]+`).FindString(r.body)
	if link == "" {
		t.Fatalf("no download link: %d %s", r.code, r.body)
	}
	for fname, fl := range auditFailures() {
		sink.err.Store(&fl.err)
		if r := c.get(link); r.code != fl.code || strings.Contains(r.body, string(content)) {
			t.Errorf("%s: download with the audit log failing: HTTP %d, file sent: %v; want %d and nothing sent", fname, r.code, strings.Contains(r.body, string(content)), fl.code)
		}
	}
	sink.err.Store(nil)
	if r := c.get(link); r.code != http.StatusOK || r.body != string(content) {
		t.Errorf("download once the audit log is back: HTTP %d", r.code)
	}
}
