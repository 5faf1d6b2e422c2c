package console

import (
	"errors"
	"strings"
	"testing"
)

// TestListsDoNotClaimEmptyWhenUnread: when the store cannot be read, the
// overview, the search and the 30-minute board say so above their table,
// and the table does not also claim that there is nothing: before, a
// wall display of the board read "Nothing is waiting: every message of
// the last day is done" under the notice while the store was down.
func TestListsDoNotClaimEmptyWhenUnread(t *testing.T) {
	t.Parallel()
	pages := map[string]struct {
		path, claim string
	}{
		"overview": {"/console/", "No message yet."},
		"search":   {"/console/messages?status=failed", "No message matches this search."},
		"board":    {"/console/board", "every message of the last day is done"},
	}
	for name, p := range pages {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			down := &downStore{}
			f := newFixture(t, testToken)
			down.Store = f.st
			f.b.st.Store = down
			f.b.st.fail = down.fail
			c := f.client()
			c.login("boss")
			err := errors.New("store: sqlite: search: decode reply: invalid character 'x'")
			down.failing.Store(&err)
			r := c.get(p.path)
			if r.code != 200 || !strings.Contains(r.body, "Check /readyz") {
				t.Fatalf("HTTP %d without the store's notice:\n%.1500s", r.code, r.body)
			}
			if strings.Contains(r.body, p.claim) {
				t.Errorf("the page says %q although its messages could not be read", p.claim)
			}
			if !strings.Contains(r.body, "未能读取 Not read") {
				t.Errorf("the table does not say its rows could not be read")
			}
		})
	}
}
