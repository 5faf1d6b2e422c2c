package console

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/medgate/medgate/host/internal/ingress"
)

// TestReplayAndJobRunOnOutage: a replay or a run-now the store's outage
// stopped says so on the page it returns to — the store named, a
// temporary outage, try again — as every other page does, never with the
// error's text, which names the database's host, address and account.
func TestReplayAndJobRunOnOutage(t *testing.T) {
	t.Parallel()
	refused := fmt.Errorf(`store: postgres: failed to connect to "host=pg-primary.hospital.internal user=medgate database=medgate": %w`,
		&net.OpError{Op: "dial", Net: "tcp", Addr: &net.TCPAddr{IP: net.ParseIP("10.20.0.9"), Port: 5432}, Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)})
	starting := fmt.Errorf(`store: postgres: connect to pg-primary.hospital.internal:5432 user=medgate: %w`,
		&pgconn.PgError{Severity: "FATAL", Code: "57P03", Message: "the database system is starting up"})
	leaks := []string{"pg-primary", "10.20.0.9", "user=medgate", "SQLSTATE"}
	tests := map[string]struct {
		path string
		form url.Values
		fail func(f *fixture)
	}{
		"replay": {path: "/console/messages/replay", form: url.Values{"id": {"his-fail-1"}},
			// As the ingress marks a store's error of a replay.
			fail: func(f *fixture) { f.b.replayErr = &ingress.DependencyError{Dependency: ingress.Store, Err: refused} }},
		"bulk replay": {path: "/console/messages/replay-all", form: url.Values{"type": {"workinjury."}},
			fail: func(f *fixture) { f.b.replayErr = &ingress.DependencyError{Dependency: ingress.Store, Err: refused} }},
		"job run": {path: "/console/jobs/run", form: url.Values{"job": {"tracecode/s1/stockin-sync"}},
			fail: func(f *fixture) {
				f.b.failJob = fmt.Errorf("job %q: take its lease: %w", "tracecode/s1/stockin-sync", starting)
			}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f, c := traceFixture(t)
			tc.fail(f)
			c.get("/console/messages?status=failed")
			tc.form.Set("csrf", c.csrf)
			r := c.post(tc.path, tc.form)
			loc := r.h.Get("Location")
			if r.code != http.StatusSeeOther || loc == "" {
				t.Fatalf("POST %s: HTTP %d, want 303\n%s", tc.path, r.code, r.body)
			}
			// A bulk replay's page follows it until it has finished.
			deadline := time.Now().Add(10 * time.Second)
			for r = c.get(loc); r.h.Get("Refresh") != ""; r = c.get(loc) {
				if time.Now().After(deadline) {
					t.Fatalf("the bulk replay did not finish:\n%s", r.body)
				}
			}
			for _, l := range leaks {
				if strings.Contains(r.body, l) {
					t.Errorf("the page shows %q", l)
				}
			}
			for _, w := range []string{"is unavailable", "temporary outage", "try again in a few seconds"} {
				if !strings.Contains(r.body, w) {
					t.Errorf("the page does not say %q", w)
				}
			}
		})
	}
}

// TestMessageNotFinishedOnMarkedStoreOutage: a console message the
// ingress could not finish because of the store (its error marked so,
// ingress.DependencyError, as the daemon's ingress marks it) is told as a
// passing outage of the store, without the error's host and account, even
// when the error is no database driver's own (a refused connection).
func TestMessageNotFinishedOnMarkedStoreOutage(t *testing.T) {
	t.Parallel()
	refused := fmt.Errorf(`store: postgres: failed to connect to "host=pg-primary.hospital.internal user=medgate database=medgate": %w`,
		&net.OpError{Op: "dial", Net: "tcp", Addr: &net.TCPAddr{IP: net.ParseIP("10.20.0.9"), Port: 5432}, Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)})
	tests := map[string]struct {
		err         error
		want, leaks []string
	}{
		"store marked": {err: &ingress.DependencyError{Dependency: ingress.Store, Err: refused},
			want: []string{"the store is unavailable", "temporary outage"}, leaks: []string{"pg-primary", "10.20.0.9", "user=medgate"}},
		"Kafka marked": {err: &ingress.DependencyError{Dependency: ingress.Kafka, Err: fmt.Errorf("queue message: %w", refused)},
			want: []string{"temporary outage"}, leaks: []string{"pg-primary", "10.20.0.9", "user=medgate"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, testToken)
			f.b.failWith = tc.err
			c := f.client()
			c.login("boss")
			r := c.get("/console/worklists?plugin=ecard&list=recent-cards")
			for _, w := range tc.want {
				if !strings.Contains(r.body, w) {
					t.Errorf("the work list does not say %q", w)
				}
			}
			for _, l := range tc.leaks {
				if strings.Contains(r.body, l) {
					t.Errorf("the work list shows %q", l)
				}
			}
		})
	}
}
