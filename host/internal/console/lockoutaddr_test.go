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
