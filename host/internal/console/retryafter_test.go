package console

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/medgate/medgate/host/internal/access"
)

// TestSignInRefusalsSayWhenToRetry: every sign-in the lockout refuses
// (429) says in Retry-After how many seconds to wait, and the wait is
// honest: one second before it the right credentials are still refused,
// at its end they sign in. A script (or the CLI) reads the header, not
// the page. The lockout here: 3 failures within 10 minutes, per user and
// address, and per user across addresses after 4.
func TestSignInRefusalsSayWhenToRetry(t *testing.T) {
	t.Parallel()
	type try struct{ user, password, addr string }
	tests := map[string]struct {
		// fails are the failed sign-ins before the refused one, one
		// second apart.
		fails func(pw string) []try
		// right is the sign-in with the right credentials that is
		// refused, then let in once the wait has passed.
		right func(pw string) try
		// takeTurn: a guess from another new address takes the
		// per-user turn first, so the right credentials wait the
		// next, doubled turn.
		takeTurn bool
		want     time.Duration
	}{
		"a user's wrong passwords from one address": {
			fails: func(string) []try {
				return []try{{"amy", "wrong-1-0123456789", "10.7.0.1"}, {"amy", "wrong-2-0123456789", "10.7.0.1"}, {"amy", "wrong-3-0123456789", "10.7.0.1"}}
			},
			right: func(pw string) try { return try{"amy", pw, "10.7.0.1"} },
			want:  10*time.Minute - time.Second, // the window from the last failure, 1 s ago
		},
		"admin token guesses from one address": {
			fails: func(string) []try {
				return []try{{"guess-a", "wrong-token-1", "10.7.0.2"}, {"guess-b", "wrong-token-2", "10.7.0.2"}, {"guess-c", "wrong-token-3", "10.7.0.2"}}
			},
			right: func(string) try { return try{"boot-admin", testToken, "10.7.0.2"} },
			want:  10*time.Minute - time.Second,
		},
		"a user's wrong passwords from many addresses": {
			fails: func(string) []try {
				var out []try
				for i := range 4 {
					out = append(out, try{"amy", fmt.Sprintf("wrong-%d-0123456789", i), fmt.Sprintf("10.8.0.%d", i+1)})
				}
				return out
			},
			right:    func(pw string) try { return try{"amy", pw, "10.8.1.1"} },
			takeTurn: true,
			want:     2 * time.Second,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			proxy, err := access.NewProxy("", "", []string{"127.0.0.1"})
			if err != nil {
				t.Fatal(err)
			}
			f := newFixture(t, testToken, func(o *Options) { o.Proxy = proxy })
			f.lockout.PerUser(4, time.Minute)
			pw := f.addUser("amy", access.Operator)
			login := func(s try) resp {
				return f.client().post("/console/login", url.Values{"user": {s.user}, "password": {s.password}}, "X-Forwarded-For", s.addr)
			}
			for _, s := range tc.fails(pw) {
				if r := login(s); r.code != http.StatusUnauthorized {
					t.Fatalf("failed sign-in %+v: %d, want 401", s, r.code)
				}
				f.clock.add(time.Second)
			}
			right := tc.right(pw)
			if tc.takeTurn {
				if r := login(try{"amy", "wrong-x-0123456789", "10.8.2.2"}); r.code != http.StatusUnauthorized {
					t.Fatalf("the guess taking the turn: %d, want 401", r.code)
				}
			}
			r := login(right)
			if r.code != http.StatusTooManyRequests {
				t.Fatalf("the right credentials while locked out: %d, want 429", r.code)
			}
			ra, err := strconv.Atoi(r.h.Get("Retry-After"))
			if err != nil || ra < 1 {
				t.Fatalf("429 with Retry-After %q, want the seconds to wait (%v)", r.h.Get("Retry-After"), tc.want)
			}
			if got := time.Duration(ra) * time.Second; got != tc.want {
				t.Errorf("Retry-After %ds, want %v", ra, tc.want)
			}
			f.clock.add(time.Duration(ra-1) * time.Second)
			if r := login(right); r.code != http.StatusTooManyRequests {
				t.Errorf("the right credentials 1 s before Retry-After ended: %d, want 429", r.code)
			}
			f.clock.add(time.Second)
			if r := login(right); r.code != http.StatusSeeOther {
				t.Errorf("the right credentials once Retry-After (%ds) passed: %d, want 303 (signed in)", ra, r.code)
			}
		})
	}
}
