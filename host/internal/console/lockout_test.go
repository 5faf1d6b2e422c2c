package console

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/medgate/medgate/host/internal/access"
)

// TestLockedOutAnswerSameForUsers: once failed admin-token sign-ins lock
// out an address, a wrong password gets the same answer whether the name
// is a user's or not, so the lockout tells no one which names are users;
// the token stays locked out, a user's own password still signs in and
// a user's wrong passwords still lock the user out.
func TestLockedOutAnswerSameForUsers(t *testing.T) {
	t.Parallel()
	proxy, err := access.NewProxy("", "", []string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, testToken, func(o *Options) { o.Proxy = proxy })
	pw := f.addUser("alice", access.Operator)
	login := func(user, password, addr string) resp {
		return f.client().post("/console/login", url.Values{"user": {user}, "password": {password}}, "X-Forwarded-For", addr)
	}
	for i := range 3 {
		if r := login(fmt.Sprintf("guess%d", i), "wrong-token", "10.6.6.6"); r.code != http.StatusUnauthorized {
			t.Fatalf("guess %d: %d", i, r.code)
		}
	}
	user, stranger := login("alice", "wrong-password", "10.6.6.6"), login("bob", "wrong-password", "10.6.6.6")
	if user.code != stranger.code {
		t.Fatalf("locked-out address: a user's name gets %d, another name %d: user names can be discovered", user.code, stranger.code)
	}
	mainOf := func(r resp) string {
		_, after, _ := strings.Cut(r.body, "<main")
		before, _, _ := strings.Cut(after, "</main>")
		before = strings.ReplaceAll(before, "alice", "NAME")
		return strings.ReplaceAll(before, "bob", "NAME")
	}
	if a, b := mainOf(user), mainOf(stranger); a != b {
		t.Errorf("locked-out address: the answers differ for a user and a stranger:\n%s\n---\n%s", a, b)
	}
	if r := login("carol", testToken, "10.6.6.6"); r.code == http.StatusSeeOther {
		t.Errorf("the admin token signed in from the locked-out address")
	}
	if r := login("alice", pw, "10.6.6.6"); r.code != http.StatusSeeOther {
		t.Errorf("a user's own password from the locked-out address: %d", r.code)
	}
	// A user's password is not guessed freely meanwhile: the failures
	// count against the user's name as before.
	dpw := f.addUser("dave", access.Operator)
	for i := range 3 {
		login("dave", fmt.Sprintf("guess-%d", i), "10.6.6.6")
	}
	if r := login("dave", dpw, "10.6.6.6"); r.code != http.StatusTooManyRequests {
		t.Errorf("a user's right password after 3 wrong ones from the locked-out address: %d, want %d", r.code, http.StatusTooManyRequests)
	}
}
