package api

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/medgate/medgate/host/internal/access"
	"github.com/medgate/medgate/host/internal/audit"
	"github.com/medgate/medgate/host/internal/store"
)

// sitesStore holds a failed and an ok message at each of sites s1, s2
// and s3, and filters lists and searches as the store does.
type sitesStore struct {
	store.Store // only the methods below are called
}

var sitesMessages = func() []store.Message {
	var ms []store.Message
	t0 := time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC)
	for i, site := range []string{"s1", "s2", "s3"} {
		ms = append(ms,
			store.Message{ID: "f-" + site, Site: site, Type: "ecard.scan", Status: store.StatusDone, Outcome: "failed", ReceivedAt: t0.Add(time.Duration(i) * time.Minute)},
			store.Message{ID: "ok-" + site, Site: site, Type: "ecard.scan", Status: store.StatusDone, Outcome: "ok", ReceivedAt: t0.Add(time.Duration(i) * time.Minute)})
	}
	return ms
}()

func (sitesStore) ListMessages(_ context.Context, site, _, outcome string, _ int) ([]store.Message, error) {
	var out []store.Message
	for _, m := range sitesMessages {
		if (site == "" || m.Site == site) && (outcome == "" || m.Outcome == outcome) {
			out = append(out, m)
		}
	}
	return out, nil
}

func (sitesStore) SearchMessages(_ context.Context, q store.MessageQuery) ([]store.Message, string, error) {
	var out []store.Message
	for _, m := range sitesMessages {
		if (q.Site == "" || m.Site == q.Site) && (len(q.Sites) == 0 || slices.Contains(q.Sites, m.Site)) &&
			(q.Status == "" || m.Outcome == q.Status) && strings.HasPrefix(m.Type, q.TypePrefix) && strings.HasPrefix(m.ID, q.IDPrefix) {
			out = append(out, m)
		}
	}
	return out, "", nil
}

func (sitesStore) GetMessage(_ context.Context, id string) (*store.Message, error) {
	for _, m := range sitesMessages {
		if m.ID == id {
			return &m, nil
		}
	}
	return nil, store.ErrNotFound
}

// sitesBackend records the messages replayed.
type sitesBackend struct {
	fakeBackend
	mu       sync.Mutex
	replayed []string
}

func (b *sitesBackend) Store() store.Store { return sitesStore{} }

func (b *sitesBackend) Replay(_ context.Context, id string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.replayed = append(b.replayed, id)
	return nil
}

