package console

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"mime"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/medgate/medgate/host/internal/access"
	"github.com/medgate/medgate/host/internal/artifact"
	"github.com/medgate/medgate/host/internal/audit"
	"github.com/medgate/medgate/host/internal/logging"
	"github.com/medgate/medgate/host/internal/message"
	"github.com/medgate/medgate/plugins/sdk"
)

// This file renders what plugins declare for the console (sdk.Form,
// sdk.WorkListView): the host knows no plugin by name here.

// maxUpload bounds each file uploaded with a plugin's form (and adds to
// the form's body bound, see bodyLimit).
const maxUpload = 16 << 20

// navItem is one entry of the navigation bar.
type navItem struct {
	Href, Title, Key string
}

// The console's own navigation entries: before the plugins' pages, and
// after them (the admin pages).
var (
	navBuiltin = []navItem{
		{Href: Prefix, Title: "概览 Overview", Key: "overview"},
		{Href: Prefix + "messages", Title: "消息查询 Messages", Key: "messages"},
		{Href: Prefix + "jobs", Title: "定时任务 Jobs", Key: "jobs"},
		{Href: Prefix + "board", Title: "30分钟看板 Board", Key: "board"},
		{Href: Prefix + "worklists", Title: "工作列表 Work lists", Key: "worklists"},
	}
	navAdmin = []navItem{
		{Href: Prefix + "admin/sites", Title: "站点与插件 Sites & plugins", Key: "admin-sites"},
		{Href: Prefix + "admin/users", Title: "用户 Users", Key: "admin-users"},
		{Href: Prefix + "admin/audit", Title: "审计日志 Audit log", Key: "admin-audit"},
	}
)

// nav is the navigation bar of a user with role: the console's pages and
// the plugins' (their documents' work lists, their forms), each only when
// the role may open it — the role check of the route that serves it
// (mayOpen), so the bar never offers a page that answers 403.
func (c *Console) nav(u access.User) []navItem {
	all := slices.Concat(navBuiltin, c.documentNav(u), c.navItems(u), navAdmin)
	out := all[:0]
	for _, n := range all {
		if c.mayOpen(u, n.Href) {
			out = append(out, n)
		}
	}
	return out
}

// mayOpen reports whether user u may open href (a console path, with or
// without a query) with GET (mayUse).
func (c *Console) mayOpen(u access.User, href string) bool {
	return c.mayUse(u, http.MethodGet, href)
}

// mayUse reports whether user u may send method to href (a console path,
// with or without a query): the route the console's mux picks for it
// lets u's role and site scope through (routes, auth, siteScoped). A
// target no signed-in route serves (the not-found page, a public one) is
// never offered.
func (c *Console) mayUse(u access.User, method, href string) bool {
	target, err := url.Parse(href)
	if err != nil {
		return false
	}
	_, pattern := c.mux.Handler(&http.Request{Method: method, URL: target, Host: target.Host, Header: http.Header{}})
	need, ok := c.need[pattern]
	if !ok || need == access.Public || !u.Role.Allows(need) || (u.Scoped() && !siteScoped[pattern]) {
		return false
	}
	if formRoutes[pattern] {
		// The role the form declares, on top of the route's.
		declared, found := c.formNeed(target.Path)
		return found && u.Role.Allows(declared)
	}
	return true
}

// navItems lists the forms of the plugins enabled at some site u sees.
func (c *Console) navItems(u access.User) []navItem {
	var out []navItem
	for _, p := range c.b.Plugins() {
		if len(scopedSites(u, p.Sites)) == 0 {
			continue
		}
		for _, f := range p.Views.Forms {
			out = append(out, navItem{Href: formPath(p.Name, f.Name), Title: f.Title, Key: "form/" + p.Name + "/" + f.Name})
		}
	}
	return out
}

func formPath(plugin, form string) string {
	return Prefix + "form/" + url.PathEscape(plugin) + "/" + url.PathEscape(form)
}

