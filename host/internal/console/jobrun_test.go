package console

import (
	"errors"
	"html"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/medgate/medgate/host/internal/scheduler"
)

// TestRunJobShowsWhatTheRunDid: the jobs page's "run now" message shows
// what the run did, as `medgate job run` prints it: its summary (masked,
// it is the plugin's words), the records it processed and how long it
// took, whether it succeeded or failed.
func TestRunJobShowsWhatTheRunDid(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		run  scheduler.Run
		err  error
		want []string
		leak string
	}{
		"ran": {run: scheduler.Run{Job: "tracecode/s1/stockin-sync", StartedAt: time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC), Took: 2500 * time.Millisecond,
			Summary: "12 receipts downloaded, 12 published", Processed: 12},
			want: []string{"job ran", "summary): 12 receipts downloaded, 12 published", "took): 2.5s", "processed): 12"}},
		"failed": {run: scheduler.Run{Job: "tracecode/s1/stockin-sync", StartedAt: time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC), Took: 1200 * time.Millisecond,
			Summary: "patient 13812345678: 1 receipt downloaded", Processed: 1, Failures: 2},
			err:  errors.New("job tracecode/s1/stockin-sync: platform down"),
			want: []string{"job failed", "platform down", "summary): patient 138****5678: 1 receipt downloaded", "took): 1.2s", "processed): 1"}, leak: "13812345678"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, testToken)
			f.b.mu.Lock()
			f.b.jobRun, f.b.failJob = tc.run, tc.err
			f.b.mu.Unlock()
			c := f.client()
			c.login("op01")
			body := html.UnescapeString(c.action("/console/jobs/run", url.Values{"job": {"tracecode/s1/stockin-sync"}}).body)
			for _, w := range tc.want {
				if !strings.Contains(body, w) {
					t.Errorf("the run's message lacks %q", w)
				}
			}
			if tc.leak != "" && strings.Contains(body, tc.leak) {
				t.Errorf("the run's message shows %q unmasked", tc.leak)
			}
			if t.Failed() {
				t.Logf("page:\n%s", body)
			}
		})
	}
}
