package console

import (
	"context"
	"encoding/json"
	"errors"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/medgate/medgate/host/internal/access"
	"github.com/medgate/medgate/host/internal/audit"
	"github.com/medgate/medgate/host/internal/message"
	"github.com/medgate/medgate/host/internal/scheduler"
	"github.com/medgate/medgate/host/internal/store"
	"github.com/medgate/medgate/plugins/sdk"
)

// SearchMessages filters the fake's messages like the store (paging by
// position: the cursor is the index of the next message).
func (f *fakeStore) SearchMessages(_ context.Context, q store.MessageQuery) ([]store.Message, string, error) {
	if err := f.failed(); err != nil {
		return nil, "", err
	}
	var all []store.Message
	for _, m := range f.msgs {
		switch {
		case q.IDPrefix != "" && !strings.HasPrefix(m.ID, q.IDPrefix),
			q.Key != "" && m.Key != q.Key,
			q.TypePrefix != "" && !strings.HasPrefix(m.Type, q.TypePrefix),
			q.Site != "" && m.Site != q.Site,
			len(q.Sites) > 0 && !slices.Contains(q.Sites, m.Site),
			q.Status == store.StatusPending && m.Status != store.StatusPending,
			q.Status != "" && q.Status != store.StatusPending && m.Outcome != q.Status,
			!q.From.IsZero() && m.ReceivedAt.Before(q.From),
			!q.To.IsZero() && !m.ReceivedAt.Before(q.To):
			continue
		}
		all = append(all, m)
	}
	start := 0
	if q.After != "" {
		n, err := strconv.Atoi(q.After)
		if err != nil {
			return nil, "", err
		}
		start = n
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	if start >= len(all) {
		return nil, "", nil
	}
	end := min(start+limit, len(all))
	next := ""
	if end < len(all) {
		next = strconv.Itoa(end)
	}
	return all[start:end], next, nil
}

// traceFixture adds messages for the search, replay and board.
func traceFixture(t *testing.T) (*fixture, *client) {
	f := newFixture(t, testToken)
	now := f.clock.now()
	f.b.st.msgs = append(f.b.st.msgs,
		store.Message{ID: "his-fail-1", Site: "s1", Type: "workinjury.GYU102", Key: "P001", Status: store.StatusDone, Outcome: "failed", Attempts: 8,
			OccurredAt: now.Add(-40 * time.Minute), ReceivedAt: now.Add(-40 * time.Minute), UpdatedAt: now.Add(-39 * time.Minute),
			Request: []byte(`{"id":"his-fail-1","payload":{"name":"张三丰","idNumber":"11010519491231002X"}}`)},
		store.Message{ID: "his-fail-2", Site: "s2", Type: "workinjury.GYU101", Key: "P002", Status: store.StatusDone, Outcome: "failed", Attempts: 8,
			ReceivedAt: now.Add(-25 * time.Minute)},
		store.Message{ID: "his-pending-3", Site: "s1", Type: "workinjury.GYU103", Key: "P001", Status: store.StatusPending, Attempts: 1,
			OccurredAt: now.Add(-5 * time.Minute), ReceivedAt: now.Add(-5 * time.Minute)},
	)
	f.b.st.xs = append(f.b.st.xs, store.Exchange{MessageID: "his-fail-1", System: "workinjury", Code: "GYU102", Status: "error", Error: "connection refused",
		DurationMS: 1234, At: now.Add(-40 * time.Minute).Add(time.Second)})
	c := f.client()
	c.login("op01 李操作")
	return f, c
}

func TestSearchMessages(t *testing.T) {
	t.Parallel()
	_, c := traceFixture(t)
	tests := map[string]struct {
		query      string
		code       int
		want, omit []string
	}{
		"by business key":  {query: "key=P001", code: 200, want: []string{"his-fail-1", "his-pending-3"}, omit: []string{"his-fail-2"}},
		"by status":        {query: "status=failed", code: 200, want: []string{"his-fail-1", "his-fail-2", "/console/messages/replay-all"}, omit: []string{"his-pending-3"}},
		"by site and type": {query: "site=s2&type=workinjury.", code: 200, want: []string{"his-fail-2"}, omit: []string{"his-fail-1"}},
		"by id prefix":     {query: "id=his-pend", code: 200, want: []string{"his-pending-3"}, omit: []string{"his-fail-1"}},
		"nothing":          {query: "key=nobody", code: 200, want: []string{"没有符合条件的消息"}},
		"bad status":       {query: "status=lost", code: 400, want: []string{"status &#34;lost&#34; is not one of"}},
		"bad times": {query: "from=yesterday&to=2026-11-26T08:00&status=ok", code: 400,
			want: []string{"开始 from &#34;yesterday&#34; is not a time"}},
		"to before from":             {query: "from=2026-11-26T08:00&to=2026-11-26T07:00", code: 400, want: []string{"结束 to must be after 开始 from."}},
		"not failed: no bulk replay": {query: "status=ok", code: 200, omit: []string{"/console/messages/replay-all"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			r := c.get("/console/messages?" + tc.query)
			if r.code != tc.code {
				t.Fatalf("GET ?%s: HTTP %d, want %d\n%s", tc.query, r.code, tc.code, r.body)
			}
			for _, w := range tc.want {
				if !strings.Contains(r.body, w) {
					t.Errorf("?%s: the page lacks %q", tc.query, w)
				}
			}
			for _, w := range tc.omit {
				if strings.Contains(r.body, w) {
					t.Errorf("?%s: the page shows %q", tc.query, w)
				}
			}
		})
	}
}

func TestSearchPages(t *testing.T) {
	t.Parallel()
	f, c := traceFixture(t)
	for i := range searchPage + 3 {
		f.b.st.msgs = append(f.b.st.msgs, store.Message{ID: "page-" + strconv.Itoa(i), Site: "s1", Type: "ledger.record", Status: store.StatusDone, Outcome: "ok"})
	}
	first := c.get("/console/messages?id=page-")
	next := mustFind(t, `rel="next" href="([^"]+)"`, first.body)
	if strings.Count(first.body, `data-id="page-`) != searchPage {
		t.Fatalf("first page: %d rows, want %d", strings.Count(first.body, `data-id="page-`), searchPage)
	}
	second := c.get(strings.ReplaceAll(next, "&amp;", "&"))
	if n := strings.Count(second.body, `data-id="page-`); n != 3 || strings.Contains(second.body, `rel="next"`) || !strings.Contains(second.body, "first page") {
		t.Fatalf("second page: %d rows\n%s", n, second.body)
	}
}

func TestMessageTraceAndReplay(t *testing.T) {
	t.Parallel()
	f, c := traceFixture(t)
	r := c.get("/console/message?id=his-fail-1")
	for _, w := range []string{"1234 ms", "connection refused", "outcome stored after 8 attempt(s)", `id="replay"`, "张**", "110***********002X"} {
		if !strings.Contains(r.body, w) {
			t.Errorf("the trace lacks %q", w)
		}
	}
	if strings.Contains(r.body, "张三丰") || strings.Contains(r.body, "11010519491231002X") || r.h.Get("Refresh") != "" {
		t.Errorf("the trace shows personal data unmasked or reloads itself (Refresh %q)", r.h.Get("Refresh"))
	}
	if r := c.get("/console/message?id=his-pending-3"); r.h.Get("Refresh") == "" || strings.Contains(r.body, `id="replay"`) {
		t.Errorf("a pending message: Refresh %q, replay offered %v", r.h.Get("Refresh"), strings.Contains(r.body, `id="replay"`))
	}

	r = c.action("/console/messages/replay", url.Values{"id": {"his-fail-1"}})
	if !strings.Contains(r.body, "已重发 (replayed): his-fail-1") || len(f.b.replayed) != 1 {
		t.Fatalf("replay: %v\n%s", f.b.replayed, r.body)
	}
	r = c.action("/console/messages/replay", url.Values{"id": {"console-list-aaa"}})
	if !strings.Contains(r.body, "未重发 (not replayed)") || !strings.Contains(r.body, "message console-list-aaa is ok, nothing to replay") || !strings.Contains(r.body, "new id") {
		t.Fatalf("replay of an ok message:\n%s", r.body)
	}
	// Its state and what to do, never the store's own words.
	for _, internal := range []string{"reopen message", "conflict"} {
		if strings.Contains(r.body, internal) {
			t.Errorf("the refusal of an ok message's replay shows the store's internal %q", internal)
		}
	}
	r = c.action("/console/messages/replay", url.Values{"id": {"nope"}})
	if !strings.Contains(r.body, "No message with this id is stored") {
		t.Fatalf("replay of an unknown message:\n%s", r.body)
	}
}

func TestBulkReplay(t *testing.T) {
	t.Parallel()
	f, c := traceFixture(t)
	c.get("/console/messages?status=failed")
	r := c.post("/console/messages/replay-all", url.Values{"csrf": {c.csrf}, "type": {"workinjury."}})
	if r.code != http.StatusSeeOther || !strings.HasPrefix(r.h.Get("Location"), "/console/replays/") {
		t.Fatalf("replay-all: %d %v", r.code, r.h)
	}
	loc := r.h.Get("Location")
	deadline := time.Now().Add(10 * time.Second)
	for {
		p := c.get(loc)
		if strings.Contains(p.body, "完成 finished") {
			if !strings.Contains(p.body, "2 / 2") || p.h.Get("Refresh") != "" {
				t.Fatalf("finished bulk replay:\n%s", p.body)
			}
			break
		}
		if p.h.Get("Refresh") == "" || time.Now().After(deadline) {
			t.Fatalf("a running bulk replay page: Refresh %q\n%s", p.h.Get("Refresh"), p.body)
		}
	}
	f.b.mu.Lock()
	got := strings.Join(f.b.replayed, ",")
	f.b.mu.Unlock()
	if got != "his-fail-1,his-fail-2" {
		t.Errorf("replayed %s, want the two failed messages", got)
	}
	// Audited: attempted, started (with how many it selected), and
	// finished (with how many it replayed), each naming the attempt.
	es, err := f.st.ListAudit(t.Context(), store.AuditFilter{Action: "message.replay.bulk"})
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for i := len(es) - 1; i >= 0; i-- {
		lines = append(lines, es[i].Outcome+" "+es[i].Detail)
	}
	if len(es) != 3 || es[2].Outcome != audit.Attempted || !strings.Contains(es[1].Detail, "2 failed messages selected") ||
		!strings.Contains(es[0].Detail, "finished: 2 of 2 replayed") || es[0].Outcome != audit.OK || !strings.Contains(es[0].Detail, "attempt #") {
		t.Errorf("bulk replay audited:\n%s\nwant attempted, started with 2 selected, finished with 2 of 2 replayed", strings.Join(lines, "\n"))
	}
	if r := c.get("/console/replays/unknown"); r.code != 404 {
		t.Errorf("unknown replay: %d", r.code)
	}
	if r := c.post("/console/messages/replay-all", url.Values{"csrf": {c.csrf}, "from": {"soon"}}); r.code != 400 {
		t.Errorf("bad filter: %d", r.code)
	}
}

func TestBoard(t *testing.T) {
	t.Parallel()
	_, c := traceFixture(t)
	r := c.get("/console/board")
	if r.code != 200 || r.h.Get("Refresh") == "" {
		t.Fatalf("board: %d Refresh %q", r.code, r.h.Get("Refresh"))
	}
	for _, w := range []string{`class="level-past" data-id="his-fail-1"`, `class="level-near" data-id="his-fail-2"`, `class="level-ok" data-id="his-pending-3"`,
		`<b id="board-past">1</b>`, `<b id="board-near">1</b>`, "40分0秒"} {
		if !strings.Contains(r.body, w) {
			t.Errorf("the board lacks %q", w)
		}
	}
	if strings.Contains(r.body, "console-list-aaa") {
		t.Error("the board lists the console's own reads")
	}
	if i, j := strings.Index(r.body, "his-fail-1"), strings.Index(r.body, "his-pending-3"); i > j {
		t.Error("the board is not oldest first")
	}
}

func TestJobsPage(t *testing.T) {
	t.Parallel()
	f, c := traceFixture(t)
	f.b.jobs = append(f.b.jobs, scheduler.Status{ID: "workinjury/s1/gyd001", Interval: "30m0s", LastRun: f.clock.now(), Took: 1500 * time.Millisecond,
		Summary: "2 filings downloaded", Processed: 2, Runs: 3, Owner: true})
	r := c.get("/console/jobs")
	for _, w := range []string{"tracecode/s1/stockin-sync", "未运行 not run yet", "2 filings downloaded", `<td class="records">2</td>`, "1.5s"} {
		if !strings.Contains(r.body, w) {
			t.Errorf("the jobs page lacks %q", w)
		}
	}
	r = c.post("/console/jobs/run", url.Values{"csrf": {c.csrf}, "job": {"workinjury/s1/gyd001"}, "back": {"/console/jobs"}})
	if r.code != http.StatusSeeOther || r.h.Get("Location") != "/console/jobs" {
		t.Fatalf("run now: %d %v", r.code, r.h)
	}
	if r := c.post("/console/jobs/run", url.Values{"csrf": {c.csrf}, "job": {"x"}, "back": {"https://evil.example/"}}); r.h.Get("Location") != "/console/" {
		t.Errorf("run now went back to %q", r.h.Get("Location"))
	}
}

// TestOperatorPagesNeedSession: every new page sends a stranger to the
// sign-in page, and every POST without a session or CSRF token is refused.
func TestOperatorPagesNeedSession(t *testing.T) {
	t.Parallel()
	f, signedIn := traceFixture(t)
	stranger := f.client()
	for _, p := range []string{"/console/messages", "/console/jobs", "/console/board", "/console/replays/x"} {
		if r := stranger.get(p); r.code != http.StatusSeeOther || !strings.HasPrefix(r.h.Get("Location"), "/console/login") {
			t.Errorf("GET %s without a session: %d %v", p, r.code, r.h)
		}
	}
	for _, p := range []string{"/console/messages/replay", "/console/messages/replay-all"} {
		if r := stranger.post(p, url.Values{"id": {"his-fail-1"}}); r.code != http.StatusForbidden {
			t.Errorf("POST %s without a session: %d", p, r.code)
		}
		if r := signedIn.post(p, url.Values{"id": {"his-fail-1"}}); r.code != http.StatusForbidden {
			t.Errorf("POST %s without the CSRF token: %d", p, r.code)
		}
	}
	if len(f.b.replayed) != 0 {
		t.Errorf("refused requests replayed %v", f.b.replayed)
	}
}

// TestPersonalColumnsMasked: a declared personal field is masked by the
// console even when the plugin sends it in full, and a scanner form
// comes back empty for the next scan.
func TestPersonalColumnsMasked(t *testing.T) {
	t.Parallel()
	f := newFixture(t, testToken)
	scan := sdk.Form{Name: "scan", Title: "扫码 Scan", Operation: "ecard.scan", Scanner: true,
		Fields: []sdk.Argument{{Name: "text", Type: sdk.SettingString, Required: true}},
		Result: sdk.Display{Fields: []sdk.Column{{Field: "cardNo", Title: "卡号"}, {Field: "name", Title: "姓名", Personal: true}}}}
	f.b.plugins[0].Views.Forms = append(f.b.plugins[0].Views.Forms, scan)
	f.b.handlers["ecard.scan"] = func(json.RawMessage) *message.Reply {
		return okReply(map[string]any{"cardNo": "880100000000013", "name": "张三丰"})
	}
	c := f.client()
	c.login("cash01")
	r := c.get("/console/form/ecard/scan")
	if !strings.Contains(r.body, "data-scanner") || !strings.Contains(r.body, "autofocus") {
		t.Fatalf("the scan page is no scanner form:\n%s", r.body)
	}
	r = c.post("/console/form/ecard/scan", url.Values{"csrf": {c.csrf}, "site": {"s1"}, "text": {"MGE1SCANNED"}})
	if !strings.Contains(r.body, "880100000000013") || !strings.Contains(r.body, "张**") || strings.Contains(r.body, "张三丰") {
		t.Fatalf("scan result:\n%s", r.body)
	}
	if strings.Contains(r.body, `value="MGE1SCANNED"`) {
		t.Error("the scanner field keeps the last scan")
	}
}

func mustFind(t *testing.T, re, s string) string {
	t.Helper()
	m := regexp.MustCompile(re).FindStringSubmatch(s)
	if m == nil {
		t.Fatalf("%s not found in:\n%s", re, s)
	}
	return m[1]
}

// TestMessageReveal: an admin may see a message's personal data unmasked,
// by a post that is audited first; an operator is offered no reveal and
// is refused one.
func TestMessageReveal(t *testing.T) {
	t.Parallel()
	f, admin := traceFixture(t) // signed in with the admin token: an admin
	if r := admin.get("/console/message?id=his-fail-1"); !strings.Contains(r.body, `id="reveal"`) {
		t.Fatalf("an admin is offered no reveal:\n%s", r.body)
	}
	r := admin.action("/console/message/reveal", url.Values{"id": {"his-fail-1"}})
	for _, w := range []string{"张三丰", "11010519491231002X", `id="revealed"`} {
		if !strings.Contains(r.body, w) {
			t.Errorf("the revealed trace lacks %q", w)
		}
	}
	got, err := f.st.ListAudit(t.Context(), store.AuditFilter{Action: "personal.reveal"})
	if err != nil || len(got) != 1 || got[0].Target != "his-fail-1" || got[0].Outcome != "ok" {
		t.Fatalf("the reveal is not audited once for his-fail-1: %+v %v", got, err)
	}
	if strings.Contains(got[0].Detail, "张三丰") {
		t.Fatalf("the audit entry holds personal data: %q", got[0].Detail)
	}

	pw := f.addUser("op02", access.Operator)
	op := f.client()
	op.signIn("op02", pw)
	if r := op.get("/console/message?id=his-fail-1"); strings.Contains(r.body, `id="reveal"`) || strings.Contains(r.body, "张三丰") {
		t.Fatalf("an operator is offered a reveal or sees the name:\n%s", r.body)
	} else if strings.Contains(r.body, "/admin/messages/") {
		// The admin API masks the reply as the page does.
		t.Fatalf("the page sends the operator to the admin API for the unmasked reply:\n%s", r.body)
	}
	r = op.action("/console/message/reveal", url.Values{"id": {"his-fail-1"}})
	if r.code != http.StatusForbidden || strings.Contains(r.body, "张三丰") {
		t.Fatalf("an operator's reveal: %d\n%s", r.code, r.body)
	}
	if got, _ := f.st.ListAudit(t.Context(), store.AuditFilter{Action: "personal.reveal"}); len(got) != 1 {
		t.Fatalf("a refused reveal was recorded as a reveal: %+v", got)
	}
}

// TestRefusedReplayAndJobAudited: a replay or run-now that did not happen
// is in the audit log as not done, not as ok.
func TestRefusedReplayAndJobAudited(t *testing.T) {
	t.Parallel()
	f, c := traceFixture(t)
	c.action("/console/messages/replay", url.Values{"id": {"his-fail-1"}})
	c.action("/console/messages/replay", url.Values{"id": {"his-pending-3"}})
	c.action("/console/messages/replay", url.Values{"id": {"nope"}})
	c.action("/console/jobs/run", url.Values{"job": {"nope/s1/none"}})
	got, err := f.st.ListAudit(t.Context(), store.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	outcomes, attempted := map[string]string{}, map[string]bool{}
	for _, e := range got {
		for _, id := range []string{"his-fail-1", "his-pending-3", "nope", "nope/s1/none"} {
			if strings.HasSuffix(e.Detail, " "+id) || strings.Contains(e.Detail, " "+id+":") || strings.Contains(e.Detail, " "+id+";") {
				if e.Outcome == audit.Attempted {
					attempted[e.Action+" "+id] = true
				} else {
					outcomes[e.Action+" "+id] = e.Outcome
				}
			}
		}
	}
	want := map[string]string{"message.replay his-fail-1": "ok", "message.replay his-pending-3": "refused",
		"message.replay nope": "refused", "job.run nope/s1/none": "refused"}
	for k, w := range want {
		if outcomes[k] != w || !attempted[k] {
			t.Errorf("%s audited as %q (attempted first: %v), want %q (all: %v)", k, outcomes[k], attempted[k], w, outcomes)
		}
	}
}

// TestTraceMasksJournalErrors: an external call's error text is masked on
// the message page like its bodies (an admin's reveal shows it whole).
func TestTraceMasksJournalErrors(t *testing.T) {
	t.Parallel()
	f, c := traceFixture(t)
	f.b.st.xs = append(f.b.st.xs, store.Exchange{MessageID: "his-fail-2", System: "workinjury", Code: "GYU101", Status: "error",
		Error: "证件号 11010519491231002X 不存在 (13812345678)", At: f.clock.now()})
	r := c.get("/console/message?id=his-fail-2")
	if !strings.Contains(r.body, "110***********002X") {
		t.Fatalf("the trace lacks the masked error:\n%s", r.body)
	}
	for _, leak := range []string{"11010519491231002X", "13812345678"} {
		if strings.Contains(r.body, leak) {
			t.Errorf("the trace shows %q unmasked", leak)
		}
	}
}

// TestDocumentPersonalColumnsMasked: a document's header and line columns
// declared personal are masked like a form's or a work list's, whatever
// the plugin sent (sdk.Column.Personal).
func TestDocumentPersonalColumnsMasked(t *testing.T) {
	t.Parallel()
	f := newFixture(t, testToken)
	doc := draftDoc
	doc.Header = append(slices.Clone(draftDoc.Header), sdk.Column{Field: "patientName", Title: "患者 patient", Personal: true})
	doc.LineColumns = append(slices.Clone(draftDoc.LineColumns), sdk.Column{Field: "receiver", Title: "领用人 receiver", Personal: true})
	f.b.plugins[1].Views.Documents = []sdk.DocumentView{doc}
	f.b.handlers["tracecode.draft.get"] = func(json.RawMessage) *message.Reply {
		d := draftJSON("open")
		d["patientName"] = "张三丰"
		d["lines"].([]any)[0].(map[string]any)["receiver"] = "李四光"
		return okReply(d)
	}
	c := f.client()
	c.login("pharm01")
	r := c.get("/console/document/tracecode/draft?site=s1&id=SUP-001")
	if r.code != http.StatusOK || !strings.Contains(r.body, "阿莫西林胶囊") {
		t.Fatalf("document page: %d\n%s", r.code, r.body)
	}
	for _, clear := range []string{"张三丰", "李四光"} {
		if strings.Contains(r.body, clear) {
			t.Errorf("the document page shows the personal value %s unmasked", clear)
		}
	}
	for _, masked := range []string{"张**", "李**"} {
		if !strings.Contains(r.body, masked) {
			t.Errorf("the document page lacks the masked value %s", masked)
		}
	}
}

// TestReplayNoticeLeadsInChinese replays one message from its page, as a
// duty operator does, in each way a replay can end: the notice's line
// under its title says, in Chinese first, what happened and what to do.
// The lines were English only (the message is back in the pipeline, no
// message with this id, a message that is not failed, an error of the
// pipeline), under a Chinese title.
func TestReplayNoticeLeadsInChinese(t *testing.T) {
	t.Parallel()
	line := regexp.MustCompile(`(?s)<section class="notice[^>]*>\s*<h2>[^<]*</h2>\s*<p>([^<]*)</p>`)
	for _, tc := range []struct {
		name, id string
		err      error
		want     string // in the line, after the Chinese
	}{
		{"replayed", "his-fail-1", nil, "back in the pipeline"},
		{"unknown id", "nope", nil, "No message with this id is stored"},
		{"not failed", "console-list-aaa", nil, "nothing to replay"},
		{"pipeline error", "his-fail-2", errors.New("kafka: produce medgate.requests: broker closed the connection"), "check /readyz"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, c := traceFixture(t)
			f.b.mu.Lock()
			f.b.replayErr = tc.err
			f.b.mu.Unlock()
			r := c.action("/console/messages/replay", url.Values{"id": {tc.id}})
			m := line.FindStringSubmatch(r.body)
			if m == nil {
				t.Fatalf("no notice with a line after replaying %s:\n%s", tc.id, r.body)
			}
			text := html.UnescapeString(m[1])
			if first, _ := utf8.DecodeRuneInString(text); !unicode.Is(unicode.Han, first) || !strings.Contains(text, tc.want) {
				t.Errorf("the notice after replaying %s says %q: want Chinese first, then %q", tc.id, text, tc.want)
			}
		})
	}
}
