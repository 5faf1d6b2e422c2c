package console

import (
	"bytes"
	"context"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/medgate/medgate/host/internal/access"
	"github.com/medgate/medgate/host/internal/audit"
	"github.com/medgate/medgate/host/internal/store"
	"github.com/medgate/medgate/plugins/sdk"
)

// TestEveryRouteHasARole fails when a console route is registered other
// than through the route table (which gives each its role), or when a
// route is public that should not be.
func TestEveryRouteHasARole(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
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
		for _, d := range f.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || fd.Body == nil {
				continue
			}
			ast.Inspect(fd.Body, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok {
					return true
				}
				sel, ok := call.Fun.(*ast.SelectorExpr)
				if ok && (sel.Sel.Name == "Handle" || sel.Sel.Name == "HandleFunc") && fd.Name.Name != "routes" {
					t.Errorf("%s: %s registers a route with %s outside the route table; add it to routeTable (routes.go) with the role it needs",
						fset.Position(call.Pos()), fd.Name.Name, sel.Sel.Name)
				}
				return true
			})
		}
	}
	public := map[string]bool{"GET /console/static/": true, "GET /console/login": true, "POST /console/login": true, "/console/": true}
	f := newFixture(t, testToken)
	seen := map[string]bool{}
	for _, rt := range f.c.table {
		if seen[rt.pattern] {
			t.Errorf("route %q is in the table twice", rt.pattern)
		}
		seen[rt.pattern] = true
		if rt.role == access.Public && !public[rt.pattern] {
			t.Errorf("route %q needs no sign-in; give it a role (viewer, operator or admin)", rt.pattern)
		}
		if rt.role > access.Admin || rt.role < access.Public {
			t.Errorf("route %q has no valid role (%v)", rt.pattern, rt.role)
		}
	}
}

// addUser adds a user with a password to the fixture's store.
func (f *fixture) addUser(name string, role access.Role) string {
	f.t.Helper()
	pw := "pw-" + name + "-0123456789"
	if err := f.users.Add(f.t.Context(), name, role, pw, nil); err != nil {
		f.t.Fatal(err)
	}
	return pw
}

// signIn signs in with a password and loads the overview (for the CSRF token).
func (c *client) signIn(name, password string) {
	c.t.Helper()
	r := c.post("/console/login", url.Values{"user": {name}, "password": {password}})
	if r.code != http.StatusSeeOther {
		c.t.Fatalf("sign in as %s: %d %s", name, r.code, r.body)
	}
	if r := c.get("/console/"); r.code != 200 || c.csrf == "" {
		c.t.Fatalf("overview after sign-in: %d", r.code)
	}
}

var wildRE = regexp.MustCompile(`\{[^}]*\}`)

// TestRoleRefusals calls every route of the table as each role: a role
// below the route's gets 403 "not allowed" (and nothing runs), the others
// get through.
func TestRoleRefusals(t *testing.T) {
	t.Parallel()
	f := newFixture(t, testToken)
	clients := map[access.Role]*client{}
	for _, role := range access.Roles {
		name := "u-" + role.String()
		pw := f.addUser(name, role)
		c := f.client()
		c.signIn(name, pw)
		clients[role] = c
	}
	for _, rt := range f.c.table {
		if rt.role == access.Public {
			continue
		}
		method, path, _ := strings.Cut(rt.pattern, " ")
		path = strings.ReplaceAll(path, "{$}", "")
		path = wildRE.ReplaceAllString(path, "x")
		for _, role := range access.Roles {
			c := clients[role]
			var r resp
			if method == http.MethodPost {
				if strings.HasSuffix(path, "/logout") {
					continue // would end the session the other routes need
				}
				r = c.post(path, url.Values{"csrf": {c.csrf}})
			} else {
				r = c.get(path)
			}
			refused := r.code == http.StatusForbidden && strings.Contains(r.body, "权限不足 (not allowed)")
			if want := !role.Allows(rt.role); refused != want {
				t.Errorf("%s as %s: %d refused=%v, want refused=%v", rt.pattern, role, r.code, refused, want)
			}
		}
	}
	// A refused change is audited, and so is a post that failed.
	got, err := f.st.ListAudit(t.Context(), store.AuditFilter{Actor: "u-viewer", Action: "console.refused"})
	if err != nil || len(got) == 0 {
		t.Fatalf("refused posts of the viewer not audited: %v %v", got, err)
	}
	got, err = f.st.ListAudit(t.Context(), store.AuditFilter{Actor: "u-operator", Action: "worklist.action"})
	if err != nil {
		t.Fatal(err)
	}
	failed := false
	for _, e := range got {
		if e.Target == "/console/action" && e.Outcome == "failed" && strings.Contains(e.Detail, "HTTP 4") {
			failed = true
		}
	}
	if !failed {
		t.Fatalf("an empty row action is not audited as failed: %+v", got)
	}
}

