package console

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/medgate/medgate/host/internal/access"
	"github.com/medgate/medgate/host/internal/audit"
	"github.com/medgate/medgate/host/internal/config"
	"github.com/medgate/medgate/host/internal/logging"
	"github.com/medgate/medgate/host/internal/siteadmin"
	"github.com/medgate/medgate/host/internal/store"
	"github.com/medgate/medgate/plugins/sdk"
)

// The admin pages' templates (admin role): the audit log, sites and plugins.
func init() {
	pageNames = append(pageNames, "audit", "sites", "siteplugin", "plugins", "users")
}

// auditPageSize is how many entries one page of the audit log shows.
const auditPageSize = 50

// auditData is the audit page's data.
type auditData struct {
	User, Action, From, To string
	Problems               []string
	Entries                []store.AuditEntry
	// Older links to the next page back ("" on the last page); Newest
	// back to the first page with the same filters.
	Older, Newest string
}

// auditPage shows the audit log, newest first, filtered and paged.
// There is no way to change or delete an entry anywhere.
func (c *Console) auditPage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	d := auditData{User: q.Get("user"), Action: q.Get("action"), From: q.Get("from"), To: q.Get("to")}
	f, problems := audit.ParseFilter(q, c.o.Location, auditPageSize)
	d.Problems = problems
	status := http.StatusOK
	if len(problems) == 0 {
		entries, err := c.b.Store().ListAudit(r.Context(), f)
		if err != nil {
			c.storeFailed(w, r, "无法读取审计日志 (audit log not read)", "The audit log could not be read", err)
			return
		}
		d.Entries = entries
		keep := url.Values{}
		for _, k := range []string{"user", "action", "from", "to", "limit"} {
			if v := q.Get(k); v != "" {
				keep.Set(k, v)
			}
		}
		d.Newest = Prefix + "admin/audit?" + keep.Encode()
		if len(entries) == f.Limit {
			keep.Set("before", strconv.FormatInt(entries[len(entries)-1].ID, 10))
			d.Older = Prefix + "admin/audit?" + keep.Encode()
		}
	} else {
		status = http.StatusBadRequest
	}
	c.render(w, r, status, "audit", "审计日志 (audit log)", "admin-audit", d)
}

// noSites answers when the running medgate offers no site administration.
func (c *Console) noSites(w http.ResponseWriter, r *http.Request) bool {
	if c.o.Sites != nil {
		return false
	}
	c.fail(w, r, http.StatusNotImplemented, "站点管理不可用 (site administration unavailable)",
		"本控制台启动时没有配置文件的访问权。This console was started without access to the configuration.", "请编辑配置文件后运行 medgate reload。Edit the configuration file and run medgate reload.")
	return true
}

// sitesData is the sites page's data.
type sitesData struct {
	Sites []siteadmin.Site
}

// sitesPage lists every site with every declared plugin, enabled or not.
func (c *Console) sitesPage(w http.ResponseWriter, r *http.Request) {
	if c.noSites(w, r) {
		return
	}
	c.render(w, r, http.StatusOK, "sites", "站点与插件 (sites and plugins)", "admin-sites", sitesData{Sites: c.o.Sites.Sites()})
}

// pluginsPage shows each plugin's version, checksum, health, restarts and
// last error.
func (c *Console) pluginsPage(w http.ResponseWriter, r *http.Request) {
	if c.noSites(w, r) {
		return
	}
	ps := c.o.Sites.Plugins()
	for i := range ps { // the plugin's words, masked as on the overview (maskedPlugins)
		ps[i].LastError = logging.Mask(ps[i].LastError)
	}
	c.render(w, r, http.StatusOK, "plugins", "插件状态 (plugin status)", "admin-sites", ps)
}

// settingField is one generated form field.
type settingField struct {
	sdk.Setting
	Value string
	// Base is the value the form was based on (in a hidden field): sent
	// back as siteadmin.Change.Base, so a save does not undo what another
	// admin saved meanwhile.
	Base string
	// Kind is the input: select (enum, bool), or text.
	Kind    string
	Options []string
	Secret  bool
}

// sitePluginData is the settings form's data.
type sitePluginData struct {
	SP      siteadmin.SitePlugin
	Fields  []settingField
	Enabled bool
	// BaseEnabled is whether the plugin was enabled when the form's
	// values were read (a hidden field, sent back as BaseEnabled).
	BaseEnabled bool
	Problems    []string
	// Conflict, on a save refused because another admin changed the same
	// settings meanwhile (409), lists them.
	Conflict []conflictLine
}

