package api

import (
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/medgate/medgate/host/internal/scheduler"
)

// TestJobsTookReadable: GET /admin/jobs (and so medgate jobs) gives how
// long a job's last run took as people read it ("66ms", "2.5s"), as POST
// /admin/jobs/…/run does, with the milliseconds in tookMs for scripts;
// a job that has not run has neither.
func TestJobsTookReadable(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		took   time.Duration
		want   string
		wantMS float64
	}{
		"milliseconds": {took: 66719522 * time.Nanosecond, want: "67ms", wantMS: 66},
		"seconds":      {took: 2500 * time.Millisecond, want: "2.5s", wantMS: 2500},
		"never ran":    {took: 0, want: "", wantMS: 0},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv := serve(&fakeBackend{jobs: []scheduler.Status{{ID: "p/s/j", Interval: "5m", Took: tc.took}}}, "tok")
			defer srv.Close()
			req, _ := http.NewRequest("GET", srv.URL+"/admin/jobs", nil)
			req.Header.Set("Authorization", "Bearer tok")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			var got []map[string]any
			if err := json.Unmarshal(body, &got); err != nil || len(got) != 1 {
				t.Fatalf("HTTP %d %s: %v", resp.StatusCode, body, err)
			}
			took, _ := got[0]["took"].(string)
			ms, _ := got[0]["tookMs"].(float64)
			if took != tc.want || ms != tc.wantMS || (tc.took == 0 && got[0]["took"] != nil) {
				t.Fatalf("took %v (%v), tookMs %v; want %q, %v", got[0]["took"], tc.took, got[0]["tookMs"], tc.want, tc.wantMS)
			}
		})
	}
}
