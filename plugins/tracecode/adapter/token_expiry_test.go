package adapter_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/sdk/sdktest"
	"github.com/medgate/medgate/plugins/tracecode/adapter"
	"github.com/medgate/medgate/test/sim/tracecode"
)

// syncBuffer is a bytes.Buffer safe for a logger and a test at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestTokenExpiryInThePastIsWarned: a platform whose token answer gives an
// expiry (here a Unix time in milliseconds, already past) instead of a life
// in seconds: the token is kept for tokenDefaultTTL, and a WARN names the
// value and the fallback, never the token; the token operation log keeps
// the warning.
func TestTokenExpiryInThePastIsWarned(t *testing.T) {
	t.Parallel()
	clk := &clock{t: time.Date(2026, 11, 26, 10, 0, 0, 0, cst)}
	sim := tracecode.New(tracecode.Options{AppID: "app-1", AppSecret: appSecret, OrgCode: "H35020300001", TokenTTL: time.Hour, Seed: 42, Now: clk.Now})
	past := clk.Now().Add(-time.Hour).UnixMilli()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		sim.ServeHTTP(rec, r)
		body := rec.Body.Bytes()
		if strings.HasSuffix(r.URL.Path, "/auth/token") {
			body = bytes.ReplaceAll(body, []byte(`"expiresIn":3600`), []byte(fmt.Sprintf(`"expiresIn":%d`, past)))
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(rec.Code)
		_, _ = w.Write(body)
	}))
	t.Cleanup(srv.Close)
	var logs syncBuffer
	a := adapter.New(adapter.WithClock(clk.Now), adapter.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	host := sdktest.NewMemoryHost()
	e := &env{t: t, sim: sim, url: srv.URL, host: host, plugin: sdktest.Connect(t, a, host), clock: clk, dir: t.TempDir()}
	if ds := e.configure(baseSettings(srv.URL, e.dir)); ds.HasError() {
		t.Fatal(ds)
	}
	rep := must[struct {
		ExpiresAt time.Time `json:"expiresAt"`
	}](t, e.send(adapter.OpToken, map[string]any{}), sdk.StatusOK)
	if want := clk.Now().Add(2 * time.Hour); !rep.ExpiresAt.Equal(want) {
		t.Errorf("token expires at %s, want %s (now + tokenDefaultTTL)", rep.ExpiresAt, want)
	}
	out := logs.String()
	var warn string
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "level=WARN") && strings.Contains(l, "token expiry") {
			warn = l
		}
	}
	if !strings.Contains(warn, fmt.Sprint(past)) || !strings.Contains(warn, "tokenDefaultTTL") {
		t.Fatalf("no WARN naming expiresIn %d and tokenDefaultTTL in the log:\n%s", past, out)
	}
	for _, tok := range sim.IssuedTokens() {
		if strings.Contains(out, tok) {
			t.Fatal("the token is in the log")
		}
	}
	found := false
	for _, s := range e.state("log/token/") {
		found = found || strings.Contains(string(s.Value), "in the past")
	}
	if !found {
		t.Error("the token operation log does not keep the warning")
	}
	e.assertNoSecrets()
}
