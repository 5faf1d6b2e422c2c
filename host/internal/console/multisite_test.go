package console

import (
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/medgate/medgate/host/internal/access"
	"github.com/medgate/medgate/host/internal/audit"
	"github.com/medgate/medgate/host/internal/store"
)

// rowIDRE finds the message rows of the search page.
var rowIDRE = regexp.MustCompile(`<tr data-id="([^"]+)">`)

// TestSearchAndReplayOverSeveralSites: users limited to one, two and
// every site search and bulk-replay the failed messages of all their
// sites at once, or of any subset of them (site given several times), and
// never another site's; a search naming a site outside their scope
// selects nothing, and a bulk replay naming one is refused, audited
// refused, and replays nothing. A bulk replay's audit entries name every
// site whose messages it selected, with how many at each.
func TestSearchAndReplayOverSeveralSites(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		sites      []string // the user's scope (nil: every site, unscoped)
		ask        []string // site= of the search and the bulk replay
		want       []string // failed messages found and replayed
		refused    bool     // the bulk replay is refused
		auditSite  string   // the bulk replay's audit entries' site
		auditSites []string // each named in their detail
	}{
		"one site, none named":         {sites: []string{"s1"}, want: []string{"f-s1"}, auditSite: "s1", auditSites: []string{"s1: 1"}},
		"one site, it named":           {sites: []string{"s1"}, ask: []string{"s1"}, want: []string{"f-s1"}, auditSite: "s1"},
		"one site, another named":      {sites: []string{"s1"}, ask: []string{"s2"}, refused: true},
		"two sites, none named":        {sites: []string{"s1", "s2"}, want: []string{"f-s2", "f-s1"}, auditSite: "s1,s2", auditSites: []string{"s1: 1", "s2: 1"}},
		"two sites, one named":         {sites: []string{"s1", "s2"}, ask: []string{"s2"}, want: []string{"f-s2"}, auditSite: "s2"},
		"two sites, both named":        {sites: []string{"s1", "s2"}, ask: []string{"s2", "s1"}, want: []string{"f-s2", "f-s1"}, auditSite: "s1,s2"},
		"two sites, as one list":       {sites: []string{"s1", "s2"}, ask: []string{"s1,s2"}, want: []string{"f-s2", "f-s1"}, auditSite: "s1,s2"},
		"two sites, a third named":     {sites: []string{"s1", "s2"}, ask: []string{"s3"}, refused: true},
		"two sites, one and a third":   {sites: []string{"s1", "s2"}, ask: []string{"s1", "s3"}, refused: true},
		"every site, none named":       {sites: []string{"s1", "s2", "s3"}, want: []string{"f-s3", "f-s2", "f-s1"}, auditSite: "s1,s2,s3", auditSites: []string{"s1: 1", "s2: 1", "s3: 1"}},
		"every site, a subset":         {sites: []string{"s1", "s2", "s3"}, ask: []string{"s1", "s3"}, want: []string{"f-s3", "f-s1"}, auditSite: "s1,s3"},
		"unscoped, none named":         {want: []string{"f-s3", "f-s2", "f-s1"}, auditSite: "s1,s2,s3"},
		"unscoped, a subset":           {ask: []string{"s3", "s2"}, want: []string{"f-s3", "f-s2"}, auditSite: "s2,s3"},
		"every site, one not selected": {sites: []string{"s1", "s2", "s3"}, ask: []string{"s2"}, want: []string{"f-s2"}, auditSite: "s2", auditSites: []string{"s2: 1"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, testToken)
			now := f.clock.t
			f.b.plugins[1].Sites = []string{"s1", "s2", "s3"}
			f.b.st.msgs = append(f.b.st.msgs,
				store.Message{ID: "f-s1", Site: "s1", Type: "tracecode.stockin", Status: "done", Outcome: "failed", ReceivedAt: now.Add(-3 * time.Minute)},
				store.Message{ID: "f-s2", Site: "s2", Type: "tracecode.stockin", Status: "done", Outcome: "failed", ReceivedAt: now.Add(-2 * time.Minute)},
				store.Message{ID: "f-s3", Site: "s3", Type: "tracecode.stockin", Status: "done", Outcome: "failed", ReceivedAt: now.Add(-time.Minute)})
			if err := f.users.Add(t.Context(), "op", access.Operator, "pw-op-0123456789", tc.sites); err != nil {
				t.Fatal(err)
			}
			c := f.client()
			c.signIn("op", "pw-op-0123456789")

			q := url.Values{"status": {"failed"}, "site": tc.ask}
			r := c.get("/console/messages?" + q.Encode())
			var found []string
			for _, m := range rowIDRE.FindAllStringSubmatch(r.body, -1) {
				found = append(found, m[1])
			}
			slices.Sort(found)
			if r.code != http.StatusOK || !slices.Equal(found, slices.Sorted(slices.Values(tc.want))) {
				t.Errorf("search: %d, found %q, want %q\n%.2000s", r.code, found, tc.want, r.body)
			}
			if len(tc.want) > 0 && !strings.Contains(r.body, `id="replay-all"`) {
				t.Errorf("the search offers no bulk replay of its %d failed messages", len(tc.want))
			}

			form := url.Values{"csrf": {c.csrf}, "site": tc.ask}
			r = c.post("/console/messages/replay-all", form)
			if tc.refused {
				if r.code != http.StatusForbidden || !strings.Contains(r.body, "not one of your sites") {
					t.Errorf("replay-all naming a site outside the scope: %d, want 403 saying so\n%.1500s", r.code, r.body)
				}
			} else {
				loc := r.h.Get("Location")
				if r.code != http.StatusSeeOther || !strings.HasPrefix(loc, "/console/replays/") {
					t.Fatalf("replay-all: %d %q\n%.1500s", r.code, loc, r.body)
				}
				deadline := time.Now().Add(10 * time.Second)
				for p := c.get(loc); !strings.Contains(p.body, "完成 finished"); p = c.get(loc) {
					if p.code != http.StatusOK || time.Now().After(deadline) {
						t.Fatalf("the bulk replay's page: %d\n%.1500s", p.code, p.body)
					}
				}
			}
			f.b.mu.Lock()
			replayed := slices.Clone(f.b.replayed)
			f.b.mu.Unlock()
			slices.Sort(replayed)
			want := slices.Sorted(slices.Values(tc.want))
			if !slices.Equal(replayed, want) {
				t.Errorf("replayed %q, want %q", replayed, want)
			}

			es, err := f.st.ListAudit(t.Context(), store.AuditFilter{Actor: "op", Action: "message.replay.bulk"})
			if err != nil {
				t.Fatal(err)
			}
			var outcomes []string
			for _, e := range es {
				outcomes = append(outcomes, e.Outcome)
			}
			if tc.refused {
				if !slices.Equal(outcomes, []string{audit.Refused, audit.Attempted}) || !strings.Contains(es[0].Detail, "not one of the user's sites") {
					t.Errorf("audit of the refused bulk replay: %q (newest first), %+v; want refused, attempted", outcomes, es)
				}
				return
			}
			if !slices.Equal(outcomes, []string{audit.OK, audit.OK, audit.Attempted}) {
				t.Fatalf("audit of the bulk replay: %q (newest first), want ok (finished), ok (started), attempted", outcomes)
			}
			for _, e := range es[:2] {
				if e.Site != tc.auditSite {
					t.Errorf("audit entry %q names the site %q, want %q", e.Detail, e.Site, tc.auditSite)
				}
				for _, s := range tc.auditSites {
					if !strings.Contains(e.Detail, s) {
						t.Errorf("audit entry %q does not name %q", e.Detail, s)
					}
				}
			}
		})
	}
}
