package console

import (
	"fmt"
	"net/http"
	"net/url"
	"testing"

	"github.com/medgate/medgate/host/internal/access"
)

// TestLockoutCountsAnIPv6NetworkAsOneAddress: a guesser's wrong passwords
// for a user lock the user out of the guesser's address; an IPv6 client
// holds a whole /64 (2^64 addresses), so the lockout counts the /64 as one
// address, else each guess from a fresh address of it would start afresh
// and the per-address bound would not bind. IPv4 addresses, an
// IPv4-mapped IPv6 one among them, stay one address each (a /64 would
// put every IPv4 client in one). Over HTTP, through a trusted proxy's
// X-Forwarded-For; the lockout here is 3 failures.
func TestLockoutCountsAnIPv6NetworkAsOneAddress(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		guesses []string // addresses the 3 wrong passwords come from
		from    string   // where the right password is then sent
		want    int
	}{
		"IPv6, the same /64":                 {[]string{"2001:db8:1:2::a1", "2001:db8:1:2::a2", "2001:db8:1:2:ffff::3"}, "2001:db8:1:2::b", http.StatusTooManyRequests},
		"IPv6, the same /64 with brackets":   {[]string{"[2001:db8:1:2::a1]:4001", "2001:db8:1:2::a2", "[2001:db8:1:2::a3]"}, "2001:db8:1:2:8000::1", http.StatusTooManyRequests},
		"IPv6, another /64":                  {[]string{"2001:db8:1:2::a1", "2001:db8:1:2::a2", "2001:db8:1:2::a3"}, "2001:db8:1:3::a1", http.StatusSeeOther},
		"IPv4, one address each":             {[]string{"10.9.0.1", "10.9.0.2", "10.9.0.3"}, "10.9.0.4", http.StatusSeeOther},
		"IPv4-mapped IPv6, one address each": {[]string{"::ffff:10.9.0.1", "::ffff:10.9.0.2", "::ffff:10.9.0.3"}, "::ffff:10.9.0.4", http.StatusSeeOther},
		"IPv4-mapped IPv6 is its IPv4":       {[]string{"::ffff:10.9.0.1", "10.9.0.1", "::ffff:10.9.0.1"}, "10.9.0.1", http.StatusTooManyRequests},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			proxy, err := access.NewProxy("", "", []string{"127.0.0.1"})
			if err != nil {
				t.Fatal(err)
			}
			f := newFixture(t, testToken, func(o *Options) { o.Proxy = proxy })
			pw := f.addUser("amy", access.Operator)
			login := func(password, addr string) resp {
				return f.client().post("/console/login", url.Values{"user": {"amy"}, "password": {password}}, "X-Forwarded-For", addr)
			}
			for i, a := range tc.guesses {
				if r := login(fmt.Sprintf("wrong-%d-0123456789", i), a); r.code != http.StatusUnauthorized {
					t.Fatalf("wrong password %d from %s: %d, want 401", i, a, r.code)
				}
			}
			if r := login(pw, tc.from); r.code != tc.want {
				t.Errorf("the right password from %s after 3 wrong ones from %v: %d, want %d", tc.from, tc.guesses, r.code, tc.want)
			}
		})
	}
}

// TestGuesserBehindASharedAddress: a ward behind one NAT or proxy address
// (here every browser comes from the test server's 127.0.0.1, no proxy
// trusted to forward) shares that address.
// A guesser there who tries a user's name 3 times locks the user out of
// the address: a browser the user signed in with before (it holds the
// console's device cookie) still signs in with the right password, as the
// user's own device counts apart; any other browser there (a new one of
// the user's, the guesser's, one with a made-up device cookie, one only
// another user signed in in) waits, and
// users the guesser did not try are not affected. The user's own browser
// is locked out in turn by wrong passwords typed in it.
func TestGuesserBehindASharedAddress(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		// browser is the one that sends the right password after the
		// guesses: "own" signed in before, "new" never did, "forged"
		// sends a device cookie the console never gave, "bob's" is
		// one only bob signed in in.
		browser string
		user    string
		// ownWrong: wrong passwords typed in the user's own browser
		// before (after the guesser's).
		ownWrong int
		want     int
	}{
		"the user's own browser":                     {browser: "own", user: "amy", want: http.StatusSeeOther},
		"a new browser of the user's":                {browser: "new", user: "amy", want: http.StatusTooManyRequests},
		"a made-up device cookie":                    {browser: "forged", user: "amy", want: http.StatusTooManyRequests},
		"a browser only another user signed in in":   {browser: "bob's", user: "amy", want: http.StatusTooManyRequests},
		"another user, not guessed":                  {browser: "new", user: "bob", want: http.StatusSeeOther},
		"the user's own browser after 2 wrong in it": {browser: "own", user: "amy", ownWrong: 2, want: http.StatusSeeOther},
		"the user's own browser after 3 wrong in it": {browser: "own", user: "amy", ownWrong: 3, want: http.StatusTooManyRequests},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, testToken)
			pws := map[string]string{"amy": f.addUser("amy", access.Operator), "bob": f.addUser("bob", access.Operator)}
			login := func(c *client, user, password string) resp {
				return c.post("/console/login", url.Values{"user": {user}, "password": {password}})
			}
			own := f.client()
			if r := login(own, tc.user, pws[tc.user]); r.code != http.StatusSeeOther {
				t.Fatalf("%s signs in from the ward before: %d", tc.user, r.code)
			}
			guesser := f.client()
			for i := range 3 {
				if r := login(guesser, "amy", fmt.Sprintf("guess-%d-0123456789", i)); r.code != http.StatusUnauthorized {
					t.Fatalf("guess %d: %d, want 401", i, r.code)
				}
			}
			if r := login(guesser, "amy", pws["amy"]); r.code != http.StatusTooManyRequests {
				t.Errorf("the guesser's browser, the right password after 3 guesses: %d, want 429", r.code)
			}
			for i := range tc.ownWrong {
				if r := login(own, tc.user, fmt.Sprintf("typo-%d-0123456789", i)); r.code != http.StatusUnauthorized {
					t.Fatalf("wrong password %d in the user's own browser: %d, want 401", i, r.code)
				}
			}
			c := own
			switch tc.browser {
			case "new":
				c = f.client()
			case "bob's":
				c = f.client()
				if r := login(c, "bob", pws["bob"]); r.code != http.StatusSeeOther {
					t.Fatalf("bob signs in: %d", r.code)
				}
			case "forged":
				c = f.client()
				u, _ := url.Parse(f.srv.URL + "/console/")
				c.http.Jar.SetCookies(u, []*http.Cookie{{Name: deviceCookie, Value: randomHex(32), Path: "/console/"}})
			}
			if r := login(c, tc.user, pws[tc.user]); r.code != tc.want {
				t.Errorf("%s from the ward (%s browser), the right password: %d, want %d", tc.user, tc.browser, r.code, tc.want)
			}
		})
	}
}
