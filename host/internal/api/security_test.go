package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/medgate/medgate/host/internal/message"
	"github.com/medgate/medgate/host/internal/scheduler"
	"github.com/medgate/medgate/host/internal/store"
)

// storeBackend is a fakeBackend whose store holds one message and one
// journal entry with personal data.
type storeBackend struct {
	fakeBackend
	st *memStore
}

func (b *storeBackend) Store() store.Store { return b.st }

type memStore struct {
	store.Store // only the methods below are called
	limits      []int
}

// personalKey is a business key of a site that keys its messages by the
// patient's mobile number.
const personalKey = "13912345678"

const personalReply = `{"status":"ok","payload":{"name":"张三丰","idNumber":"11010519491231002X","phone":"13812345678","cardNo":"88010001"}}`

func (m *memStore) ListMessages(_ context.Context, _, _, _ string, limit int) ([]store.Message, error) {
	m.limits = append(m.limits, limit)
	return []store.Message{{ID: "m1", Key: personalKey, Status: store.StatusDone, Outcome: "ok", Reply: []byte(personalReply)}}, nil
}

func (m *memStore) SearchMessages(context.Context, store.MessageQuery) ([]store.Message, string, error) {
	return []store.Message{{ID: "m1", Key: personalKey, Status: store.StatusDone, Outcome: "failed"}}, "", nil
}

func (m *memStore) GetMessage(_ context.Context, id string) (*store.Message, error) {
	return &store.Message{ID: id, Key: personalKey, Status: store.StatusDone, Outcome: "ok", Reply: []byte(personalReply)}, nil
}

func (m *memStore) ListExchanges(_ context.Context, f store.ExchangeFilter) ([]store.Exchange, error) {
	m.limits = append(m.limits, f.Limit)
	return []store.Exchange{{ID: 1, Request: []byte(`{"aac003":"李四","aac002":"11010519491231002X"}`), Response: []byte("tel 13812345678"),
		Error: "GYU101: 证件号 11010519491231002X 不存在 (13812345678)"}}, nil
}

// logBuffer collects log output safely across handler goroutines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

type fixture struct {
	srv   *httptest.Server
	logs  *logBuffer
	clock *fakeClock
	reg   *prometheus.Registry
}

// limitFailures reads medgate_http_auth_failures_total for an endpoint.
func (f *fixture) limitFailures(t *testing.T, endpoint string) float64 {
	t.Helper()
	mfs, err := f.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "medgate_http_auth_failures_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			if m.GetLabel()[0].GetValue() == endpoint {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newFixture(t *testing.T, b Backend, o Options) *fixture {
	t.Helper()
	f := &fixture{logs: &logBuffer{}, clock: &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}}
	o.IngressTimeout = time.Second
	if o.MaxBodyBytes == 0 {
		o.MaxBodyBytes = 1 << 10
	}
	o.Registry = prometheus.NewRegistry()
	f.reg = o.Registry
	o.Logger = slog.New(slog.NewTextHandler(f.logs, nil))
	o.Now = f.clock.now
	if o.Audit == nil {
		o.Audit = testAudit(o.Logger)
	}
	f.srv = httptest.NewServer(Handler(b, o))
	t.Cleanup(f.srv.Close)
	return f
}

type req struct {
	method, path, body string
	header             map[string]string
}

