package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/medgate/medgate/host/internal/audit"
	"github.com/medgate/medgate/host/internal/config"
	"github.com/medgate/medgate/host/internal/logging"
	"github.com/medgate/medgate/host/internal/siteadmin"
	"github.com/medgate/medgate/plugins/sdk"
)

// noSites is the error when the server was started without site
// administration.
var noSites = &Error{Status: http.StatusNotImplemented, Code: "no_site_admin",
	Message: "this medgate does not offer site administration; edit the configuration file and POST /admin/reload"}

// sites lists every site with every declared plugin and its settings
// (secrets as their references, never a secret: see hideWrittenSecrets).
func (s *server) sites(w http.ResponseWriter, _ *http.Request) error {
	if s.o.Sites == nil {
		return noSites
	}
	sites := s.o.Sites.Sites()
	for i := range sites {
		for j := range sites[i].Plugins {
			sites[i].Plugins[j] = hideWrittenSecrets(sites[i].Plugins[j])
		}
	}
	writeJSON(w, http.StatusOK, sites)
	return nil
}

// writtenSecret reports whether st is a secret written as such in the
// configuration, not as a reference (env:, file:): a reload refuses one
// for a plugin enabled at the site, but one written by hand for a
// disabled plugin stays in the file until someone replaces it.
func writtenSecret(st siteadmin.Setting) bool {
	return st.Type == sdk.SettingSecret && st.Value != "" && !config.IsSecretRef(st.Value)
}

// hideWrittenSecrets returns sp with the value of each secret written as
// such (writtenSecret) left empty: the admin API never returns a secret.
func hideWrittenSecrets(sp siteadmin.SitePlugin) siteadmin.SitePlugin {
	sp.Settings = slices.Clone(sp.Settings)
	for i, st := range sp.Settings {
		if writtenSecret(st) {
			sp.Settings[i].Value = ""
		}
	}
	return sp
}

// pluginStatus lists every declared plugin: version, sha256, health,
// restarts, last error.
func (s *server) pluginStatus(w http.ResponseWriter, _ *http.Request) error {
	if s.o.Sites == nil {
		return noSites
	}
	ps := s.o.Sites.Plugins()
	for i := range ps { // the plugin's words, masked as in GET /admin/plugins
		ps[i].LastError = logging.Mask(ps[i].LastError)
	}
	writeJSON(w, http.StatusOK, ps)
	return nil
}

func (s *server) sitePlugin(w http.ResponseWriter, r *http.Request) error {
	if s.o.Sites == nil {
		return noSites
	}
	sp, err := s.o.Sites.SitePlugin(r.PathValue("site"), r.PathValue("plugin"))
	if err != nil {
		return &Error{Status: http.StatusNotFound, Code: "not_found", Message: err.Error()}
	}
	writeJSON(w, http.StatusOK, withBase(sp))
	return nil
}

// sitePluginRead is a plugin at a site as GET and PUT answer it: with
// its base, ready to send back with a change (PUT's "base").
type sitePluginRead struct {
	siteadmin.SitePlugin
	Base sitePluginBase `json:"base"`
}

// withBase returns sp with its base: whether it is enabled, and every
// setting written in the file (declared or not) with its value.
// A secret written as such is left out (hideWrittenSecrets).
func withBase(sp siteadmin.SitePlugin) sitePluginRead {
	sp = hideWrittenSecrets(sp)
	en := sp.Enabled
	b := sitePluginBase{Enabled: &en, Settings: map[string]string{}}
	for _, st := range sp.Settings {
		if st.Value != "" {
			b.Settings[st.Name] = st.Value
		}
	}
	for k, v := range sp.Undeclared {
		b.Settings[k] = v
	}
	return sitePluginRead{SitePlugin: sp, Base: b}
}

// maxSiteChangeBytes bounds the body of PUT /admin/sites/{site}/plugins/{plugin}.
const maxSiteChangeBytes = 1 << 20

// sitePluginChange is the body of PUT /admin/sites/{site}/plugins/{plugin}.
type sitePluginChange struct {
	// Enabled, when present, enables or disables the plugin at the site.
	Enabled *bool `json:"enabled"`
	// Settings, when present, replaces the site's settings of the plugin
	// (a name left out or empty takes its default).
	Settings map[string]string `json:"settings"`
	// Base, when present, is the plugin at the site as the caller read it
	// (GET) before making the change: only what differs from it is
	// changed, merged with what someone else saved since; a setting both
	// changed is refused (409 conflict). Without it the last writer wins.
	Base *sitePluginBase `json:"base"`
}

// sitePluginBase is what a change was based on: "enabled" and
// "settings" (name → value, "" or left out when not set) as GET returned
// them. It must hold each part the change sets.
type sitePluginBase struct {
	Enabled  *bool             `json:"enabled"`
	Settings map[string]string `json:"settings"`
}