// conflictLine is a setting both admins changed: its value in force now
// and the one this admin sent ("" when a secret written as such, never
// shown).
type conflictLine struct {
	Name, Now, Yours string
}

// shown is v as a page may show the setting st: a secret only as its
// reference (env:, file:), never a secret written as such ("").
func shown(st sdk.Setting, v string) string {
	if st.Type == sdk.SettingSecret && !config.IsSecretRef(v) {
		return ""
	}
	return v
}

// fieldsOf builds the settings form of sp: with the values in force, or
// with values (those the admin sent, shown back with the problems), based
// on the values in force or on base (what the form the admin sent was
// based on). A secret is shown only as its reference: one typed, or
// written in the file, as such is never in the page.
func fieldsOf(sp siteadmin.SitePlugin, values, base map[string]string) []settingField {
	var out []settingField
	for _, st := range sp.Settings {
		f := settingField{Setting: st.Setting, Value: st.Value, Base: st.Value, Kind: "text", Secret: st.Type == sdk.SettingSecret}
		if values != nil {
			f.Value = values[st.Name]
		}
		if base != nil {
			f.Base = base[st.Name]
		}
		f.Value, f.Base = shown(st.Setting, f.Value), shown(st.Setting, f.Base)
		switch {
		case len(st.Enum) > 0:
			f.Kind, f.Options = "select", st.Enum
		case st.Type == sdk.SettingBool:
			f.Kind, f.Options = "select", []string{"true", "false"}
		}
		out = append(out, f)
	}
	return out
}

// sitePluginPath is the settings form of a plugin at a site.
func sitePluginPath(site, plugin string) string {
	return Prefix + "admin/sites/" + url.PathEscape(site) + "/" + url.PathEscape(plugin)
}

func (c *Console) sitePlugin(w http.ResponseWriter, r *http.Request) (siteadmin.SitePlugin, bool) {
	if c.noSites(w, r) {
		return siteadmin.SitePlugin{}, false
	}
	sp, err := c.o.Sites.SitePlugin(r.PathValue("site"), r.PathValue("plugin"))
	if err != nil {
		c.fail(w, r, http.StatusNotFound, "站点或插件不存在 (no such site or plugin)", err.Error(), "请从 "+Prefix+"admin/sites 中选择。Pick one from "+Prefix+"admin/sites.")
		return sp, false
	}
	return sp, true
}

// sitePluginPage is the form generated from the plugin's declared settings.
func (c *Console) sitePluginPage(w http.ResponseWriter, r *http.Request) {
	sp, ok := c.sitePlugin(w, r)
	if !ok {
		return
	}
	c.render(w, r, http.StatusOK, "siteplugin", sp.Plugin+" @ "+sp.Site, "admin-sites",
		sitePluginData{SP: sp, Fields: fieldsOf(sp, nil, nil), Enabled: sp.Enabled, BaseEnabled: sp.Enabled})
}

// formBase reads what the posted form was based on (its b.enabled and
// b.<setting> hidden fields) into ch as Base and BaseEnabled, so
// siteadmin merges the change with the file instead of overwriting what
// another admin saved since the form was opened. A post without them (a
// script, a page served before medgate had them) leaves ch as it is: the
// last writer wins. A secret written as such in the file was never in the
// page (fieldsOf): its base is the value in force, and its field left
// empty keeps it.
func formBase(r *http.Request, sp siteadmin.SitePlugin, ch *siteadmin.Change) {
	if _, ok := r.PostForm["b.enabled"]; !ok {
		return
	}
	be := r.PostFormValue("b.enabled") == "true"
	ch.BaseEnabled = &be
	if ch.Settings == nil {
		return
	}
	ch.Base = map[string]string{}
	for _, st := range sp.Settings {
		ch.Base[st.Name] = strings.TrimSpace(r.PostFormValue("b." + st.Name))
		if st.Type == sdk.SettingSecret && st.Value != "" && !config.IsSecretRef(st.Value) {
			ch.Base[st.Name] = st.Value
			if ch.Settings[st.Name] == "" {
				ch.Settings[st.Name] = st.Value
			}
		}
	}
	for k, v := range sp.Undeclared {
		ch.Base[k] = v
	}
}