func (f *fixture) do(t *testing.T, r req) (int, http.Header, string) {
	t.Helper()
	var body io.Reader
	if r.body != "" {
		body = strings.NewReader(r.body)
	}
	hr, err := http.NewRequest(r.method, f.srv.URL+r.path, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range r.header {
		if k == "Host" {
			hr.Host = v
			continue
		}
		hr.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

func okBackend() *fakeBackend {
	return &fakeBackend{reply: &message.Reply{Status: "ok"}, ready: map[string]string{"store": "ok", "plugin.ecard": "down after 3 restart(s): /opt/medgate/plugins/ecard has sha256 abc"}}
}

// TestBrowserAndHostChecks: a cross-site page cannot POST text/plain or a
// form to the ingress or admin API, a foreign Origin is refused, and a
// Host that does not name medgate (DNS rebinding) is refused.
func TestBrowserAndHostChecks(t *testing.T) {
	t.Parallel()
	json := map[string]string{"Content-Type": "application/json"}
	cases := map[string]struct {
		r    req
		code int
		body string
	}{
		"json ingress":            {r: req{"POST", "/v1/messages", `{}`, json}, code: 200},
		"json with charset":       {r: req{"POST", "/v1/messages", `{}`, map[string]string{"Content-Type": "application/json; charset=utf-8"}}, code: 200},
		"text/plain ingress":      {r: req{"POST", "/v1/messages", `{}`, map[string]string{"Content-Type": "text/plain"}}, code: 415, body: "Content-Type: application/json"},
		"form ingress":            {r: req{"POST", "/v1/messages", `a=b`, map[string]string{"Content-Type": "application/x-www-form-urlencoded"}}, code: 415},
		"no content type":         {r: req{"POST", "/v1/messages", `{}`, nil}, code: 415},
		"text/plain admin":        {r: req{"POST", "/admin/reload", `x`, map[string]string{"Content-Type": "text/plain"}}, code: 415},
		"empty admin post":        {r: req{"POST", "/admin/messages/m1/replay", "", nil}, code: 202},
		"foreign origin ingress":  {r: req{"POST", "/v1/messages", `{}`, map[string]string{"Content-Type": "application/json", "Origin": "https://evil.example"}}, code: 403, body: "cross_origin"},
		"foreign origin admin":    {r: req{"POST", "/admin/messages/m1/replay", "", map[string]string{"Origin": "https://evil.example"}}, code: 403},
		"null origin":             {r: req{"GET", "/admin/plugins", "", map[string]string{"Origin": "null"}}, code: 403},
		"cross-site fetch":        {r: req{"GET", "/admin/plugins", "", map[string]string{"Sec-Fetch-Site": "cross-site"}}, code: 403},
		"own origin":              {r: req{"POST", "/v1/messages", `{}`, map[string]string{"Content-Type": "application/json", "Origin": "http://medgate.hospital.local", "Host": "medgate.hospital.local"}}, code: 200},
		"rebinding host":          {r: req{"POST", "/v1/messages", `{}`, map[string]string{"Content-Type": "application/json", "Host": "attacker.example:8080"}}, code: 421, body: "http.allowedHosts"},
		"rebinding host metrics":  {r: req{"GET", "/metrics", "", map[string]string{"Host": "attacker.example"}}, code: 421},
		"allowed suffix":          {r: req{"GET", "/admin/plugins", "", map[string]string{"Host": "medgate.ns.svc.cluster.local:8080"}}, code: 200},
		"suffix is not a prefix":  {r: req{"GET", "/admin/plugins", "", map[string]string{"Host": "svc.cluster.local.evil.example"}}, code: 421},
		"localhost":               {r: req{"GET", "/admin/plugins", "", map[string]string{"Host": "localhost:8080"}}, code: 200},
		"ip v6 literal":           {r: req{"GET", "/healthz", "", map[string]string{"Host": "[::1]:8080"}}, code: 200},
		"no cors on preflight":    {r: req{"OPTIONS", "/v1/messages", "", map[string]string{"Origin": "https://evil.example"}}, code: 405},
		"key too long":            {r: req{"POST", "/v1/messages", `{}`, map[string]string{"Content-Type": "application/json", "X-Medgate-Key": strings.Repeat("k", 300)}}, code: 400, body: "X-Medgate-Key"},
		"trace id too long":       {r: req{"POST", "/v1/messages", `{}`, map[string]string{"Content-Type": "application/json", "X-Medgate-Trace-Id": strings.Repeat("t", 20<<10)}}, code: 400, body: "X-Medgate-Trace-Id"},
		"body over the limit":     {r: req{"POST", "/v1/messages", strings.Repeat("x", 1<<10+1), json}, code: 413, body: "split the payload"},
		"body at the limit":       {r: req{"POST", "/v1/messages", strings.Repeat(" ", 1<<10-2) + "{}", json}, code: 200},
		"admin limit too large":   {r: req{"GET", "/admin/messages?limit=100000", "", nil}, code: 400, body: "from 1 to 500"},
		"admin limit negative":    {r: req{"GET", "/admin/exchanges?limit=-1", "", nil}, code: 400, body: "from 1 to 500"},
		"admin limit not number":  {r: req{"GET", "/admin/messages?limit=all", "", nil}, code: 400},
		"admin limit at the max":  {r: req{"GET", "/admin/messages?limit=500", "", nil}, code: 200},
		"admin limit by default":  {r: req{"GET", "/admin/exchanges", "", nil}, code: 200},
		"readyz open on loopback": {r: req{"GET", "/readyz", "", nil}, code: 503, body: "sha256"},
	}
	b := &storeBackend{fakeBackend: *okBackend(), st: &memStore{}}
	f := newFixture(t, b, Options{AllowedHosts: []string{"medgate.hospital.local", ".svc.cluster.local"}})
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			code, h, body := f.do(t, tc.r)
			if code != tc.code || !strings.Contains(body, tc.body) {
				t.Fatalf("HTTP %d %s, want %d containing %q", code, body, tc.code, tc.body)
			}
			for k := range h {
				if strings.HasPrefix(k, "Access-Control-") {
					t.Errorf("CORS header %s sent", k)
				}
			}
		})
	}
}

