package console

import (
	"html"
	"net/http"
	"strings"
	"testing"

	"github.com/medgate/medgate/host/internal/store"
)

// TestPayloadViewMasksSecretStringsOnly: the message page's payload view
// redacts the string values of secret keys (token, password…), also a
// string that looks like a number and strings nested in an object or
// array under such a key, and shows their numbers, booleans and null as
// they are (a count, a flag, an expiry).
func TestPayloadViewMasksSecretStringsOnly(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		reply string
		want  []string // in the page
		leaks []string // not in the page
	}{
		"number":         {reply: `{"status":"ok","payload":{"token":3}}`, want: []string{`"token": 3`}},
		"boolean":        {reply: `{"status":"ok","payload":{"token":true,"password":false}}`, want: []string{`"token": true`, `"password": false`}},
		"null":           {reply: `{"status":"ok","payload":{"accessToken":null}}`, want: []string{`"accessToken": null`}},
		"count key":      {reply: `{"status":"ok","payload":{"tokenCount":12}}`, want: []string{`"tokenCount": 12`}},
		"string":         {reply: `{"status":"ok","payload":{"token":"tk_9f8e7d6c"}}`, want: []string{`"token": "[redacted]"`}, leaks: []string{"tk_9f8e7d6c"}},
		"numeric string": {reply: `{"status":"ok","payload":{"token":"20261205"}}`, want: []string{`"token": "[redacted]"`}, leaks: []string{"20261205"}},
		"nested":         {reply: `{"status":"ok","payload":{"token":{"value":"tk_9f8e7d6c","expiresIn":7200,"scopes":["upload",5]}}}`, want: []string{`"value": "[redacted]"`, `"expiresIn": 7200`, `"[redacted]",`, "5"}, leaks: []string{"tk_9f8e7d6c", "upload"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, testToken)
			f.b.st.msgs = append(f.b.st.msgs, store.Message{ID: "tok-1", Site: "s1", Type: "tracecode.token", Status: store.StatusDone, Outcome: "ok",
				Attempts: 1, ReceivedAt: f.clock.t, Reply: []byte(tc.reply)})
			c := f.client()
			c.login("op01")
			r := c.get("/console/message?id=tok-1")
			if r.code != http.StatusOK {
				t.Fatalf("message page: %d %s", r.code, r.body)
			}
			body := html.UnescapeString(r.body)
			for _, w := range tc.want {
				if !strings.Contains(body, w) {
					t.Errorf("the payload view lacks %s", w)
				}
			}
			for _, l := range tc.leaks {
				if strings.Contains(body, l) {
					t.Errorf("the payload view shows %q", l)
				}
			}
		})
	}
}
