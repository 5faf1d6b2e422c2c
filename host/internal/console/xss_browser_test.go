package console

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"github.com/medgate/medgate/host/internal/message"
	"github.com/medgate/medgate/host/internal/scheduler"
	"github.com/medgate/medgate/host/internal/store"
	"github.com/medgate/medgate/test/browser"
)

// hostile is what an external system, a plugin, a patient's record or a
// user name may hold: markup that runs a script or adds an element if a
// page put it in unescaped, in text and in attributes.
const hostile = `"'><img src=x onerror=alert(1) data-xss=1><script>alert(2)</script><a data-xss=2 href="javascript:alert(3)">x</a>`

// TestHostileTextsInChromium renders every page that shows text from
// outside medgate (a plugin's last error and its jobs' errors, a work
// list's rows, a message's request, reply, errors, external answer and
// journal, the signed-in name, a search's parameters, the sign-in
// page's next) with hostile markup in headless Chromium: no dialog opens,
// no injected element exists, and the browser reports no script the
// Content-Security-Policy had to block (which would mean markup got in).
func TestHostileTextsInChromium(t *testing.T) {
	t.Parallel()
	f := newFixture(t, testToken)
	f.b.plugins[1].LastError = hostile
	f.b.jobs[0].LastErr, f.b.jobs[0].Summary = hostile, hostile
	f.b.handlers["ecard.cards.list"] = func(json.RawMessage) *message.Reply {
		return okReply(map[string]any{"items": []any{map[string]any{"cardNo": hostile, "name": hostile, "note": hostile}}})
	}
	reply, _ := json.Marshal(message.Reply{Status: message.StatusRejected, Errors: []message.ReplyError{{Field: hostile, Rule: hostile, Message: hostile}},
		External: &message.External{System: hostile, Code: hostile, Message: hostile}})
	req, _ := json.Marshal(map[string]any{"id": "xss-1", "payload": map[string]string{"name": hostile, "file": hostile}})
	f.b.st.msgs = append(f.b.st.msgs, store.Message{ID: "xss-1", Site: "s1", Type: "ecard.register", Key: hostile, Status: store.StatusDone,
		Outcome: message.StatusRejected, Attempts: 1, ReceivedAt: f.clock.now(), Request: req, Reply: reply})
	f.b.st.xs = append(f.b.st.xs, store.Exchange{MessageID: "xss-1", System: hostile, Code: hostile, Serial: hostile, Status: "error",
		Error: hostile, Request: []byte(hostile), Response: []byte(`{"msg":` + string(mustJSON(t, hostile)) + `}`), At: f.clock.now()})
	f.b.jobs = append(f.b.jobs, scheduler.Status{ID: "ecard/s1/" + "sync", Interval: "1h0m0s", LastErr: hostile, Owner: true})

	b := browser.Start(t, f.srv.URL)
	b.Go("/console/login?next=" + url.QueryEscape("/console/"+hostile))
	b.SignIn(map[string]string{"user": `<img src=x onerror=alert(4) data-xss=3>`, "password": testToken}) // a name is at most 64
	pages := []string{
		"/console/",
		"/console/?all=1",
		"/console/worklists",
		"/console/message?id=xss-1",
		"/console/messages?" + url.Values{"id": {hostile}, "key": {hostile}, "type": {hostile}}.Encode(),
		"/console/jobs",
		"/console/board",
		"/console/admin/audit?" + url.Values{"user": {hostile}, "action": {hostile}}.Encode(),
		"/console/" + url.PathEscape(hostile),
	}
	for _, p := range pages {
		b.Go(p)
		if p == "/console/" && !strings.Contains(b.Text("body"), "<img src=x onerror=alert(1) data-xss=1>") {
			t.Errorf("%s: the plugin's last error is not shown as text", p)
		}
		if n := b.Nodes("[data-xss]"); n > 0 {
			t.Errorf("%s: %d injected element(s) in the page", p, n)
		}
		for _, pr := range b.Problems() {
			if strings.Contains(pr, "Content Security Policy") || strings.Contains(pr, "Content-Security-Policy") {
				t.Errorf("%s: the browser blocked a script: %s", p, pr)
			}
		}
	}
	if d := b.Dialogs(); len(d) > 0 {
		t.Errorf("dialogs opened: %q", d)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