// TestReadyzDetailsOnlyForAdmins: unauthenticated callers see which
// component is not ready, never why (paths, checksums).
func TestReadyzDetailsOnlyForAdmins(t *testing.T) {
	t.Parallel()
	f := newFixture(t, okBackend(), Options{AdminToken: "admin-tok"})
	cases := map[string]struct {
		token    string
		code     int
		want     string
		withheld bool
	}{
		"anonymous":   {code: 503, want: `"plugin.ecard":"not ready"`, withheld: true},
		"wrong token": {token: "nope", code: 401, withheld: true},
		"admin":       {token: "admin-tok", code: 503, want: "/opt/medgate/plugins/ecard has sha256 abc"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			h := map[string]string{}
			if tc.token != "" {
				h["Authorization"] = "Bearer " + tc.token
			}
			code, _, body := f.do(t, req{"GET", "/readyz", "", h})
			if code != tc.code || !strings.Contains(body, tc.want) {
				t.Fatalf("HTTP %d %s, want %d containing %q", code, body, tc.code, tc.want)
			}
			if tc.withheld && (strings.Contains(body, "/opt/") || strings.Contains(body, "sha256")) {
				t.Fatalf("details shown without admin auth: %s", body)
			}
			if !tc.withheld && !strings.Contains(body, `"store":"ok"`) {
				t.Fatalf("components missing: %s", body)
			}
		})
	}
}

// TestIngressClients: each configured client authenticates with its own
// token; anything else is refused.
func TestIngressClients(t *testing.T) {
	t.Parallel()
	clients := []Client{{Name: "cashier", Token: "cashier-secret"}, {Name: "pharmacy", Token: "pharmacy-secret-longer"}}
	cases := map[string]struct {
		auth string
		code int
	}{
		"cashier":        {auth: "Bearer cashier-secret", code: 200},
		"pharmacy":       {auth: "bearer pharmacy-secret-longer", code: 200},
		"none":           {code: 401},
		"wrong":          {auth: "Bearer cashier-secreT", code: 401},
		"prefix only":    {auth: "Bearer cashier", code: 401},
		"basic scheme":   {auth: "Basic Y2FzaGllci1zZWNyZXQ=", code: 401},
		"token no space": {auth: "Bearercashier-secret", code: 401},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			// A fixture each: failures of one case must not block another.
			f := newFixture(t, okBackend(), Options{Clients: clients})
			h := map[string]string{"Content-Type": "application/json"}
			if tc.auth != "" {
				h["Authorization"] = tc.auth
			}
			code, _, body := f.do(t, req{"POST", "/v1/messages", `{}`, h})
			if code != tc.code {
				t.Fatalf("HTTP %d %s, want %d", code, body, tc.code)
			}
		})
	}
}