// TestSearchAndReplayOverSeveralSites: users limited to one, two and
// every site list and bulk-replay (POST /admin/messages/replay) the
// failed messages of all their sites at once, or of any subset of them
// (site given several times, or s1,s2), never another site's; a list
// naming a site outside their scope is empty, as before, and a bulk
// replay naming one is refused 403 and audited refused, replaying
// nothing. A bulk replay's audit entry names every site whose messages it
// replayed, with how many at each.
func TestSearchAndReplayOverSeveralSites(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		sites     []string // the user's scope (nil: every site, unscoped)
		ask       []string // site= of the list and the bulk replay
		want      []string // failed messages listed and replayed
		refused   bool
		auditSite string
		perSite   string // in the audit entry's detail
	}{
		"one site, none named":       {sites: []string{"s1"}, want: []string{"f-s1"}, auditSite: "s1", perSite: "(s1: 1 of 1)"},
		"one site, it named":         {sites: []string{"s1"}, ask: []string{"s1"}, want: []string{"f-s1"}, auditSite: "s1"},
		"one site, another named":    {sites: []string{"s1"}, ask: []string{"s2"}, refused: true},
		"two sites, none named":      {sites: []string{"s1", "s2"}, want: []string{"f-s1", "f-s2"}, auditSite: "s1,s2", perSite: "(s1: 1 of 1, s2: 1 of 1)"},
		"two sites, one named":       {sites: []string{"s1", "s2"}, ask: []string{"s2"}, want: []string{"f-s2"}, auditSite: "s2"},
		"two sites, both named":      {sites: []string{"s1", "s2"}, ask: []string{"s2", "s1"}, want: []string{"f-s1", "f-s2"}, auditSite: "s1,s2"},
		"two sites, as one list":     {sites: []string{"s1", "s2"}, ask: []string{"s1,s2"}, want: []string{"f-s1", "f-s2"}, auditSite: "s1,s2"},
		"two sites, a third named":   {sites: []string{"s1", "s2"}, ask: []string{"s3"}, refused: true},
		"two sites, one and a third": {sites: []string{"s1", "s2"}, ask: []string{"s1", "s3"}, refused: true},
		"every site, none named":     {sites: []string{"s1", "s2", "s3"}, want: []string{"f-s1", "f-s2", "f-s3"}, auditSite: "s1,s2,s3", perSite: "(s1: 1 of 1, s2: 1 of 1, s3: 1 of 1)"},
		"every site, a subset":       {sites: []string{"s1", "s2", "s3"}, ask: []string{"s1", "s3"}, want: []string{"f-s1", "f-s3"}, auditSite: "s1,s3"},
		"unscoped, none named":       {want: []string{"f-s1", "f-s2", "f-s3"}, auditSite: "s1,s2,s3"},
		"unscoped, a subset":         {ask: []string{"s3,s2"}, want: []string{"f-s2", "f-s3"}, auditSite: "s2,s3", perSite: "(s2: 1 of 1, s3: 1 of 1)"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := &sitesBackend{fakeBackend: *okBackend()}
			f := newAccessFixture(t, b, "")
			users := access.NewUsers(f.st, access.Params{Memory: 64, Time: 1, Threads: 1, KeyLen: 32})
			if err := users.Add(t.Context(), "op", access.Operator, "pw-op-0123456789", tc.sites); err != nil {
				t.Fatal(err)
			}
			q := url.Values{"site": tc.ask}
			lq := url.Values{"site": tc.ask, "status": {"failed"}}

			code, body := f.call(t, http.MethodGet, "/admin/messages?"+lq.Encode(), "op", "pw-op-0123456789")
			var listed []messageView
			if err := json.Unmarshal([]byte(body), &listed); err != nil || code != http.StatusOK {
				t.Fatalf("GET /admin/messages: %d %s (%v)", code, body, err)
			}
			var ids []string
			for _, m := range listed {
				ids = append(ids, m.ID)
			}
			slices.Sort(ids)
			if want := tc.want; !slices.Equal(ids, want) && !(tc.refused && len(ids) == 0) {
				t.Errorf("GET /admin/messages?%s: %q, want %q", lq.Encode(), ids, want)
			}

			code, body = f.call(t, http.MethodPost, "/admin/messages/replay?"+q.Encode(), "op", "pw-op-0123456789")
			b.mu.Lock()
			replayed := slices.Sorted(slices.Values(b.replayed))
			b.mu.Unlock()
			if !slices.Equal(replayed, tc.want) {
				t.Errorf("POST /admin/messages/replay?%s replayed %q, want %q (answer %d %s)", q.Encode(), replayed, tc.want, code, body)
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
				if code != http.StatusForbidden || !strings.Contains(body, `"code":"site_scoped"`) || !strings.Contains(body, "not one of the sites") {
					t.Errorf("bulk replay naming a site outside the scope: %d %s; want 403 site_scoped naming it", code, body)
				}
				if !slices.Equal(outcomes, []string{audit.Refused, audit.Attempted}) {
					t.Errorf("audit of the refused bulk replay: %q (newest first), want refused, attempted", outcomes)
				}
				return
			}
			var reply bulkReplay
			if err := json.Unmarshal([]byte(body), &reply); err != nil || code != http.StatusOK {
				t.Fatalf("POST /admin/messages/replay: %d %s (%v)", code, body, err)
			}
			if reply.Selected != len(tc.want) || reply.Replayed != len(tc.want) || len(reply.Sites) != strings.Count(tc.auditSite, ",")+1 {
				t.Errorf("POST /admin/messages/replay answered %s; want %d selected and replayed at %s", body, len(tc.want), tc.auditSite)
			}
			if !slices.Equal(outcomes, []string{audit.OK, audit.Attempted}) {
				t.Fatalf("audit of the bulk replay: %q (newest first), want ok, attempted", outcomes)
			}
			if es[0].Site != tc.auditSite || !strings.Contains(es[0].Detail, tc.perSite) {
				t.Errorf("audit entry: site %q, detail %q; want the site %q and %q", es[0].Site, es[0].Detail, tc.auditSite, tc.perSite)
			}
		})
	}
}