// sitePluginSave applies the form: enabled and every declared setting,
// merged with what other admins saved since the form was opened (see
// formBase). It is checked like the configuration file; problems are
// listed on the form, all at once, and nothing changes. A setting another
// admin changed meanwhile is refused (409): the form comes back with the
// values in force and says which.
func (c *Console) sitePluginSave(w http.ResponseWriter, r *http.Request) {
	sp, ok := c.sitePlugin(w, r)
	if !ok {
		return
	}
	enabled := r.PostFormValue("enabled") == "on"
	values := map[string]string{}
	var order []string
	for _, st := range sp.Settings {
		values[st.Name] = strings.TrimSpace(r.PostFormValue("s." + st.Name))
		order = append(order, st.Name)
	}
	// Settings the plugin does not declare stay as they are (and stay a
	// problem the form lists).
	for k, v := range sp.Undeclared {
		values[k] = v
	}
	ch := siteadmin.Change{Enabled: &enabled, Settings: values, Order: order}
	formBase(r, sp, &ch)
	// What this admin changed: against what the form showed, when it
	// says (another admin's change since is not this one's).
	seen := ch.Base
	if seen == nil {
		seen = map[string]string{}
		for _, st := range sp.Settings {
			seen[st.Name] = st.Value
		}
	}
	var changed []string
	for _, st := range sp.Settings {
		if values[st.Name] != seen[st.Name] {
			changed = append(changed, st.Name)
		}
	}
	detail := "enabled " + strconv.FormatBool(enabled)
	if len(changed) > 0 {
		detail += "; settings changed: " + strings.Join(changed, ", ")
	}
	if ch.Base == nil {
		detail += "; without the form's base (last writer wins)"
	}
	baseEnabled := sp.Enabled
	if ch.BaseEnabled != nil {
		baseEnabled = *ch.BaseEnabled
	}
	err := c.o.Sites.Update(r.Context(), sp.Site, sp.Plugin, ch)
	c.afterSiteChange(w, r, sp, err, detail, func(problems []string) {
		c.render(w, r, http.StatusUnprocessableEntity, "siteplugin", sp.Plugin+" @ "+sp.Site, "admin-sites",
			sitePluginData{SP: sp, Fields: fieldsOf(sp, values, ch.Base), Enabled: enabled, BaseEnabled: baseEnabled, Problems: problems})
	}, func(ce *siteadmin.ConflictError) {
		c.conflictPage(w, r, sp, ce, ch)
	})
}

// conflictPage answers a save refused because another admin changed the
// same settings since the form was opened (ce): 409, the form again,
// based on the values in force now, showing them for the settings both
// changed (with this admin's beside them) and this admin's value for the
// others this admin changed, as the merge would have; nothing is saved
// until the admin saves again.
func (c *Console) conflictPage(w http.ResponseWriter, r *http.Request, sp siteadmin.SitePlugin, ce *siteadmin.ConflictError, ch siteadmin.Change) {
	d := sitePluginData{SP: sp, BaseEnabled: ce.CurrentEnabled, Enabled: ce.CurrentEnabled}
	if ch.Enabled != nil && (ch.BaseEnabled == nil || *ch.Enabled != *ch.BaseEnabled) {
		d.Enabled = *ch.Enabled
	}
	values := map[string]string{}
	both := map[string]bool{}
	for _, n := range ce.Settings {
		both[n] = true
	}
	for _, st := range sp.Settings {
		want, base, now := ch.Settings[st.Name], ch.Base[st.Name], ce.Current[st.Name]
		switch {
		case both[st.Name]:
			values[st.Name] = now
			d.Conflict = append(d.Conflict, conflictLine{Name: st.Name, Now: shown(st.Setting, now), Yours: shown(st.Setting, want)})
		case want == base:
			values[st.Name] = now
		default:
			values[st.Name] = want
		}
	}
	d.Fields = fieldsOf(sp, values, ce.Current)
	c.render(w, r, http.StatusConflict, "siteplugin", sp.Plugin+" @ "+sp.Site, "admin-sites", d)
}

// sitePluginEnabled enables or disables a plugin at a site (the buttons of
// the sites page, which send the state they showed as b.enabled). A
// toggle cannot undo another admin's change: it sets only enabled, to
// the opposite of what its page showed, so when another admin did the
// same meanwhile it changes nothing.
func (c *Console) sitePluginEnabled(w http.ResponseWriter, r *http.Request) {
	sp, ok := c.sitePlugin(w, r)
	if !ok {
		return
	}
	enabled := r.PostFormValue("enabled") == "true"
	ch := siteadmin.Change{Enabled: &enabled}
	formBase(r, sp, &ch)
	err := c.o.Sites.Update(r.Context(), sp.Site, sp.Plugin, ch)
	c.afterSiteChange(w, r, sp, err, "enabled "+strconv.FormatBool(enabled), func(problems []string) {
		c.render(w, r, http.StatusUnprocessableEntity, "siteplugin", sp.Plugin+" @ "+sp.Site, "admin-sites",
			sitePluginData{SP: sp, Fields: fieldsOf(sp, nil, nil), Enabled: enabled, BaseEnabled: sp.Enabled, Problems: problems})
	}, func(ce *siteadmin.ConflictError) {
		c.conflictPage(w, r, sp, ce, ch)
	})
}

