package api

import (
	"bytes"
	"context"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/medgate/medgate/host/internal/ingress"
	"github.com/medgate/medgate/host/internal/message"
	"github.com/medgate/medgate/host/internal/pipeline"
	"github.com/medgate/medgate/host/internal/scheduler"
	"github.com/medgate/medgate/host/internal/store"
)

type fakeBackend struct {
	reply *message.Reply
	err   error
	// down, when set, is Process's error at once: Kafka or the store
	// unavailable.
	down  error
	ready map[string]string
	job   error
	jobs  []scheduler.Status
}

func (f *fakeBackend) Process(ctx context.Context, _ pipeline.Input) (*message.Reply, error) {
	if f.down != nil {
		return nil, f.down
	}
	if f.err != nil {
		<-ctx.Done()
		return nil, f.err
	}
	return f.reply, nil
}
func (f *fakeBackend) Store() store.Store                      { return nil }
func (f *fakeBackend) Ready(context.Context) map[string]string { return f.ready }
func (f *fakeBackend) Reload(context.Context) error            { return errors.New("sites[0]: bad") }
func (f *fakeBackend) Plugins() any                            { return []string{"ledger"} }
func (f *fakeBackend) Jobs() []scheduler.Status                { return f.jobs }
func (f *fakeBackend) TriggerJob(_ context.Context, id string) (scheduler.Run, error) {
	return scheduler.Run{Job: id}, f.job
}
func (f *fakeBackend) Replay(_ context.Context, id string) error {
	if id == "done" {
		return store.ErrConflict
	}
	return nil
}

func serve(b Backend, admin string) *httptest.Server {
	h := Handler(b, Options{IngressTimeout: 50 * time.Millisecond, AdminToken: admin, MaxBodyBytes: 1 << 10,
		Registry: prometheus.NewRegistry(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Audit: testAudit(nil)})
	return httptest.NewServer(h)
}

func TestIngressStatusCodes(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		b    *fakeBackend
		code int
		body string
	}{
		"ok":       {b: &fakeBackend{reply: &message.Reply{Status: "ok"}}, code: 200},
		"invalid":  {b: &fakeBackend{reply: &message.Reply{Status: "invalid"}}, code: 422},
		"rejected": {b: &fakeBackend{reply: &message.Reply{Status: "rejected"}}, code: 409},
		"failed":   {b: &fakeBackend{reply: &message.Reply{Status: "failed"}}, code: 502},
		"timeout":  {b: &fakeBackend{err: pipeline.ErrStopped}, code: 504, body: "send the same message (same id) again"},
		// A status this version does not know (a newer pipeline's) is
		// answered, not a panic of the HTTP server (WriteHeader(0)).
		"unknown": {b: &fakeBackend{reply: &message.Reply{Status: "deferred"}}, code: 500, body: `"status":"deferred"`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv := serve(tc.b, "")
			defer srv.Close()
			resp, err := http.Post(srv.URL+"/v1/messages", "application/json", strings.NewReader(`{}`))
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.code || !strings.Contains(string(body), tc.body) {
				t.Fatalf("HTTP %d %s, want %d containing %q", resp.StatusCode, body, tc.code, tc.body)
			}
		})
	}
}

