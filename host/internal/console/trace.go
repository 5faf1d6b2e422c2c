package console

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/medgate/medgate/host/internal/audit"
	"github.com/medgate/medgate/host/internal/logging"
	"github.com/medgate/medgate/host/internal/message"
	"github.com/medgate/medgate/host/internal/scheduler"
	"github.com/medgate/medgate/host/internal/store"
)

// The operator's pages: message search (trace), replay of one failed
// message or of a filtered set, the jobs and the 30-minute board.

// searchPage is the number of messages on one page of the search.
const searchPage = 50

// maxBulkReplay bounds one bulk replay; a larger set is replayed in parts.
const maxBulkReplay = 1000

// searchForm is the search as the operator typed it (kept in the form and
// the paging links). Sites are the sites ticked (none: every site the
// user sees).
type searchForm struct {
	ID, Key, Type, Status, From, To string
	Sites                           []string
}

// statuses are the values of the status filter.
var statuses = []string{"", "pending", "ok", "invalid", "rejected", "failed"}

// timeInput is the layout of <input type="datetime-local">, read in the
// console's zone (Options.Location).
const timeInput = "2006-01-02T15:04"

// query turns the form into a store query and lists every problem; its
// times are read in loc.
func (f searchForm) query(loc *time.Location) (store.MessageQuery, []string) {
	q := store.MessageQuery{IDPrefix: f.ID, Key: f.Key, TypePrefix: f.Type, Sites: f.Sites, Status: f.Status, Limit: searchPage}
	var problems []string
	if !contains(statuses, f.Status) {
		problems = append(problems, fmt.Sprintf("状态 status %q is not one of pending, ok, invalid, rejected, failed.", f.Status))
	}
	parse := func(what, s string, into *time.Time) {
		if s == "" {
			return
		}
		t, err := time.ParseInLocation(timeInput, s, loc)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s %q is not a time like 2026-11-26T08:30.", what, s))
			return
		}
		*into = t
	}
	parse("开始 from", f.From, &q.From)
	parse("结束 to", f.To, &q.To)
	if !q.From.IsZero() && !q.To.IsZero() && !q.To.After(q.From) {
		problems = append(problems, "结束 to must be after 开始 from.")
	}
	return q, problems
}

func (f searchForm) values() url.Values {
	v := url.Values{}
	for k, s := range map[string]string{"id": f.ID, "key": f.Key, "type": f.Type, "status": f.Status, "from": f.From, "to": f.To} {
		if s != "" {
			v.Set(k, s)
		}
	}
	if len(f.Sites) > 0 {
		v["site"] = f.Sites
	}
	return v
}

// Ticked reports whether site is one of the form's sites.
func (f searchForm) Ticked(site string) bool { return slices.Contains(f.Sites, site) }

// formOf reads the search from a query or a posted form: site may be
// given several times, or as a list separated by commas (site codes hold
// none).
func formOf(v url.Values) searchForm {
	t := func(k string) string { return strings.TrimSpace(v.Get(k)) }
	f := searchForm{ID: t("id"), Key: t("key"), Type: t("type"), Status: t("status"), From: t("from"), To: t("to")}
	for _, list := range v["site"] {
		for s := range strings.SplitSeq(list, ",") {
			if s = strings.TrimSpace(s); s != "" && !slices.Contains(f.Sites, s) {
				f.Sites = append(f.Sites, s)
			}
		}
	}
	slices.Sort(f.Sites)
	return f
}

// searchData is the search page's data.
type searchData struct {
	Form     searchForm
	Statuses []string
	Sites    []string
	// Scoped: the user sees only Sites.
	Scoped   bool
	Problems []string
	Messages []store.Message
	// Next is the link of the next page; First of the first.
	Next, First string
	Paged       bool
	Err         string
}