// TestAdminBruteForceLimited: after a few failures an address must wait,
// even with the right token, the wait doubles, each failure is logged
// without the token sent, and a success after the wait starts afresh.
func TestAdminBruteForceLimited(t *testing.T) {
	t.Parallel()
	f := newFixture(t, okBackend(), Options{AdminToken: "the-admin-token"})
	get := func(token string) (int, http.Header) {
		code, h, _ := f.do(t, req{"GET", "/admin/plugins", "", map[string]string{"Authorization": "Bearer " + token}})
		return code, h
	}
	for i := range freeFailures {
		if code, _ := get("guess-" + string(rune('a'+i))); code != 401 {
			t.Fatalf("failure %d: HTTP %d, want 401", i+1, code)
		}
	}
	code, h := get("the-admin-token")
	if code != 429 || h.Get("Retry-After") != "1" {
		t.Fatalf("right token while blocked: HTTP %d Retry-After %q, want 429 and 1", code, h.Get("Retry-After"))
	}
	f.clock.advance(time.Second)
	if code, _ := get("guess-again"); code != 401 {
		t.Fatalf("after the wait: HTTP %d, want 401", code)
	}
	if code, h := get("the-admin-token"); code != 429 || h.Get("Retry-After") != "2" {
		t.Fatalf("second wait: HTTP %d Retry-After %q, want 429 and 2 (doubled)", code, h.Get("Retry-After"))
	}
	f.clock.advance(2 * time.Second)
	if code, _ := get("the-admin-token"); code != 200 {
		t.Fatalf("right token after the wait: HTTP %d, want 200", code)
	}
	if code, _ := get("wrong-once-more"); code != 401 {
		t.Fatalf("a success must forget earlier failures: HTTP %d, want 401", code)
	}
	if got := f.limitFailures(t, "admin"); got != freeFailures+2 {
		t.Errorf("medgate_http_auth_failures_total{endpoint=admin} = %v, want %d", got, freeFailures+2)
	}
	logs := f.logs.String()
	if n := strings.Count(logs, "authentication failed"); n != freeFailures+2 {
		t.Errorf("%d failures logged, want %d:\n%s", n, freeFailures+2, logs)
	}
	for _, leak := range []string{"guess-", "the-admin-token", "wrong-once-more"} {
		if strings.Contains(logs, leak) {
			t.Errorf("log contains the token %q:\n%s", leak, logs)
		}
	}
	if !strings.Contains(logs, "remote=127.0.0.1") || !strings.Contains(logs, "endpoint=admin") {
		t.Errorf("failure log lacks the address or endpoint:\n%s", logs)
	}
}

// TestAdminMasksPersonalData: replies, journal bodies and business keys
// (a site may key its messages by ID or mobile number) are masked as the
// console masks them.
func TestAdminMasksPersonalData(t *testing.T) {
	t.Parallel()
	b := &storeBackend{fakeBackend: *okBackend(), st: &memStore{}}
	f := newFixture(t, b, Options{})
	for _, path := range []string{"/admin/messages", "/admin/messages/m1", "/admin/exchanges"} {
		code, h, body := f.do(t, req{"GET", path, "", nil})
		if code != 200 {
			t.Fatalf("%s: HTTP %d %s", path, code, body)
		}
		// A browser with Basic credentials keeps nothing on disk.
		if cc := h.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("%s: Cache-Control %q, want no-store", path, cc)
		}
		if !json.Valid([]byte(body)) {
			t.Fatalf("%s: not JSON: %s", path, body)
		}
		for _, leak := range []string{"张三丰", "11010519491231002X", "13812345678", "李四", personalKey} {
			if strings.Contains(body, leak) {
				t.Errorf("%s shows %q unmasked: %s", path, leak, body)
			}
		}
	}
	_, _, body := f.do(t, req{"GET", "/admin/messages/m1", "", nil})
	for _, want := range []string{`"name":"张**"`, `110***********002X`, `138****5678`, `"cardNo":"88010001"`, `"key":"139****5678"`} {
		if !strings.Contains(body, want) {
			t.Errorf("masked reply lacks %s: %s", want, body)
		}
	}
}

