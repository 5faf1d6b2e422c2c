package console

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/medgate/medgate/host/internal/access"
	"github.com/medgate/medgate/host/internal/scheduler"
	"github.com/medgate/medgate/host/internal/store"
)

// TestSiteScopedUsers calls every console route as viewers and
// operators limited to sites: the overview, jobs, message search, the
// board, work lists, forms and documents show only their sites; another
// site's message, bulk replay, form, document or download answers 404 as
// one that does not exist; a job run, replay, form, row action or
// document change there is refused (audited) and nothing is sent; a user
// of several sites searches all of them (TestSearchAndReplayOverSeveralSites);
// the admin pages stay refused
// for the role. An unscoped operator still sees and acts on every site.
// A route without a case here fails the test, and one not open to
// scoped users (siteScoped) must answer them 403.
func TestSiteScopedUsers(t *testing.T) {
	t.Parallel()
	f := newFixture(t, testToken)
	now := f.clock.t
	f.b.st.msgs = append(f.b.st.msgs,
		store.Message{ID: "m-s1-failed", Site: "s1", Type: "ecard.scan", Status: "done", Outcome: "failed", ReceivedAt: now},
		store.Message{ID: "m-s2-failed", Site: "s2", Type: "tracecode.stockin", Status: "done", Outcome: "failed", ReceivedAt: now})
	f.b.jobs = append(f.b.jobs, scheduler.Status{ID: "tracecode/s2/stockin-sync", Interval: "1h0m0s", NextRun: now, Owner: true})
	f.b.plugins[0].Sites = []string{"s1", "s2"} // ecard too, for its row action at s2
	signIn := func(name string, role access.Role, sites []string) *client {
		pw := "pw-" + name + "-0123456789"
		if err := f.users.Add(t.Context(), name, role, pw, sites); err != nil {
			t.Fatal(err)
		}
		c := f.client()
		c.signIn(name, pw)
		return c
	}
	viewer := signIn("v-s1", access.Viewer, []string{"s1"})
	op := signIn("o-s1", access.Operator, []string{"s1"})
	all := signIn("o-all", access.Operator, nil)
	both := signIn("v-s12", access.Viewer, []string{"s1", "s2"})
	opBoth := signIn("o-s12", access.Operator, []string{"s1", "s2"})

	// A bulk replay of s2 by o-all: its progress page is unknown to a
	// user of s1 only, as another site's.
	r := all.post("/console/messages/replay-all", url.Values{"csrf": {all.csrf}, "site": {"s2"}, "id": {"no-such-"}})
	bulkS2 := r.h.Get("Location")
	if r.code != http.StatusSeeOther || !strings.HasPrefix(bulkS2, "/console/replays/") {
		t.Fatalf("replay-all of s2 as o-all: %d %s", r.code, bulkS2)
	}

	type check struct {
		c          *client
		method     string
		path       string
		form       url.Values
		code       int
		has, hasNo []string
	}
	cases := map[string][]check{
		"GET " + Prefix + "{$}": {
			{c: viewer, path: "/console/", code: 200, has: []string{"his-42", "m-s1-failed", "tracecode/s1/stockin-sync"},
				hasNo: []string{"m-s2-failed", "tracecode/s2"}},
			{c: all, path: "/console/", code: 200, has: []string{"m-s1-failed", "m-s2-failed", "tracecode/s2/stockin-sync", `href="/console/worklists"`}},
		},
		"GET " + Prefix + "message": {
			{c: viewer, path: "/console/message?id=his-42", code: 200, has: []string{"his-42"}},
			{c: viewer, path: "/console/message?id=m-s2-failed", code: 404, has: []string{"没有这条消息 (no such message)"}, hasNo: []string{"tracecode.stockin"}},
			{c: all, path: "/console/message?id=m-s2-failed", code: 200, has: []string{"tracecode.stockin"}},
		},
		"GET " + Prefix + "jobs": {
			{c: viewer, path: "/console/jobs", code: 200, has: []string{"tracecode/s1/stockin-sync"}, hasNo: []string{"tracecode/s2"}},
			{c: all, path: "/console/jobs", code: 200, has: []string{"tracecode/s1/stockin-sync", "tracecode/s2/stockin-sync"}},
		},
		"POST " + Prefix + "jobs/run": {
			{c: op, method: "POST", path: "/console/jobs/run", form: url.Values{"job": {"tracecode/s2/stockin-sync"}}, code: 303},
			{c: op, method: "POST", path: "/console/jobs/run", form: url.Values{"job": {"tracecode/s1/stockin-sync"}}, code: 303},
			{c: viewer, method: "POST", path: "/console/jobs/run", form: url.Values{"job": {"tracecode/s1/stockin-sync"}}, code: 403, has: []string{"权限不足 (not allowed)"}},
		},
		"GET " + Prefix + "messages": {
			{c: viewer, path: "/console/messages", code: 200, has: []string{"m-s1-failed"}, hasNo: []string{"m-s2-failed"}},
			{c: viewer, path: "/console/messages?site=s2", code: 200, hasNo: []string{"m-s2-failed"}},
			{c: viewer, path: "/console/messages?id=m-s2", code: 200, hasNo: []string{"m-s2-failed"}},
			{c: both, path: "/console/messages", code: 200, has: []string{"m-s2-failed", "m-s1-failed"}},
			{c: both, path: "/console/messages?site=s1&site=s3", code: 200, hasNo: []string{"m-s2-failed", "m-s1-failed"}},
			{c: both, path: "/console/messages?site=s2", code: 200, has: []string{"m-s2-failed"}, hasNo: []string{"m-s1-failed"}},
			{c: all, path: "/console/messages", code: 200, has: []string{"m-s1-failed", "m-s2-failed"}},
		},
		"GET " + Prefix + "board": {
			{c: viewer, path: "/console/board", code: 200, has: []string{"m-s1-failed"}, hasNo: []string{"m-s2-failed"}},
			{c: both, path: "/console/board", code: 200, has: []string{"m-s1-failed", "m-s2-failed"}},
			{c: all, path: "/console/board", code: 200, has: []string{"m-s1-failed", "m-s2-failed"}},
		},
		"GET " + Prefix + "replays/{id}": {
			{c: viewer, path: bulkS2, code: 404, has: []string{"没有这次重发 (no such replay)"}},
			{c: viewer, path: "/console/replays/no-such", code: 404, has: []string{"没有这次重发 (no such replay)"}},
			{c: both, path: bulkS2, code: 200},
			{c: all, path: bulkS2, code: 200},
		},
		"POST " + Prefix + "messages/replay-all": {
			{c: op, method: "POST", path: "/console/messages/replay-all", form: url.Values{"site": {"s2"}}, code: 403, has: []string{"s2 is not one of your sites (s1)"}},
			{c: opBoth, method: "POST", path: "/console/messages/replay-all", form: url.Values{"site": {"s2"}, "id": {"no-such-"}}, code: 303},
		},
		"GET " + Prefix + "worklists": {
			{c: op, path: "/console/worklists", code: 200, has: []string{"document/tracecode/draft?id=SUP-001&amp;site=s1"}, hasNo: []string{"site=s2"}},
			{c: all, path: "/console/worklists", code: 200, has: []string{"site=s1", "document/tracecode/draft?id=SUP-001&amp;site=s2"}},
		},
		"GET " + Prefix + "form/{plugin}/{form}": {
			{c: op, path: "/console/form/tracecode/export?site=s2", code: 404, has: []string{"plugin not enabled"}, hasNo: []string{"s1, s2"}},
			{c: op, path: "/console/form/tracecode/export", code: 200, has: []string{`value="s1"`}, hasNo: []string{`value="s2"`}},
			{c: all, path: "/console/form/tracecode/export?site=s2", code: 200, has: []string{`value="s2"`}},
		},
		"POST " + Prefix + "form/{plugin}/{form}": {
			{c: op, method: "POST", path: "/console/form/tracecode/export", form: url.Values{"site": {"s2"}, "from": {"2026-11-01"}}, code: 404, has: []string{"plugin not enabled"}},
		},
		"POST " + Prefix + "action": {
			{c: op, method: "POST", path: "/console/action", form: url.Values{"plugin": {"ecard"}, "list": {"recent-cards"}, "action": {"revoke"}, "site": {"s2"},
				"row.cardNo": {`"880100000000013"`}}, code: 404, has: []string{"plugin not enabled"}},
		},
		"GET " + Prefix + "document/{plugin}/{view}": {
			{c: op, path: "/console/document/tracecode/draft?site=s2&id=SUP-001", code: 404, has: []string{"plugin not enabled"}, hasNo: []string{"SUP-001 阿莫西林", "s1, s2"}},
			{c: op, path: "/console/document/tracecode/draft?site=s1&id=SUP-001", code: 200, has: []string{"阿莫西林胶囊"}},
			{c: all, path: "/console/document/tracecode/draft?site=s2&id=SUP-001", code: 200, has: []string{"阿莫西林胶囊"}},
		},
		"POST " + Prefix + "document/{plugin}/{view}/adjust": {
			{c: op, method: "POST", path: "/console/document/tracecode/draft/adjust", form: url.Values{"site": {"s2"}, "id": {"SUP-001"}}, code: 404, has: []string{"plugin not enabled"}},
		},
		"POST " + Prefix + "document/{plugin}/{view}/confirm": {
			{c: op, method: "POST", path: "/console/document/tracecode/draft/confirm", form: url.Values{"site": {"s2"}, "id": {"SUP-001"}, "version": {"3"}}, code: 404, has: []string{"plugin not enabled"}},
		},
		"GET " + Prefix + "download/{token}": {
			{c: op, path: "/console/download/no-such-token", code: 404, has: []string{"download link unknown or expired"}},
		},
		"POST " + Prefix + "messages/replay": {
			{c: op, method: "POST", path: "/console/messages/replay", form: url.Values{"id": {"m-s2-failed"}}, code: 303},
			{c: op, method: "POST", path: "/console/messages/replay", form: url.Values{"id": {"m-s1-failed"}}, code: 303},
		},
	}
	for _, rt := range f.c.table {
		if rt.role == access.Public || rt.pattern == logoutRoute {
			continue
		}
		method, path, _ := strings.Cut(rt.pattern, " ")
		path = wildRE.ReplaceAllString(strings.ReplaceAll(path, "{$}", ""), "s2")
		switch {
		case rt.role == access.Admin:
			cases[rt.pattern] = append(cases[rt.pattern], check{c: op, method: method, path: path, code: 403, has: []string{"权限不足 (not allowed)"}})
		case !siteScoped[rt.pattern]:
			// Refused to scoped users until its handler checks sites.
			for _, c := range []*client{viewer, op} {
				if c == viewer && rt.role > access.Viewer {
					continue
				}
				cases[rt.pattern] = append(cases[rt.pattern], check{c: c, method: method, path: path, code: 403, has: []string{"仅限本院区 (limited to your sites)"}})
			}
		case cases[rt.pattern] == nil:
			t.Errorf("route %s is open to scoped users but has no case here; add one (own site allowed, another refused)", rt.pattern)
		}
	}
	for pattern, checks := range cases {
		for _, ck := range checks {
			var r resp
			if cmpOr(ck.method, "GET") == http.MethodPost {
				form := url.Values{"csrf": {ck.c.csrf}}
				for k, v := range ck.form {
					form[k] = v
				}
				r = ck.c.post(ck.path, form)
			} else {
				r = ck.c.get(ck.path)
			}
			if r.code != ck.code {
				t.Errorf("%s: %s %s: %d, want %d\n%.600s", pattern, cmpOr(ck.method, "GET"), ck.path, r.code, ck.code, r.body)
				continue
			}
			for _, h := range ck.has {
				if !strings.Contains(r.body, h) {
					t.Errorf("%s: %s %s: the page lacks %q", pattern, cmpOr(ck.method, "GET"), ck.path, h)
				}
			}
			for _, h := range ck.hasNo {
				if strings.Contains(r.body, h) {
					t.Errorf("%s: %s %s: the page shows %q", pattern, cmpOr(ck.method, "GET"), ck.path, h)
				}
			}
		}
	}
	f.b.mu.Lock()
	for _, env := range f.b.sent {
		if env.Site == "s2" && !slices.Contains([]string{"tracecode.drafts.list", "tracecode.draft.get", "ecard.cards.list"}, env.Type) {
			t.Errorf("%s was sent for site s2", env.Type) // only o-all reads s2's lists and draft
		}
	}
	triggered, replayed := slices.Clone(f.b.triggered), slices.Clone(f.b.replayed)
	f.b.mu.Unlock()
	if !slices.Equal(triggered, []string{"tracecode/s1/stockin-sync"}) || !slices.Equal(replayed, []string{"m-s1-failed"}) {
		t.Errorf("triggered %q, replayed %q; want only s1's job and message", triggered, replayed)
	}
	// The refused form, row action, document change, replay and job are
	// audited: attempted, then refused.
	for _, action := range []string{"form.send", "worklist.action", "document.adjust", "document.confirm", "message.replay.bulk"} {
		got, err := f.st.ListAudit(t.Context(), store.AuditFilter{Actor: "o-s1", Action: action})
		if err != nil {
			t.Fatal(err)
		}
		var outcomes []string
		for _, e := range got {
			outcomes = append(outcomes, e.Outcome)
		}
		if want := []string{"refused", "attempted"}; !slices.Equal(outcomes, want) {
			t.Errorf("audit of %s by o-s1: %q, want %q (newest first)", action, outcomes, want)
		}
	}
	for _, action := range []string{"message.replay", "job.run"} {
		got, err := f.st.ListAudit(t.Context(), store.AuditFilter{Actor: "o-s1", Action: action})
		if err != nil {
			t.Fatal(err)
		}
		var outcomes []string
		for _, e := range got {
			outcomes = append(outcomes, e.Outcome)
		}
		if want := []string{"ok", "attempted", "refused", "attempted"}; !slices.Equal(outcomes, want) {
			t.Errorf("audit of %s by o-s1: %q, want %q (newest first)", action, outcomes, want)
		}
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// TestProxyUserSites: a user a trusted proxy names without a role header
// is the stored user, with its sites: another site's message answers
// 404, and a change of the user's sites applies at the next request (the
// session ends and starts again with the new scope). With a role header
// the proxy vouches for an identity of its own, which has no sites
// (README: a scoped user must be a stored user).
func TestProxyUserSites(t *testing.T) {
	t.Parallel()
	for _, roleHeader := range []string{"", "X-Remote-Role"} {
		proxy, err := access.NewProxy("X-Remote-User", roleHeader, []string{"127.0.0.0/8"})
		if err != nil {
			t.Fatal(err)
		}
		f := newFixture(t, testToken, func(o *Options) { o.Proxy = proxy })
		f.b.st.msgs = append(f.b.st.msgs, store.Message{ID: "m-s2", Site: "s2", Type: "ecard.scan", Status: "done", Outcome: "ok", ReceivedAt: f.clock.t})
		if err := f.users.Add(t.Context(), "px", access.Viewer, "pw-px-0123456789", []string{"s1"}); err != nil {
			t.Fatal(err)
		}
		c := f.client()
		get := func(path string) resp {
			req, _ := http.NewRequest("GET", f.srv.URL+path, nil)
			req.Header.Set("X-Remote-User", "px")
			req.Header.Set("X-Remote-Role", "viewer")
			return c.do(req)
		}
		want := http.StatusNotFound
		if roleHeader != "" {
			want = http.StatusOK
		}
		if r := get("/console/message?id=m-s2"); r.code != want {
			t.Fatalf("role header %q: another site's message: %d, want %d", roleHeader, r.code, want)
		}
		if r := get("/console/message?id=his-42"); r.code != http.StatusOK {
			t.Fatalf("role header %q: own site's message: %d", roleHeader, r.code)
		}
		if roleHeader != "" {
			continue
		}
		if err := f.users.SetSites(t.Context(), "px", []string{"s2"}); err != nil {
			t.Fatal(err)
		}
		if r := get("/console/message?id=m-s2"); r.code != http.StatusOK {
			t.Fatalf("after the user's sites became s2: s2's message: %d", r.code)
		}
		if r := get("/console/message?id=his-42"); r.code != http.StatusNotFound {
			t.Fatalf("after the user's sites became s2: s1's message: %d", r.code)
		}
	}
}

// TestOverviewOfSeveralSites: the overview of a user of two sites lists
// each of them, newest first, however many newer messages other sites
// have (the store lists one site or every site, at most 500).
func TestOverviewOfSeveralSites(t *testing.T) {
	t.Parallel()
	f := newFixture(t, testToken)
	now := f.clock.t
	var crowd []store.Message
	for i := range 600 {
		crowd = append(crowd, store.Message{ID: fmt.Sprintf("s3-%03d", i), Site: "s3", Type: "ecard.scan", Status: "done", Outcome: "ok", ReceivedAt: now})
	}
	f.b.st.msgs = append(crowd, append(f.b.st.msgs,
		store.Message{ID: "m-s2-older", Site: "s2", Type: "ecard.scan", Status: "done", Outcome: "ok", ReceivedAt: now.Add(-time.Hour)})...)
	if err := f.users.Add(t.Context(), "v-s12", access.Viewer, "pw-v-s12-0123456789", []string{"s1", "s2"}); err != nil {
		t.Fatal(err)
	}
	c := f.client()
	c.signIn("v-s12", "pw-v-s12-0123456789")
	body := c.get("/console/").body
	s1, s2 := strings.Index(body, "his-42"), strings.Index(body, "m-s2-older")
	if s1 < 0 || s2 < 0 || s2 < s1 || strings.Contains(body, "s3-") {
		t.Errorf("overview of a user of s1 and s2: his-42 at %d, m-s2-older at %d (want both, s1's newer one first), s3 shown: %v",
			s1, s2, strings.Contains(body, "s3-"))
	}
}