func TestAdminNeedsToken(t *testing.T) {
	t.Parallel()
	srv := serve(&fakeBackend{ready: map[string]string{"store": "ok", "plugin.x": "down"}, job: scheduler.ErrNotOwner}, "tok")
	defer srv.Close()
	do := func(method, path, token string) (int, string) {
		req, _ := http.NewRequest(method, srv.URL+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	cases := []struct {
		method, path, token string
		code                int
		body                string
	}{
		{"GET", "/admin/plugins", "", 401, "Authorization: Bearer"},
		{"GET", "/admin/plugins", "wrong", 401, "unauthorized"},
		{"GET", "/admin/plugins", "tok", 200, "ledger"},
		{"POST", "/admin/reload", "tok", 422, "previous one stays in force"},
		{"POST", "/admin/jobs/p/s/j/run", "tok", 409, "not_owner"},
		{"GET", "/readyz", "", 503, "not ready"},
		{"GET", "/readyz", "tok", 503, "down"},
		{"GET", "/healthz", "", 200, "ok"},
		{"POST", "/admin/messages/m1/replay", "tok", 202, "replayed"},
		{"POST", "/admin/messages/done/replay", "tok", 409, "not_replayable"},
	}
	for _, c := range cases {
		code, body := do(c.method, c.path, c.token)
		if code != c.code || !strings.Contains(body, c.body) {
			t.Errorf("%s %s (token %q): %d %s, want %d containing %q", c.method, c.path, c.token, code, body, c.code, c.body)
		}
	}
}

// TestRetryAfterOnOutage: every 503 medgate sends for a transient outage
// (Kafka or the store unavailable, a component not ready) says when to
// ask again (Retry-After, the same few seconds everywhere), so clients
// and load balancers neither hammer medgate nor give up; other answers,
// a fault of medgate's among them, carry none.
func TestRetryAfterOnOutage(t *testing.T) {
	t.Parallel()
	want := strconv.Itoa(outageRetryAfter)
	cases := map[string]struct {
		b          *fakeBackend
		method     string
		path       string
		code       int
		retryAfter string
	}{
		"ingress, Kafka down": {b: &fakeBackend{down: fmt.Errorf(`queue message "m1" on requests: %w`, &ingress.DependencyError{Dependency: ingress.Kafka, Err: sarama.ErrOutOfBrokers})},
			method: "POST", path: "/v1/messages", code: 503, retryAfter: want},
		"ingress, store down": {b: &fakeBackend{down: fmt.Errorf(`look up message "m1": %w`, &ingress.DependencyError{Dependency: ingress.Store, Err: driver.ErrBadConn})},
			method: "POST", path: "/v1/messages", code: 503, retryAfter: want},
		// A fault of medgate: sending it again will not help.
		"ingress, fault": {b: &fakeBackend{down: errors.New(`stored reply of "m1" is unreadable: invalid character 'x'`)},
			method: "POST", path: "/v1/messages", code: 500},
		"readyz, Kafka down": {b: &fakeBackend{ready: map[string]string{"store": "ok", "kafka": "the consumer has not joined its group yet"}},
			method: "GET", path: "/readyz", code: 503, retryAfter: want},
		"readyz, store down": {b: &fakeBackend{ready: map[string]string{"store": "dial tcp 127.0.0.1:5432: connection refused", "kafka": "ok"}},
			method: "GET", path: "/readyz", code: 503, retryAfter: want},
		"readyz, ready":    {b: &fakeBackend{ready: map[string]string{"store": "ok", "kafka": "ok"}}, method: "GET", path: "/readyz", code: 200},
		"ingress, ok":      {b: &fakeBackend{reply: &message.Reply{Status: "ok"}}, method: "POST", path: "/v1/messages", code: 200},
		"ingress, timeout": {b: &fakeBackend{err: pipeline.ErrStopped}, method: "POST", path: "/v1/messages", code: 504},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv := serve(tc.b, "")
			defer srv.Close()
			req, err := http.NewRequest(tc.method, srv.URL+tc.path, strings.NewReader(`{}`))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.code || resp.Header.Get("Retry-After") != tc.retryAfter {
				t.Fatalf("HTTP %d, Retry-After %q (%s); want %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"), body, tc.code, tc.retryAfter)
			}
		})
	}
}

// reportingBackend is a Backend whose reload reports the changed settings
// it did not apply (ReloadReporter).
type reportingBackend struct {
	fakeBackend
	notApplied []string
}

func (b *reportingBackend) ReloadReport(context.Context) ([]string, error) { return b.notApplied, nil }
func (b *reportingBackend) Reload(context.Context) error                   { return nil }

// TestReloadReplyNamesWhatNeedsARestart: a successful reload's reply lists
// the keys of the changed settings it did not apply and says they need a
// restart; a reload that applied everything, or a backend that reports
// nothing, answers as before ({"status":"reloaded"}), so existing clients
// read the same reply. The reply used to carry only the status, so an
// admin who changed store.path was told "reloaded" and believed it.
func TestReloadReplyNamesWhatNeedsARestart(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		b    Backend
		want ReloadReply
	}{
		"not applied": {b: &reportingBackend{notApplied: []string{"store.path", "http.listen"}},
			want: ReloadReply{Status: "reloaded", NotApplied: []string{"store.path", "http.listen"}}},
		"all applied":             {b: &reportingBackend{}, want: ReloadReply{Status: "reloaded"}},
		"backend reports no keys": {b: &outcomeBackend{}, want: ReloadReply{Status: "reloaded"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv := serve(tc.b, "tok")
			defer srv.Close()
			req, _ := http.NewRequest("POST", srv.URL+"/admin/reload", nil)
			req.Header.Set("Authorization", "Bearer tok")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			raw, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("HTTP %d %s; want 200", resp.StatusCode, raw)
			}
			var got ReloadReply
			if err := json.Unmarshal(raw, &got); err != nil {
				t.Fatalf("reply %s: %v", raw, err)
			}
			if len(tc.want.NotApplied) == 0 {
				if string(bytes.TrimSpace(raw)) != `{"status":"reloaded"}` {
					t.Errorf("reply %s; want {\"status\":\"reloaded\"} as before", raw)
				}
				return
			}
			if !slices.Equal(got.NotApplied, tc.want.NotApplied) || got.Status != tc.want.Status {
				t.Errorf("reply %s; want status %s, notApplied %q", raw, tc.want.Status, tc.want.NotApplied)
			}
			for _, s := range append([]string{"restart"}, tc.want.NotApplied...) {
				if !strings.Contains(got.Message, s) {
					t.Errorf("the reply's message %q does not say %q", got.Message, s)
				}
			}
		})
	}
}
