package console

import (
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestPostAfterSessionEndedLeadsBack sends forms as a duty operator
// whose session ended meanwhile (signed out in another tab, idle too
// long): the refusal says the action was not done and offers a sign-in
// that returns to the page the form was on (its Referer), or to the
// overview when the form came from no console page. It used to name
// /console/login as plain text only, so the operator signed in and
// landed on the overview, hunting for the page again.
func TestPostAfterSessionEndedLeadsBack(t *testing.T) {
	t.Parallel()
	f := newFixture(t, testToken)
	for _, tc := range []struct {
		name, path, referer, next string
	}{
		{"replay from a message's page", "/console/messages/replay", "/console/message?id=his-42", "/console/message?id=his-42"},
		{"a plugin's form", "/console/form/ecard/print", "/console/form/ecard/print", "/console/form/ecard/print"},
		{"from the sign-in page", "/console/jobs/run", "/console/login", "/console/"},
		{"from elsewhere", "/console/jobs/run", "http://elsewhere.example/console/jobs", "/console/"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := f.client()
			c.signIn("li.admin", testToken)
			csrf := c.csrf
			c.post("/console/logout", url.Values{"csrf": {csrf}})
			ref := tc.referer
			if strings.HasPrefix(ref, "/") {
				ref = f.srv.URL + ref
			}
			r := c.post(tc.path, url.Values{"csrf": {csrf}, "id": {"his-42"}}, "Referer", ref)
			if r.code != http.StatusForbidden || !strings.Contains(r.body, "not signed in") || !strings.Contains(r.body, "was not done") {
				t.Fatalf("a post after the session ended: %d\n%s", r.code, r.body)
			}
			want := `id="sign-in" href="` + html.EscapeString("/console/login?next="+url.QueryEscape(tc.next)) + `"`
			if !strings.Contains(r.body, want) {
				t.Errorf("the refusal lacks the sign-in back to %s (%s):\n%s", tc.next, want, r.body)
			}
		})
	}
}
