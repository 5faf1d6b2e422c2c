package console

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/medgate/medgate/host/internal/access"
	"github.com/medgate/medgate/host/internal/store"
)

// lockOut locks user out at each address with the fixture's lockout
// (3 failures) and checks that it holds.
func (f *fixture) lockOut(user string, addrs ...string) {
	f.t.Helper()
	for _, a := range addrs {
		for range 3 {
			f.lockout.Fail(user, a)
		}
		if f.lockout.Locked(user, a) <= 0 {
			f.t.Fatalf("%s is not locked out at %s after 3 failures", user, a)
		}
	}
}

// TestUsersPageUnlocks: the users page named only medgate unlock for a
// locked-out user, so an admin at the console had to find a shell. A
// locked-out user is now marked locked, with where (an address; an IPv6
// one by its /64) and until when, and an Unlock button (a form with the
// session's CSRF token) that lifts the lockout at every address, audited
// as user.unlock with who did it, as the admin API's unlock is; the page
// then says what was lifted, and the user signs in at once.
func TestUsersPageUnlocks(t *testing.T) {
	t.Parallel()
	proxy, err := access.NewProxy("", "", []string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, testToken, func(o *Options) { o.Proxy = proxy })
	apw := f.addUser("root", access.Admin)
	pw := f.addUser("amy", access.Operator)
	f.addUser("ben", access.Viewer)
	f.lockOut("amy", "10.4.0.1", "2001:db8:1:2::10")
	admin := f.client()
	admin.signIn("root", apw)

	page := admin.get("/console/admin/users")
	if page.code != http.StatusOK {
		t.Fatalf("users page: %d", page.code)
	}
	row := func(body, name string) string {
		_, after, ok := strings.Cut(body, "<td><b>"+name+"</b>")
		if !ok {
			t.Fatalf("the users page lists no %s:\n%s", name, body)
		}
		before, _, _ := strings.Cut(after, "</tr>")
		return before
	}
	amy := row(page.body, "amy")
	for _, want := range []string{"已锁定 locked", "from 10.4.0.1 until 2026-11-26 08:10:00 UTC", "from 2001:db8:1:2::/64 until",
		`action="/console/admin/users/amy/unlock"`, `name="csrf" value="` + admin.csrf + `"`, "解除锁定 Unlock"} {
		if !strings.Contains(amy, want) {
			t.Errorf("amy's row lacks %q:\n%s", want, amy)
		}
	}
	if ben := row(page.body, "ben"); strings.Contains(ben, "已锁定") || strings.Contains(ben, "/unlock") {
		t.Errorf("ben, not locked out, is shown locked or with an Unlock button:\n%s", ben)
	}

	done := admin.action("/console/admin/users/amy/unlock", url.Values{})
	if done.code != http.StatusOK {
		t.Fatalf("unlock: %d\n%s", done.code, done.body)
	}
	for _, want := range []string{"已解除锁定 (lockout lifted)", "amy: 2 sign-in lockout(s) lifted at every address and browser on this instance"} {
		if !strings.Contains(done.body, want) {
			t.Errorf("the page after the unlock lacks %q:\n%s", want, done.body)
		}
	}
	if strings.Contains(row(done.body, "amy"), "已锁定") {
		t.Errorf("amy is still shown locked after the unlock")
	}
	for _, a := range []string{"10.4.0.1", "2001:db8:1:2::99"} {
		if r := f.client().post("/console/login", url.Values{"user": {"amy"}, "password": {pw}}, "X-Forwarded-For", a); r.code != http.StatusSeeOther {
			t.Errorf("amy's right password from %s after the unlock: %d, want 303", a, r.code)
		}
	}
	got, err := f.st.ListAudit(t.Context(), store.AuditFilter{Action: "user.unlock"})
	if err != nil {
		t.Fatal(err)
	}
	var outcome *store.AuditEntry
	for i, e := range got {
		if e.Outcome != "attempted" {
			outcome = &got[i]
		}
	}
	if outcome == nil || outcome.Actor != "root" || outcome.Target != "amy" || outcome.Outcome != "ok" ||
		!strings.Contains(outcome.Detail, "sign-in lockout lifted at every address: 2 lifted (this instance only)") {
		t.Errorf("audit of the unlock: %+v, want actor root, target amy, ok, the API's detail", got)
	}

	again := admin.action("/console/admin/users/amy/unlock", url.Values{})
	if !strings.Contains(again.body, "amy was not locked out on this instance") {
		t.Errorf("unlocking a user not locked out does not say nothing was lifted:\n%s", again.body)
	}
	if r := admin.action("/console/admin/users/nobody/unlock", url.Values{}); r.code != http.StatusNotFound || !strings.Contains(r.body, "There is no user nobody") {
		t.Errorf("unlock of no user: %d\n%s", r.code, r.body)
	}
}

