package api

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/medgate/medgate/host/internal/message"
	"github.com/medgate/medgate/host/internal/pipeline"
	"github.com/medgate/medgate/host/internal/scheduler"
	"github.com/medgate/medgate/host/internal/store"
)

type fakeBackend struct {
	reply *message.Reply
	err   error
	ready map[string]string
	job   error
	jobs  []scheduler.Status
}

func (f *fakeBackend) Process(ctx context.Context, _ pipeline.Input) (*message.Reply, error) {
	if f.err != nil {
		<-ctx.Done()
		return nil, f.err
	}
	return f.reply, nil
}
func (f *fakeBackend) Store() store.Store                           { return nil }
func (f *fakeBackend) Ready(context.Context) map[string]string      { return f.ready }
func (f *fakeBackend) Reload(context.Context) error                 { return errors.New("sites[0]: bad") }
func (f *fakeBackend) Plugins() any                                 { return []string{"ledger"} }
func (f *fakeBackend) Jobs() []scheduler.Status                     { return f.jobs }
func (f *fakeBackend) TriggerJob(_ context.Context, _ string) error { return f.job }
func (f *fakeBackend) Replay(_ context.Context, id string) error {
	if id == "done" {
		return store.ErrConflict
	}
	return nil
}

func serve(b Backend, admin string) *httptest.Server {
	h := Handler(b, Options{IngressTimeout: 50 * time.Millisecond, AdminToken: admin, MaxBodyBytes: 1 << 10,
		Registry: prometheus.NewRegistry(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
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
