package console

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/medgate/medgate/host/internal/audit"
	"github.com/medgate/medgate/host/internal/config"
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
	f, problems := audit.ParseFilter(q, time.Local, auditPageSize)
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
		"This console was started without access to the configuration.", "Edit the configuration file and run medgate reload.")
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
	c.render(w, r, http.StatusOK, "plugins", "插件状态 (plugin status)", "admin-sites", c.o.Sites.Plugins())
}

// settingField is one generated form field.
type settingField struct {
	sdk.Setting
	Value string
	// Kind is the input: select (enum, bool), or text.
	Kind    string
	Options []string
	Secret  bool
}

// sitePluginData is the settings form's data.
type sitePluginData struct {
	SP       siteadmin.SitePlugin
	Fields   []settingField
	Enabled  bool
	Problems []string
}

// fieldsOf builds the settings form of sp: with the values in force, or
// with values (those the admin sent, shown back with the problems),
// except a secret typed in place of its reference.
func fieldsOf(sp siteadmin.SitePlugin, values map[string]string) []settingField {
	var out []settingField
	for _, st := range sp.Settings {
		f := settingField{Setting: st.Setting, Value: st.Value, Kind: "text", Secret: st.Type == sdk.SettingSecret}
		if values != nil {
			f.Value = values[st.Name]
			if f.Secret && !config.IsSecretRef(f.Value) {
				// The secret itself typed in place of its reference (the
				// change was refused for it): never shown back.
				f.Value = ""
			}
		}
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
		c.fail(w, r, http.StatusNotFound, "站点或插件不存在 (no such site or plugin)", err.Error(), "Pick one from "+Prefix+"admin/sites.")
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
		sitePluginData{SP: sp, Fields: fieldsOf(sp, nil), Enabled: sp.Enabled})
}

// sitePluginSave applies the form: enabled and every declared setting.
// It is checked like the configuration file; problems are listed on the
// form, all at once, and nothing changes.
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
	var changed []string
	for _, st := range sp.Settings {
		if values[st.Name] != st.Value {
			changed = append(changed, st.Name)
		}
	}
	detail := "enabled " + strconv.FormatBool(enabled)
	if len(changed) > 0 {
		detail += "; settings changed: " + strings.Join(changed, ", ")
	}
	err := c.o.Sites.Update(r.Context(), sp.Site, sp.Plugin, siteadmin.Change{Enabled: &enabled, Settings: values, Order: order})
	c.afterSiteChange(w, r, sp, err, detail, func(problems []string) {
		c.render(w, r, http.StatusUnprocessableEntity, "siteplugin", sp.Plugin+" @ "+sp.Site, "admin-sites",
			sitePluginData{SP: sp, Fields: fieldsOf(sp, values), Enabled: enabled, Problems: problems})
	})
}

// sitePluginEnabled enables or disables a plugin at a site (the buttons of
// the sites page).
func (c *Console) sitePluginEnabled(w http.ResponseWriter, r *http.Request) {
	sp, ok := c.sitePlugin(w, r)
	if !ok {
		return
	}
	enabled := r.PostFormValue("enabled") == "true"
	err := c.o.Sites.Update(r.Context(), sp.Site, sp.Plugin, siteadmin.Change{Enabled: &enabled})
	c.afterSiteChange(w, r, sp, err, "enabled "+strconv.FormatBool(enabled), func(problems []string) {
		c.render(w, r, http.StatusUnprocessableEntity, "siteplugin", sp.Plugin+" @ "+sp.Site, "admin-sites",
			sitePluginData{SP: sp, Fields: fieldsOf(sp, nil), Enabled: enabled, Problems: problems})
	})
}

// afterSiteChange audits a change and answers: back to the form with a
// notice when it is in force, the problems when it was refused (the
// configuration has problems, or the site or plugin is gone: the
// operator's input, found before the file was written), an error page
// when it failed (medgate could not write the file or reload it).
func (c *Console) afterSiteChange(w http.ResponseWriter, r *http.Request, sp siteadmin.SitePlugin, err error, detail string, refused func([]string)) {
	e := audit.Entry{Action: "site.plugin.update", Target: sp.Plugin + "/" + sp.Site, Site: sp.Site, Outcome: audit.OK, Detail: detail}
	var ps config.Problems
	isRefused := siteChangeRefused(err)
	switch {
	case err == nil:
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
			"The error says which configuration is in force now. Check the medgate log (plugin start, the configuration file's permissions) and "+Prefix+"admin/plugins, then try again.")
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

// usersPage lists the console's users and roles (read only: users are
// managed with medgate user, which reads passwords from a terminal).
func (c *Console) usersPage(w http.ResponseWriter, r *http.Request) {
	var list []store.User
	if c.o.Users != nil {
		var err error
		if list, err = c.o.Users.List(r.Context()); err != nil {
			c.storeFailed(w, r, "无法读取用户 (users not read)", "The users could not be read", err)
			return
		}
	}
	c.render(w, r, http.StatusOK, "users", "用户 (users)", "admin-users", list)
}