// formData is the form page's data.
type formData struct {
	Plugin string
	Form   sdk.Form
	Sites  []string
	Site   string
	// Values are the fields as given (prefilled or submitted).
	Values  map[string]string
	Problem *flash
	// FieldErrors are the problems of each field (by name), of the form's
	// own checks or the reply's errors at $.<name>, shown beside the
	// field; FirstError is the first field shown with one, which gets
	// the cursor.
	FieldErrors map[string]string
	FirstError  string
	Result      *formResult
}

// fieldErrors fills d.FieldErrors from the reply's errors (message.ReplyError
// Field "$.phone", "$.items[2].qty": the field named first) and own, the
// form's own checks by field name, and d.FirstError in the form's order.
func (d *formData) fieldErrors(own map[string][]string, errs []message.ReplyError) {
	byName := map[string][]string{}
	for k, v := range own {
		byName[k] = append(byName[k], v...)
	}
	for _, e := range errs {
		name, ok := strings.CutPrefix(e.Field, "$.")
		if !ok {
			continue
		}
		if i := strings.IndexAny(name, ".["); i >= 0 {
			name = name[:i]
		}
		byName[name] = append(byName[name], e.Message)
	}
	for _, fl := range d.Form.Fields {
		if m := byName[fl.Name]; len(m) > 0 {
			if d.FieldErrors == nil {
				d.FieldErrors = map[string]string{}
			}
			d.FieldErrors[fl.Name] = strings.Join(m, "；")
			if d.FirstError == "" {
				d.FirstError = fl.Name
			}
		}
	}
}

// formResult is a reply shown as the form declares.
type formResult struct {
	MessageID string
	// Headline is the value of the field Display.Headline names, shown
	// first.
	Headline   string
	Printable  bool
	LabelTitle string
	Fields     []resultField
	Images     []resultImage
	Lines      []string
	Table      *resultTable
	File       *resultFile
	JSON       string
}

type resultField struct{ Title, Value string }

type resultImage struct {
	Title string
	URL   template.URL
}

type resultTable struct {
	Columns []string
	Rows    [][]string
}

type resultFile struct {
	Name, SHA256, Token string
	Size                int64
}

// lookupForm returns the plugin and form of a request's path.
func (c *Console) lookupForm(w http.ResponseWriter, r *http.Request) (*Plugin, *sdk.Form, bool) {
	name, form := r.PathValue("plugin"), r.PathValue("form")
	if p, f := c.findForm(name, form); f != nil {
		return p, f, true
	}
	c.fail(w, r, http.StatusNotFound, "页面不存在 (no such form)", fmt.Sprintf("没有运行中的插件 %[1]q 声明表单 %[2]q。No running plugin %[1]q declares a form %[2]q.", name, form), "请从导航栏选择页面。Choose a page from the navigation bar.")
	return nil, nil, false
}

func (c *Console) formPage(w http.ResponseWriter, r *http.Request) {
	p, f, ok := c.lookupForm(w, r)
	if !ok || !c.allowDeclared(w, r, "表单 form "+p.Name+"/"+f.Name, declaredRole(f.Role)) {
		return
	}
	q := r.URL.Query()
	u := userOf(r)
	d := formData{Plugin: p.Name, Form: *f, Sites: scopedSites(u, p.Sites), Site: q.Get("site"), Values: map[string]string{}}
	if d.Site == "" && len(d.Sites) > 0 {
		d.Site = d.Sites[0]
	}
	if u.Scoped() && !c.checkSite(w, r, p.Name, d.Site) {
		return // another site's form, or none of the user's sites has the plugin
	}
	for _, fl := range f.Fields {
		v := q.Get(fl.Name)
		if v == "" {
			v = fl.Default
		}
		d.Values[fl.Name] = v
	}
	c.render(w, r, http.StatusOK, "form", f.Title, "form/"+p.Name+"/"+f.Name, d)
}