// updateSitePlugin changes a plugin at a site: checked like the
// configuration file (422 with every problem), written back (comments
// kept, .bak, atomic) and reloaded at once. A change with a base is
// merged with what others saved since it (409 conflict naming the
// settings both changed); without one, the last writer wins (scripts that
// set a value whatever it was).
func (s *server) updateSitePlugin(w http.ResponseWriter, r *http.Request) error {
	if s.o.Sites == nil {
		return noSites
	}
	site, plugin := r.PathValue("site"), r.PathValue("plugin")
	var ch sitePluginChange
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxSiteChangeBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&ch); err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return &Error{Status: http.StatusRequestEntityTooLarge, Code: "too_large", refused: true,
				Message: "the body is larger than 1 MiB; a plugin's settings at a site are names and short values"}
		}
		return &Error{Status: http.StatusBadRequest, Code: "bad_body", refused: true,
			Message: `send {"enabled": true|false, "settings": {"name": "value", …}} (either or both), with "base": {"enabled": …, "settings": {…}} as GET returned them: ` + err.Error()}
	}
	if ch.Enabled == nil && ch.Settings == nil {
		return &Error{Status: http.StatusBadRequest, Code: "bad_body", refused: true, Message: `nothing to change: send "enabled", "settings" or both`}
	}
	change := siteadmin.Change{Enabled: ch.Enabled, Settings: ch.Settings}
	if b := ch.Base; b != nil {
		var missing []string
		if ch.Enabled != nil && b.Enabled == nil {
			missing = append(missing, `"enabled"`)
		}
		if ch.Settings != nil && b.Settings == nil {
			missing = append(missing, `"settings"`)
		}
		if len(missing) > 0 {
			return &Error{Status: http.StatusBadRequest, Code: "bad_body", refused: true,
				Message: "base lacks " + strings.Join(missing, " and ") + `: a base holds, as GET /admin/sites/` + site + `/plugins/` + plugin +
					` returned them, every part the change sets ("enabled": its enabled; "settings": each setting's value, "" when not set)`}
		}
		change.BaseEnabled = b.Enabled
		if ch.Settings != nil {
			change.Base = b.Settings
			// A secret written as such was never returned (GET showed it
			// empty): its base is the value in force, and left empty it
			// stays (the check then asks for a reference).
			if cur, err := s.o.Sites.SitePlugin(site, plugin); err == nil {
				for _, st := range cur.Settings {
					if writtenSecret(st) {
						change.Base[st.Name] = st.Value
						if change.Settings[st.Name] == "" {
							change.Settings[st.Name] = st.Value
						}
					}
				}
			}
		}
	}
	var detail []string
	if ch.Enabled != nil {
		detail = append(detail, "enabled "+strconv.FormatBool(*ch.Enabled))
	}
	switch {
	case ch.Settings != nil && ch.Base == nil:
		names := make([]string, 0, len(ch.Settings))
		for n := range ch.Settings {
			names = append(names, n)
		}
		sort.Strings(names)
		detail = append(detail, "settings set: "+strings.Join(names, ", "))
	case ch.Settings != nil:
		var names []string
		for n := range ch.Settings {
			if ch.Settings[n] != ch.Base.Settings[n] {
				names = append(names, n)
			}
		}
		for n := range ch.Base.Settings {
			if _, ok := ch.Settings[n]; !ok && ch.Base.Settings[n] != "" {
				names = append(names, n)
			}
		}
		sort.Strings(names)
		detail = append(detail, "settings changed from the base: "+strings.Join(names, ", "))
	}
	if ch.Base == nil {
		detail = append(detail, "without a base (last writer wins)")
	}
	err := s.o.Sites.Update(r.Context(), site, plugin, change)
	// The outcome follows the answer: refused when the caller's input
	// was wrong (404, 422: found before the file was written), failed
	// when medgate could not do it (500: the file could not be written,
	// the reload failed, even over configuration problems, and the
	// previous file may not be back: the message says).
	e := audit.Entry{Action: "site.plugin.update", Target: plugin + "/" + site, Site: site, Outcome: audit.OK,
		Detail: "修改院区 " + site + " 的插件 " + plugin + "。" + strings.Join(detail, "; ")}
	_, checked := err.(config.Problems) // the check's own answer, not a reload's wrapped one
	var answer error
	ce, conflict := errors.AsType[*siteadmin.ConflictError](err)
	switch {
	case conflict:
		e.Outcome = audit.Refused
		s.o.Logger.Warn("admin API: site change refused: changed by someone else since its base", "site", site, "plugin", plugin, "settings", strings.Join(ce.Settings, ","))
		e.Detail += "; refused: changed by someone else since the base: " + strings.Join(ce.Settings, ", ")
		answer = &Error{Status: http.StatusConflict, Code: "conflict", Settings: ce.Settings, Message: fmt.Sprintf("site %s plugin %s: settings %s changed by someone else since the base, to other values than this change's; nothing was changed: "+
			"GET /admin/sites/%s/plugins/%s for the values in force, then send the change again with them as its base", site, plugin, strings.Join(ce.Settings, ", "), site, plugin)}
	case errors.Is(err, siteadmin.ErrUnknown):
		e.Outcome = audit.Refused
		answer = &Error{Status: http.StatusNotFound, Code: "not_found", Message: err.Error()}
	case checked:
		e.Outcome = audit.Refused
		answer = &Error{Status: http.StatusUnprocessableEntity, Code: "config", Message: "the change was not applied; the configuration in force stays: " + err.Error()}
	case err != nil:
		e.Outcome = audit.Failed
		s.o.Logger.Error("admin API: site change failed", "site", site, "plugin", plugin, "err", err)
		answer = &Error{Status: http.StatusInternalServerError, Code: "not_applied", Message: fmt.Sprintf("site %s plugin %s: %v; "+
			"the message says which configuration is in force and where the file is: check the medgate log (plugin start, the configuration file's permissions) and GET /admin/sites/%s/plugins/%s, then try again", site, plugin, err, site, plugin)}
	}
	_ = audit.Record(r.Context(), e)
	if answer != nil {
		return answer
	}
	sp, err := s.o.Sites.SitePlugin(site, plugin)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, withBase(sp))
	return nil
}