func TestPasswordSignIn(t *testing.T) {
	t.Parallel()
	proxy, err := access.NewProxy("", "", []string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, testToken, func(o *Options) { o.Proxy = proxy })
	pw := f.addUser("pharm01", access.Operator)
	from := func(addr string) []string { return []string{"X-Forwarded-For", addr} }
	login := func(c *client, user, password, addr string) resp {
		return c.post("/console/login", url.Values{"user": {user}, "password": {password}}, from(addr)...)
	}
	c := f.client()
	if r := login(c, "pharm01", pw, "10.1.1.1"); r.code != http.StatusSeeOther {
		t.Fatalf("right password: %d %s", r.code, r.body)
	}
	if r := c.get("/console/"); !strings.Contains(r.body, "pharm01") || !strings.Contains(r.body, "操作员 operator") {
		t.Fatalf("overview does not show the user and role: %s", r.body)
	}
	// The admin token does not sign in under an existing user's name.
	if r := login(f.client(), "pharm01", testToken, "10.1.1.1"); r.code != http.StatusUnauthorized {
		t.Fatalf("token as an existing user: %d", r.code)
	}
	// Three failures (the fixture's limit) lock pharm01 out from 10.2.2.2 only.
	for i := range 3 {
		if r := login(f.client(), "pharm01", "wrong-password", "10.2.2.2"); r.code != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d", i, r.code)
		}
	}
	if r := login(f.client(), "pharm01", pw, "10.2.2.2"); r.code != http.StatusTooManyRequests {
		t.Fatalf("right password while locked out: %d", r.code)
	}
	if r := login(f.client(), "pharm01", pw, "10.3.3.3"); r.code != http.StatusSeeOther {
		t.Fatalf("same user from another address behind the same proxy: %d", r.code)
	}
	if r := login(f.client(), "other", testToken, "10.2.2.2"); r.code != http.StatusSeeOther {
		t.Fatalf("another user from the locked address: %d", r.code)
	}
	f.clock.add(10*time.Minute + time.Second)
	if r := login(f.client(), "pharm01", pw, "10.2.2.2"); r.code != http.StatusSeeOther {
		t.Fatalf("after the lockout: %d", r.code)
	}
	// A disabled user cannot sign in.
	if err := f.users.SetDisabled(t.Context(), "pharm01", true); err != nil {
		t.Fatal(err)
	}
	if r := login(f.client(), "pharm01", pw, "10.1.1.1"); r.code != http.StatusUnauthorized {
		t.Fatalf("disabled user: %d", r.code)
	}
	got, err := f.st.ListAudit(t.Context(), store.AuditFilter{Action: "login", Actor: "pharm01"})
	if err != nil {
		t.Fatal(err)
	}
	var outcomes []string
	for _, e := range got {
		outcomes = append(outcomes, e.Outcome+"@"+e.Remote)
		// Read on the audit page by Chinese-reading admins: the detail
		// leads in Chinese and keeps its English after it.
		if first, _ := utf8.DecodeRuneInString(e.Detail); !unicode.Is(unicode.Han, first) {
			t.Errorf("login %s@%s: detail %q does not start in Chinese", e.Outcome, e.Remote, e.Detail)
		}
		if english := map[string]string{audit.OK: "via password", audit.Refused: "wrong user name or password"}[e.Outcome]; !strings.Contains(e.Detail, english) && !strings.Contains(e.Detail, "locked out") {
			t.Errorf("login %s@%s: detail %q lost its English %q", e.Outcome, e.Remote, e.Detail, english)
		}
	}
	want := "refused@10.1.1.1 ok@10.2.2.2 ok@10.3.3.3 refused@10.2.2.2 refused@10.2.2.2 refused@10.2.2.2 refused@10.2.2.2 refused@10.1.1.1 ok@10.1.1.1"
	if strings.Join(outcomes, " ") != want {
		t.Fatalf("audited sign-ins (newest first):\n got %s\nwant %s", strings.Join(outcomes, " "), want)
	}
}