// formSubmit sends the form's operation and shows the reply.
func (c *Console) formSubmit(w http.ResponseWriter, r *http.Request) {
	p, f, ok := c.lookupForm(w, r)
	if !ok || !c.allowDeclared(w, r, "表单 form "+p.Name+"/"+f.Name, declaredRole(f.Role)) {
		return
	}
	s := sessionFrom(r)
	d := formData{Plugin: p.Name, Form: *f, Sites: scopedSites(userOf(r), p.Sites), Site: r.PostFormValue("site"), Values: map[string]string{}}
	nav := "form/" + p.Name + "/" + f.Name
	if !c.checkSite(w, r, p.Name, d.Site) {
		return
	}
	payload := map[string]any{}
	for k, v := range f.Fixed {
		payload[k] = v
	}
	var problems []string
	own := map[string][]string{}
	for _, fl := range f.Fields {
		if fl.Type != sdk.ArgumentFile {
			// Shown again as typed, a wrong value too, beside its problem.
			d.Values[fl.Name] = r.PostFormValue(fl.Name)
		}
		v, err := formValue(r, fl)
		if err != nil {
			problems = append(problems, err.Error())
			own[fl.Name] = append(own[fl.Name], err.Error())
			continue
		}
		if v != nil {
			payload[fl.Name] = v
		}
	}
	if len(problems) > 0 {
		recordUndone(r, audit.Refused, "fields not valid, not sent")
		d.Problem = &flash{Title: "请检查输入 (check the fields)", Lines: problems}
		d.fieldErrors(own, nil)
		c.render(w, r, http.StatusOK, "form", f.Title, nav, d)
		return
	}
	key, _ := payload[f.Key].(string)
	res := c.send(r.Context(), c.o.LongWait, prefixAction, p.Name, d.Site, f.Operation, key, payload)
	recordResult(r, res)
	c.o.Logger.Info("console: form sent", "operator", s.operator, "plugin", p.Name, "form", f.Name, "site", d.Site, "message", res.ID, "ok", res.ok())
	if !res.ok() {
		d.Problem = res.flash("")
		if res.Err == nil {
			d.Problem.Fields = refusedFields(f.Result, res.Reply.Payload, c.o.Location)
			d.fieldErrors(nil, d.Problem.Errors)
		}
		if f.Scanner {
			d.Values = map[string]string{}
		}
		c.render(w, r, http.StatusOK, "form", f.Title, nav, d)
		return
	}
	if f.Scanner || f.Result.HasPersonal() {
		// The field is ready for the next scan or patient, and personal
		// data typed in do not stay on the screen beside the masked reply.
		d.Values = map[string]string{}
	}
	result, err := c.showResult(s.id, p.Name, d.Site, f.Operation, f.Result, res.Reply.Payload)
	if err != nil {
		d.Problem = &flash{Title: "回复不完整 (unexpected reply)", MessageID: res.ID, Lines: []string{fmt.Sprintf("%s: %v; check the plugin version", f.Operation, err)}}
		c.render(w, r, http.StatusOK, "form", f.Title, nav, d)
		return
	}
	result.MessageID = res.ID
	d.Result = result
	c.render(w, r, http.StatusOK, "form", f.Title, nav, d)
}

