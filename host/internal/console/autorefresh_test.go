package console

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/medgate/medgate/host/internal/store"
)

var refreshRE = regexp.MustCompile(`^(\d+); url=(/console/\S+)$`)

// refreshURL is where a page's Refresh header reloads it, and after how long.
func refreshURL(t *testing.T, r resp) (time.Duration, string) {
	t.Helper()
	m := refreshRE.FindStringSubmatch(r.h.Get("Refresh"))
	if m == nil {
		t.Fatalf("Refresh header %q: want \"<seconds>; url=/console/…\"", r.h.Get("Refresh"))
	}
	u, err := url.Parse(m[2])
	if err != nil || u.Query().Get(autoRefreshParam) != "1" {
		t.Fatalf("Refresh header %q: the reload is not marked automatic (%s=1)", r.h.Get("Refresh"), autoRefreshParam)
	}
	secs, _ := time.ParseDuration(m[1] + "s")
	return secs, m[2]
}

// TestAutoRefreshIsNotActivity: the board's own reloads (and a pending
// message's) keep the page current but do not count as activity, so a
// board left alone signs out after the idle timeout like any page; a
// request of the user (any other) does count.
func TestAutoRefreshIsNotActivity(t *testing.T) {
	t.Parallel()
	f := newFixture(t, testToken)
	f.b.st.msgs = append(f.b.st.msgs, store.Message{ID: "his-pending", Site: "s1", Type: "ecard.scan", Status: store.StatusPending, ReceivedAt: f.clock.now()})
	c := f.client()
	c.login("wall")
	r := c.get("/console/board")
	if r.code != http.StatusOK {
		t.Fatalf("board: %d", r.code)
	}
	every, next := refreshURL(t, r)
	if every != 30*time.Second || !strings.HasPrefix(next, "/console/board?") {
		t.Fatalf("board reloads %s every %s, want itself every 30s", next, every)
	}
	reload := func(until time.Duration) (resp, time.Duration) {
		var el time.Duration
		for el < until {
			f.clock.add(every)
			el += every
			r := c.get(next)
			if r.code != http.StatusOK {
				return r, el
			}
			if _, again := refreshURL(t, r); again != next {
				t.Fatalf("reloaded board reloads %s, want %s", again, next)
			}
		}
		return resp{code: http.StatusOK}, el
	}
	// Reloads only: the session lasts the idle timeout (30m), no longer.
	if r, el := reload(29 * time.Minute); r.code != http.StatusOK {
		t.Fatalf("automatic reload after %s: %d, want 200 within the idle timeout", el, r.code)
	}
	// The user clicks: that counts; reloads go on for another 29 minutes.
	if r := c.get("/console/board"); r.code != http.StatusOK {
		t.Fatalf("user's request at 29m: %d", r.code)
	}
	if r, el := reload(29 * time.Minute); r.code != http.StatusOK {
		t.Fatalf("automatic reload %s after the user's last request: %d, want 200", el, r.code)
	}
	r, el := reload(2 * time.Minute)
	if r.code != http.StatusSeeOther || !strings.HasPrefix(r.h.Get("Location"), "/console/login") {
		t.Fatalf("automatic reloads %s after the user's last request: %d, want the sign-in (idle timeout 30m)", el+29*time.Minute, r.code)
	}

	// A pending message's page reloads itself the same way.
	c.login("wall")
	r = c.get("/console/message?id=his-pending")
	if r.code != http.StatusOK {
		t.Fatalf("pending message: %d", r.code)
	}
	if every, next := refreshURL(t, r); every != 2*time.Second || !strings.Contains(next, "id=his-pending") {
		t.Fatalf("pending message reloads %s every %s, want itself every 2s", next, every)
	}
}