func TestProxyIdentity(t *testing.T) {
	t.Parallel()
	trusted, err := access.NewProxy("X-Remote-User", "X-Remote-Role", []string{"127.0.0.0/8"})
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, testToken, func(o *Options) { o.Proxy = trusted })
	c := f.client()
	hdr := func(user, role string) []string { return []string{"X-Remote-User", user, "X-Remote-Role", role} }
	get := func(c *client, path string, h ...string) resp {
		req, _ := http.NewRequest("GET", c.f.srv.URL+path, nil)
		for i := 0; i+1 < len(h); i += 2 {
			req.Header.Set(h[i], h[i+1])
		}
		return c.do(req)
	}
	if r := get(c, "/console/", hdr("李收费", "operator")...); r.code != 200 || !strings.Contains(r.body, "李收费") {
		t.Fatalf("proxy identity: %d", r.code)
	}
	if r := get(f.client(), "/console/form/ecard/print", hdr("王查看", "viewer")...); r.code != http.StatusForbidden || !strings.Contains(r.body, "not allowed") {
		t.Fatalf("viewer from the proxy on an operator page: %d", r.code)
	}
	if r := get(f.client(), "/console/", hdr("x", "root")...); r.code != http.StatusForbidden || !strings.Contains(r.body, "identity not accepted") {
		t.Fatalf("unknown role: %d", r.code)
	}

	untrusted, err := access.NewProxy("X-Remote-User", "X-Remote-Role", []string{"10.0.0.0/8"})
	if err != nil {
		t.Fatal(err)
	}
	g := newFixture(t, testToken, func(o *Options) { o.Proxy = untrusted })
	if r := get(g.client(), "/console/", hdr("mallory", "admin")...); r.code != http.StatusSeeOther {
		t.Fatalf("identity headers from an untrusted address were believed: %d", r.code)
	}
}

func TestSecureCookieAndHSTS(t *testing.T) {
	t.Parallel()
	plain := newFixture(t, testToken).client()
	r := plain.post("/console/login", url.Values{"user": {"a"}, "password": {testToken}})
	if strings.Contains(r.h.Get("Set-Cookie"), "Secure") || r.h.Get("Strict-Transport-Security") != "" {
		t.Fatalf("plain HTTP without console.https: cookie %q, HSTS %q", r.h.Get("Set-Cookie"), r.h.Get("Strict-Transport-Security"))
	}
	c := newFixture(t, testToken, func(o *Options) { o.HTTPS = true; o.HSTSMaxAge = 24 * time.Hour }).client()
	r = c.post("/console/login", url.Values{"user": {"a"}, "password": {testToken}})
	if !strings.Contains(r.h.Get("Set-Cookie"), "; Secure") || r.h.Get("Strict-Transport-Security") != "max-age=86400" {
		t.Fatalf("behind TLS: cookie %q, HSTS %q", r.h.Get("Set-Cookie"), r.h.Get("Strict-Transport-Security"))
	}
}

// TestAuditPage: the admin reads the audit log filtered and paged; the
// page offers no way to change it.
func TestAuditPage(t *testing.T) {
	t.Parallel()
	f := newFixture(t, testToken)
	pw := f.addUser("li.admin", access.Admin)
	op := f.client()
	op.signIn("pharm01", testToken) // the admin token under a name that is no user's
	if r := op.action("/console/jobs/run", url.Values{"job": {"tracecode/s1/stockin-sync"}}); r.code != 200 {
		t.Fatalf("run job: %d", r.code)
	}
	c := f.client()
	c.signIn("li.admin", pw)
	body := c.get("/console/admin/audit?user=pharm01").body
	for _, want := range []string{"审计日志 Audit log", "pharm01", "job.run", "/console/jobs/run", "job tracecode/s1/stockin-sync", "login", "via admin token", "成功 ok",
		`<span class="pill pending">尝试 attempted</span>`} {
		if !strings.Contains(body, want) {
			t.Errorf("audit page lacks %q", want)
		}
	}
	if strings.Contains(body, "失败 attempted") {
		t.Error("the audit page shows an attempt as failed")
	}
	if strings.Contains(body, "li.admin</td>") {
		t.Error("the user filter let another user's entries through")
	}
	first := c.get("/console/admin/audit?user=pharm01&limit=1")
	older := regexp.MustCompile(`href="(/console/admin/audit\?[^"]*before=\d+[^"]*)"`).FindStringSubmatch(first.body)
	if older == nil {
		t.Fatalf("no Older link on a full page: %s", first.body)
	}
	second := c.get(strings.ReplaceAll(older[1], "&amp;", "&"))
	idRE := regexp.MustCompile(`<tr>\s*<td>(\d+)</td>`)
	a, b := idRE.FindStringSubmatch(first.body), idRE.FindStringSubmatch(second.body)
	if a == nil || b == nil || a[1] == b[1] {
		t.Fatalf("paging: first page %v, second page %v", a, b)
	}
	if r := c.get("/console/admin/audit?from=yesterday&limit=0"); r.code != http.StatusBadRequest ||
		!strings.Contains(r.body, "is not a time") || !strings.Contains(r.body, "limit") {
		t.Fatalf("bad filters: %d", r.code)
	}
	if _, content, _ := strings.Cut(body, "<main>"); strings.Contains(content, `method="post"`) {
		t.Error("the audit page has a form that posts")
	}
	if r := c.post("/console/admin/audit", url.Values{"csrf": {c.csrf}}); r.code != http.StatusMethodNotAllowed && r.code != http.StatusNotFound {
		t.Fatalf("POST to the audit log: %d", r.code)
	}
}

