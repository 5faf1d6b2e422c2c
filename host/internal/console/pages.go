package console

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/medgate/medgate/host/internal/access"
	"github.com/medgate/medgate/host/internal/audit"
	"github.com/medgate/medgate/host/internal/logging"
	"github.com/medgate/medgate/host/internal/message"
	"github.com/medgate/medgate/host/internal/scheduler"
	"github.com/medgate/medgate/host/internal/store"
	"github.com/medgate/medgate/plugins/sdk"
)

// Message id prefixes: work-list reads are hidden from the overview by default.
const (
	prefixList   = "console-list-"
	prefixAction = "console-"
)

// pageNames are the templates besides the layout.
var pageNames = []string{"login", "error", "overview", "message", "worklists", "document", "form", "messages", "replay", "jobs", "board"}

// parsePages parses the pages, their times shown in loc.
func parsePages(loc *time.Location) (map[string]*template.Template, error) {
	funcs := template.FuncMap{
		"when":    func(t time.Time) string { return when(t, loc) },
		"join":    strings.Join,
		"bytes":   humanBytes,
		"fieldOf": fieldOf,
		"age":     age,
		"took":    func(d time.Duration) string { return d.Round(time.Millisecond).String() },
		"status":  statusText,
	}
	base, err := template.New("layout").Funcs(funcs).ParseFS(templateFS, "templates/layout.html")
	if err != nil {
		return nil, fmt.Errorf("console: parse layout: %w", err)
	}
	out := map[string]*template.Template{}
	for _, n := range pageNames {
		t, err := template.Must(base.Clone()).ParseFS(templateFS, "templates/"+n+".html")
		if err != nil {
			return nil, fmt.Errorf("console: parse %s: %w", n, err)
		}
		out[n] = t
	}
	return out, nil
}

func contextWithTimeout(r *http.Request, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), d)
}

// whenLayout shows a time with its zone's offset, so that no one reads
// a server's UTC as Xiamen's time: 2026-12-05 16:02:03 UTC+08:00.
const whenLayout = "2006-01-02 15:04:05 UTC-07:00"

// when formats a time in the zone loc (console.timeZone), its offset
// shown ("—" for none).
func when(t time.Time, loc *time.Location) string {
	if t.IsZero() {
		return "—"
	}
	return t.In(loc).Format(whenLayout)
}

// statusTexts are the statuses of messages (message.Status*, "pending"
// while there is no outcome) and of external calls (the journal's ok,
// rejected, error, unknown) as the pages show them: Chinese first, the
// code after it, as the API and the logs spell it.
var statusTexts = map[string]string{
	"ok":       "成功 ok",
	"invalid":  "无效 invalid",
	"rejected": "被拒 rejected",
	"failed":   "失败 failed",
	"pending":  "处理中 pending",
	"error":    "出错 error",
	"unknown":  "结果未知 unknown",
}

// statusText is the status s as a page shows it; a status it does not
// know is shown as it is.
func statusText(s string) string {
	if t, ok := statusTexts[s]; ok {
		return t
	}
	return s
}