// formValue reads one field of a submitted form, typed as declared; nil
// when the field is empty and not required.
func formValue(r *http.Request, fl sdk.Argument) (any, error) {
	label := fl.Name
	if fl.Type == sdk.ArgumentFile {
		file, hdr, err := r.FormFile(fl.Name)
		if err != nil {
			if fl.Required {
				return nil, fmt.Errorf("%s：请选择文件 (choose a file)", label)
			}
			return nil, nil
		}
		defer file.Close()
		data, err := io.ReadAll(io.LimitReader(file, maxUpload+1))
		if err != nil || len(data) > maxUpload {
			return nil, fmt.Errorf("%s：文件无法读取或大于 %d MiB (the file cannot be read or is over %d MiB)", label, maxUpload>>20, maxUpload>>20)
		}
		return map[string]string{"name": path.Base(hdr.Filename), "content": base64.StdEncoding.EncodeToString(data)}, nil
	}
	if fl.Type == sdk.ArgumentList {
		return listValue(r, fl)
	}
	v := strings.TrimSpace(r.PostFormValue(fl.Name))
	if v == "" {
		v = fl.Default
	}
	if v == "" {
		if fl.Required {
			return nil, fmt.Errorf("%s：必填 (required) — %s", label, fl.Description)
		}
		return nil, nil
	}
	if len(fl.Enum) > 0 && !slices.Contains(fl.Enum, v) {
		return nil, fmt.Errorf("%s：%q 不是可选值 (%q is not one of %s)", label, v, v, strings.Join(fl.Enum, ", "))
	}
	switch fl.Type {
	case sdk.SettingInt:
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%s：%q 不是整数 (%q is not a whole number)", label, v, v)
		}
		return n, nil
	case sdk.SettingBool:
		b, err := strconv.ParseBool(v)
		if err != nil {
			return nil, fmt.Errorf("%s：%q 不是“是”或“否” (%q is not true or false)", label, v, v)
		}
		return b, nil
	case sdk.ArgumentNumber:
		if !jsonNumber.MatchString(v) {
			return nil, fmt.Errorf("%s：%q 不是数字，请输入如 48 或 2.5 (%q is not a number; enter digits, e.g. 48 or 2.5)", label, v, v)
		}
		return json.Number(v), nil
	}
	return v, nil
}

// listValue reads a list field: every value given under its name (ticked
// boxes, a text area), split on commas, semicolons, white space and line
// breaks, so scanned or pasted codes need no editing.
func listValue(r *http.Request, fl sdk.Argument) (any, error) {
	var items []string
	_ = r.PostFormValue(fl.Name) // parses the form
	for _, v := range r.PostForm[fl.Name] {
		items = append(items, strings.FieldsFunc(v, func(r rune) bool {
			return r == ',' || r == ';' || r == '，' || r == '；' || unicode.IsSpace(r)
		})...)
	}
	if len(items) == 0 && fl.Default != "" {
		items = strings.Split(fl.Default, ",")
	}
	if len(items) == 0 {
		if fl.Required {
			return nil, fmt.Errorf("%s：必填 (required) — %s", fl.Name, fl.Description)
		}
		return nil, nil
	}
	return items, nil
}

// tableOf is the table d declares: the rows at d.Rows in obj, one cell
// per declared column (columnText).
func tableOf(obj any, d sdk.Display, loc *time.Location) *resultTable {
	t := &resultTable{}
	for _, col := range d.Columns {
		t.Columns = append(t.Columns, col.Title)
	}
	rows, _ := lookup(obj, d.Rows).([]any)
	for _, row := range rows {
		m, _ := row.(map[string]any)
		cells := make([]string, len(d.Columns))
		for i, col := range d.Columns {
			cells[i] = columnText(col, lookup(m, col.Field), loc)
		}
		t.Rows = append(t.Rows, cells)
	}
	return t
}

