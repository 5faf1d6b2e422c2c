package console

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/medgate/medgate/host/internal/access"
	"github.com/medgate/medgate/host/internal/api/origin"
	"github.com/medgate/medgate/host/internal/store"
)

// TestSignInsKeepOthersSignedIn: a user (or a script holding the admin
// token, under a new name each time) that signs in more often than the
// session map holds signs no one else out: past defaultMaxUserSessions its own
// least recently used sessions end, each ending audited (by A, naming
// whose session ended), and its newest
// session works.
func TestSignInsKeepOthersSignedIn(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		user     func(i int) string // the name of A's i-th sign-in
		password func(pw string) string
	}{
		"password":                       {user: func(int) string { return "scriptA" }, password: func(pw string) string { return pw }},
		"admin token, a name every time": {user: func(i int) string { return fmt.Sprintf("bot-%d", i) }, password: func(string) string { return testToken }},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, testToken)
			pwA := f.addUser("scriptA", access.Operator)
			pwB := f.addUser("nurseB", access.Operator)
			b := f.client()
			b.signIn("nurseB", pwB)
			n := maxSessions + 1
			for i := range n {
				f.clock.add(time.Millisecond) // B's session is the least recently used
				// A fresh client each time: no cookie of an earlier sign-in.
				if r := f.client().post("/console/login", url.Values{"user": {tc.user(i)}, "password": {tc.password(pwA)}}); r.code != http.StatusSeeOther {
					t.Fatalf("A's sign-in %d: %d %s", i, r.code, r.body)
				}
			}
			if r := b.get("/console/"); r.code != http.StatusOK || !strings.Contains(r.body, "nurseB") {
				t.Fatalf("B was signed out by %d sign-ins of A: %d (want 200 with B's name)", n, r.code)
			}
			f.c.sessions.mu.Lock()
			total := len(f.c.sessions.m)
			f.c.sessions.mu.Unlock()
			if total != defaultMaxUserSessions+1 {
				t.Fatalf("%d sessions after %d sign-ins of A and one of B, want %d (A's %d newest and B's)", total, n, defaultMaxUserSessions+1, defaultMaxUserSessions)
			}
			// A's newest sign-in works.
			a := f.client()
			a.signIn(tc.user(n), tc.password(pwA))
			// Every session A's sign-ins ended is audited, as A's.
			got, err := f.st.ListAudit(t.Context(), store.AuditFilter{Action: "session.evicted", Limit: 10 * maxSessions})
			if err != nil {
				t.Fatal(err)
			}
			if want := n + 1 - defaultMaxUserSessions; len(got) != want {
				t.Fatalf("%d session endings audited, want %d", len(got), want)
			}
			for _, e := range got {
				if e.Target == "nurseB" || e.Actor == "nurseB" || e.Outcome != "ok" || !strings.Contains(e.Detail, "least recently used") {
					t.Fatalf("audited ending: %+v (want one of A's sessions ended by A, ok, saying why)", e)
				}
			}
		})
	}
}

// TestSessionMapFullEndsLeastRecentlyUsed: when distinct users fill the
// session map, a new session ends the one least recently used (not the
// oldest signed in), and says whose it was.
func TestSessionMapFullEndsLeastRecentlyUsed(t *testing.T) {
	t.Parallel()
	c := &clock{t: time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)}
	ss := newSessions(c.now, time.Hour, 12*time.Hour, defaultMaxUserSessions)
	var first, second *session
	for i := range maxSessions {
		c.add(time.Millisecond)
		s, ended := ss.create(fmt.Sprintf("u%d", i), access.Viewer, viaPassword, "", nil)
		if len(ended) != 0 {
			t.Fatalf("session %d ended %d others before the map is full", i, len(ended))
		}
		switch i {
		case 0:
			first = s
		case 1:
			second = s
		}
	}
	c.add(time.Millisecond)
	if ss.get(first.id, true) == nil { // the first signed in is now used most recently
		t.Fatal("first session gone before the map is full")
	}
	_, ended := ss.create("newcomer", access.Viewer, viaPassword, "", nil)
	if len(ended) != 1 || ended[0].id != second.id || !strings.Contains(ended[0].why, "least recently used") {
		t.Fatalf("ended %+v, want the second session (least recently used)", ended)
	}
	if ss.get(first.id, true) == nil || ss.get(second.id, true) != nil {
		t.Fatal("the map ended the wrong session")
	}
}

