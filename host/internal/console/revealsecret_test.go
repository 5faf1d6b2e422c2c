package console

import (
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/medgate/medgate/host/internal/store"
)

// TestRevealKeepsSecretsRedacted: an admin's 显示个人信息 (reveal) shows a
// message's personal data unmasked, never the tokens, passwords and keys
// its request, reply or journal hold (a plugin that journals its token
// call as sent, a platform that puts a password in a request): those are
// no personal data, and no page shows a secret.
func TestRevealKeepsSecretsRedacted(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		msg   store.Message
		xs    []store.Exchange
		shown []string // personal data the reveal shows
		leaks []string // secrets it must not show
	}{
		"request and reply": {
			msg: store.Message{Request: []byte(`{"id":"rv-1","payload":{"name":"张三丰","password":"pw-hunter2-secret"}}`),
				Reply: []byte(`{"status":"failed","payload":{"accessToken":"tk_9f8e7d6c5b4a"},"errors":[{"field":"$","rule":"external","message":"token=tk_errtext123 refused for 张三丰"}]}`)},
			shown: []string{"张三丰"},
			leaks: []string{"pw-hunter2-secret", "tk_9f8e7d6c5b4a", "tk_errtext123"},
		},
		"journal bodies": {
			msg: store.Message{Request: []byte(`{"id":"rv-1","payload":{"idNumber":"11010519491231002X"}}`)},
			xs: []store.Exchange{{System: "tracecode", Code: "token", Status: "error",
				Request:  []byte(`{"appId":"a1","appSecret":"s3cr3t-app-value","nested":{"sm4Key":"00112233445566778899aabbccddeeff"}}`),
				Response: []byte(`POST /token HTTP/1.1 Authorization: Bearer eyJhbGciOi.secretpart.sig`),
				Error:    "refused: password=hunter2-in-error for 11010519491231002X"}},
			shown: []string{"11010519491231002X", "a1"},
			leaks: []string{"s3cr3t-app-value", "00112233445566778899aabbccddeeff", "eyJhbGciOi.secretpart.sig", "hunter2-in-error"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, testToken)
			m := tc.msg
			m.ID, m.Site, m.Type, m.Status, m.Outcome, m.Attempts, m.ReceivedAt = "rv-1", "s1", "tracecode.token", store.StatusDone, "failed", 1, f.clock.now()
			f.b.st.msgs = append(f.b.st.msgs, m)
			for _, x := range tc.xs {
				x.MessageID, x.At = "rv-1", f.clock.now()
				f.b.st.xs = append(f.b.st.xs, x)
			}
			c := f.client()
			c.login("admin01") // the admin token: an admin
			r := c.action("/console/message/reveal", url.Values{"id": {"rv-1"}})
			if r.code != http.StatusOK {
				t.Fatalf("reveal: HTTP %d\n%s", r.code, r.body)
			}
			body := html.UnescapeString(r.body)
			for _, w := range tc.shown {
				if !strings.Contains(body, w) {
					t.Errorf("the reveal does not show the personal data %q", w)
				}
			}
			for _, l := range tc.leaks {
				if strings.Contains(body, l) {
					t.Errorf("the reveal shows the secret %q", l)
				}
			}
			if !strings.Contains(body, "[redacted]") {
				t.Errorf("the reveal says nowhere that a secret was redacted")
			}
		})
	}
}
