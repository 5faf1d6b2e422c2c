package console

import (
	"html"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/medgate/medgate/host/internal/scheduler"
)

// TestJobsPageShowsRunsInProgressAndRetries: the jobs page says that a
// job is running now and since when, and that a run lasting longer than
// three intervals (the default bound) may be hung with what to do; that a
// job failed several times in a row and its next run is a retry. Before,
// it showed only the last finished run's outcome: a download hung for
// hours read "成功 ok", and a job failing every minute read as one failure.
func TestJobsPageShowsRunsInProgressAndRetries(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		job    func(now time.Time) scheduler.Status
		want   []string
		wantNo []string
	}{
		"running, within its interval": {
			job: func(now time.Time) scheduler.Status {
				return scheduler.Status{Interval: "30m0s", LastRun: now.Add(-40 * time.Minute), RunningSince: now.Add(-10 * time.Minute), NextRun: now.Add(20 * time.Minute), Owner: true, Runs: 2}
			},
			want: []string{"运行中 running since", "10m0s", "上次 previous run"}, wantNo: []string{"可能卡住"}},
		"running for hours: may be hung": {
			job: func(now time.Time) scheduler.Status {
				return scheduler.Status{Interval: "30m0s", LastRun: now.Add(-3 * time.Hour), RunningSince: now.Add(-2 * time.Hour), NextRun: now.Add(-90 * time.Minute), Owner: true, Runs: 5}
			},
			want: []string{"运行中 running since", "2h0m0s", "可能卡住 may be hung", "restart the plugin", "上次 previous run"}},
		"failing in a row": {
			job: func(now time.Time) scheduler.Status {
				return scheduler.Status{Interval: "30m0s", LastRun: now.Add(-2 * time.Minute), LastErr: "GYD001: connection refused", Failures: 3, NextRun: now.Add(2 * time.Minute), Owner: true, Runs: 9}
			},
			want: []string{"失败 failed", "GYD001: connection refused", "3 times in a row", "retried sooner"}, wantNo: []string{"运行中 running since"}},
		"ok, idle": {
			job: func(now time.Time) scheduler.Status {
				return scheduler.Status{Interval: "30m0s", LastRun: now.Add(-2 * time.Minute), NextRun: now.Add(28 * time.Minute), Owner: true, Runs: 9, Summary: "12 filings"}
			},
			want: []string{"成功 ok"}, wantNo: []string{"运行中 running since", "in a row"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, testToken)
			j := tc.job(f.clock.t)
			j.ID = "workinjury/s1/GYD001"
			f.b.jobs = []scheduler.Status{j}
			c := f.client()
			c.login("op01")
			r := c.get("/console/jobs")
			row := html.UnescapeString(regexp.MustCompile(`(?s)<tr data-job="workinjury/s1/GYD001">.*?</tr>`).FindString(r.body))
			if r.code != 200 || row == "" {
				t.Fatalf("jobs page: %d, no row of the job\n%.2000s", r.code, r.body)
			}
			for _, w := range tc.want {
				if !strings.Contains(row, w) {
					t.Errorf("the job's row lacks %q:\n%s", w, row)
				}
			}
			for _, w := range tc.wantNo {
				if strings.Contains(row, w) {
					t.Errorf("the job's row shows %q:\n%s", w, row)
				}
			}
		})
	}
}