// TestCredentialChangesEndSessions: a change of a user's password (even
// to the same one), role or enabled state, made through another Users on
// the shared store as `medgate user` or another instance does, ends the
// user's console sessions at their next request; signing in again works
// (with the new password, the new role) unless the user is disabled.
func TestCredentialChangesEndSessions(t *testing.T) {
	t.Parallel()
	const newPW = "pw-new-password-0123456789"
	for _, tc := range []struct {
		name   string
		change func(u *access.Users, name, pw string) error
		// signInWith is the password that signs in afterwards ("": none does).
		signInWith func(pw string) string
		role       string
	}{
		{"passwd", func(u *access.Users, n, _ string) error { return u.SetPassword(t.Context(), n, newPW) },
			func(string) string { return newPW }, "操作员 operator"},
		{"passwd to the same password", func(u *access.Users, n, pw string) error { return u.SetPassword(t.Context(), n, pw) },
			func(pw string) string { return pw }, "操作员 operator"},
		{"role raised", func(u *access.Users, n, _ string) error { return u.SetRole(t.Context(), n, access.Admin) },
			func(pw string) string { return pw }, "管理员 admin"},
		{"role lowered", func(u *access.Users, n, _ string) error { return u.SetRole(t.Context(), n, access.Viewer) },
			func(pw string) string { return pw }, "查看员 viewer"},
		{"disabled", func(u *access.Users, n, _ string) error { return u.SetDisabled(t.Context(), n, true) },
			func(string) string { return "" }, ""},
		{"disabled and enabled again", func(u *access.Users, n, _ string) error {
			if err := u.SetDisabled(t.Context(), n, true); err != nil {
				return err
			}
			return u.SetDisabled(t.Context(), n, false)
		}, func(pw string) string { return pw }, "操作员 operator"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, testToken)
			pw := f.addUser("pharm01", access.Operator)
			stolen, other := f.client(), f.client()
			stolen.signIn("pharm01", pw)
			other.signIn("li.admin", testToken) // another user's session is not touched
			if err := tc.change(access.NewUsers(f.st, testParams), "pharm01", pw); err != nil {
				t.Fatal(err)
			}
			if r := stolen.get("/console/"); r.code != http.StatusSeeOther || !strings.HasPrefix(r.h.Get("Location"), "/console/login") {
				t.Fatalf("the session made before the change still works: %d", r.code)
			}
			if r := stolen.post("/console/jobs/run", url.Values{"csrf": {stolen.csrf}, "job": {"tracecode/s1/stockin-sync"}}); r.code != http.StatusForbidden ||
				!strings.Contains(r.body, "not signed in") {
				t.Fatalf("a post with the session made before the change: %d", r.code)
			}
			if r := other.get("/console/"); r.code != http.StatusOK {
				t.Fatalf("another user's session ended: %d", r.code)
			}
			again := f.client()
			pw2 := tc.signInWith(pw)
			if pw2 == "" {
				if r := again.post("/console/login", url.Values{"user": {"pharm01"}, "password": {pw}}); r.code != http.StatusUnauthorized {
					t.Fatalf("a disabled user signed in: %d", r.code)
				}
				return
			}
			again.signIn("pharm01", pw2)
			if r := again.get("/console/"); r.code != http.StatusOK || !strings.Contains(r.body, tc.role) {
				t.Fatalf("a new sign-in after the change: %d, want the role %s", r.code, tc.role)
			}
			if r := again.get("/console/"); r.code != http.StatusOK {
				t.Fatalf("the new session did not last: %d", r.code)
			}
		})
	}
}

// stoppedClock is a user store whose clock does not advance: every user
// it returns was last updated at the same instant, as changes within one
// tick of a coarse clock, or made at an instance whose clock is behind
// the one the user signed in at, look.
type stoppedClock struct{ access.UserStore }

func (s stoppedClock) GetUser(ctx context.Context, name string) (*store.User, error) {
	u, err := s.UserStore.GetUser(ctx, name)
	if u != nil {
		u.UpdatedAt = time.Date(2026, 12, 4, 23, 0, 0, 0, time.UTC)
	}
	return u, err
}

