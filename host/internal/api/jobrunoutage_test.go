package api

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/medgate/medgate/host/internal/scheduler"
)

// TestJobRunOnStoreOutage: a run-now the store's outage stopped (its lease
// could not be taken) is 503 store_unavailable with Retry-After, naming
// the store and saying to send it again, as every admin route answers an
// outage; the answer never shows the error's text, which names the
// database's host and account. A plugin's failure stays 502 job_failed.
func TestJobRunOnStoreOutage(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		err   error
		code  int
		want  []string
		leaks []string
	}{
		"store down": {err: fmt.Errorf(`job "p/s/j": take its lease: store: postgres: connect to pg-primary.hospital.internal:5432 user=medgate: %w`,
			&pgconn.PgError{Severity: "FATAL", Code: "57P03", Message: "the database system is starting up"}),
			code: http.StatusServiceUnavailable, want: []string{"store_unavailable", "transient outage"}, leaks: []string{"pg-primary", "user=medgate", "SQLSTATE"}},
		"plugin failed": {err: fmt.Errorf("GYD001: platform down"), code: http.StatusBadGateway, want: []string{"job_failed", "GYD001: platform down"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv := serve(&laterRunBackend{own: scheduler.Run{Job: "p/s/j"}, err: tc.err}, "tok")
			defer srv.Close()
			req, _ := http.NewRequest("POST", srv.URL+"/admin/jobs/p/s/j/run", nil)
			req.Header.Set("Authorization", "Bearer tok")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			body := string(b)
			if resp.StatusCode != tc.code {
				t.Fatalf("HTTP %d, want %d: %s", resp.StatusCode, tc.code, body)
			}
			if tc.code == http.StatusServiceUnavailable && resp.Header.Get("Retry-After") == "" {
				t.Errorf("a 503 without Retry-After")
			}
			for _, w := range tc.want {
				if !strings.Contains(body, w) {
					t.Errorf("the answer lacks %q: %s", w, body)
				}
			}
			for _, l := range tc.leaks {
				if strings.Contains(body, l) {
					t.Errorf("the answer shows %q: %s", l, body)
				}
			}
		})
	}
}
