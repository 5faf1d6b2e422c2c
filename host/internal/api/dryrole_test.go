package api

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/medgate/medgate/host/internal/access"
	"github.com/medgate/medgate/host/internal/store"
)

// TestBulkReplayDryRunRoles: a bulk replay's dry run reads only, so a
// viewer may ask it, seeing what it may already search (its sites, not
// audited); the replay itself stays an operator's, and a viewer asking
// for it is refused 403 (audited refused) with nothing replayed. A user
// with sites asking about a site outside them is refused 403 site_scoped
// whatever its role, dry run or not.
func TestBulkReplayDryRunRoles(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC)
	msgs := failedAt(t0, 2, "ecard.scan", "s1", "s2")
	tests := map[string]struct {
		role     access.Role
		scope    []string
		query    url.Values
		code     int
		selected int      // in the answer (200)
		replayed []string // by the backend
		has      []string // in the answer's body
		audit    []string // the user's audit entries, newest first ("action outcome")
	}{
		"viewer, dry run": {role: access.Viewer, query: url.Values{"dryRun": {"true"}},
			code: http.StatusOK, selected: 4, has: []string{`"dryRun":true`, `"ecard.scan-s1-0000"`, `"ecard.scan-s2-0001"`}},
		"viewer of one site, dry run": {role: access.Viewer, scope: []string{"s1"}, query: url.Values{"dryRun": {"true"}},
			code: http.StatusOK, selected: 2, has: []string{`"ecard.scan-s1-0000"`, `"ecard.scan-s1-0001"`}},
		"viewer of one site, dry run of its site": {role: access.Viewer, scope: []string{"s1"}, query: url.Values{"dryRun": {"true"}, "site": {"s1"}},
			code: http.StatusOK, selected: 2},
		"viewer of one site, dry run of another": {role: access.Viewer, scope: []string{"s1"}, query: url.Values{"dryRun": {"true"}, "site": {"s2"}},
			code: http.StatusForbidden, has: []string{`"code":"site_scoped"`, "site s2 is not one of the sites"}},
		"viewer, replay": {role: access.Viewer, query: url.Values{},
			code: http.StatusForbidden, has: []string{`"code":"forbidden"`, "needs the role operator", "dryRun=true"}, audit: []string{"api.refused refused"}},
		"viewer of one site, replay of its site": {role: access.Viewer, scope: []string{"s1"}, query: url.Values{"site": {"s1"}},
			code: http.StatusForbidden, has: []string{`"code":"forbidden"`}, audit: []string{"api.refused refused"}},
		"viewer, dryRun not a boolean": {role: access.Viewer, query: url.Values{"dryRun": {"perhaps"}},
			code: http.StatusForbidden, has: []string{`"code":"forbidden"`}, audit: []string{"api.refused refused"}},
		"operator, dry run": {role: access.Operator, query: url.Values{"dryRun": {"true"}},
			code: http.StatusOK, selected: 4},
		"operator, replay": {role: access.Operator, query: url.Values{},
			code: http.StatusOK, selected: 4, replayed: []string{"ecard.scan-s1-0000", "ecard.scan-s1-0001", "ecard.scan-s2-0000", "ecard.scan-s2-0001"},
			audit: []string{"message.replay.bulk ok", "message.replay.bulk attempted"}},
		"operator of one site, replay of another": {role: access.Operator, scope: []string{"s1"}, query: url.Values{"site": {"s2"}},
			code: http.StatusForbidden, has: []string{`"code":"site_scoped"`}, audit: []string{"message.replay.bulk refused", "message.replay.bulk attempted"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := &pagedBackend{fakeBackend: *okBackend(), st: pagedStore{msgs: msgs}}
			f := newAccessFixture(t, b, "")
			users := access.NewUsers(f.st, access.Params{Memory: 64, Time: 1, Threads: 1, KeyLen: 32})
			if err := users.Add(t.Context(), "u1", tc.role, "pw-u1-0123456789", tc.scope); err != nil {
				t.Fatal(err)
			}
			path := "/admin/messages/replay?" + tc.query.Encode()
			code, body := f.call(t, http.MethodPost, path, "u1", "pw-u1-0123456789")
			if code != tc.code {
				t.Fatalf("POST %s as a %s: %d %s, want %d", path, tc.role, code, body, tc.code)
			}
			for _, w := range tc.has {
				if !strings.Contains(body, w) {
					t.Errorf("answer %s lacks %q", body, w)
				}
			}
			if got := b.took(); !slices.Equal(got, tc.replayed) {
				t.Errorf("replayed %q, want %q", got, tc.replayed)
			}
			if code == http.StatusOK {
				var ans struct{ Selected int }
				if err := json.Unmarshal([]byte(body), &ans); err != nil || ans.Selected != tc.selected {
					t.Errorf("answer %s: %d selected (%v), want %d", body, ans.Selected, err, tc.selected)
				}
			}
			es, err := f.st.ListAudit(t.Context(), store.AuditFilter{Actor: "u1"})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, e := range es {
				got = append(got, e.Action+" "+e.Outcome)
			}
			if !slices.Equal(got, tc.audit) {
				t.Errorf("audit entries %q, want %q", got, tc.audit)
			}
		})
	}
}