// TestCredentialChangesInOneTickEndSessions: changes that net out (a
// disable undone, a role changed and back) end the sessions begun before
// them even when the store's clock shows no time passing between them.
func TestCredentialChangesInOneTickEndSessions(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		from, to func(u *access.Users, name string) error
	}{
		{"disabled and enabled again",
			func(u *access.Users, n string) error { return u.SetDisabled(t.Context(), n, true) },
			func(u *access.Users, n string) error { return u.SetDisabled(t.Context(), n, false) }},
		{"role raised and lowered again",
			func(u *access.Users, n string) error { return u.SetRole(t.Context(), n, access.Admin) },
			func(u *access.Users, n string) error { return u.SetRole(t.Context(), n, access.Operator) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, testToken)
			f.users = access.NewUsers(stoppedClock{f.st}, testParams)
			f.c.o.Users = f.users // before any request
			pw := f.addUser("pharm01", access.Operator)
			stolen := f.client()
			stolen.signIn("pharm01", pw)
			other := access.NewUsers(f.st, testParams) // another instance
			if err := tc.from(other, "pharm01"); err != nil {
				t.Fatal(err)
			}
			if err := tc.to(other, "pharm01"); err != nil {
				t.Fatal(err)
			}
			if r := stolen.get("/console/"); r.code != http.StatusSeeOther || !strings.HasPrefix(r.h.Get("Location"), "/console/login") {
				t.Fatalf("the session made before the changes still works: %d", r.code)
			}
			again := f.client()
			again.signIn("pharm01", pw)
			if r := again.get("/console/"); r.code != http.StatusOK || !strings.Contains(r.body, "操作员 operator") {
				t.Fatalf("a new sign-in after the changes: %d, want the role operator", r.code)
			}
		})
	}
}

// TestProxySessionFollowsTheUser: with no role header the role of a user a
// trusted proxy names is the medgate user's, so a change of that user ends
// the session too: disabled, the next request is refused; a new role
// applies at the next request.
func TestProxySessionFollowsTheUser(t *testing.T) {
	t.Parallel()
	proxy, err := access.NewProxy("X-Remote-User", "", []string{"127.0.0.0/8"})
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, testToken, func(o *Options) { o.Proxy = proxy })
	f.addUser("pharm01", access.Operator)
	c := f.client()
	get := func(path string) resp {
		req, _ := http.NewRequest("GET", f.srv.URL+path, nil)
		req.Header.Set("X-Remote-User", "pharm01")
		return c.do(req)
	}
	if r := get("/console/form/ecard/print"); r.code != http.StatusOK {
		t.Fatalf("operator page as operator: %d", r.code)
	}
	users := access.NewUsers(f.st, testParams)
	if err := users.SetRole(t.Context(), "pharm01", access.Viewer); err != nil {
		t.Fatal(err)
	}
	if r := get("/console/form/ecard/print"); r.code != http.StatusForbidden || !strings.Contains(r.body, "not allowed") {
		t.Fatalf("operator page after the role became viewer: %d", r.code)
	}
	if err := users.SetDisabled(t.Context(), "pharm01", true); err != nil {
		t.Fatal(err)
	}
	if r := get("/console/"); r.code != http.StatusForbidden || !strings.Contains(r.body, "identity not accepted") {
		t.Fatalf("a disabled user named by the proxy still signed in: %d", r.code)
	}
}

func TestUsersPage(t *testing.T) {
	t.Parallel()
	f := newFixture(t, testToken)
	pw := f.addUser("li.admin", access.Admin)
	f.addUser("王药师", access.Operator)
	if err := f.users.SetDisabled(t.Context(), "王药师", true); err != nil {
		t.Fatal(err)
	}
	if err := f.users.Add(t.Context(), "xm-op", access.Operator, "pw-xm-op-0123456789", []string{"xm01", "xm02"}); err != nil {
		t.Fatal(err)
	}
	c := f.client()
	c.signIn("li.admin", pw)
	body := c.get("/console/admin/users").body
	for _, want := range []string{"用户 Users", "li.admin", "admin", "王药师", "operator", "已停用 disabled", "medgate user add", "<td>xm01, xm02</td>", "<td>全部 all</td>"} {
		if !strings.Contains(body, want) {
			t.Errorf("users page lacks %q", want)
		}
	}
	if strings.Contains(body, "argon2id") {
		t.Error("the users page shows password hashes")
	}
}

// TestSignInUnusableName: a user name no user and no bootstrap sign-in can
// have (over 64 characters) is refused at once: not kept by the lockout,
// not written to the log at length, not echoed back.
func TestSignInUnusableName(t *testing.T) {
	t.Parallel()
	f := newFixture(t, testToken)
	// As long as the sign-in form's bound allows (a longer body gets 413:
	// TestFormBodiesBounded).
	long := strings.Repeat("x", maxLoginBody-1<<10)
	for range 3 { // the fixture's lockout limit
		r := f.client().post("/console/login", url.Values{"user": {long}, "password": {"wrong-password"}})
		if r.code != http.StatusBadRequest || strings.Contains(r.body, long[:1000]) {
			t.Fatalf("a 63 KiB user name: HTTP %d, %d bytes back; want 400 without the name", r.code, len(r.body))
		}
	}
	if w := f.lockout.Locked(long, "127.0.0.1"); w != 0 {
		t.Fatalf("the lockout keeps the long name: locked for %v", w)
	}
}

