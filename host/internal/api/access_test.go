package api

import (
	"context"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/medgate/medgate/host/internal/access"
	"github.com/medgate/medgate/host/internal/audit"
	"github.com/medgate/medgate/host/internal/store"
)

// TestEveryAdminRouteHasARole fails when a route is registered on the
// server's mux other than through the admin route table, unless it is
// one of the few that are not admin routes.
func TestEveryAdminRouteHasARole(t *testing.T) {
	t.Parallel()
	notAdmin := map[string]bool{`"GET /healthz"`: true, `"GET /readyz"`: true, `"GET /metrics"`: true, `"POST /v1/messages"`: true,
		`"/console/"`: true, `rt.pattern`: true}
	files, _ := filepath.Glob("*.go")
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		f, err := parser.ParseFile(fset, name, src, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || len(call.Args) == 0 {
				return true
			}
			if sel, ok := call.Fun.(*ast.SelectorExpr); ok && (sel.Sel.Name == "Handle" || sel.Sel.Name == "HandleFunc") {
				arg := string(src[fset.Position(call.Args[0].Pos()).Offset:fset.Position(call.Args[0].End()).Offset])
				if !notAdmin[arg] {
					t.Errorf("%s: route %s is registered outside the admin route table; add it to adminRoutes (routes.go) with the role it needs",
						fset.Position(call.Pos()), arg)
				}
			}
			return true
		})
	}
	s := &server{}
	for _, rt := range s.adminRoutes() {
		if rt.role < access.Viewer || rt.role > access.Admin {
			t.Errorf("admin route %q has no valid role", rt.pattern)
		}
	}
}

// accessFixture is an admin API with users of each role and an audit log.
type accessFixture struct {
	srv   *httptest.Server
	st    *store.SQLite
	users map[access.Role][2]string // name, password
}