// TestAdminMasksJobErrors: a job's last error and summary, and the error
// of a job run now, are the plugin's words and may quote a patient's ID or
// mobile number: the admin API shows them masked, as the console and the
// log do.
func TestAdminMasksJobErrors(t *testing.T) {
	t.Parallel()
	b := okBackend()
	b.jobs = []scheduler.Status{{ID: "workinjury/s1/filings", LastErr: "GYU101: 证件号 11010519491231002X 不存在",
		Summary: "sent 3 SMS, last to 13812345678"}}
	b.job = errors.New("GYD008: record 11010519491231002X refused (13812345678)")
	f := newFixture(t, b, Options{})
	cases := []struct {
		method, path string
		code         int
		want         []string
	}{
		{"GET", "/admin/jobs", 200, []string{"110***********002X", "138****5678"}},
		{"POST", "/admin/jobs/workinjury/s1/filings/run", 502, []string{"110***********002X", "138****5678"}},
	}
	for _, tc := range cases {
		code, _, body := f.do(t, req{tc.method, tc.path, "", nil})
		if code != tc.code {
			t.Fatalf("%s %s: HTTP %d, want %d: %s", tc.method, tc.path, code, tc.code, body)
		}
		for _, leak := range []string{"11010519491231002X", "13812345678"} {
			if strings.Contains(body, leak) {
				t.Errorf("%s %s shows %q unmasked: %s", tc.method, tc.path, leak, body)
			}
		}
		for _, want := range tc.want {
			if !strings.Contains(body, want) {
				t.Errorf("%s %s lacks the masked %s: %s", tc.method, tc.path, want, body)
			}
		}
	}
}

// TestServerTimeoutsAndConnectionCap: every timeout is set, and the
// listener admits no more than the cap at once.
func TestServerTimeoutsAndConnectionCap(t *testing.T) {
	t.Parallel()
	s := NewServer(http.NotFoundHandler(), Timeouts{ReadHeader: time.Second, Read: 2 * time.Second, Write: 3 * time.Second, Idle: 4 * time.Second})
	if s.ReadHeaderTimeout != time.Second || s.ReadTimeout != 2*time.Second || s.WriteTimeout != 3*time.Second || s.IdleTimeout != 4*time.Second || s.MaxHeaderBytes == 0 {
		t.Fatalf("server timeouts not all set: %+v", s)
	}
	ln, err := Listen("127.0.0.1:0", ConnLimits{Max: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 2)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				close(accepted)
				return
			}
			accepted <- c
		}
	}()
	c1, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c1.Close()
	first := <-accepted
	c2, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	select {
	case c := <-accepted:
		c.Close()
		t.Fatal("a second connection was accepted beyond the cap of 1")
	case <-time.After(100 * time.Millisecond): // the only way to see that nothing happens
	}
	first.Close()
	select {
	case c := <-accepted:
		c.Close()
	case <-time.After(5 * time.Second):
		t.Fatal("the waiting connection was not accepted after the first closed")
	}
	if _, err := Listen("127.0.0.1:-1", ConnLimits{Max: 1}); err == nil || !strings.Contains(err.Error(), "http.listen") {
		t.Fatalf("bad address: err = %v, want one naming http.listen", err)
	}
}

type rekeyStore struct {
	memStore
	n   int64
	err error
}

func (r *rekeyStore) Rekey(context.Context) (int64, error) { return r.n, r.err }

func TestAdminRekey(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		st   store.Store
		code int
		body string
	}{
		"rekeyed":     {st: &rekeyStore{n: 42}, code: 200, body: `"rows":42`},
		"missing key": {st: &rekeyStore{err: store.ErrKey}, code: 409, body: "key_missing"},
		"no support":  {st: &memStore{}, code: 409, body: "no_encryption"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, &anyStoreBackend{fakeBackend: *okBackend(), st: tc.st}, Options{AdminToken: "tok"})
			code, _, body := f.do(t, req{"POST", "/admin/store/rekey", "", map[string]string{"Authorization": "Bearer tok"}})
			if code != tc.code || !strings.Contains(body, tc.body) {
				t.Fatalf("HTTP %d %s, want %d containing %q", code, body, tc.code, tc.body)
			}
		})
	}
}

type anyStoreBackend struct {
	fakeBackend
	st store.Store
}

func (b *anyStoreBackend) Store() store.Store { return b.st }
