package console

import (
	"html"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestBulkReplayPageShowsWhatBecameOfTheMessages: once a bulk replay
// has finished, its page links to the messages it replayed at any status
// (pending, then ok or failed again) and, apart, to those still failed,
// and says which is which. Before, its one link "See these messages"
// searched status=failed: after a replay that worked it listed nothing,
// so the operator could not see that it had worked.
func TestBulkReplayPageShowsWhatBecameOfTheMessages(t *testing.T) {
	t.Parallel()
	_, c := traceFixture(t)
	r := c.post("/console/messages/replay-all", url.Values{"csrf": {c.csrf}, "type": {"workinjury."}, "site": {"s1", "s2"}})
	loc := r.h.Get("Location")
	if r.code != 303 || !strings.HasPrefix(loc, "/console/replays/") {
		t.Fatalf("replay-all: %d %q", r.code, loc)
	}
	deadline := time.Now().Add(10 * time.Second)
	p := c.get(loc)
	for ; !strings.Contains(p.body, "完成 finished"); p = c.get(loc) {
		if time.Now().After(deadline) {
			t.Fatalf("the bulk replay did not finish:\n%s", p.body)
		}
	}
	body := html.UnescapeString(p.body)
	for _, want := range []string{
		`href="/console/messages?site=s1&site=s2&type=workinjury."`,               // any status: what became of them
		`href="/console/messages?site=s1&site=s2&status=failed&type=workinjury."`, // failed again
		"仍失败 Still failed",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the finished bulk replay's page lacks %q:\n%s", want, body)
		}
	}
}

// TestBulkReplayPageNamesItsSites: the page of a bulk replay over several
// sites names each site with how many of its messages were selected and
// replayed, so an operator of several hospitals sees what was touched.
func TestBulkReplayPageNamesItsSites(t *testing.T) {
	t.Parallel()
	_, c := traceFixture(t)
	r := c.post("/console/messages/replay-all", url.Values{"csrf": {c.csrf}, "type": {"workinjury."}})
	loc := r.h.Get("Location")
	if r.code != 303 || !strings.HasPrefix(loc, "/console/replays/") {
		t.Fatalf("replay-all: %d %q", r.code, loc)
	}
	deadline := time.Now().Add(10 * time.Second)
	p := c.get(loc)
	for ; !strings.Contains(p.body, "完成 finished"); p = c.get(loc) {
		if time.Now().After(deadline) {
			t.Fatalf("the bulk replay did not finish:\n%s", p.body)
		}
	}
	for _, want := range []string{`<tr data-site="s1"><td>s1</td><td>1</td><td>1</td></tr>`, `<tr data-site="s2"><td>s2</td><td>1</td><td>1</td></tr>`} {
		if !strings.Contains(p.body, want) {
			t.Errorf("the bulk replay's page lacks %s:\n%s", want, p.body)
		}
	}
}