// TestSignInBodyBounded: the sign-in form is public, so its body is
// bounded: a multipart post with a megabyte part is refused with 413
// before anything is read into memory beyond the bound.
func TestSignInBodyBounded(t *testing.T) {
	t.Parallel()
	f := newFixture(t, testToken)
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	_ = mw.WriteField("user", "op01")
	_ = mw.WriteField("password", testToken)
	fw, _ := mw.CreateFormFile("filler", "filler.bin")
	_, _ = fw.Write(bytes.Repeat([]byte("x"), 1<<20))
	_ = mw.Close()
	req, _ := http.NewRequest("POST", f.srv.URL+"/console/login", &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	r := f.client().do(req)
	if r.code != http.StatusRequestEntityTooLarge {
		t.Fatalf("a 1 MB sign-in post: HTTP %d; want 413", r.code)
	}
	if ok := f.client().post("/console/login", url.Values{"user": {"op01"}, "password": {testToken}}); ok.code != http.StatusSeeOther {
		t.Fatalf("an ordinary sign-in: HTTP %d", ok.code)
	}
}

// TestOpenConsoleClosesOnFirstUser: a session of the open console (no
// users, no token: anyone is an admin) ends once the first user exists;
// from then on the console needs credentials.
func TestOpenConsoleClosesOnFirstUser(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "")
	c := f.client()
	if r := c.post("/console/login", url.Values{"user": {"anyone"}}); r.code != http.StatusSeeOther {
		t.Fatalf("open sign-in: %d %s", r.code, r.body)
	}
	if r := c.get("/console/admin/users"); r.code != http.StatusOK {
		t.Fatalf("open console admin page: %d", r.code)
	}
	f.addUser("li.admin", access.Admin)
	if r := c.get("/console/admin/users"); r.code != http.StatusSeeOther {
		t.Fatalf("the open console's session after the first user was added: %d, want a redirect to sign in", r.code)
	}
}

func TestSameSecret(t *testing.T) {
	for _, tc := range []struct {
		got, want string
		same      bool
	}{
		{"s3cret-token", "s3cret-token", true},
		{"s3cret-tokeN", "s3cret-token", false},
		{"s3cret", "s3cret-token", false},
		{"", "s3cret-token", false},
		{"s3cret-token-and-more", "s3cret-token", false},
	} {
		if got := sameSecret(tc.got, tc.want); got != tc.same {
			t.Errorf("sameSecret(%q, %q) = %v", tc.got, tc.want, got)
		}
	}
}

// TestMaskedJSONAsLogs: the console's message views mask as the logs do
// (logging.MaskJSON): personal keys the schemas declare and phones written
// as JSON numbers included.
func TestMaskedJSONAsLogs(t *testing.T) {
	out := maskedJSON([]byte(`{"psnName":"王小梅","phone":13812345678,"n":[{"aac044":"350203199001011234","amount":12.5}]}`))
	for _, leak := range []string{"王小梅", "13812345678", "350203199001011234"} {
		if strings.Contains(out, leak) {
			t.Errorf("%s shown in:\n%s", leak, out)
		}
	}
	if !strings.Contains(out, "12.5") || !strings.Contains(out, "\n  ") {
		t.Errorf("amount lost or not pretty-printed:\n%s", out)
	}
	if got := maskedJSON([]byte("not json 13812345678")); strings.Contains(got, "13812345678") || !strings.HasPrefix(got, "not json") {
		t.Errorf("text body: %q", got)
	}
}

// TestAdminTokenGuessesLimited: the admin token signs in under any name
// that is not a user's, so the lockout of one name cannot stop guesses of
// the token; failed token sign-ins from one address are limited whatever
// names they use, and only at that address.
func TestAdminTokenGuessesLimited(t *testing.T) {
	t.Parallel()
	proxy, err := access.NewProxy("", "", []string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, testToken, func(o *Options) { o.Proxy = proxy })
	login := func(user, password, addr string) int {
		return f.client().post("/console/login", url.Values{"user": {user}, "password": {password}}, "X-Forwarded-For", addr).code
	}
	// Three failures (the fixture's limit), each under a fresh name.
	for i := range 3 {
		if code := login(fmt.Sprintf("guess%d", i), fmt.Sprintf("wrong-token-%d", i), "10.4.4.4"); code != http.StatusUnauthorized {
			t.Fatalf("guess %d: %d", i, code)
		}
	}
	if code := login("guess3", testToken, "10.4.4.4"); code != http.StatusTooManyRequests {
		t.Fatalf("the right token under a fresh name from the guessing address: %d, want %d", code, http.StatusTooManyRequests)
	}
	if code := login("admin", testToken, "10.5.5.5"); code != http.StatusSeeOther {
		t.Fatalf("the right token from another address: %d", code)
	}
	f.clock.add(10*time.Minute + time.Second)
	if code := login("guess4", testToken, "10.4.4.4"); code != http.StatusSeeOther {
		t.Fatalf("the right token after the lockout: %d", code)
	}
}