// showResult builds the view of a reply payload as d declares (a file's
// download link for session only). Text is masked like work-list cells;
// a reply shown whole (d declares nothing) is masked as the message page
// masks it (personal keys too, not only ID and mobile numbers, and the
// fields the plugin declares personal in typ's reply:
// logging.MaskReplyPayload).
func (c *Console) showResult(session, plugin, site, typ string, d sdk.Display, payload []byte) (*formResult, error) {
	var obj map[string]any
	if err := json.Unmarshal(payload, &obj); err != nil {
		return nil, fmt.Errorf("the reply is not a JSON object: %w", err)
	}
	out := &formResult{Printable: d.Printable, LabelTitle: d.LabelTitle, Fields: resultFields(d, obj, c.o.Location)}
	if d.Headline != "" {
		out.Headline = valueText(lookup(obj, d.Headline), c.o.Location)
	}
	for _, im := range d.Images {
		s, _ := lookup(obj, im.Field).(string)
		raw, err := base64.StdEncoding.DecodeString(s)
		if err != nil || pngURL(raw) == "" {
			return nil, fmt.Errorf("field %q is not a PNG image", im.Field)
		}
		out.Images = append(out.Images, resultImage{Title: im.Title, URL: pngURL(raw)})
	}
	if d.Lines != "" {
		lines, _ := lookup(obj, d.Lines).([]any)
		for _, l := range lines {
			out.Lines = append(out.Lines, valueText(l, c.o.Location))
		}
	}
	if d.Rows != "" {
		out.Table = tableOf(obj, d, c.o.Location)
	}
	if d.File != nil {
		id, _ := lookup(obj, d.File.ArtifactField).(string)
		m, fh, err := c.o.Artifacts.Open(id)
		if err != nil {
			return nil, fmt.Errorf("field %q does not name a file medgate holds: %w", d.File.ArtifactField, err)
		}
		fh.Close()
		if m.Plugin != plugin || m.Site != site {
			return nil, fmt.Errorf("field %q names a file of %s at site %s, not of this plugin and site", d.File.ArtifactField, m.Plugin, m.Site)
		}
		out.File = &resultFile{Name: m.Name, SHA256: m.SHA256, Size: m.Size,
			Token: c.downloads.add(download{ArtifactID: m.ID, Session: session})}
	}
	if d.Headline == "" && len(d.Fields)+len(d.Images)+len(d.Columns) == 0 && d.Lines == "" && d.File == nil {
		out.JSON = maskedBody(payload, func(b []byte) []byte { return logging.MaskReplyPayload(typ, b) })
	}
	return out, nil
}

// resultFields are the fields d declares that obj has, as text, masked
// like work-list cells, a declared code with its meaning (columnText).
func resultFields(d sdk.Display, obj map[string]any, loc *time.Location) []resultField {
	var out []resultField
	for _, f := range d.Fields {
		if v := columnText(f, lookup(obj, f.Field), loc); v != "" {
			out = append(out, resultField{Title: f.Title, Value: v})
		}
	}
	return out
}

// refusedFields are the result fields d declares that a refused reply's
// payload has: a refusal may say more than its errors (a scan's sentence
// for the person at the counter, the card an ID number belongs to).
// Nothing when the payload is not a JSON object.
func refusedFields(d sdk.Display, payload []byte, loc *time.Location) []resultField {
	var obj map[string]any
	if json.Unmarshal(payload, &obj) != nil {
		return nil
	}
	return resultFields(d, obj, loc)
}

// lookup follows a dotted path into a decoded JSON value.
func lookup(v any, p string) any {
	for _, part := range strings.Split(p, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[part]
	}
	return v
}

// valueText shows a decoded JSON value as text, masked.
func valueText(v any, loc *time.Location) string {
	raw, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	return cellText(raw, loc)
}

