package console

import (
	"html"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/medgate/medgate/host/internal/store"
	"github.com/medgate/medgate/plugins/sdk"
)

// TestTimesShownInTheConsoleZone: every time the console shows is in its
// configured zone (Options.Location: console.timeZone), with the zone
// shown beside it, whatever the server's zone: a message's times, a work
// list's time cell, the overview's jobs, and the page says which zone;
// times typed into the search are read in that zone too.
func TestTimesShownInTheConsoleZone(t *testing.T) {
	t.Parallel()
	shanghai, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	// The fixture's clock: 2026-11-26 08:00 UTC; the work list's card was
	// registered at 12:00 UTC.
	tests := map[string]struct {
		loc  *time.Location
		path string
		want []string
		not  []string
	}{
		"message page, Shanghai": {loc: shanghai, path: "/console/message?id=his-42",
			want: []string{"2026-11-26 16:00:00 UTC+08:00", "Asia/Shanghai"}, not: []string{"2026-11-26 08:00:00"}},
		"message page, UTC": {loc: time.UTC, path: "/console/message?id=his-42",
			want: []string{"2026-11-26 08:00:00 UTC+00:00"}},
		"work list time cell, Shanghai": {loc: shanghai, path: "/console/worklists?plugin=ecard&list=recent-cards",
			want: []string{"2026-11-26 20:00:00 UTC+08:00"}, not: []string{"2026-11-26 12:00:00"}},
		"overview, Shanghai": {loc: shanghai, path: "/console/",
			want: []string{"2026-11-26 17:00:00 UTC+08:00", "Asia/Shanghai"}},
		"search from a time typed in Shanghai": {loc: shanghai, path: "/console/messages?from=2026-11-26T15:30&to=2026-11-26T16:30",
			want: []string{"tz-kept"}, not: []string{"tz-before", "tz-after"}},
		"search from a time typed in UTC": {loc: time.UTC, path: "/console/messages?from=2026-11-26T07:30&to=2026-11-26T08:30",
			want: []string{"tz-kept"}, not: []string{"tz-before", "tz-after"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, testToken, func(o *Options) { o.Location = tc.loc })
			// The recent cards' list shows when each card was registered.
			v := f.b.plugins[0].Views.WorkListViews[0]
			v.Columns = append(slices.Clone(v.Columns), sdk.Column{Field: "registeredAt", Title: "登记时间 registered"})
			f.b.plugins[0].Views.WorkListViews = []sdk.WorkListView{v}
			now := f.clock.t
			f.b.st.msgs = append(f.b.st.msgs,
				store.Message{ID: "tz-before", Site: "s1", Type: "ecard.scan", Status: store.StatusDone, Outcome: "ok", ReceivedAt: now.Add(-time.Hour)},
				store.Message{ID: "tz-kept", Site: "s1", Type: "ecard.scan", Status: store.StatusDone, Outcome: "ok", ReceivedAt: now.Add(time.Minute)},
				store.Message{ID: "tz-after", Site: "s1", Type: "ecard.scan", Status: store.StatusDone, Outcome: "ok", ReceivedAt: now.Add(time.Hour)})
			c := f.client()
			c.login("op01")
			r := c.get(tc.path)
			if r.code != http.StatusOK {
				t.Fatalf("GET %s: %d %s", tc.path, r.code, r.body)
			}
			body := html.UnescapeString(r.body)
			for _, w := range tc.want {
				if !strings.Contains(body, w) {
					t.Errorf("GET %s lacks %q", tc.path, w)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(body, n) {
					t.Errorf("GET %s shows %q", tc.path, n)
				}
			}
		})
	}
}