// TestCookieSecureBehindUndeclaredTLSProxy: behind a TLS proxy that
// console.https does not declare, a browser that shows it is on HTTPS (the
// sign-in form's Origin or Referer, the proxy's X-Forwarded-Proto) gets a
// Secure session cookie, so the cookie never travels over plain HTTP; a
// browser on plain HTTP still gets one it can keep. HSTS stays with
// console.https.
func TestCookieSecureBehindUndeclaredTLSProxy(t *testing.T) {
	t.Parallel()
	const public = "https://medgate.hospital.example"
	for name, tc := range map[string]struct {
		header []string
		secure bool
	}{
		"Origin https":            {header: []string{"Origin", public, "Referer", public + "/console/login"}, secure: true},
		"Referer https":           {header: []string{"Origin", "", "Referer", public + "/console/login"}, secure: true},
		"X-Forwarded-Proto https": {header: []string{"X-Forwarded-Proto", "https"}, secure: true},
		"plain HTTP":              {secure: false},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			origins, err := origin.New([]string{public})
			if err != nil {
				t.Fatal(err)
			}
			f := newFixture(t, testToken, func(o *Options) { o.Origins = origins })
			c := f.client()
			r := c.post("/console/login", url.Values{"user": {"a"}, "password": {testToken}}, tc.header...)
			if r.code != http.StatusSeeOther {
				t.Fatalf("sign-in: %d %s", r.code, r.body)
			}
			if got := strings.Contains(r.h.Get("Set-Cookie"), "; Secure"); got != tc.secure {
				t.Fatalf("cookie %q: Secure %v, want %v", r.h.Get("Set-Cookie"), got, tc.secure)
			}
			if h := r.h.Get("Strict-Transport-Security"); h != "" {
				t.Fatalf("HSTS %q sent without console.https", h)
			}
		})
	}
	// A user the trusted proxy names, on HTTPS by its X-Forwarded-Proto.
	proxy, err := access.NewProxy("X-Remote-User", "X-Remote-Role", []string{"127.0.0.0/8"})
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, testToken, func(o *Options) { o.Proxy = proxy })
	req, _ := http.NewRequest("GET", f.srv.URL+"/console/", nil)
	req.Header.Set("X-Remote-User", "nurseC")
	req.Header.Set("X-Remote-Role", "viewer")
	req.Header.Set("X-Forwarded-Proto", "https")
	if r := f.client().do(req); r.code != http.StatusOK || !strings.Contains(r.h.Get("Set-Cookie"), "; Secure") {
		t.Fatalf("proxy session over HTTPS: %d, cookie %q (want Secure)", r.code, r.h.Get("Set-Cookie"))
	}
}