// afterSiteChange audits a change and answers: back to the form with a
// notice when it is in force, the problems when it was refused (the
// configuration has problems, or the site or plugin is gone: the
// operator's input, found before the file was written), the form with
// the values in force when another admin changed the same settings
// meanwhile (conflict), an error page when it failed (medgate could not
// write the file or reload it).
func (c *Console) afterSiteChange(w http.ResponseWriter, r *http.Request, sp siteadmin.SitePlugin, err error, detail string, refused func([]string), conflict func(*siteadmin.ConflictError)) {
	// The audit page is read by Chinese-reading admins: the detail leads
	// in Chinese.
	detail = "修改院区 " + sp.Site + " 的插件 " + sp.Plugin + "。" + detail
	e := audit.Entry{Action: "site.plugin.update", Target: sp.Plugin + "/" + sp.Site, Site: sp.Site, Outcome: audit.OK, Detail: detail}
	var ps config.Problems
	ce, isConflict := errors.AsType[*siteadmin.ConflictError](err)
	isRefused := isConflict || siteChangeRefused(err)
	switch {
	case err == nil:
	case isConflict:
		e.Outcome, e.Detail = audit.Refused, detail+"; refused: changed by another admin since the form was opened: "+strings.Join(ce.Settings, ", ")
	case isRefused:
		e.Outcome, e.Detail = audit.Refused, detail+"; refused: "+firstLine(err.Error())
	default:
		e.Outcome, e.Detail = audit.Failed, detail+"; failed: "+firstLine(err.Error())
	}
	_ = audit.Record(r.Context(), e)
	if err != nil && !isRefused {
		c.o.Logger.Error("console: site change failed", "site", sp.Site, "plugin", sp.Plugin, "err", err)
		c.fail(w, r, http.StatusInternalServerError, "未保存：更改失败 (not saved: the change failed)",
			sp.Plugin+" @ "+sp.Site+": "+err.Error()+".",
			"错误信息说明了现在生效的是哪份配置。请查看 medgate 日志（插件启动、配置文件权限）和 "+Prefix+"admin/plugins，然后重试。"+
				"The error says which configuration is in force now. Check the medgate log (plugin start, the configuration file's permissions) and "+Prefix+"admin/plugins, then try again.")
		return
	}
	if isConflict {
		c.o.Logger.Warn("console: site change refused: changed by another admin meanwhile", "site", sp.Site, "plugin", sp.Plugin, "settings", strings.Join(ce.Settings, ","))
		conflict(ce)
		return
	}
	if err != nil {
		problems := []string{err.Error()}
		if errors.As(err, &ps) {
			problems = problems[:0]
			for _, p := range ps {
				problems = append(problems, p.String())
			}
			if !strings.Contains(err.Error(), "configuration problem") {
				problems = slices.Insert(problems, 0, firstLine(err.Error()))
			}
		}
		c.o.Logger.Warn("console: site change refused", "site", sp.Site, "plugin", sp.Plugin, "err", err)
		refused(problems)
		return
	}
	c.o.Logger.Info("console: site changed", "user", sessionFrom(r).operator, "site", sp.Site, "plugin", sp.Plugin, "detail", detail)
	c.sessions.setFlash(sessionFrom(r), &flash{OK: true, Title: "已保存并生效 (saved and in force)",
		Lines: []string{sp.Plugin + " @ " + sp.Site + ": " + detail + ". The configuration file was rewritten (the previous one is kept as .bak) and reloaded."}})
	redirect(w, r, sitePluginPath(sp.Site, sp.Plugin))
}

