package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/medgate/medgate/host/internal/api"
	"github.com/medgate/medgate/host/internal/audit"
	"github.com/medgate/medgate/host/internal/scheduler"
	"github.com/medgate/medgate/host/internal/store"
)

// jobOutcome is what a job of jobBackend does when triggered: it lasts
// took, reports summary and processed, and fails with err.
type jobOutcome struct {
	took      time.Duration
	summary   string
	processed int64
	err       error
}

// jobBackend plays the scheduler as the requirements describe a manual
// run: the trigger returns the run's own record (when it started, how
// long it took, what it reported and, after a failure, the retry) and
// its error, and the job's status is that run's.
type jobBackend struct {
	reloadBackend
	st   store.Store
	mu   sync.Mutex
	jobs map[string]jobOutcome
	stat map[string]scheduler.Status
}

func (b *jobBackend) Store() store.Store { return b.st }

func (b *jobBackend) Jobs() []scheduler.Status {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []scheduler.Status
	for _, s := range b.stat {
		out = append(out, s)
	}
	return out
}

func (b *jobBackend) TriggerJob(_ context.Context, id string) (scheduler.Run, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	o, ok := b.jobs[id]
	switch {
	case !ok:
		return scheduler.Run{Job: id}, fmt.Errorf("job %q: %w; list jobs with `medgate jobs`", id, scheduler.ErrUnknownJob)
	case o.err != nil && strings.Contains(o.err.Error(), "lease"):
		return scheduler.Run{Job: id}, fmt.Errorf("job %s: %w", id, scheduler.ErrNotOwner)
	}
	started := time.Now()
	s := scheduler.Status{ID: id, Interval: "1h0m0s", LastRun: started, Took: o.took, Summary: o.summary, Processed: o.processed, Owner: true, Runs: b.stat[id].Runs + 1}
	s.NextRun = started.Add(time.Hour)
	if o.err != nil {
		s.LastErr, s.Failures, s.NextRun = o.err.Error(), b.stat[id].Failures+1, started.Add(time.Minute)
	}
	b.stat[id] = s
	return scheduler.Run{Job: id, StartedAt: started, Took: o.took, Summary: o.summary, Processed: o.processed, Failures: s.Failures, NextRun: s.NextRun}, o.err
}

// TestJobRunPrintsWhatTheJobDid: `medgate job run` prints what the run
// did (its summary, the records it processed, how long it took) and exits
// 0; a run that failed prints its error (personal data masked) with what
// to do next and exits 1, as does a job that did not run (unknown, held
// by another instance); -json prints the admin API's answer with the same
// fields and the same exit code.
func TestJobRunPrintsWhatTheJobDid(t *testing.T) {
	t.Setenv("MEDGATE_USER", "")
	cases := map[string]struct {
		job    string
		asJSON bool
		code   int
		stdout []string
		stderr []string
		json   map[string]any // fields of the -json answer
		leaks  []string
	}{
		"ran": {job: "tracecode/s1/stockin-sync", code: 0,
			stdout: []string{"job tracecode/s1/stockin-sync ran", "took 2.5s", "summary: 12 receipts downloaded, 12 published", "processed: 12"}},
		"ran, json": {job: "tracecode/s1/stockin-sync", asJSON: true, code: 0,
			json: map[string]any{"status": "ran", "job": "tracecode/s1/stockin-sync", "summary": "12 receipts downloaded, 12 published", "processed": float64(12), "tookMs": float64(2500)}},
		"failed": {job: "workinjury/s1/GYD008", code: 1,
			stderr: []string{"job workinjury/s1/GYD008 failed", "took 1.2s", "patient 138****5678 unknown", "medgate log", "GET /admin/exchanges?plugin=workinjury&site=s1", "tried again"},
			leaks:  []string{"13812345678"}},
		"failed, json": {job: "workinjury/s1/GYD008", asJSON: true, code: 1,
			json:  map[string]any{"code": "job_failed", "job": "workinjury/s1/GYD008", "tookMs": float64(1200), "failures": float64(1)},
			leaks: []string{"13812345678"}},
		"unknown job":               {job: "tracecode/s1/nope", code: 1, stderr: []string{"404", "medgate jobs"}},
		"another instance holds it": {job: "tracecode/s1/elsewhere", code: 1, stderr: []string{"409", "holds the lease"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			st, err := store.OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "audit.db"))
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			b := &jobBackend{st: st, stat: map[string]scheduler.Status{}, jobs: map[string]jobOutcome{
				"tracecode/s1/stockin-sync": {took: 2500 * time.Millisecond, summary: "12 receipts downloaded, 12 published", processed: 12},
				"workinjury/s1/GYD008":      {took: 1200 * time.Millisecond, err: fmt.Errorf("job workinjury/s1/GYD008: GYD008: patient 13812345678 unknown")},
				"tracecode/s1/elsewhere":    {err: fmt.Errorf("lease")},
			}}
			log := slog.New(slog.NewTextHandler(io.Discard, nil))
			srv := httptest.NewServer(api.Handler(b, api.Options{IngressTimeout: time.Second, MaxBodyBytes: 1 << 10,
				Registry: prometheus.NewRegistry(), Logger: log, Audit: audit.New(st, log)}))
			defer srv.Close()
			cfg := filepath.Join(t.TempDir(), "medgate.yaml")
			if err := os.WriteFile(cfg, []byte("http: {listen: 127.0.0.1:1}\nsites:\n  - code: s1\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			args := []string{"job", "run", "-config", cfg, "-addr", strings.TrimPrefix(srv.URL, "http://")}
			if tc.asJSON {
				args = append(args, "-json")
			}
			args = append(args, tc.job)
			var out, errOut bytes.Buffer
			code := Main(args, &out, &errOut)
			t.Logf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out.String(), errOut.String())
			if code != tc.code {
				t.Fatalf("medgate %s: exit %d, want %d", strings.Join(args, " "), code, tc.code)
			}
			for _, w := range tc.stdout {
				if !strings.Contains(out.String(), w) {
					t.Errorf("stdout lacks %q", w)
				}
			}
			for _, w := range tc.stderr {
				if !strings.Contains(errOut.String(), w) {
					t.Errorf("stderr lacks %q", w)
				}
			}
			for _, l := range tc.leaks {
				if strings.Contains(out.String()+errOut.String(), l) {
					t.Errorf("printed %q unmasked", l)
				}
			}
			if tc.json != nil {
				var got map[string]any
				if err := json.Unmarshal(out.Bytes(), &got); err != nil {
					t.Fatalf("-json: stdout is not one JSON object: %v", err)
				}
				for k, want := range tc.json {
					if got[k] != want {
						t.Errorf("-json: %q is %v, want %v", k, got[k], want)
					}
				}
				if _, ok := got["startedAt"].(string); !ok {
					t.Errorf("-json: no startedAt: %v", got)
				} else if _, err := time.Parse(time.RFC3339, got["startedAt"].(string)); err != nil {
					t.Errorf("-json: startedAt is not RFC 3339: %v", err)
				}
			}
		})
	}
}