func (c *Console) searchMessages(w http.ResponseWriter, r *http.Request) {
	qs := r.URL.Query()
	u := userOf(r)
	d := searchData{Form: formOf(qs), Statuses: statuses, Sites: scopedSites(u, c.allSites()), Scoped: u.Scoped()}
	q, problems := d.Form.query(c.o.Location)
	// A site outside the user's scope selects nothing, as one without
	// messages (README: Site-scoped users).
	seen := len(scopeQuery(u, &q)) == 0
	d.Problems = problems
	d.First = Prefix + "messages?" + d.Form.values().Encode()
	q.After = qs.Get("after")
	d.Paged = q.After != ""
	if len(problems) == 0 && seen {
		ms, next, err := c.b.Store().SearchMessages(r.Context(), q)
		if err != nil {
			d.Err = c.storeTrouble(r, "The messages could not be searched", err)
		}
		d.Messages = scopedMessages(u, ms)
		for i := range d.Messages {
			d.Messages[i].Key = maskKey(d.Messages[i].Key)
		}
		if next != "" {
			v := d.Form.values()
			v.Set("after", next)
			d.Next = Prefix + "messages?" + v.Encode()
		}
	}
	status := http.StatusOK
	if len(problems) > 0 {
		status = http.StatusBadRequest
	}
	c.render(w, r, status, "messages", "消息查询 (message search)", "messages", d)
}