// action runs a work-list row action and returns to the list.
func (c *Console) action(w http.ResponseWriter, r *http.Request) {
	s := sessionFrom(r)
	plugin, list, name, site := r.PostFormValue("plugin"), r.PostFormValue("list"), r.PostFormValue("action"), r.PostFormValue("site")
	p := c.pluginByName(plugin)
	var act *sdk.Action
	if p != nil {
		for _, v := range p.Views.WorkListViews {
			if v.List != list {
				continue
			}
			for i := range v.Actions {
				if v.Actions[i].Name == name {
					act = &v.Actions[i]
				}
			}
		}
	}
	if act == nil {
		c.fail(w, r, http.StatusNotFound, "操作不存在 (no such action)", fmt.Sprintf("没有运行中的插件 %[1]q 在工作列表 %[3]q 上声明操作 %[2]q。No running plugin %[1]q declares an action %[2]q on work list %[3]q.", plugin, name, list), "请刷新工作列表后重试。Reload the work list and try again.")
		return
	}
	if !c.allowDeclared(w, r, "工作列表操作 row action "+plugin+"/"+list+"/"+name, declaredRole(act.Role)) || !c.checkSite(w, r, plugin, site) {
		return
	}
	payload := map[string]any{}
	for field, from := range act.Row {
		var v any
		if err := json.Unmarshal([]byte(r.PostFormValue("row."+from)), &v); err != nil {
			c.fail(w, r, http.StatusBadRequest, "表单不完整 (incomplete form)", "缺少行的值 "+from+"。The row value "+from+" is missing.", "请刷新工作列表后重试。Reload the work list and try again.")
			return
		}
		payload[field] = v
	}
	if act.Operator != "" {
		payload[act.Operator] = s.operator
	}
	for _, fl := range act.Fields {
		v, err := formValue(r, fl)
		if err != nil {
			recordUndone(r, audit.Refused, "fields not valid, not sent")
			c.sessions.setFlash(s, &flash{Title: "请检查输入 (check the fields)", Lines: []string{err.Error()}})
			redirect(w, r, listPath(plugin, list))
			return
		}
		if v != nil {
			payload[fl.Name] = v
		}
	}
	res := c.send(r.Context(), c.o.Wait, prefixAction, plugin, site, act.Operation, "", payload)
	recordResult(r, res)
	c.o.Logger.Info("console: action sent", "operator", s.operator, "plugin", plugin, "list", list, "action", name, "site", site, "message", res.ID, "ok", res.ok())
	c.sessions.setFlash(s, res.flash(act.Label+" ✓"))
	redirect(w, r, listPath(plugin, list))
}

func listPath(plugin, list string) string {
	return Prefix + "worklists?" + url.Values{"plugin": {plugin}, "list": {list}}.Encode()
}

// checkSite refuses a site where the plugin is not enabled, and, for a
// user limited to sites, one that is not the user's: answered alike, so
// a scoped user learns nothing of another site's plugins. A refused post
// is audited as refused.
func (c *Console) checkSite(w http.ResponseWriter, r *http.Request, plugin, site string) bool {
	sites := scopedSites(userOf(r), c.sitesOf(plugin))
	if slices.Contains(sites, site) {
		return true
	}
	if !safeMethod(r.Method) {
		recordUndone(r, audit.Refused, "plugin "+plugin+" not enabled for site "+site+" (or not one of the user's sites)")
	}
	fix := "请选择已启用该插件的站点：" + strings.Join(sites, ", ") + "。Choose one of the sites where it is enabled: " + strings.Join(sites, ", ") + "."
	if len(sites) == 0 {
		fix = "请在 medgate 配置中为站点启用插件 " + plugin + " 并重新加载。Enable the " + plugin + " plugin for a site in the medgate configuration and reload."
	}
	c.fail(w, r, http.StatusNotFound, "站点未启用该插件 (plugin not enabled)", fmt.Sprintf("插件 %[1]s 未在站点 %[2]q 启用。The %[1]s plugin is not enabled for site %[2]q.", plugin, site), fix)
	return false
}