// siteChangeRefused reports whether err, from siteadmin.Service.Update,
// refused the change before the configuration file was written: an
// unknown site or plugin, or the problems the check of the edited
// configuration found (returned as they are). Problems wrapped in another
// error came from the reload after the file was written (the previous file
// may be back, or may not be: the error says): that is a failure to apply
// the change, not a refusal of the input.
func siteChangeRefused(err error) bool {
	if errors.Is(err, siteadmin.ErrUnknown) {
		return true
	}
	_, checked := err.(config.Problems) // the check's own answer, not a reload's wrapped one
	return checked
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

// userRow is one user on the users page, with the user's sign-in
// lockouts in force on this instance.
type userRow struct {
	store.User
	Locks []lockRow
}

// lockRow is one sign-in lockout as the users page shows it: where it
// holds (an address as the lockout counts it, an IPv6 one by its /64;
// never a browser's key) and until when.
type lockRow struct {
	WhereZH, Where string
	Until          time.Time
}

// lockRows are a user's lockouts (access.Lockout.Locks) as the users
// page shows them.
func lockRows(locks []access.Lock) []lockRow {
	var out []lockRow
	for _, l := range locks {
		row := lockRow{Until: l.Until}
		switch {
		case l.AllAddresses:
			row.WhereZH, row.Where = "从其未登录过的所有地址（多个地址猜测密码）", "from every address the user has not signed in from (guesses from many addresses)"
		case strings.HasPrefix(l.Addr, deviceLockKey("")):
			row.WhereZH, row.Where = "在其登录过的一个浏览器中", "in one browser the user signed in in"
		default:
			row.WhereZH, row.Where = "从 "+l.Addr, "from "+l.Addr
		}
		out = append(out, row)
	}
	return out
}

// usersPage lists the console's users and roles (users are managed with
// medgate user, which reads passwords from a terminal), and a locked-out
// user's sign-in lockouts on this instance, with the button that lifts
// them (unlockUser).
func (c *Console) usersPage(w http.ResponseWriter, r *http.Request) {
	var list []store.User
	if c.o.Users != nil {
		var err error
		if list, err = c.o.Users.List(r.Context()); err != nil {
			c.storeFailed(w, r, "无法读取用户 (users not read)", "The users could not be read", err)
			return
		}
	}
	locks := c.o.Lockout.Locks()
	rows := make([]userRow, len(list))
	for i, u := range list {
		rows[i] = userRow{User: u, Locks: lockRows(locks[u.Name])}
	}
	c.render(w, r, http.StatusOK, "users", "用户 (users)", "admin-users", rows)
}

// unlockUser lifts a user's sign-in lockouts on this instance, from
// every address and browser (the users page's Unlock button), as
// medgate unlock NAME and POST /admin/users/{name}/unlock do, and is
// audited as they are (user.unlock, with who did it); the users page
// then says what was lifted.
func (c *Console) unlockUser(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if err := access.CheckName(name); err != nil {
		recordUndone(r, audit.Refused, "not a user name")
		c.fail(w, r, http.StatusBadRequest, "无法解除锁定 (not unlocked)", "解除锁定：不是用户名。Unlock: "+err.Error()+".",
			"请在用户页面上点击该用户的“解除锁定”按钮。Use the user's Unlock button on "+Prefix+"admin/users.")
		return
	}
	if c.o.Users != nil {
		exists, err := c.o.Users.Exists(r.Context(), name)
		if err != nil {
			c.storeFailed(w, r, "无法解除锁定 (not unlocked)", "The user could not be looked up, so nothing was unlocked", err)
			return
		}
		if !exists {
			recordUndone(r, audit.Refused, "no such user")
			c.fail(w, r, http.StatusNotFound, "无法解除锁定 (not unlocked)", "没有用户 "+name+"。There is no user "+name+".",
				"用户页面列出所有用户（medgate user list）。The users page lists the users (medgate user list).")
			return
		}
	}
	n := c.o.Lockout.Unlock(name, "")
	where, detail := access.UnlockDetail("", n)
	_ = audit.Record(r.Context(), audit.Entry{Action: "user.unlock", Target: name, Outcome: audit.OK, Detail: detail})
	c.o.Logger.Info("console: sign-in lockout lifted", "user", name, "by", sessionFrom(r).operator, "lifted", n, "where", where)
	f := &flash{OK: true, Title: "已解除锁定 (lockout lifted)", Lines: []string{
		fmt.Sprintf("%[1]s：已解除 %[2]d 项登录锁定（所有地址和浏览器，仅本实例），现在可以登录。%[1]s: %[2]d sign-in lockout(s) lifted at every address and browser on this instance; the user may sign in again.", name, n),
		"有多个 medgate 实例时，请在用户登录的每个实例上解除（medgate unlock -addr HOST:PORT " + name + "）。With several medgate instances, unlock on each one the user signs in through (medgate unlock -addr HOST:PORT " + name + ")."}}
	if n == 0 {
		f.Title = "未被锁定 (was not locked out)"
		f.Lines[0] = fmt.Sprintf("%[1]s 在本实例上没有登录锁定，无需解除（锁定可能已到期）。%[1]s was not locked out on this instance: nothing was lifted (the lockout may have ended meanwhile).", name)
	}
	c.sessions.setFlash(sessionFrom(r), f)
	redirect(w, r, Prefix+"admin/users")
}