// allSites lists the sites where any plugin is enabled.
func (c *Console) allSites() []string {
	seen := map[string]bool{}
	var out []string
	for _, p := range c.b.Plugins() {
		for _, s := range p.Sites {
			if !seen[s] {
				seen[s] = true
				out = append(out, s)
			}
		}
	}
	sort.Strings(out)
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// replayOne sends one failed message through again.
func (c *Console) replayOne(w http.ResponseWriter, r *http.Request) {
	s := sessionFrom(r)
	id := r.PostFormValue("id")
	var err error
	if s.user().Scoped() {
		// Of a site the user sees, or answered as one never received.
		_, err = c.scopedMessage(r, id)
	}
	if err == nil {
		err = c.b.Replay(r.Context(), id)
	}
	f := &flash{OK: err == nil, Title: "已重发 (replayed): " + id, MessageID: id}
	if err == nil {
		f.Lines = []string{"消息已重新进入处理：插件答复后本页显示新的结果（处理中时本页自动刷新）。The message is back in the pipeline; this page shows its new outcome once the plugin has answered (it reloads itself while the message is pending)."}
	} else {
		f.Title = "未重发 (not replayed): " + id
		f.Lines = []string{c.replayProblem(r.Context(), r.URL.Path, id, err)}
		switch {
		case errors.Is(err, store.ErrNotFound):
			recordUndone(r, audit.Refused, "no such message")
		case errors.Is(err, store.ErrConflict):
			recordUndone(r, audit.Refused, "not a failed message")
		default:
			recordUndone(r, audit.Failed, "not replayed")
		}
	}
	c.o.Logger.Info("console: replay", "operator", s.operator, "id", id, "ok", err == nil)
	c.sessions.setFlash(s, f)
	redirect(w, r, Prefix+"message?id="+url.QueryEscape(id))
}

// replayProblem says why a replay was refused and what to do. A passing
// outage of the store or Kafka is named, with the advice to try again,
// never with the error's text (it names the database's host, address and
// account): that goes to the log (path says where). A message that is not
// failed is named with its state and what to do instead, read from the
// store (id), never with the store's own words.
func (c *Console) replayProblem(ctx context.Context, path, id string, err error) string {
	if line, down := c.outageLine(path, "消息未重发 The message was not replayed", err); down {
		return line
	}
	switch {
	case errors.Is(err, store.ErrNotFound):
		return "没有存储这个编号的消息，请在消息查询中重新查找。No message with this id is stored; search again."
	case errors.Is(err, store.ErrConflict):
		// The message's state and what to do, never the store's own words.
		var m *store.Message
		if st := c.b.Store(); st != nil {
			m, _ = st.GetMessage(ctx, id)
		}
		return "这条消息不是失败状态，不能重发（回复见该消息的页面）。" + store.WhyNotReplayable(id, m) + " (its reply is on this page)."
	}
	return "消息未重发：请查看 /readyz（存储、Kafka）后重试。" + err.Error() + "; check /readyz (store, Kafka) and try again."
}

// bulk is one bulk replay and its progress.
type bulk struct {
	ID       string
	Operator string
	Filter   searchForm
	Started  time.Time

	// siteOf is the site of each message selected; selected counts
	// them by site, replayedAt those replayed (under mu).
	siteOf     map[string]string
	selected   map[string]int
	replayedAt map[string]int

	mu       sync.Mutex
	total    int
	done     int
	replayed int
	problems []string
	finished time.Time
}

// bulkView is a snapshot of a bulk replay for the page.
type bulkView struct {
	ID, Operator             string
	Filter                   searchForm
	Started, Finished        time.Time
	Total, Done, Replayed    int
	Percent                  int
	Problems                 []string
	Running                  bool
	SearchLink, FailedSearch string
	// Sites are the sites whose messages it selected, each with how
	// many it selected and replayed.
	Sites []bulkSite
}

// bulkSite is a bulk replay at one site.
type bulkSite struct {
	Site               string
	Selected, Replayed int
}

func (b *bulk) view() bulkView {
	b.mu.Lock()
	defer b.mu.Unlock()
	v := bulkView{ID: b.ID, Operator: b.Operator, Filter: b.Filter, Started: b.Started, Finished: b.finished,
		Total: b.total, Done: b.done, Replayed: b.replayed, Problems: append([]string(nil), b.problems...), Running: b.finished.IsZero()}
	for _, site := range slices.Sorted(maps.Keys(b.selected)) {
		v.Sites = append(v.Sites, bulkSite{Site: site, Selected: b.selected[site], Replayed: b.replayedAt[site]})
	}
	if b.total > 0 {
		v.Percent = b.done * 100 / b.total
	} else if !v.Running {
		v.Percent = 100
	}
	// The search at any status shows what became of the messages
	// (pending, then ok or failed again); at status failed, those that
	// failed again (none: it worked).
	all := b.Filter
	all.Status = ""
	v.SearchLink = Prefix + "messages?" + all.values().Encode()
	v.FailedSearch = Prefix + "messages?" + b.Filter.values().Encode()
	return v
}

// bulks keeps the bulk replays of this process (the latest 50).
type bulks struct {
	mu sync.Mutex
	m  map[string]*bulk
}

func (bs *bulks) add(b *bulk) {
	bs.mu.Lock()
	defer bs.mu.Unlock()
	if bs.m == nil {
		bs.m = map[string]*bulk{}
	}
	for len(bs.m) >= 50 {
		var oldest *bulk
		for _, x := range bs.m {
			if oldest == nil || x.Started.Before(oldest.Started) {
				oldest = x
			}
		}
		delete(bs.m, oldest.ID)
	}
	bs.m[b.ID] = b
}

func (bs *bulks) get(id string) *bulk {
	bs.mu.Lock()
	defer bs.mu.Unlock()
	return bs.m[id]
}

// replayAll replays every failed message the filter selects (at most
// maxBulkReplay), in the background; the progress page follows it.
func (c *Console) replayAll(w http.ResponseWriter, r *http.Request) {
	s := sessionFrom(r)
	_ = r.ParseForm()
	f := formOf(r.PostForm)
	f.Status = "failed" // only failed messages can be replayed
	q, problems := f.query(c.o.Location)
	u := s.user()
	if outside := scopeQuery(u, &q); len(outside) > 0 {
		recordUndone(r, audit.Refused, "site(s) "+strings.Join(outside, ",")+" not one of the user's sites ("+strings.Join(u.Sites, ",")+")")
		c.fail(w, r, http.StatusForbidden, "不是您的站点 (not your site)",
			"站点 site "+strings.Join(outside, ", ")+" 不是您的站点（"+strings.Join(u.Sites, ", ")+"），未重发任何消息。Site "+strings.Join(outside, ", ")+" is not one of your sites ("+strings.Join(u.Sites, ", ")+"); nothing was replayed.",
			"请只勾选您的站点，或都不勾选以重发您所有站点的失败消息；管理员可修改您的站点（medgate user sites "+u.Name+"）。"+
				"Tick only your sites, or none to replay the failed messages of all of them; an administrator may change your sites (medgate user sites "+u.Name+").")
		return
	}
	f.Sites = q.Sites // a scoped user's: the progress page is theirs (replayProgress)
	if len(problems) > 0 {
		c.fail(w, r, http.StatusBadRequest, "筛选条件有误 (the filter is wrong)", strings.Join(problems, " "), "请改正查询条件后再重发。Correct the search and replay again.")
		return
	}
	var ids []string
	siteOf := map[string]string{}
	q.Limit = 200
	for len(ids) < maxBulkReplay {
		ms, next, err := c.b.Store().SearchMessages(r.Context(), q)
		if err != nil {
			c.storeFailed(w, r, "消息读取失败 (messages not read)", "The failed messages could not be listed; nothing was replayed", err)
			return
		}
		for _, m := range scopedMessages(u, ms) {
			ids = append(ids, m.ID)
			siteOf[m.ID] = m.Site
		}
		if next == "" {
			break
		}
		q.After = next
	}
	if len(ids) > maxBulkReplay {
		ids = ids[:maxBulkReplay]
	}
	b := &bulk{ID: randomHex(12), Operator: s.operator, Filter: f, Started: c.o.Now(), total: len(ids), siteOf: siteOf,
		selected: map[string]int{}, replayedAt: map[string]int{}}
	for _, id := range ids {
		b.selected[siteOf[id]]++
	}
	c.bulks.add(b)
	c.o.Logger.Info("console: bulk replay started", "operator", s.operator, "replay", b.ID, "messages", len(ids), "sites", b.auditSite())
	// Started, then finished (runBulk): each an outcome of the attempt,
	// naming every site whose messages it selected.
	_ = audit.Record(r.Context(), audit.Entry{Action: "message.replay.bulk", Target: Prefix + "replays/" + b.ID, Site: b.auditSite(), Outcome: audit.OK,
		Detail: fmt.Sprintf("开始：选中 %[1]d 条失败消息%[2]s。started: %[1]d failed messages selected%[2]s", len(ids), b.perSite(false))})
	go c.runBulk(context.WithoutCancel(r.Context()), b, ids)
	redirect(w, r, Prefix+"replays/"+b.ID)
}

// auditSite names the sites of a bulk replay's audit entries: every site
// whose messages it selected, else the sites it searched ("" for every
// site).
func (b *bulk) auditSite() string {
	if len(b.selected) == 0 {
		return strings.Join(b.Filter.Sites, ",")
	}
	return strings.Join(slices.Sorted(maps.Keys(b.selected)), ",")
}

// perSite says how many messages a bulk replay selected at each site
// (and, when replayed, how many of them it replayed): " (s1: 2, s2: 1)".
func (b *bulk) perSite(replayed bool) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var parts []string
	for _, site := range slices.Sorted(maps.Keys(b.selected)) {
		if replayed {
			parts = append(parts, fmt.Sprintf("%s: %d of %d", site, b.replayedAt[site], b.selected[site]))
		} else {
			parts = append(parts, fmt.Sprintf("%s: %d", site, b.selected[site]))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

func (c *Console) runBulk(ctx context.Context, b *bulk, ids []string) {
	ctx, cancel := context.WithTimeout(ctx, c.o.MaxCall)
	defer cancel()
	for _, id := range ids {
		err := c.b.Replay(ctx, id)
		var problem string
		if err != nil {
			problem = c.replayProblem(ctx, Prefix+"replays/"+b.ID, id, err)
		}
		b.mu.Lock()
		b.done++
		if err == nil {
			b.replayed++
			b.replayedAt[b.siteOf[id]]++
		} else if len(b.problems) < 20 {
			b.problems = append(b.problems, id+": "+problem)
		}
		b.mu.Unlock()
	}
	b.mu.Lock()
	replayed, total := b.replayed, b.total
	b.mu.Unlock()
	// Audited before the page shows it finished. Not every message
	// replayed (another replay took it, the store or Kafka failed): failed.
	outcome := audit.OK
	if replayed < total {
		outcome = audit.Failed
	}
	_ = audit.Record(ctx, audit.Entry{Action: "message.replay.bulk", Target: Prefix + "replays/" + b.ID, Site: b.auditSite(), Outcome: outcome,
		Detail: fmt.Sprintf("完成：%[2]d 条中重放 %[1]d 条%[3]s。finished: %[1]d of %[2]d replayed%[3]s", replayed, total, b.perSite(true))})
	b.mu.Lock()
	b.finished = c.o.Now()
	b.mu.Unlock()
	c.o.Logger.Info("console: bulk replay finished", "operator", b.Operator, "replay", b.ID, "messages", len(ids), "replayed", b.view().Replayed)
}

func (c *Console) replayProgress(w http.ResponseWriter, r *http.Request) {
	b := c.bulks.get(r.PathValue("id"))
	if u := userOf(r); b != nil && u.Scoped() && (len(b.Filter.Sites) == 0 || slices.ContainsFunc(b.Filter.Sites, func(s string) bool { return !u.SeesSite(s) })) {
		b = nil // of a site the user does not see (or every site's): answered as unknown
	}
	if b == nil {
		c.fail(w, r, http.StatusNotFound, "没有这次重发 (no such replay)", "本 medgate 进程不知道这次批量重发（进程已重启，或链接已过时）。This bulk replay is not known to this medgate process (it restarted, or the link is old).", "请重新查询失败的消息后重发。Search the failed messages again and replay them.")
		return
	}
	v := b.view()
	if v.Running {
		refreshEvery(w, r, 1) // follows the progress without a script
	}
	c.render(w, r, http.StatusOK, "replay", "批量重发 (bulk replay)", "messages", v)
}

// jobRow is a job on the jobs page.
type jobRow struct {
	scheduler.Status
	// Running is how long the run in progress has lasted ("" when none
	// is); Hung: longer than scheduler.DefaultMaxRuns intervals, the
	// default bound past which a run is cancelled (one still running
	// then ignores it).
	Running string
	Hung    bool
}

// jobsPage lists the scheduled jobs with their last outcome, a run in
// progress and failures in a row.
func (c *Console) jobsPage(w http.ResponseWriter, r *http.Request) {
	now := c.o.Now()
	var rows []jobRow
	for _, j := range maskedJobs(scopedJobs(userOf(r), c.b.Jobs())) {
		row := jobRow{Status: j}
		if !j.RunningSince.IsZero() {
			lasted := max(now.Sub(j.RunningSince), 0).Truncate(time.Second)
			row.Running = lasted.String()
			if every, err := time.ParseDuration(j.Interval); err == nil && every > 0 && lasted > scheduler.DefaultMaxRuns*every {
				row.Hung = true
			}
		}
		rows = append(rows, row)
	}
	c.render(w, r, http.StatusOK, "jobs", "定时任务 (jobs)", "jobs", rows)
}

// maskedPlugins returns the plugins with their last error masked as log
// lines are (logging.Mask): it is the plugin's words (a Configure refusal
// quoting a setting, a crash's panic quoting a message), and every role
// sees it on the overview.
func maskedPlugins(ps []Plugin) []Plugin {
	out := slices.Clone(ps)
	for i := range out {
		out[i].LastError = logging.Mask(out[i].LastError)
	}
	return out
}

// maskedJobs returns the jobs with their last error and summary masked as
// log lines are (logging.Mask): a plugin writes them and may quote a
// patient's ID or mobile number.
func maskedJobs(jobs []scheduler.Status) []scheduler.Status {
	jobs = slices.Clone(jobs)
	for i := range jobs {
		jobs[i].LastErr = logging.Mask(jobs[i].LastErr)
		jobs[i].Summary = logging.Mask(jobs[i].Summary)
	}
	return jobs
}

// boardRow is one message on the board.
type boardRow struct {
	store.Message
	// Since is the business time (received time when the message has none).
	Since time.Time
	Age   time.Duration
	// Level is "past", "near" or "ok" against the deadline.
	Level string
	Left  time.Duration
}

// boardData is the board's data.
type boardData struct {
	Deadline, Near time.Duration
	Rows           []boardRow
	Past, NearN    int
	Refresh        int
	Now            time.Time
	Err            string
}

// boardWindow is how far back the board looks for open messages.
const boardWindow = 24 * time.Hour

// board shows every message of the last day that is not done well yet —
// pending, or failed and waiting for a replay — oldest first, against the
// 30-minute upload deadline (Options.Deadline).
func (c *Console) board(w http.ResponseWriter, r *http.Request) {
	now := c.o.Now()
	d := boardData{Deadline: c.o.Deadline, Near: c.o.Deadline * 2 / 3, Refresh: 30, Now: now}
	u := userOf(r)
	sites := []string{""} // every site
	if u.Scoped() {
		sites = u.Sites // each of the user's on its own (500 each): a busy site cannot crowd out another
	}
	var ms []store.Message
search:
	for _, site := range sites {
		for _, status := range []string{store.StatusPending, message.StatusFailed} {
			q := store.MessageQuery{Status: status, Site: site, From: now.Add(-boardWindow), Limit: 500}
			got, _, err := c.b.Store().SearchMessages(r.Context(), q)
			if err != nil {
				d.Err = c.storeTrouble(r, "The messages could not be read", err)
				break search
			}
			ms = append(ms, scopedMessages(u, got)...)
		}
	}
	for _, m := range ms {
		if strings.HasPrefix(m.ID, prefixAction) {
			continue // the console's own reads and forms are not uploads
		}
		row := boardRow{Message: m, Since: m.OccurredAt}
		row.Key = maskKey(m.Key)
		if row.Since.IsZero() {
			row.Since = m.ReceivedAt
		}
		row.Age = now.Sub(row.Since).Truncate(time.Second)
		row.Left = (d.Deadline - row.Age).Truncate(time.Second)
		switch {
		case row.Age >= d.Deadline:
			row.Level = "past"
			d.Past++
		case row.Age >= d.Near:
			row.Level = "near"
			d.NearN++
		default:
			row.Level = "ok"
		}
		d.Rows = append(d.Rows, row)
	}
	sort.SliceStable(d.Rows, func(i, j int) bool { return d.Rows[i].Since.Before(d.Rows[j].Since) })
	refreshEvery(w, r, d.Refresh) // refreshes itself, with or without the script
	c.render(w, r, http.StatusOK, "board", "30分钟看板 (30-minute board)", "board", d)
}

// age shows a duration as the board does: "12分3秒 (12m3s)"; negative is "—".
func age(d time.Duration) string {
	if d < 0 {
		return "—"
	}
	d = d.Truncate(time.Second)
	h, m, s := int(d.Hours()), int(d.Minutes())%60, int(d.Seconds())%60
	if h > 0 {
		return fmt.Sprintf("%d时%d分 (%s)", h, m, d)
	}
	return fmt.Sprintf("%d分%d秒 (%s)", m, s, d)
}

// step is one line of a message's timeline.
type step struct {
	At     time.Time
	Offset string // since the message was received
	What   string
	Took   string
	Status string
}

// timeline puts a message's life in order: received, every external call
// with its duration and outcome, and the stored outcome.
func timeline(m *store.Message, xs []store.Exchange) []step {
	since := func(t time.Time) string {
		if t.IsZero() || m.ReceivedAt.IsZero() {
			return ""
		}
		return "+" + t.Sub(m.ReceivedAt).Round(time.Millisecond).String()
	}
	out := []step{{At: m.ReceivedAt, Offset: "+0s", What: "收到 received"}}
	sorted := append([]store.Exchange(nil), xs...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].At.Before(sorted[j].At) })
	for _, x := range sorted {
		what := fmt.Sprintf("外部调用 external call %s %s", x.System, x.Code)
		if x.Error != "" {
			what += ": " + x.Error
		}
		out = append(out, step{At: x.At, Offset: since(x.At), What: what, Took: fmt.Sprintf("%d ms", x.DurationMS), Status: x.Status})
	}
	if m.Status == store.StatusDone {
		out = append(out, step{At: m.UpdatedAt, Offset: since(m.UpdatedAt),
			What: fmt.Sprintf("结果已保存 outcome stored after %d attempt(s)", m.Attempts), Status: m.Outcome})
	} else {
		out = append(out, step{What: fmt.Sprintf("等待结果 waiting for the outcome (%d attempt(s) so far)", m.Attempts), Status: "pending"})
	}
	return out
}
