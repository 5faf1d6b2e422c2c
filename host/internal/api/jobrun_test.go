package api

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/medgate/medgate/host/internal/scheduler"
)

// laterRunBackend plays a scheduler whose scheduled run of the job
// finishes right after the run the API asked for: the job's status then
// holds that later run, not the one asked for.
type laterRunBackend struct {
	fakeBackend
	own   scheduler.Run // the record of the run asked for
	err   error
	later scheduler.Status
}

func (b *laterRunBackend) Jobs() []scheduler.Status { return []scheduler.Status{b.later} }
func (b *laterRunBackend) TriggerJob(context.Context, string) (scheduler.Run, error) {
	return b.own, b.err
}

// TestJobRunAnswersItsOwnRun: POST /admin/jobs/…/run answers with the
// summary, records and duration of the run it asked for, even when a
// scheduled run of the same job finished in between and the job's status
// is that run's.
func TestJobRunAnswersItsOwnRun(t *testing.T) {
	t.Parallel()
	started := time.Now().Add(time.Second)
	later := scheduler.Status{ID: "p/s/j", LastRun: started.Add(3 * time.Second), Took: 7 * time.Second, Summary: "scheduled run: 3 filings downloaded", Processed: 3,
		LastErr: "GYD001: timeout", Failures: 4, NextRun: started.Add(time.Hour)}
	cases := map[string]struct {
		own  scheduler.Run
		err  error
		code int
		want JobRun
	}{
		"ran": {own: scheduler.Run{Job: "p/s/j", StartedAt: started, Took: 2500 * time.Millisecond, Summary: "12 filings downloaded", Processed: 12, NextRun: started.Add(30 * time.Minute)},
			code: 200, want: JobRun{Job: "p/s/j", StartedAt: started, Took: "2.5s", TookMS: 2500, Summary: "12 filings downloaded", Processed: 12}},
		"failed": {own: scheduler.Run{Job: "p/s/j", StartedAt: started, Took: 1200 * time.Millisecond, Summary: "1 filing downloaded", Processed: 1, Failures: 1, NextRun: started.Add(time.Minute)},
			err: errors.New("GYD001: platform down"), code: 502,
			want: JobRun{Job: "p/s/j", StartedAt: started, Took: "1.2s", TookMS: 1200, Summary: "1 filing downloaded", Processed: 1, Failures: 1, NextRun: started.Add(time.Minute)}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv := serve(&laterRunBackend{own: tc.own, err: tc.err, later: later}, "tok")
			defer srv.Close()
			req, _ := http.NewRequest("POST", srv.URL+"/admin/jobs/p/s/j/run", nil)
			req.Header.Set("Authorization", "Bearer tok")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			var got JobRun
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatalf("HTTP %d %s: %v", resp.StatusCode, body, err)
			}
			if resp.StatusCode != tc.code || got.Job != tc.want.Job || !got.StartedAt.Equal(tc.want.StartedAt) || got.Took != tc.want.Took || got.TookMS != tc.want.TookMS ||
				got.Summary != tc.want.Summary || got.Processed != tc.want.Processed || got.Failures != tc.want.Failures || !got.NextRun.Equal(tc.want.NextRun) {
				t.Fatalf("HTTP %d %s\nwant %d with %+v", resp.StatusCode, body, tc.code, tc.want)
			}
		})
	}
}
