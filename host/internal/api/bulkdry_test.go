package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/medgate/medgate/host/internal/access"
	"github.com/medgate/medgate/host/internal/store"
)

// pagedStore holds msgs and searches them as the store does (sites, type
// prefix, outcome, received time [From, To)), a page of q.Limit at a
// time, so that a bulk replay reads several pages.
type pagedStore struct {
	store.Store // only SearchMessages is called
	msgs        []store.Message
}

func (s pagedStore) SearchMessages(_ context.Context, q store.MessageQuery) ([]store.Message, string, error) {
	start := 0
	if q.After != "" {
		n, err := strconv.Atoi(q.After)
		if err != nil {
			return nil, "", fmt.Errorf("cursor %q", q.After)
		}
		start = n
	}
	limit := q.Limit
	if limit == 0 {
		limit = 100
	}
	var out []store.Message
	for i := start; i < len(s.msgs); i++ {
		m := s.msgs[i]
		if (len(q.Sites) == 0 || slices.Contains(q.Sites, m.Site)) && (q.Status == "" || m.Outcome == q.Status) &&
			strings.HasPrefix(m.Type, q.TypePrefix) && strings.HasPrefix(m.ID, q.IDPrefix) &&
			(q.From.IsZero() || !m.ReceivedAt.Before(q.From)) && (q.To.IsZero() || m.ReceivedAt.Before(q.To)) {
			out = append(out, m)
			if len(out) == limit {
				return out, strconv.Itoa(i + 1), nil
			}
		}
	}
	return out, "", nil
}

// pagedBackend serves a pagedStore and records the messages replayed.
type pagedBackend struct {
	fakeBackend
	st       pagedStore
	mu       sync.Mutex
	replayed []string
}

func (b *pagedBackend) Store() store.Store { return b.st }

func (b *pagedBackend) Replay(_ context.Context, id string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.replayed = append(b.replayed, id)
	return nil
}

func (b *pagedBackend) took() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := slices.Sorted(slices.Values(b.replayed))
	b.replayed = nil
	return out
}

// failedAt returns n failed messages (and as many ok ones) of type typ at
// each site, received a minute apart from t0.
func failedAt(t0 time.Time, n int, typ string, sites ...string) []store.Message {
	var ms []store.Message
	for _, site := range sites {
		for i := range n {
			at := t0.Add(time.Duration(i) * time.Minute)
			ms = append(ms,
				store.Message{ID: fmt.Sprintf("%s-%s-%04d", typ, site, i), Site: site, Type: typ, Status: store.StatusDone, Outcome: "failed", ReceivedAt: at},
				store.Message{ID: fmt.Sprintf("ok-%s-%s-%04d", typ, site, i), Site: site, Type: typ, Status: store.StatusDone, Outcome: "ok", ReceivedAt: at})
		}
	}
	return ms
}