// TestUnlockButtonRefusals: the console's unlock is refused to a role
// below admin (403, audited console.refused) and without the session's
// CSRF token (a form another site made the browser send), and the
// lockout stays in force.
func TestUnlockButtonRefusals(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		role      access.Role
		csrf      bool
		wantAudit string // the refusal's audit action, "" for none
	}{
		"operator":         {role: access.Operator, csrf: true, wantAudit: "console.refused"},
		"viewer":           {role: access.Viewer, csrf: true, wantAudit: "console.refused"},
		"admin, no csrf":   {role: access.Admin},
		"operator no csrf": {role: access.Operator},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, testToken)
			f.addUser("amy", access.Operator)
			f.lockOut("amy", "10.4.0.1")
			pw := f.addUser("who", tc.role)
			c := f.client()
			c.signIn("who", pw)
			form := url.Values{}
			if tc.csrf {
				form.Set("csrf", c.csrf)
			}
			r := c.post("/console/admin/users/amy/unlock", form)
			if r.code != http.StatusForbidden {
				t.Fatalf("unlock as %s: %d, want 403\n%s", name, r.code, r.body)
			}
			if f.lockout.Locked("amy", "10.4.0.1") <= 0 {
				t.Errorf("the refused unlock lifted the lockout")
			}
			got, err := f.st.ListAudit(t.Context(), store.AuditFilter{Action: "user.unlock"})
			if err != nil || len(got) != 0 {
				t.Errorf("a refused unlock is audited as user.unlock: %v %+v", err, got)
			}
			if tc.wantAudit != "" {
				got, err := f.st.ListAudit(t.Context(), store.AuditFilter{Actor: "who", Action: tc.wantAudit})
				if err != nil || len(got) != 1 || got[0].Target != "/console/admin/users/amy/unlock" {
					t.Errorf("the refusal's audit: %v %+v", err, got)
				}
			}
		})
	}
}

// TestLockRowsSayWhere: the users page says where each lockout holds:
// the address as the lockout counts it, a browser without its key (the
// device cookie's id is a credential of that browser), and the per-user
// bound as every address the user has not signed in from.
func TestLockRowsSayWhere(t *testing.T) {
	t.Parallel()
	key := deviceLockKey(strings.Repeat("ab", 32))
	rows := lockRows([]access.Lock{{AllAddresses: true}, {Addr: "2001:db8:1:2::/64"}, {Addr: key}})
	want := []string{"from every address the user has not signed in from", "from 2001:db8:1:2::/64", "in one browser the user signed in in"}
	if len(rows) != len(want) {
		t.Fatalf("rows %+v", rows)
	}
	for i, w := range want {
		if !strings.Contains(rows[i].Where, w) || rows[i].WhereZH == "" {
			t.Errorf("row %d: %+v, want %q", i, rows[i], w)
		}
		if strings.Contains(rows[i].Where+rows[i].WhereZH, "abab") {
			t.Errorf("row %d shows the browser's key: %+v", i, rows[i])
		}
	}
}