// TestForeignOperationsNotSent: the console sends, as the signed-in user,
// only a plugin's own operations ("<plugin>.<operation>"); a form, work
// list, row action or document that a plugin declares with another
// plugin's operation sends nothing and says why.
func TestForeignOperationsNotSent(t *testing.T) {
	t.Parallel()
	f := newFixture(t, testToken)
	tc := &f.b.plugins[1] // tracecode, enabled at s1 and s2
	tc.Views.Forms = append(slices.Clone(tc.Views.Forms), sdk.Form{Name: "foreign", Title: "Foreign", Operation: "ecard.qrcode",
		Fields: []sdk.Argument{{Name: "cardNo", Type: sdk.SettingString}}})
	tc.WorkLists = append(slices.Clone(tc.WorkLists), sdk.WorkList{Name: "foreign", Title: "Foreign list", ListOperation: "ecard.cards.list"})
	tc.Views.WorkListViews = []sdk.WorkListView{{List: "draft-receipts",
		Actions: []sdk.Action{{Name: "foreign", Label: "Foreign", Operation: "ecard.revoke", Row: map[string]string{"id": "id"}}}}}
	doc := draftDoc
	doc.Get, doc.Confirm = "ecard.qrcode", &sdk.DocumentConfirm{Label: "Confirm", Operation: "ecard.revoke"}
	tc.Views.Documents = []sdk.DocumentView{doc}
	c := f.client()
	c.login("pharm01")
	steps := []struct {
		name string
		do   func() resp
	}{
		{"form", func() resp {
			return c.post("/console/form/tracecode/foreign", url.Values{"csrf": {c.csrf}, "site": {"s1"}, "cardNo": {"880100000000013"}})
		}},
		{"work list", func() resp { return c.get("/console/worklists?plugin=tracecode&list=foreign") }},
		{"row action", func() resp {
			c.post("/console/action", url.Values{"csrf": {c.csrf}, "plugin": {"tracecode"}, "list": {"draft-receipts"}, "action": {"foreign"},
				"site": {"s1"}, "row.id": {`"SUP-001"`}})
			return c.get("/console/")
		}},
		{"document", func() resp { return c.get("/console/document/tracecode/draft?site=s1&id=SUP-001") }},
		{"document confirm", func() resp {
			c.post("/console/document/tracecode/draft/confirm", url.Values{"csrf": {c.csrf}, "site": {"s1"}, "id": {"SUP-001"}})
			return c.get("/console/")
		}},
	}
	for _, st := range steps {
		r := st.do()
		if !strings.Contains(r.body, "not one of its own operations") {
			t.Errorf("%s: the page does not say why nothing was sent:\n%s", st.name, r.body)
		}
	}
	for _, typ := range []string{"ecard.qrcode", "ecard.revoke"} {
		if n := f.b.count(typ); n != 0 {
			t.Errorf("%d %s message(s) sent for tracecode's pages", n, typ)
		}
	}
	if n := f.b.count("ecard.cards.list"); n != 0 {
		t.Errorf("%d ecard.cards.list message(s) sent for tracecode's work list", n)
	}
}

// TestOpenConsoleOnlyOnThisMachine: with no admin token and no users the
// console is open to this machine only; a client a trusted reverse proxy
// on loopback forwards is not this machine and cannot sign in.
func TestOpenConsoleOnlyOnThisMachine(t *testing.T) {
	t.Parallel()
	proxy, err := access.NewProxy("", "", []string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, "", func(o *Options) { o.Proxy = proxy })
	far := f.client()
	r := far.post("/console/login", url.Values{"user": {"anyone"}}, "X-Forwarded-For", "10.9.9.9")
	if r.code != http.StatusForbidden || !strings.Contains(r.body, "medgate user add") {
		t.Fatalf("open sign-in forwarded by the proxy: %d, want %d saying how to fix it\n%s", r.code, http.StatusForbidden, r.body)
	}
	if r := far.get("/console/admin/users"); r.code != http.StatusSeeOther {
		t.Fatalf("a forwarded client after the refused sign-in: %d, want a redirect to sign in", r.code)
	}
	if r := f.client().post("/console/login", url.Values{"user": {"anyone"}}); r.code != http.StatusSeeOther {
		t.Fatalf("open sign-in on this machine: %d %s", r.code, r.body)
	}
}