// TestBulkReplayDryRun: POST /admin/messages/replay?dryRun=true selects
// the failed messages a bulk replay with the same query would (sites and
// the caller's scope, type, received times, at most 1000, more said),
// answers them, per site and each, replays nothing and writes nothing to
// the audit log (it changes nothing, like GET /admin/messages); a site
// outside the caller's scope is refused 403 site_scoped as for the
// replay itself, and a dryRun that is not a boolean 400.
func TestBulkReplayDryRun(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC)
	few := append(failedAt(t0, 2, "ecard.scan", "s1", "s2", "s3"), failedAt(t0, 2, "selfpay.4201A", "s1", "s2", "s3")...)
	tests := map[string]struct {
		msgs     []store.Message
		scope    []string // the operator's sites (nil: every site)
		query    url.Values
		code     int
		selected int
		sites    map[string]int // selected per site
		more     bool
		has      []string // in the answer's body
		audited  bool     // refused as a replay (not a dry run): attempted, then refused
	}{
		"scoped, no site named": {msgs: few, scope: []string{"s1", "s2"}, query: url.Values{},
			code: http.StatusOK, selected: 8, sites: map[string]int{"s1": 4, "s2": 4}},
		"a type and a time range": {msgs: few, query: url.Values{"type": {"ecard."}, "from": {t0.Add(time.Minute).Format(time.RFC3339)}, "to": {t0.Add(time.Hour).Format(time.RFC3339)}},
			code: http.StatusOK, selected: 3, sites: map[string]int{"s1": 1, "s2": 1, "s3": 1}},
		"two sites named": {msgs: few, scope: []string{"s1", "s2", "s3"}, query: url.Values{"site": {"s3,s1"}},
			code: http.StatusOK, selected: 8, sites: map[string]int{"s1": 4, "s3": 4}},
		"nothing selected": {msgs: few, query: url.Values{"type": {"tracecode."}},
			code: http.StatusOK, selected: 0, sites: map[string]int{}},
		"more than one replay takes": {msgs: failedAt(t0, 1200, "ecard.scan", "s1"), scope: []string{"s1"}, query: url.Values{},
			code: http.StatusOK, selected: maxBulkReplay, sites: map[string]int{"s1": maxBulkReplay}, more: true},
		"a site outside the scope": {msgs: few, scope: []string{"s1"}, query: url.Values{"site": {"s1", "s2"}},
			code: http.StatusForbidden, has: []string{`"code":"site_scoped"`, "site s2 is not one of the sites op sees (s1)", "nothing was replayed"}},
		"dryRun not a boolean": {msgs: few, query: url.Values{"dryRun": {"perhaps"}},
			code: http.StatusBadRequest, audited: true, has: []string{"dryRun", "true or false", "nothing was replayed"}},
		"dryRun misspelt": {msgs: few, query: url.Values{"dryrun": {"true"}},
			code: http.StatusBadRequest, audited: true, has: []string{`\"dryrun\" is not a parameter`, "dryRun", "nothing was replayed"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := &pagedBackend{fakeBackend: *okBackend(), st: pagedStore{msgs: tc.msgs}}
			f := newAccessFixture(t, b, "")
			users := access.NewUsers(f.st, access.Params{Memory: 64, Time: 1, Threads: 1, KeyLen: 32})
			if err := users.Add(t.Context(), "op", access.Operator, "pw-op-0123456789", tc.scope); err != nil {
				t.Fatal(err)
			}
			q := url.Values{}
			for k, v := range tc.query {
				q[k] = v
			}
			if !q.Has("dryRun") && !q.Has("dryrun") {
				q.Set("dryRun", "true")
			}
			code, body := f.call(t, http.MethodPost, "/admin/messages/replay?"+q.Encode(), "op", "pw-op-0123456789")
			if code != tc.code {
				t.Fatalf("POST /admin/messages/replay?%s: %d %s, want %d", q.Encode(), code, body, tc.code)
			}
			for _, w := range tc.has {
				if !strings.Contains(body, w) {
					t.Errorf("answer %s lacks %q", body, w)
				}
			}
			if got := b.took(); len(got) > 0 {
				t.Errorf("a dry run replayed %q", got)
			}
			es, err := f.st.ListAudit(t.Context(), store.AuditFilter{Actor: "op"})
			if err != nil {
				t.Fatal(err)
			}
			var outcomes []string
			for _, e := range es {
				outcomes = append(outcomes, e.Action+" "+e.Outcome)
			}
			switch {
			case tc.audited && !slices.Equal(outcomes, []string{"message.replay.bulk refused", "message.replay.bulk attempted"}):
				t.Errorf("audit entries %q (newest first), want the refused replay's: refused, attempted", outcomes)
			case !tc.audited && len(es) > 0:
				t.Errorf("a dry run wrote audit entries %q (first: %s), want none: it changes nothing", outcomes, es[0].Detail)
			}
			if code != http.StatusOK {
				return
			}
			var ans struct {
				Status   string `json:"status"`
				DryRun   bool   `json:"dryRun"`
				Selected int    `json:"selected"`
				Replayed int    `json:"replayed"`
				More     bool   `json:"more"`
				Sites    map[string]struct {
					Selected int `json:"selected"`
					Replayed int `json:"replayed"`
				} `json:"sites"`
				Messages []struct {
					ID         string    `json:"id"`
					Site       string    `json:"site"`
					Type       string    `json:"type"`
					ReceivedAt time.Time `json:"receivedAt"`
				} `json:"messages"`
			}
			if err := json.Unmarshal([]byte(body), &ans); err != nil {
				t.Fatalf("answer %s: %v", body, err)
			}
			sites := map[string]int{}
			for site, tally := range ans.Sites {
				sites[site] = tally.Selected
				if tally.Replayed != 0 {
					t.Errorf("site %s: replayed %d in a dry run", site, tally.Replayed)
				}
			}
			if !ans.DryRun || ans.Status != "dry run" || ans.Selected != tc.selected || ans.Replayed != 0 || ans.More != tc.more || fmt.Sprint(sites) != fmt.Sprint(tc.sites) {
				t.Errorf("answer: dryRun %v, status %q, %d selected (%v), %d replayed, more %v; want a dry run of %d selected (%v), more %v",
					ans.DryRun, ans.Status, ans.Selected, sites, ans.Replayed, ans.More, tc.selected, tc.sites, tc.more)
			}
			var listed []string
			perSite := map[string]int{}
			for _, m := range ans.Messages {
				listed = append(listed, m.ID)
				perSite[m.Site]++
				if m.Type == "" || m.ReceivedAt.IsZero() {
					t.Errorf("message %+v listed without its type or received time", m)
				}
			}
			slices.Sort(listed)
			if len(listed) != tc.selected || fmt.Sprint(perSite) != fmt.Sprint(tc.sites) {
				t.Errorf("%d messages listed (%v per site), want the %d selected (%v)", len(listed), perSite, tc.selected, tc.sites)
			}

			// The same query without dryRun replays exactly what the dry
			// run listed.
			q.Del("dryRun")
			code, body = f.call(t, http.MethodPost, "/admin/messages/replay?"+q.Encode(), "op", "pw-op-0123456789")
			if code != http.StatusOK {
				t.Fatalf("POST /admin/messages/replay?%s: %d %s", q.Encode(), code, body)
			}
			if got := b.took(); !slices.Equal(got, listed) {
				t.Errorf("the replay took %d messages (%.60q…), the dry run listed %d (%.60q…)", len(got), got, len(listed), listed)
			}
		})
	}
}
