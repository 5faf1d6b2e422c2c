package console

import (
	"fmt"
	"html"
	"net/url"
	"strings"
	"testing"

	"github.com/medgate/medgate/host/internal/scheduler"
)

// TestJobErrorsMasked: a job's error and summary are the plugin's words and
// may quote a patient's ID or mobile number; the overview, the jobs page
// and the flash of a job run now show them masked, as the log does.
func TestJobErrorsMasked(t *testing.T) {
	t.Parallel()
	f := newFixture(t, testToken)
	f.b.jobs = []scheduler.Status{
		{ID: "tracecode/s1/stockin-sync", Interval: "1h0m0s", LastRun: f.clock.now(), LastErr: "patient 11010519491231002X refused", Runs: 1},
		{ID: "tracecode/s1/report", Interval: "1h0m0s", LastRun: f.clock.now(), Summary: "sent 13812345678's 3 records", Runs: 1},
	}
	c := f.client()
	c.login("op01")
	for _, p := range []string{"/console/", "/console/jobs"} {
		body := html.UnescapeString(c.get(p).body)
		if strings.Contains(body, "11010519491231002X") || strings.Contains(body, "13812345678") {
			t.Errorf("%s shows a job's ID or mobile number unmasked", p)
		}
		if !strings.Contains(body, "110***********002X") {
			t.Errorf("%s lacks the job's masked error", p)
		}
	}
	if body := html.UnescapeString(c.get("/console/jobs").body); !strings.Contains(body, "sent 138****5678's 3 records") {
		t.Errorf("the jobs page lacks the job's masked summary")
	}
	f.b.mu.Lock()
	f.b.failJob = fmt.Errorf("job tracecode/s1/stockin-sync: patient 11010519491231002X refused")
	f.b.mu.Unlock()
	body := html.UnescapeString(c.action("/console/jobs/run", url.Values{"job": {"tracecode/s1/stockin-sync"}}).body)
	if strings.Contains(body, "11010519491231002X") || !strings.Contains(body, "110***********002X") {
		t.Errorf("the job run's flash does not show the error masked:\n%s", body)
	}
}
