package console

import (
	"html"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/medgate/medgate/host/internal/store"
)

// whyRE is the message page's 原因 Why section.
var whyRE = regexp.MustCompile(`(?s)<section class="notice bad" id="why">.*?</section>`)

// TestMessagePageSaysWhy: a message that failed, was refused as invalid
// or rejected by the external system says at the top of its page, in
// words, why (each error with its field, the external system's code and
// message, masked) and what to do next: replay once the cause is fixed,
// or correct it at the source and send it with a new id. A message that
// succeeded or is still pending has no such section. Before, the reason
// was only in the raw reply JSON at the bottom of the page.
func TestMessagePageSaysWhy(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		outcome, status string
		reply           string
		want            []string
		wantNo          []string
	}{
		"failed: no answer": {outcome: "failed", status: store.StatusDone,
			reply: `{"status":"failed","errors":[{"rule":"unavailable","message":"ledger: connection refused after 3 attempts"}],"attempts":3}`,
			want:  []string{"失败 failed", "ledger: connection refused after 3 attempts", "unavailable", "重发 Replay"}},
		"invalid: a field": {outcome: "invalid", status: store.StatusDone,
			reply:  `{"status":"invalid","errors":[{"field":"$.fee[3].qty","rule":"required","message":"qty is required"},{"field":"$.patient.idNumber","rule":"length","message":"11010519491231002X is 18 characters, at most 16"}]}`,
			want:   []string{"$.fee[3].qty", "qty is required", "required", "$.patient.idNumber", "110***********002X", "before sending anything out", "new message id"},
			wantNo: []string{"11010519491231002X", `id="replay"`}},
		"invalid: the plugin disabled at the site": {outcome: "invalid", status: store.StatusDone,
			reply: `{"status":"invalid","errors":[{"field":"$.type","rule":"disabled","message":"plugin \"ledger\" is disabled for site \"s1\"; an administrator enables it in the site configuration"}]}`,
			want:  []string{"is disabled for site", "站点与插件 Sites & plugins", "new message id"}},
		"rejected: the external system": {outcome: "rejected", status: store.StatusDone,
			reply: `{"status":"rejected","external":{"system":"workinjury","code":"E1023","message":"备案信息不存在"},"errors":[{"rule":"external","message":"备案信息不存在"}]}`,
			want:  []string{"workinjury", "E1023", "备案信息不存在", "new message id"}},
		"ok":      {outcome: "ok", status: store.StatusDone, reply: `{"status":"ok","payload":{}}`},
		"pending": {status: store.StatusPending},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, testToken)
			f.b.st.msgs = append(f.b.st.msgs, store.Message{ID: "night-1", Site: "s1", Type: "workinjury.GYU102", Status: tc.status, Outcome: tc.outcome,
				Attempts: 3, ReceivedAt: f.clock.t.Add(-8 * time.Hour), Reply: []byte(tc.reply)})
			c := f.client()
			c.login("op01")
			r := c.get("/console/message?id=night-1")
			if r.code != 200 {
				t.Fatalf("message page: %d", r.code)
			}
			why := html.UnescapeString(whyRE.FindString(r.body))
			if len(tc.want) == 0 {
				if why != "" {
					t.Errorf("a message %q has a why section:\n%s", tc.outcome, why)
				}
				return
			}
			if why == "" {
				t.Fatalf("the page of a %s message does not say why at the top:\n%.3000s", tc.outcome, r.body)
			}
			if i, j := strings.Index(r.body, `id="why"`), strings.Index(r.body, "过程 Timeline"); i > j {
				t.Errorf("the why section comes after the timeline (at %d, timeline at %d)", i, j)
			}
			for _, w := range tc.want {
				if !strings.Contains(why, w) {
					t.Errorf("the why section lacks %q:\n%s", w, why)
				}
			}
			for _, w := range tc.wantNo {
				if strings.Contains(why, w) {
					t.Errorf("the why section shows %q:\n%s", w, why)
				}
			}
		})
	}
}