func newAccessFixture(t *testing.T, b Backend, token string) *accessFixture {
	t.Helper()
	st, err := store.OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "access.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	users := access.NewUsers(st, access.Params{Memory: 64, Time: 1, Threads: 1, KeyLen: 32})
	f := &accessFixture{st: st, users: map[access.Role][2]string{}}
	for _, role := range access.Roles {
		name, pw := "u-"+role.String(), "pw-"+role.String()+"-0123456789"
		if err := users.Add(t.Context(), name, role, pw, nil); err != nil {
			t.Fatal(err)
		}
		f.users[role] = [2]string{name, pw}
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	f.srv = httptest.NewServer(Handler(b, Options{IngressTimeout: 50 * time.Millisecond, AdminToken: token, MaxBodyBytes: 1 << 10,
		Registry: prometheus.NewRegistry(), Logger: log, Users: users, Audit: audit.New(st, log),
		Lockout: access.NewLockout(3, time.Minute, nil)}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *accessFixture) call(t *testing.T, method, path, user, password string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, f.srv.URL+path, nil)
	if user != "" {
		req.SetBasicAuth(user, password)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

var pathValueRE = regexp.MustCompile(`\{[^}]*\}`)

// TestAdminRolesRefused calls every admin route as each role: a lower
// role gets 403 forbidden (and nothing runs), the others get through; a
// viewer cannot replay or run jobs, an operator cannot reload or rekey.
func TestAdminRolesRefused(t *testing.T) {
	t.Parallel()
	f := newAccessFixture(t, &storeBackend{fakeBackend: *okBackend(), st: &memStore{}}, "tok-0123456789abcdef")
	s := &server{}
	for _, rt := range s.adminRoutes() {
		method, path, _ := strings.Cut(rt.pattern, " ")
		path = pathValueRE.ReplaceAllString(path, "m1")
		for _, role := range access.Roles {
			code, body := f.call(t, method, path, f.users[role][0], f.users[role][1])
			refused := code == http.StatusForbidden && strings.Contains(body, `"forbidden"`)
			if want := !role.Allows(rt.role); refused != want {
				t.Errorf("%s as %s: %d %s; want refused=%v", rt.pattern, role, code, body, want)
			}
		}
	}
	for _, tc := range []struct {
		method, path string
		role         access.Role
	}{
		{"POST", "/admin/messages/m1/replay", access.Viewer},
		{"POST", "/admin/jobs/p/s/j/run", access.Viewer},
		{"POST", "/admin/reload", access.Operator},
		{"POST", "/admin/store/rekey", access.Operator},
	} {
		if code, _ := f.call(t, tc.method, tc.path, f.users[tc.role][0], f.users[tc.role][1]); code != http.StatusForbidden {
			t.Errorf("%s %s as %s: %d, want 403", tc.method, tc.path, tc.role, code)
		}
	}
	// The replay by the operator and the refusals are audited.
	got, err := f.st.ListAudit(t.Context(), store.AuditFilter{Actor: "u-operator"})
	if err != nil {
		t.Fatal(err)
	}
	var seen []string
	for _, e := range got {
		seen = append(seen, e.Action+" "+e.Target+" "+e.Outcome)
	}
	for _, want := range []string{"message.replay /admin/messages/m1/replay ok", "api.refused /admin/reload refused"} {
		if !strings.Contains(strings.Join(seen, "\n"), want) {
			t.Errorf("audit lacks %q:\n%s", want, strings.Join(seen, "\n"))
		}
	}
}

func TestAdminBasicAuthAndLockout(t *testing.T) {
	t.Parallel()
	f := newAccessFixture(t, okBackend(), "tok-0123456789abcdef")
	name, pw := f.users[access.Admin][0], f.users[access.Admin][1]
	for i := range 3 {
		if code, _ := f.call(t, "GET", "/admin/plugins", name, "wrong"); code != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d", i, code)
		}
	}
	if code, body := f.call(t, "GET", "/admin/plugins", name, pw); code != http.StatusTooManyRequests || !strings.Contains(body, "locked_out") {
		t.Fatalf("right password while locked out: %d %s", code, body)
	}
	if code, _ := f.call(t, "GET", "/admin/plugins", f.users[access.Viewer][0], f.users[access.Viewer][1]); code != http.StatusOK {
		t.Fatalf("another user while one is locked out: %d", code)
	}
	if code, body := f.call(t, "GET", "/admin/users", f.users[access.Operator][0], f.users[access.Operator][1]); code != http.StatusForbidden {
		t.Fatalf("operator lists users: %d %s", code, body)
	}
	// The admin token still works (bootstrap), and no credentials get 401.
	req, _ := http.NewRequest("POST", f.srv.URL+"/admin/messages/m1/replay", nil)
	req.Header.Set("Authorization", "Bearer tok-0123456789abcdef")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("admin token: %d", resp.StatusCode)
	}
	if code, _ := f.call(t, "GET", "/admin/plugins", "", ""); code != http.StatusUnauthorized {
		t.Fatalf("no credentials: %d", code)
	}
	// Without a token but with users, the API is not open.
	g := newAccessFixture(t, okBackend(), "")
	if code, body := g.call(t, "GET", "/admin/plugins", "", ""); code != http.StatusUnauthorized || !strings.Contains(body, "no longer open") {
		t.Fatalf("no token, users exist, no credentials: %d %s", code, body)
	}
}

// ListAudit lets the role test reach GET /admin/audit.
func (m *memStore) ListAudit(context.Context, store.AuditFilter) ([]store.AuditEntry, error) {
	return nil, nil
}

// auditBackend reads the audit log from a real store.
type auditBackend struct {
	fakeBackend
	st store.Store
}

func (b *auditBackend) Store() store.Store { return b.st }

func TestAdminAuditLog(t *testing.T) {
	t.Parallel()
	b := &auditBackend{fakeBackend: *okBackend()}
	f := newAccessFixture(t, b, "tok-0123456789abcdef")
	b.st = f.st
	op, admin := f.users[access.Operator], f.users[access.Admin]
	for _, id := range []string{"m1", "m2", "m3"} {
		if code, _ := f.call(t, "POST", "/admin/messages/"+id+"/replay", op[0], op[1]); code != http.StatusAccepted {
			t.Fatalf("replay %s: %d", id, code)
		}
	}
	f.call(t, "GET", "/admin/plugins", op[0], "wrong")
	var page struct {
		Entries []struct {
			ID                                  int64
			User, Role, Action, Target, Outcome string
			From                                string
		}
		Next string
	}
	get := func(path string) int {
		code, body := f.call(t, "GET", path, admin[0], admin[1])
		page.Entries, page.Next = nil, ""
		if code == http.StatusOK {
			if err := json.Unmarshal([]byte(body), &page); err != nil {
				t.Fatal(err)
			}
		}
		return code
	}
	if code := get("/admin/audit?user=u-operator&limit=3"); code != 200 || len(page.Entries) != 3 || page.Next == "" {
		t.Fatalf("first page: %d %+v", code, page)
	}
	if e := page.Entries[0]; e.Action != "login" || e.Outcome != "refused" || e.From != "127.0.0.1" {
		t.Fatalf("newest entry: %+v", e)
	}
	if e := page.Entries[1]; e.Action != "message.replay" || e.Target != "/admin/messages/m3/replay" || e.Outcome != "ok" || e.Role != "operator" {
		t.Fatalf("replay entry: %+v", e)
	}
	if e := page.Entries[2]; e.Action != "message.replay" || e.Target != "/admin/messages/m3/replay" || e.Outcome != "attempted" {
		t.Fatalf("the replay's attempt: %+v", e)
	}
	if code := get(page.Next); code != 200 || len(page.Entries) != 3 || page.Entries[0].Target != "/admin/messages/m2/replay" {
		t.Fatalf("second page: %d %+v", code, page)
	}
	if code := get("/admin/audit?action=login&user=u-operator"); code != 200 || len(page.Entries) != 1 {
		t.Fatalf("action filter: %d %+v", code, page)
	}
	if code, body := f.call(t, "GET", "/admin/audit?from=soon&limit=0", admin[0], admin[1]); code != 400 || !strings.Contains(body, "is not a time") || !strings.Contains(body, "limit") {
		t.Fatalf("bad filter: %d %s", code, body)
	}
	for _, m := range []string{"DELETE", "PUT", "POST", "PATCH"} {
		if code, _ := f.call(t, m, "/admin/audit", admin[0], admin[1]); code != http.StatusMethodNotAllowed {
			t.Errorf("%s /admin/audit: %d, want 405 (the log cannot be changed)", m, code)
		}
	}
}

func TestAdminUsers(t *testing.T) {
	t.Parallel()
	f := newAccessFixture(t, okBackend(), "tok-0123456789abcdef")
	users := access.NewUsers(f.st, access.Params{Memory: 64, Time: 1, Threads: 1, KeyLen: 32})
	if err := users.Add(t.Context(), "xm-op", access.Operator, "pw-xm-op-0123456789", []string{"xm01", "xm02"}); err != nil {
		t.Fatal(err)
	}
	code, body := f.call(t, "GET", "/admin/users", f.users[access.Admin][0], f.users[access.Admin][1])
	if code != 200 || !strings.Contains(body, `"name":"u-viewer","role":"viewer","disabled":false,"sites":[]`) ||
		!strings.Contains(body, `"name":"xm-op","role":"operator","disabled":false,"sites":["xm01","xm02"]`) || strings.Contains(body, "argon2") {
		t.Fatalf("users: %d %s", code, body)
	}
}

// TestReadyzDetailsForAdminUsers: /readyz shows what is wrong to admin
// users (HTTP Basic), not to other roles.
func TestReadyzDetailsForAdminUsers(t *testing.T) {
	t.Parallel()
	f := newAccessFixture(t, okBackend(), "tok-0123456789abcdef")
	if code, body := f.call(t, "GET", "/readyz", f.users[access.Admin][0], f.users[access.Admin][1]); code != 503 || !strings.Contains(body, "sha256 abc") {
		t.Fatalf("admin: %d %s", code, body)
	}
	if code, body := f.call(t, "GET", "/readyz", f.users[access.Operator][0], f.users[access.Operator][1]); code != 503 || strings.Contains(body, "sha256") {
		t.Fatalf("operator: %d %s", code, body)
	}
	if code, _ := f.call(t, "GET", "/readyz", f.users[access.Admin][0], "wrong"); code != 401 {
		t.Fatalf("wrong password: %d", code)
	}
}

// TestTokenLimitBehindTrustedProxy: behind a trusted proxy the token
// limiter counts the forwarded client, so one guesser does not make
// everyone behind the proxy wait.
func TestTokenLimitBehindTrustedProxy(t *testing.T) {
	t.Parallel()
	proxy, err := access.NewProxy("", "", []string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(Handler(okBackend(), Options{IngressTimeout: time.Second, AdminToken: "tok-0123456789abcdef", MaxBodyBytes: 1 << 10,
		Registry: prometheus.NewRegistry(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Proxy: proxy, Audit: testAudit(nil)}))
	defer srv.Close()
	get := func(from, token string) int {
		req, _ := http.NewRequest("GET", srv.URL+"/admin/plugins", nil)
		req.Header.Set("X-Forwarded-For", from)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for range 6 {
		get("10.9.9.9", "wrong")
	}
	if code := get("10.9.9.9", "tok-0123456789abcdef"); code != http.StatusTooManyRequests {
		t.Fatalf("the guesser: %d, want 429", code)
	}
	if code := get("10.1.1.1", "tok-0123456789abcdef"); code != http.StatusOK {
		t.Fatalf("another client behind the same proxy: %d, want 200", code)
	}
}

// TestBasicAuthUnusableName: a Basic user name no user can have (here
// 32 KiB) is refused without being kept by the lockout.
func TestBasicAuthUnusableName(t *testing.T) {
	t.Parallel()
	f := newAccessFixture(t, okBackend(), "tok-0123456789abcdef")
	long := strings.Repeat("x", 32<<10)
	for i := range 4 { // one more than the fixture's lockout limit
		if code, body := f.call(t, "GET", "/admin/plugins", long, "wrong"); code != http.StatusUnauthorized {
			t.Fatalf("attempt %d with a 32 KiB user name: %d %.200s; want 401, the name not kept by the lockout", i, code, body)
		}
	}
}

// TestReadyzDetailsNotForProxiedClients: without an admin token /readyz
// shows what is wrong to loopback only; a client a trusted reverse proxy
// on loopback forwards is not loopback and gets no details.
func TestReadyzDetailsNotForProxiedClients(t *testing.T) {
	t.Parallel()
	proxy, err := access.NewProxy("", "", []string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(Handler(okBackend(), Options{IngressTimeout: time.Second, MaxBodyBytes: 1 << 10,
		Registry: prometheus.NewRegistry(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Proxy: proxy, Audit: testAudit(nil)}))
	defer srv.Close()
	for _, tc := range []struct {
		name, from string
		details    bool
	}{
		{"loopback itself", "", true},
		{"forwarded by the proxy", "10.9.9.9", false},
	} {
		req, _ := http.NewRequest("GET", srv.URL+"/readyz", nil)
		if tc.from != "" {
			req.Header.Set("X-Forwarded-For", tc.from)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if got := strings.Contains(string(b), "sha256"); got != tc.details {
			t.Errorf("%s: details shown %v, want %v: %s", tc.name, got, tc.details, b)
		}
	}
}

// TestOpenAdminAPIOnlyOnThisMachine: with no admin token and no users
// the admin API is open, to this machine only; a client a trusted
// reverse proxy on loopback forwards is not this machine.
func TestOpenAdminAPIOnlyOnThisMachine(t *testing.T) {
	t.Parallel()
	proxy, err := access.NewProxy("", "", []string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(Handler(okBackend(), Options{IngressTimeout: time.Second, MaxBodyBytes: 1 << 10,
		Registry: prometheus.NewRegistry(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Proxy: proxy, Audit: testAudit(nil)}))
	defer srv.Close()
	for _, tc := range []struct {
		name, from string
		code       int
	}{
		{"loopback itself", "", http.StatusOK},
		{"forwarded by the proxy", "10.9.9.9", http.StatusUnauthorized},
	} {
		req, _ := http.NewRequest("GET", srv.URL+"/admin/plugins", nil)
		if tc.from != "" {
			req.Header.Set("X-Forwarded-For", tc.from)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.code {
			t.Errorf("%s: HTTP %d %s, want %d", tc.name, resp.StatusCode, b, tc.code)
		}
	}
}