// TestSignInReturnsOnlyIntoTheConsole: the page a sign-in (next) or a
// "run now" (back) returns to is a console page as the browser reads the
// Location: dot segments (plain or percent-encoded) and control
// characters a browser drops cannot lead out of /console/.
func TestSignInReturnsOnlyIntoTheConsole(t *testing.T) {
	t.Parallel()
	f := newFixture(t, testToken)
	base, _ := url.Parse("https://medgate.hospital.example/console/login")
	// landing is where a browser goes for a Location: it drops tabs and
	// line breaks, reads a backslash as a slash and %2e as a dot in a
	// dot segment, then resolves the reference against the page.
	landing := func(loc string) *url.URL {
		loc = strings.NewReplacer("\t", "", "\n", "", "\r", "", "\\", "/", "%2e", ".", "%2E", ".").Replace(loc)
		u, err := url.Parse(loc)
		if err != nil {
			t.Fatalf("Location %q: %v", loc, err)
		}
		return base.ResolveReference(u)
	}
	for name, next := range map[string]string{
		"dot segments":           "/console/../admin/reload",
		"encoded dot segments":   "/console/%2e%2e/admin/reload",
		"encoded slash":          "/console/..%2f..%2fadmin/reload",
		"tab before a slash":     "/console/../\t/evil.example/",
		"other control":          "/console/\x00../../admin/reload",
		"dot segments to //":     "/console/..//evil.example",
		"deeper than the root":   "/console/../../../evil.example",
		"backslash":              "/console/..\\evil.example",
		"trailing dot segment":   "/console/..",
		"a console page, kept":   "/console/message?id=his-42",
		"the console root, kept": "/console/",
	} {
		t.Run(name, func(t *testing.T) {
			c := f.client()
			c.t = t
			r := c.post("/console/login", url.Values{"user": {"a"}, "password": {testToken}, "next": {next}})
			if r.code != http.StatusSeeOther {
				t.Fatalf("sign-in: %d", r.code)
			}
			loc := r.h.Get("Location")
			if strings.ContainsFunc(loc, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
				t.Fatalf("Location %q holds a control character", loc)
			}
			u := landing(loc)
			if u.Host != base.Host || !strings.HasPrefix(u.Path, Prefix) {
				t.Fatalf("next %q: Location %q lands at %s, outside the console", next, loc, u)
			}
			if strings.HasSuffix(name, "kept") && loc != next {
				t.Fatalf("next %q: Location %q, want it kept", next, loc)
			}
			if r := c.get("/console/"); r.code != http.StatusOK || c.csrf == "" {
				t.Fatalf("overview after sign-in: %d", r.code)
			}
			r = c.post("/console/jobs/run", url.Values{"job": {"tracecode/s1/stockin-sync"}, "back": {next}, "csrf": {c.csrf}})
			if u := landing(r.h.Get("Location")); r.code != http.StatusSeeOther || !strings.HasPrefix(u.Path, Prefix) {
				t.Fatalf("run now, back %q: %d, Location %q lands at %s", next, r.code, r.h.Get("Location"), u)
			}
		})
	}
}

// TestMaxSessionsPerUserConfigured: Options.MaxSessionsPerUser (the
// configuration's console.maxSessionsPerUser) bounds one user's sessions:
// past it each sign-in ends that user's least recently used session, the
// newest ones keep working, and the audit names the bound; 0 is the
// default of 20.
func TestMaxSessionsPerUserConfigured(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		option, want int
	}{
		{1, 1},
		{3, 3},
		{0, 20},
	} {
		t.Run(fmt.Sprint(tc.option), func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, testToken, func(o *Options) { o.MaxSessionsPerUser = tc.option })
			pw := f.addUser("desk", access.Operator)
			var cs []*client
			for range tc.want + 2 {
				f.clock.add(time.Millisecond) // the earlier sign-ins are the least recently used
				c := f.client()
				c.signIn("desk", pw)
				cs = append(cs, c)
			}
			for i, c := range cs {
				r := c.get("/console/jobs")
				if live, want := r.code == http.StatusOK, i >= 2; live != want {
					t.Errorf("sign-in %d of %d with a bound of %d: still signed in %v (%d), want %v", i+1, len(cs), tc.want, live, r.code, want)
				}
			}
			got, err := f.st.ListAudit(t.Context(), store.AuditFilter{Action: "session.evicted", Limit: 100})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 2 {
				t.Fatalf("%d session endings audited, want 2", len(got))
			}
			for _, e := range got {
				if want := fmt.Sprintf("desk already had %d sessions", tc.want); !strings.Contains(e.Detail, want) {
					t.Errorf("audited ending %q does not say %q", e.Detail, want)
				}
			}
		})
	}
}
