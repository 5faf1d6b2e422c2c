package api

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/medgate/medgate/host/internal/access"
	"github.com/medgate/medgate/host/internal/scheduler"
	"github.com/medgate/medgate/host/internal/sites"
	"github.com/medgate/medgate/host/internal/store"
)

// scopeStore holds one message and one exchange at each of sites s1 and
// s2; its lists filter by site as the store does ("" every site).
type scopeStore struct {
	store.Store // only the methods below are called
}

var scopeMessages = []store.Message{{ID: "m-s1", Site: "s1", Type: "ecard.scan", Status: store.StatusDone, Outcome: "ok"},
	{ID: "m-s2", Site: "s2", Type: "ecard.scan", Status: store.StatusDone, Outcome: "ok"}}

func (scopeStore) ListMessages(_ context.Context, site, _, _ string, _ int) ([]store.Message, error) {
	var out []store.Message
	for _, m := range scopeMessages {
		if site == "" || m.Site == site {
			out = append(out, m)
		}
	}
	return out, nil
}

func (scopeStore) SearchMessages(_ context.Context, q store.MessageQuery) ([]store.Message, string, error) {
	var out []store.Message
	for _, m := range scopeMessages {
		if len(q.Sites) == 0 || slices.Contains(q.Sites, m.Site) {
			out = append(out, m)
		}
	}
	return out, "", nil
}

func (scopeStore) GetMessage(_ context.Context, id string) (*store.Message, error) {
	for _, m := range scopeMessages {
		if m.ID == id {
			return &m, nil
		}
	}
	return nil, fmt.Errorf("message %q: %w", id, store.ErrNotFound)
}

func (scopeStore) ListExchanges(_ context.Context, f store.ExchangeFilter) ([]store.Exchange, error) {
	var out []store.Exchange
	for _, x := range []store.Exchange{{ID: 1, MessageID: "m-s1", Site: "s1", Plugin: "ecard", Serial: "x-s1"}, {ID: 2, MessageID: "m-s2", Site: "s2", Plugin: "ecard", Serial: "x-s2"}} {
		if (f.Site == "" || x.Site == f.Site) && (f.MessageID == "" || x.MessageID == f.MessageID) {
			out = append(out, x)
		}
	}
	return out, nil
}

// scopeBackend records the jobs run and the messages replayed.
type scopeBackend struct {
	fakeBackend
	mu             sync.Mutex
	ran, replayed  []string
	jobIDs, msgIDs map[string]bool
}

func (b *scopeBackend) Store() store.Store { return scopeStore{} }

// Plugins has alpha at s1 and s2, beta at s2 only, and gamma at no site.
func (b *scopeBackend) Plugins() any {
	return []sites.Info{{Name: "alpha", Sites: []string{"s1", "s2"}}, {Name: "beta", Sites: []string{"s2"}}, {Name: "gamma"}}
}

func (b *scopeBackend) TriggerJob(_ context.Context, id string) (scheduler.Run, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.jobIDs[id] {
		return scheduler.Run{Job: id}, fmt.Errorf("job %q: %w; list jobs with `medgate jobs`", id, scheduler.ErrUnknownJob)
	}
	b.ran = append(b.ran, id)
	return scheduler.Run{Job: id}, nil
}

func (b *scopeBackend) Replay(_ context.Context, id string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.msgIDs[id] {
		return store.ErrNotFound
	}
	b.replayed = append(b.replayed, id)
	return nil
}