// TestViewerGetsNoRowActions: a viewer reads the work lists but is offered
// no row action (the route refuses it anyway), so the page carries none of
// the rows' raw values the actions would send back.
func TestViewerGetsNoRowActions(t *testing.T) {
	t.Parallel()
	f := newFixture(t, testToken)
	for _, tc := range []struct {
		role    access.Role
		actions bool
	}{
		{access.Viewer, false},
		{access.Operator, true},
	} {
		name := "u-" + tc.role.String()
		pw := f.addUser(name, tc.role)
		c := f.client()
		c.signIn(name, pw)
		r := c.get("/console/worklists?plugin=ecard&list=recent-cards")
		if r.code != http.StatusOK || !strings.Contains(r.body, "880100000000013") {
			t.Fatalf("%s: work list: %d\n%s", name, r.code, r.body)
		}
		if got := strings.Contains(r.body, `action="/console/action"`); got != tc.actions {
			t.Errorf("%s: row actions offered %v, want %v", name, got, tc.actions)
		}
	}
}

// TestProxyRequestsWithoutCookieKeepOthersSignedIn: requests a trusted
// proxy names a user in but that carry no session cookie (a script, a
// health check through the proxy) reuse that user's live proxy session,
// so more of them than the session map holds sign no one else out; a
// request naming another role, or made after the user changed, still
// gets a session of its own with the role it should have.
func TestProxyRequestsWithoutCookieKeepOthersSignedIn(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, roleHeader string
		otherVia         string // how user B signed in: "password" or "proxy"
	}{
		{"role header, B by password", "X-Remote-Role", "password"},
		{"role header, B by proxy", "X-Remote-Role", "proxy"},
		{"stored users, B by password", "", "password"},
		{"stored users, B by proxy", "", "proxy"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			proxy, err := access.NewProxy("X-Remote-User", tc.roleHeader, []string{"127.0.0.0/8"})
			if err != nil {
				t.Fatal(err)
			}
			f := newFixture(t, testToken, func(o *Options) { o.Proxy = proxy })
			f.addUser("scriptA", access.Operator)
			pwB := f.addUser("nurseB", access.Operator)
			named := func(c *client, path, user, role string) resp {
				t.Helper()
				req, _ := http.NewRequest("GET", f.srv.URL+path, nil)
				req.Header.Set("X-Remote-User", user)
				if tc.roleHeader != "" {
					req.Header.Set(tc.roleHeader, role)
				}
				return c.do(req)
			}
			b := f.client()
			if tc.otherVia == "password" {
				b.signIn("nurseB", pwB)
			} else if r := named(b, "/console/", "nurseB", "operator"); r.code != http.StatusOK {
				t.Fatalf("B through the proxy: %d", r.code)
			}
			// No cookie jar: every request of A comes without a cookie.
			cookieless := &client{t: t, f: f, http: &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
			for i := range maxSessions + 1 {
				f.clock.add(time.Millisecond) // B's session is the oldest
				if r := named(cookieless, "/console/", "scriptA", "operator"); r.code != http.StatusOK {
					t.Fatalf("A's request %d without a cookie: %d", i, r.code)
				}
			}
			// B's session still stands: its cookie alone (no proxy header) gets the page.
			if r := b.get("/console/"); r.code != http.StatusOK || !strings.Contains(r.body, "nurseB") {
				t.Fatalf("B was signed out by A's requests without a cookie: %d (want 200 with B's name)", r.code)
			}
			f.c.sessions.mu.Lock()
			n := len(f.c.sessions.m)
			f.c.sessions.mu.Unlock()
			if n != 2 {
				t.Fatalf("%d sessions after %d requests of A without a cookie and B's sign-in, want 2 (A's one reused)", n, maxSessions+1)
			}
			// A's sign-in is audited once, when its session began.
			signIns := func() int {
				t.Helper()
				got, err := f.st.ListAudit(t.Context(), store.AuditFilter{Action: "login", Actor: "scriptA"})
				if err != nil {
					t.Fatal(err)
				}
				return len(got)
			}
			if n := signIns(); n != 1 {
				t.Fatalf("A's sign-in audited %d times, want once", n)
			}
			// A new role (from the header, or the stored user's) is not
			// given A's old session: the operator page is refused.
			if tc.roleHeader == "" {
				if err := f.users.SetRole(t.Context(), "scriptA", access.Viewer); err != nil {
					t.Fatal(err)
				}
			}
			if r := named(cookieless, "/console/form/ecard/print", "scriptA", "viewer"); r.code != http.StatusForbidden || !strings.Contains(r.body, "not allowed") {
				t.Fatalf("A as viewer without a cookie on an operator page: %d, want 403 not allowed", r.code)
			}
			if n := signIns(); n != 2 {
				t.Fatalf("A's sign-ins audited %d times after the new role, want twice", n)
			}
			// An idle session has ended and is not reused: A signs in anew.
			f.clock.add(31 * time.Minute)
			if r := named(cookieless, "/console/", "scriptA", "viewer"); r.code != http.StatusOK {
				t.Fatalf("A after the idle timeout: %d", r.code)
			}
			if n := signIns(); n != 3 {
				t.Fatalf("A's sign-ins audited %d times after the idle timeout, want 3 (the ended session reused?)", n)
			}
		})
	}
}