// zoneLabel names the zone loc for the page's header: its name (the
// server's, "Local", is said so) and its offset at now.
func zoneLabel(loc *time.Location, now time.Time) string {
	name := loc.String()
	if loc == time.Local {
		name = "服务器时区 the server's zone"
	}
	return name + " (" + now.In(loc).Format("UTC-07:00") + ")"
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// overviewData is the overview's data.
type overviewData struct {
	Plugins     []Plugin
	Jobs        []scheduler.Status
	Messages    []store.Message
	MessagesErr string
	ShowAll     bool
	Sites       []siteRow
}

type siteRow struct {
	Code    string
	Plugins []string
}

// overviewMessages is how many messages the overview lists.
const overviewMessages = 50

func (c *Console) overview(w http.ResponseWriter, r *http.Request) {
	u := userOf(r)
	d := overviewData{Plugins: maskedPlugins(scopedPlugins(u, c.b.Plugins())), Jobs: maskedJobs(scopedJobs(u, c.b.Jobs())), ShowAll: r.URL.Query().Get("all") == "1"}
	limit := overviewMessages
	if !d.ShowAll || u.Scoped() {
		limit = 500 // work-list reads and other sites' messages are filtered out below
	}
	sites := []string{""} // every site
	if u.Scoped() {
		// Each of the user's sites (the store lists one site or all), so
		// other sites' messages cannot crowd theirs out of the page.
		sites = u.Sites
	}
	var ms []store.Message
	for _, site := range sites {
		got, err := c.b.Store().ListMessages(r.Context(), site, "", "", limit)
		if err != nil {
			d.MessagesErr = c.storeTrouble(r, "The messages could not be read from the store", err)
			break
		}
		ms = append(ms, got...)
	}
	if len(sites) > 1 {
		sort.SliceStable(ms, func(i, j int) bool { return ms[i].ReceivedAt.After(ms[j].ReceivedAt) })
	}
	for _, m := range ms {
		if !d.ShowAll && strings.HasPrefix(m.ID, prefixList) || !u.SeesSite(m.Site) {
			continue
		}
		if len(d.Messages) == overviewMessages {
			break
		}
		d.Messages = append(d.Messages, m)
	}
	bySite := map[string][]string{}
	for _, p := range d.Plugins {
		for _, s := range p.Sites {
			bySite[s] = append(bySite[s], p.Name)
		}
	}
	for s, ps := range bySite {
		sort.Strings(ps)
		d.Sites = append(d.Sites, siteRow{Code: s, Plugins: ps})
	}
	sort.Slice(d.Sites, func(i, j int) bool { return d.Sites[i].Code < d.Sites[j].Code })
	c.render(w, r, http.StatusOK, "overview", "概览 (overview)", "overview", d)
}

func (c *Console) runJob(w http.ResponseWriter, r *http.Request) {
	id := r.PostFormValue("job")
	s := sessionFrom(r)
	ctx, cancel := contextWithTimeout(r, c.o.LongWait)
	defer cancel()
	err := fmt.Errorf("job %q: %w; list jobs with `medgate jobs`", id, scheduler.ErrUnknownJob)
	var run scheduler.Run
	if s.user().SeesSite(jobSite(id)) {
		// Another site's job is answered as one that does not exist.
		run, err = c.b.TriggerJob(ctx, id)
	}
	f := &flash{OK: err == nil, Title: "任务已运行 (job ran): " + id}
	if err != nil {
		f.Title = "任务未运行 (job did not run): " + id
		if !run.StartedAt.IsZero() {
			f.Title = "任务运行失败 (job failed): " + id
		}
		f.Lines = []string{logging.Mask(err.Error())} // the plugin's words may quote a patient
		if line, down := c.outageLine(r.URL.Path, "The job did not run", err); down {
			f.Lines = []string{line}
		}
	}
	if !run.StartedAt.IsZero() {
		// What this run did (its own record, not the job's status, which
		// a scheduled run may have changed since), as `medgate job run`
		// prints it; the summary is the plugin's words, masked.
		if run.Summary != "" {
			f.Lines = append(f.Lines, "摘要 (summary): "+logging.Mask(run.Summary))
		}
		f.Lines = append(f.Lines, fmt.Sprintf("处理记录 (processed): %d", run.Processed),
			"耗时 (took): "+run.Took.Round(time.Millisecond).String())
	}
	if err != nil {
		switch {
		case errors.Is(err, scheduler.ErrUnknownJob):
			f.Lines = append(f.Lines, "The job list changed (configuration reload?); reload the overview.")
			recordUndone(r, audit.Refused, "unknown job")
		case errors.Is(err, scheduler.ErrNotOwner):
			f.Lines = append(f.Lines, "Another medgate instance holds this job's lease; run it from that instance's console.")
			recordUndone(r, audit.Refused, "another instance holds the job's lease")
		default:
			f.Lines = append(f.Lines, "See the plugin's message in the medgate log and the journal of external calls.")
			recordUndone(r, audit.Failed, "the job failed")
		}
	}
	c.o.Logger.Info("console: job run requested", "operator", s.operator, "job", id, "ok", err == nil)
	c.sessions.setFlash(s, f)
	back := Prefix
	if b := r.PostFormValue("back"); b != "" {
		back = safeNext(b)
	}
	redirect(w, r, back)
}

// messageData is the message page's data.
type messageData struct {
	Message    *store.Message
	Request    string
	Reply      string
	Timeline   []step
	Replayable bool
	// Why says, for a message not done well, why and what to do next.
	Why          *why
	Exchanges    []exchangeRow
	ExchangesErr string
	// CanReveal: the user's role may see personal data unmasked (admin);
	// Revealed: this page shows it unmasked (and the reveal is audited).
	CanReveal, Revealed bool
}

type exchangeRow struct {
	store.Exchange
	RequestText, ResponseText string
}

func (c *Console) message(w http.ResponseWriter, r *http.Request) {
	c.showMessage(w, r, r.URL.Query().Get("id"), false)
}

// messageReveal shows a message with personal data unmasked (admin only,
// by the route table). It is a POST, so it carries the CSRF token, and
// every reveal is recorded in the audit log before anything is shown.
func (c *Console) messageReveal(w http.ResponseWriter, r *http.Request) {
	id := r.PostFormValue("id")
	if err := audit.Record(r.Context(), audit.Entry{Action: "personal.reveal", Target: id, Outcome: audit.OK,
		Detail: "消息的请求、回复和交换记录以未遮蔽形式显示。message request, reply and exchanges shown unmasked"}); err != nil {
		c.storeFailed(w, r, "无法记录审计 (audit not written)",
			"Personal data are shown only once the reveal is in the audit log, and it could not be written", err)
		return
	}
	c.showMessage(w, r, id, true)
}

// showMessage renders one message: masked, or unmasked when reveal is set.
func (c *Console) showMessage(w http.ResponseWriter, r *http.Request, id string, reveal bool) {
	m, err := c.scopedMessage(r, id)
	if errors.Is(err, store.ErrNotFound) {
		c.fail(w, r, http.StatusNotFound, "没有这条消息 (no such message)", fmt.Sprintf("没有收到编号为 %[1]q 的消息。No message with id %[1]q has been received.", id), "请从概览页的列表中选择消息。Pick a message from the overview's list.")
		return
	}
	if err != nil {
		c.storeFailed(w, r, "消息读取失败 (message not read)", "The message could not be read", err)
		return
	}
	// The request and reply are masked by the keys pii.PersonalKey knows
	// and by those the message's plugin declares personal for its
	// operation (logging.MaskRequest, MaskReply); its journal by the keys.
	show := maskedJSON
	showRequest := func(b []byte) string {
		return maskedBody(b, func(b []byte) []byte { return logging.MaskRequest(m.Type, b) })
	}
	showReply := func(b []byte) string {
		return maskedBody(b, func(b []byte) []byte { return logging.MaskReply(m.Type, b) })
	}
	if reveal {
		show, showRequest, showReply = plainJSON, plainJSON, plainJSON
	} else {
		mm := *m
		mm.Key = maskKey(mm.Key)
		m = &mm
	}
	d := messageData{Message: m, Request: showRequest(m.Request), Reply: showReply(m.Reply),
		Replayable: m.Status == store.StatusDone && m.Outcome == message.StatusFailed, Revealed: reveal, Why: whyOf(m, reveal)}
	if s := sessionFrom(r); s != nil {
		d.CanReveal = s.Role().Allows(access.Admin)
	}
	xs, err := c.b.Store().ListExchanges(r.Context(), store.ExchangeFilter{MessageID: id, Limit: 100})
	if err != nil {
		d.ExchangesErr = c.storeTrouble(r, "The journal could not be read", err)
	}
	xs = slices.Clone(xs)
	for i := range xs { // an external system's error may name a patient, or quote a token
		if reveal {
			xs[i].Error = logging.Redact(xs[i].Error)
		} else {
			xs[i].Error = logging.Mask(xs[i].Error)
		}
	}
	for _, x := range xs {
		d.Exchanges = append(d.Exchanges, exchangeRow{Exchange: x, RequestText: show(x.Request), ResponseText: show(x.Response)})
	}
	d.Timeline = timeline(m, xs)
	if m.Status == store.StatusPending && !reveal {
		refreshEvery(w, r, 2) // follows the outcome without a script
	}
	c.render(w, r, http.StatusOK, "message", "消息 (message) "+id, "overview", d)
}

// why is why a message was not done well, read from its stored reply.
type why struct {
	Outcome, Label string
	Errors         []message.ReplyError
	External       *message.External
	// Next says what to do now.
	Next string
}

// whyOf reads why m failed, was invalid or rejected from its reply, masked
// as the page masks it unless reveal; nil for a message done well or not
// finished.
func whyOf(m *store.Message, reveal bool) *why {
	if m.Status != store.StatusDone {
		return nil
	}
	w := &why{Outcome: m.Outcome}
	switch m.Outcome {
	case message.StatusFailed:
		w.Label = "失败 failed"
		w.Next = "medgate 在重试次数内没有得到可用的应答（外部系统或插件不可用，或某项设置有误），消息已进入 DLQ。" +
			"请排除上面写明的原因（定时任务页和概览页显示停止的插件；GET /readyz 显示存储、Kafka 和各插件的状态；设置由管理员修改），" +
			"然后用下面的 重发 Replay：插件会先向外部系统核实上次是否已送达，不会重复办理。" +
			"medgate got no usable answer within its retries (the external system or the plugin was unavailable, or a setting is wrong), " +
			"and the message is in the DLQ. Fix the cause named above (the jobs and overview pages show plugins that are down; GET /readyz shows " +
			"the store, Kafka and every plugin; a setting is changed by an administrator), then use 重发 Replay below: the plugin first asks the " +
			"external system whether the earlier attempt arrived, so nothing is done twice."
	case message.StatusInvalid:
		w.Label = "无效 invalid"
		w.Next = "medgate 在发出之前就拒绝了它。请改正上面原因所指的内容：消息来源处（HIS 或集成平台）的某个字段，" +
			"或某项设置，如插件未在该站点启用（由管理员在 站点与插件 Sites & plugins 页修改）。" +
			"然后用新的消息编号重新发送：此编号保留原回复，重发无济于事。" +
			"medgate refused it before sending anything out. Correct what the reasons above name: a field of the message where it comes " +
			"from (HIS or the integration platform), or a setting, such as a plugin not enabled at the site (an administrator, on 站点与插件 Sites & plugins). " +
			"Then send it again with a new message id: this id keeps its answer, so a replay would not help."
	case message.StatusRejected:
		w.Label = "被拒 rejected"
		w.Next = "外部系统已应答并拒绝（其代码和信息见上）。请在来源处（HIS、所涉及的备案或结算）改正后，用新的消息编号重新发送：" +
			"此编号保留原回复，重发无济于事。" +
			"The external system answered and refused it (its code and message above). Correct what it names at the source (HIS, " +
			"the filing or settlement it refers to) and send it again with a new message id: this id keeps its answer, so a replay would not help."
	default:
		return nil
	}
	// Masked as log lines are (free text may name a patient); revealed,
	// with secrets still redacted.
	raw, text := logging.MaskJSON(m.Reply), logging.Mask
	if reveal {
		raw, text = logging.RedactJSON(m.Reply), logging.Redact
	}
	var r message.Reply
	if json.Unmarshal(raw, &r) == nil {
		w.Errors, w.External = r.Errors, r.External
	}
	for i := range w.Errors {
		w.Errors[i].Message = text(w.Errors[i].Message)
	}
	if w.External != nil {
		w.External.Message = text(w.External.Message)
	}
	return w
}

// maskKey shows a message's business key with ID and mobile numbers masked
// (logging.Mask): a site may key its messages by them, while the hospital's
// own patient and visit numbers stay readable. Searching by key still takes
// the full key.
func maskKey(k string) string { return logging.Mask(k) }

// plainJSON pretty-prints a body with its personal data unmasked (the
// admin's reveal) and its secrets still redacted (logging.RedactJSON): a
// token, password or key is no personal data, and no page shows one.
// Bodies that are not one JSON document are redacted as text.
func plainJSON(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if !json.Valid(b) {
		return logging.Redact(strings.ToValidUTF8(string(b), "\uFFFD"))
	}
	var out bytes.Buffer
	if err := json.Indent(&out, logging.RedactJSON(b), "", "  "); err != nil {
		return logging.Redact(strings.ToValidUTF8(string(b), "\uFFFD"))
	}
	return out.String()
}

// maskedJSON pretty-prints a body with personal data masked as
// logging.MaskJSON masks it: values of personal keys (name, idNumber,
// phone, …) and any ID or mobile number in any string or number; HL7 v2
// text in it (an hl7v2 payload) has its personal fields masked too
// (maskHL7). Bodies that are not one JSON document are masked as text
// (HL7 v2 by its fields, then by pattern).
func maskedJSON(b []byte) string { return maskedBody(b, logging.MaskJSON) }

// maskedBody is maskedJSON with mask in place of logging.MaskJSON (a
// message's request or reply: logging.MaskRequest, MaskReply, which mask
// what its plugin declares personal too).
func maskedBody(b []byte, mask func([]byte) []byte) string {
	if len(b) == 0 {
		return ""
	}
	if !json.Valid(b) {
		return logging.Mask(maskHL7(strings.ToValidUTF8(string(b), "\uFFFD")))
	}
	var out bytes.Buffer
	if err := json.Indent(&out, mask(maskHL7InJSON(b)), "", "  "); err != nil {
		return logging.Mask(maskHL7(string(b)))
	}
	return out.String()
}

// listBlock is one work list at one site.
type listBlock struct {
	Plugin    string
	List      sdk.WorkList
	View      sdk.WorkListView
	Site      string
	Columns   []column
	Rows      [][]cell
	Items     []map[string]string // each row's fields as raw JSON, for row actions
	Problem   *flash
	MessageID string
	// Denied maps the row actions the user's role may not use (their
	// plugin declares a higher one, sdk.Action.Role) to that role: shown
	// disabled, saying so.
	Denied map[string]string
}

type column struct{ Key, Label string }

type cell struct {
	Text string
	Href string
}

// workListsData is the work-list page's data.
type workListsData struct {
	Blocks []*listBlock
	// Filtered names the single list shown, if any.
	Filtered string
}

// labels are Chinese column labels of fields plugins use in work lists.
var labels = map[string]string{
	"id": "编号", "status": "状态", "version": "版本", "supplierBillNo": "供货单号", "supplierName": "供货单位",
	"billTime": "单据时间", "createdAt": "生成时间", "lines": "行数", "qty": "数量", "codes": "追溯码数",
	"missingItemCodes": "缺院内编码", "adjustments": "调整次数", "cardNo": "卡号", "name": "姓名", "idType": "证件类型",
	"idNumber": "证件号", "phone": "手机号", "registeredAt": "登记时间", "revokedAt": "注销时间",
}

func (c *Console) workLists(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	c.showLists(w, r, q.Get("plugin"), q.Get("list"), "worklists", "工作列表 (work lists)")
}

// showLists reads every declared work list (optionally one) at every site
// where its plugin is enabled, concurrently, and shows them.
func (c *Console) showLists(w http.ResponseWriter, r *http.Request, plugin, list, nav, title string) {
	d := workListsData{}
	if plugin != "" {
		d.Filtered = plugin + "/" + list
	}
	for _, p := range c.b.Plugins() {
		if plugin != "" && p.Name != plugin {
			continue
		}
		for _, wl := range p.WorkLists {
			if list != "" && wl.Name != list {
				continue
			}
			var view sdk.WorkListView
			for _, v := range p.Views.WorkListViews {
				if v.List == wl.Name {
					view = v
				}
			}
			for _, s := range scopedSites(userOf(r), p.Sites) {
				d.Blocks = append(d.Blocks, &listBlock{Plugin: p.Name, List: wl, View: view, Site: s, Denied: deniedActions(userOf(r), view)})
			}
		}
	}
	var wg sync.WaitGroup
	for _, b := range d.Blocks {
		wg.Go(func() { c.fillList(r, b) })
	}
	wg.Wait()
	c.render(w, r, http.StatusOK, "worklists", title, nav, d)
}

// fillList reads one work list through its plugin's list operation and
// fills b's columns and rows. A cell that opens a form (sdk.Column.Form)
// or a document of the plugin links it only when the role of r's session
// may open that page (mayOpen, the route's own check); otherwise the cell
// is plain text, so a viewer is never offered a link that answers 403. A
// code its column declares (sdk.Column.Codes) shows as "meaning (code)".
func (c *Console) fillList(r *http.Request, b *listBlock) {
	p := c.pluginByName(b.Plugin)
	u := userOf(r) // public (no session): links nothing
	res := c.send(r.Context(), c.o.Wait, prefixList, b.Plugin, b.Site, b.List.ListOperation, "", map[string]any{})
	b.MessageID = res.ID
	if !res.ok() {
		b.Problem = res.flash("")
		return
	}
	var body struct {
		Items []json.RawMessage `json:"items"`
	}
	if err := json.Unmarshal(res.Reply.Payload, &body); err != nil {
		b.Problem = &flash{Title: "列表格式不对 (unexpected reply)", MessageID: res.ID,
			Lines: []string{fmt.Sprintf("%s did not reply {\"items\": [...]}: %v; report this to the plugin's vendor", b.List.ListOperation, err)}}
		return
	}
	index := map[string]int{}
	forms := map[string]string{} // field → form its cells open
	personalCols := map[string]bool{}
	codes := map[string]sdk.Column{} // field → column declaring its codes
	for _, col := range b.View.Columns {
		personalCols[col.Field] = col.Personal
		if len(col.Codes) > 0 {
			codes[col.Field] = col
		}
		index[col.Field] = len(b.Columns)
		b.Columns = append(b.Columns, column{Key: col.Field, Label: col.Title})
		forms[col.Field] = col.Form
	}
	declared := len(b.Columns) > 0
	var rows [][]field
	for _, it := range body.Items {
		fs, err := orderedObject(it)
		if err != nil {
			fs = []field{{Key: "item", Value: it}}
		}
		for _, f := range fs {
			if _, ok := index[f.Key]; !ok && !declared {
				index[f.Key] = len(b.Columns)
				b.Columns = append(b.Columns, column{Key: f.Key, Label: labelOf(f.Key)})
			}
		}
		rows = append(rows, fs)
	}
	for _, fs := range rows {
		row := make([]cell, len(b.Columns))
		values := map[string]string{}
		for _, f := range fs {
			values[f.Key] = string(f.Value)
			i, ok := index[f.Key]
			if !ok {
				continue
			}
			href := documentLink(p, b, f.Key, f.Value)
			if form := forms[f.Key]; form != "" {
				href = formLink(b.Plugin, form, b.Site, f.Key, f.Value)
			}
			if href != "" && !c.mayOpen(u, href) {
				// A page the viewer's role cannot open (a form or a
				// document needs an operator): the value as plain text,
				// not a link that answers 403.
				href = ""
			}
			text := cellText(f.Value, c.o.Location)
			if personalCols[f.Key] {
				text = personal(text)
			}
			if col, ok := codes[f.Key]; ok {
				var v any
				_ = json.Unmarshal(f.Value, &v)
				text = col.Shown(plainText(v), text)
			}
			row[i] = cell{Text: text, Href: href}
		}
		b.Rows = append(b.Rows, row)
		b.Items = append(b.Items, values)
	}
}

// formLink opens a plugin's form prefilled with the site and one value.
func formLink(plugin, form, site, key string, v json.RawMessage) string {
	var s string
	if json.Unmarshal(v, &s) != nil || s == "" {
		return ""
	}
	return formPath(plugin, form) + "?" + url.Values{"site": {site}, key: {s}}.Encode()
}

func labelOf(key string) string {
	if l, ok := labels[key]; ok {
		return l + " " + key
	}
	return key
}

// field is one key of a JSON object, in document order.
type field struct {
	Key   string
	Value json.RawMessage
}

// orderedObject splits a JSON object into its fields in document order.
func orderedObject(raw json.RawMessage) ([]field, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	t, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if d, ok := t.(json.Delim); !ok || d != '{' {
		return nil, errors.New("not an object")
	}
	var out []field
	for dec.More() {
		kt, err := dec.Token()
		if err != nil {
			return nil, err
		}
		k, _ := kt.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		out = append(out, field{Key: k, Value: v})
	}
	return out, nil
}

// cellText shows a JSON value in a table cell. Strings keep their masking
// (and ID or mobile numbers that slipped through are masked); times are
// shown in the console's zone loc, with its offset; a list of strings shows
// its items, each so masked, joined by 、 (an empty list shows nothing).
func cellText(v json.RawMessage, loc *time.Location) string {
	var s string
	if json.Unmarshal(v, &s) == nil {
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			return when(t, loc)
		}
		return logging.Mask(s)
	}
	var b bool
	if json.Unmarshal(v, &b) == nil {
		if b {
			return "是"
		}
		return "否"
	}
	var t string
	if list := []string(nil); json.Unmarshal(v, &list) == nil && list != nil {
		// A list of texts (an e-card's linked temporary cards): the items,
		// each masked, not JSON; an empty list shows nothing, as null does.
		for i, s := range list {
			list[i] = logging.Mask(s)
		}
		t = strings.Join(list, "、")
	} else if t = strings.TrimSpace(string(v)); t == "null" {
		return ""
	} else {
		t = logging.Mask(t)
	}
	if utf8.RuneCountInString(t) > 200 {
		t = string([]rune(t)[:200]) + "…"
	}
	return t
}