// TestSiteScopedUsers calls every admin route as users limited to site
// s1 (a viewer, an operator), one limited to s1 and s2, and an unscoped
// operator: lists hold only their sites' items, another site's message
// or job answers 404 exactly as one that does not exist, and nothing is
// run or replayed there; routes of the whole instance are refused to
// scoped users. Every route must have a case here.
func TestSiteScopedUsers(t *testing.T) {
	t.Parallel()
	b := &scopeBackend{fakeBackend: *okBackend(), jobIDs: map[string]bool{"ecard/s1/sync": true, "ecard/s2/sync": true},
		msgIDs: map[string]bool{"m-s1": true, "m-s2": true}}
	b.jobs = []scheduler.Status{{ID: "ecard/s1/sync"}, {ID: "ecard/s2/sync"}}
	f := newAccessFixture(t, b, "")
	users := access.NewUsers(f.st, access.Params{Memory: 64, Time: 1, Threads: 1, KeyLen: 32})
	for _, u := range []struct {
		name  string
		role  access.Role
		sites []string
	}{{"v-s1", access.Viewer, []string{"s1"}}, {"o-s1", access.Operator, []string{"s1"}}, {"v-s12", access.Viewer, []string{"s1", "s2"}}} {
		if err := users.Add(t.Context(), u.name, u.role, "pw-"+u.name+"-0123456789", u.sites); err != nil {
			t.Fatal(err)
		}
	}
	pw := func(name string) string {
		if p, ok := map[string]string{"u-operator": f.users[access.Operator][1]}[name]; ok {
			return p
		}
		return "pw-" + name + "-0123456789"
	}
	notFound := func(path string) string {
		_, body := f.call(t, http.MethodGet, path, "u-admin", f.users[access.Admin][1])
		return body
	}
	type tc struct {
		route, method, path, user string
		code                      int
		has, hasNot               []string
		sameAs                    string // the body must equal this one's (404 of an id that does not exist)
	}
	cases := []tc{
		{route: "GET /admin/plugins", path: "/admin/plugins", user: "v-s1", code: 200, has: []string{`"name":"alpha"`, `"sites":["s1"]`}, hasNot: []string{"s2", "beta", "gamma"}},
		{route: "GET /admin/plugins", path: "/admin/plugins", user: "o-s1", code: 200, has: []string{`"name":"alpha"`, `"sites":["s1"]`}, hasNot: []string{"s2", "beta", "gamma"}},
		{route: "GET /admin/plugins", path: "/admin/plugins", user: "v-s12", code: 200, has: []string{`"sites":["s1","s2"]`, `"name":"beta","`, `"sites":["s2"]`}, hasNot: []string{"gamma"}},
		{route: "GET /admin/plugins", path: "/admin/plugins", user: "u-operator", code: 200, has: []string{"alpha", "beta", "gamma"}},

		{route: "GET /admin/jobs", path: "/admin/jobs", user: "v-s1", code: 200, has: []string{"ecard/s1/sync"}, hasNot: []string{"ecard/s2/sync"}},
		{route: "GET /admin/jobs", path: "/admin/jobs", user: "v-s12", code: 200, has: []string{"ecard/s1/sync", "ecard/s2/sync"}},
		{route: "GET /admin/jobs", path: "/admin/jobs", user: "u-operator", code: 200, has: []string{"ecard/s1/sync", "ecard/s2/sync"}},

		{route: "GET /admin/messages", path: "/admin/messages", user: "v-s1", code: 200, has: []string{`"m-s1"`}, hasNot: []string{"m-s2"}},
		{route: "GET /admin/messages", path: "/admin/messages?site=s2", user: "v-s1", code: 200, has: []string{"[]"}, hasNot: []string{"m-s2"}},
		{route: "GET /admin/messages", path: "/admin/messages", user: "v-s12", code: 200, has: []string{`"m-s1"`, `"m-s2"`}},
		{route: "GET /admin/messages", path: "/admin/messages?limit=1", user: "v-s12", code: 200, has: []string{`"m-s1"`}, hasNot: []string{"m-s2"}},
		{route: "GET /admin/exchanges", path: "/admin/exchanges?limit=1", user: "v-s12", code: 200, has: []string{"x-s1"}, hasNot: []string{"x-s2"}},
		{route: "GET /admin/messages", path: "/admin/messages?site=s2", user: "v-s12", code: 200, has: []string{`"m-s2"`}, hasNot: []string{"m-s1"}},
		{route: "GET /admin/messages", path: "/admin/messages", user: "u-operator", code: 200, has: []string{`"m-s1"`, `"m-s2"`}},

		{route: "GET /admin/messages/{id}", path: "/admin/messages/m-s1", user: "v-s1", code: 200, has: []string{`"m-s1"`}},
		{route: "GET /admin/messages/{id}", path: "/admin/messages/m-s2", user: "v-s1", code: 404, sameAs: notFound("/admin/messages/no-such")},
		{route: "GET /admin/messages/{id}", path: "/admin/messages/m-s2", user: "u-operator", code: 200, has: []string{`"m-s2"`}},

		{route: "GET /admin/exchanges", path: "/admin/exchanges", user: "v-s1", code: 200, has: []string{"x-s1"}, hasNot: []string{"x-s2"}},
		{route: "GET /admin/exchanges", path: "/admin/exchanges?messageId=m-s2", user: "v-s1", code: 200, has: []string{"[]"}},
		{route: "GET /admin/exchanges", path: "/admin/exchanges?site=s2", user: "v-s1", code: 200, has: []string{"[]"}},
		{route: "GET /admin/exchanges", path: "/admin/exchanges", user: "v-s12", code: 200, has: []string{"x-s1", "x-s2"}},
		{route: "GET /admin/exchanges", path: "/admin/exchanges", user: "u-operator", code: 200, has: []string{"x-s1", "x-s2"}},

		{route: "POST /admin/jobs/{plugin}/{site}/{job}/run", method: "POST", path: "/admin/jobs/ecard/s1/sync/run", user: "o-s1", code: 200, has: []string{"ran"}},
		{route: "POST /admin/jobs/{plugin}/{site}/{job}/run", method: "POST", path: "/admin/jobs/ecard/s2/sync/run", user: "o-s1", code: 404,
			sameAs: `{"code":"unknown_job","message":"job \"ecard/s2/sync\": no such job; list jobs with ` + "`medgate jobs`" + `"}` + "\n"},
		{route: "POST /admin/jobs/{plugin}/{site}/{job}/run", method: "POST", path: "/admin/jobs/ecard/s1/sync/run", user: "v-s1", code: 403, has: []string{"forbidden"}},

		{route: "POST /admin/messages/{id}/replay", method: "POST", path: "/admin/messages/m-s1/replay", user: "o-s1", code: 202, has: []string{"replayed"}},
		{route: "POST /admin/messages/{id}/replay", method: "POST", path: "/admin/messages/m-s2/replay", user: "o-s1", code: 404,
			sameAs: `{"code":"not_found","message":"` + notFoundMessage + `"}` + "\n"},
		{route: "POST /admin/messages/replay", method: "POST", path: "/admin/messages/replay?site=s2", user: "o-s1", code: 403, has: []string{"site_scoped", "site s2 is not one of the sites o-s1 sees (s1)"}},
		{route: "POST /admin/messages/replay", method: "POST", path: "/admin/messages/replay", user: "v-s1", code: 403, has: []string{"forbidden"}},
		// A reply's own id given for its request's: the answer says which id to give.
		{route: "POST /admin/messages/{id}/replay", method: "POST", path: "/admin/messages/no-such/replay", user: "o-s1", code: 404, has: []string{"requestId"},
			sameAs: `{"code":"not_found","message":"` + notFoundMessage + `"}` + "\n"},
	}
	// A command's role check: a user with sites is never an admin, and
	// the command line asks only for admin commands.
	cases = append(cases, tc{route: "POST /admin/commands/check", method: "POST", path: "/admin/commands/check?plugin=ecard&command=revoke&site=s1", user: "o-s1", code: 403, has: []string{"site_scoped"}})
	// The routes of the whole instance need admin, which a scoped user
	// never is: refused for the role.
	s := &server{}
	for _, rt := range s.adminRoutes() {
		if rt.role == access.Admin {
			method, path, _ := strings.Cut(rt.pattern, " ")
			cases = append(cases, tc{route: rt.pattern, method: method, path: pathValueRE.ReplaceAllString(path, "s2"), user: "o-s1", code: 403, has: []string{"forbidden"}})
		}
	}
	covered := map[string]bool{}
	for _, c := range cases {
		covered[c.route] = true
		method := cmpOr(c.method, http.MethodGet)
		code, body := f.call(t, method, c.path, c.user, pw(c.user))
		if code != c.code {
			t.Errorf("%s %s as %s: %d %s; want %d", method, c.path, c.user, code, body, c.code)
			continue
		}
		for _, h := range c.has {
			if !strings.Contains(body, h) {
				t.Errorf("%s %s as %s: %s; want it to hold %q", method, c.path, c.user, body, h)
			}
		}
		for _, h := range c.hasNot {
			if strings.Contains(body, h) {
				t.Errorf("%s %s as %s: %s; want no %q", method, c.path, c.user, body, h)
			}
		}
		if c.sameAs != "" && body != c.sameAs {
			t.Errorf("%s %s as %s: %s; want the answer for one that does not exist: %s", method, c.path, c.user, body, c.sameAs)
		}
	}
	for _, rt := range s.adminRoutes() {
		if !covered[rt.pattern] {
			t.Errorf("route %s has no case for site-scoped users; add one", rt.pattern)
		}
	}
	if !slices.Equal(b.ran, []string{"ecard/s1/sync"}) || !slices.Equal(b.replayed, []string{"m-s1"}) {
		t.Errorf("ran %q, replayed %q; want only ecard/s1/sync and m-s1", b.ran, b.replayed)
	}
	// The refused replay is audited: attempted, then refused.
	entries, err := f.st.ListAudit(t.Context(), store.AuditFilter{Actor: "o-s1", Action: "message.replay"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Target+" "+e.Outcome)
	}
	if want := "/admin/messages/no-such/replay refused|/admin/messages/no-such/replay attempted|/admin/messages/m-s2/replay refused|/admin/messages/m-s2/replay attempted|/admin/messages/m-s1/replay ok|/admin/messages/m-s1/replay attempted"; strings.Join(got, "|") != want {
		t.Errorf("audit:\n got %s\nwant %s", strings.Join(got, "|"), want)
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// TestScopePluginsRefusesAnUnknownList: a plugin list whose sites cannot
// be told (not []sites.Info) is given whole to an unscoped user and
// refused to a scoped one, never passed through unfiltered.
func TestScopePluginsRefusesAnUnknownList(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		user access.User
		ok   bool
	}{
		{"unscoped", access.User{Name: "u"}, true},
		{"scoped", access.User{Name: "v", Sites: []string{"s1"}}, false},
	} {
		out, ok := scopePlugins(tc.user, []string{"ledger"})
		if ok != tc.ok || ok && out == nil || !ok && out != nil {
			t.Errorf("%s: scopePlugins = %v, %v; want ok %v", tc.name, out, ok, tc.ok)
		}
	}
}