// download serves a file a form's reply named, by its random token, only
// while the token lives, only if the file still has the SHA-256 the
// reply reported, and only once the download is in the audit log.
func (c *Console) download(w http.ResponseWriter, r *http.Request) {
	f, ok := c.downloads.get(r.PathValue("token"))
	if !ok || f.Session != sessionFrom(r).id {
		c.fail(w, r, http.StatusNotFound, "下载链接无效 (download link unknown or expired)",
			"下载链接一小时内有效，且只在生成文件的 medgate 实例中有效。Download links work for one hour and only in the medgate instance that made the file.", "请重新提交表单。Submit the form again.")
		return
	}
	m, fh, err := c.o.Artifacts.Open(f.ArtifactID)
	if err == nil && !userOf(r).SeesSite(m.Site) {
		// Made for another site than the user's (only a file of a form
		// sent before a change of the user's sites, which ends the
		// session, could be): answered as an unknown link.
		fh.Close()
		c.fail(w, r, http.StatusNotFound, "下载链接无效 (download link unknown or expired)",
			"下载链接一小时内有效，且只在生成文件的 medgate 实例中有效。Download links work for one hour and only in the medgate instance that made the file.", "请重新提交表单。Submit the form again.")
		return
	}
	switch {
	case errors.Is(err, artifact.ErrNotFound):
		c.fail(w, r, http.StatusGone, "文件不存在 (file gone)", "medgate 已不再保存该文件（文件保留一天）。medgate no longer holds the file; artifacts are kept for a day.", "请重新提交表单。Submit the form again.")
		return
	case err != nil:
		c.o.Logger.Warn("console: artifact not served", "artifact", f.ArtifactID, "err", err)
		c.fail(w, r, http.StatusConflict, "文件已被改动 (file changed)",
			"文件的 SHA-256 与保存时不同，控制台不提供下载。The file's SHA-256 is no longer the one it was stored with, so the console does not serve it.",
			"请重新提交表单；如再次出现，请检查谁在写 medgate 的文件目录。Submit the form again; if this repeats, check who writes to medgate's artifact directory.")
		return
	}
	defer fh.Close()
	s := sessionFrom(r)
	c.o.Logger.Info("console: file downloaded", "operator", s.operator, "plugin", m.Plugin, "site", m.Site, "file", m.Name)
	// Recorded before anything is sent (an export may hold personal
	// data, as a reveal does): a download the audit log cannot take is
	// not served.
	if err := audit.Record(r.Context(), audit.Entry{Action: "file.download", Target: m.Plugin + "/" + m.Name, Site: m.Site, Outcome: audit.OK}); err != nil {
		c.notAudited(w, r, "Nothing was sent: every download is recorded in the audit log before the file is sent, and the entry could not be written", err)
		return
	}
	ctype := m.ContentType
	if ctype == "" {
		ctype = mime.TypeByExtension(path.Ext(m.Name))
	}
	if ctype == "" {
		ctype = "application/octet-stream"
	}
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": m.Name}))
	w.Header().Set("X-Content-SHA256", m.SHA256)
	http.ServeContent(w, r, "", m.Created, fh)
}

var pngMagic = []byte("\x89PNG\r\n\x1a\n")

// pngURL returns a data: URL for a PNG, or "" when the bytes are not a PNG.
func pngURL(b []byte) template.URL {
	if !bytes.HasPrefix(b, pngMagic) {
		return ""
	}
	// #nosec: base64 of bytes checked to be a PNG, in a data: URL of type image/png.
	return template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(b))
}

// MaskPersonal masks v as the console masks a value a plugin declared
// personal (sdk.Column.Personal); the command line masks such values with
// it too, so both show the same.
func MaskPersonal(v string) string { return personal(v) }

// personal masks a value a plugin declared personal (sdk.Column.Personal).
// Plugins mask such values themselves, in shapes the host keeps as they
// are (张*丰, 138****5678), so each word of the value (split on white
// space) is masked with logging.MaskValue unless it is wholly a masker's
// output (maskedWord): a name beside a masked phone, or beside a literal
// "*", is masked too.
func personal(v string) string {
	words := strings.Fields(v)
	for i, w := range words {
		if !maskedWord(w) {
			words[i] = logging.MaskValue(w)
		}
	}
	return strings.Join(words, " ")
}

// maskedWord reports whether w is wholly the output of a masker: one run
// of "*" with at most one character shown on either side (names: 张*,
// 张*丰, 欧**娜, 王**) or, when at least four are hidden, at most three
// before and four after (ID and phone numbers: 138****5678,
// 110***********002X).
func maskedWord(w string) bool {
	r := []rune(w)
	first, last := slices.Index(r, '*'), -1
	for i, c := range r {
		if c == '*' {
			last = i
		}
	}
	if first < 0 {
		return false
	}
	for _, c := range r[first:last] {
		if c != '*' {
			return false
		}
	}
	head, tail, hidden := first, len(r)-last-1, last-first+1
	return (head <= 1 && tail <= 1) || (head <= 3 && tail <= 4 && hidden >= 4)
}
