package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/medgate/medgate/host/internal/audit"
	"github.com/medgate/medgate/host/internal/config"
	"github.com/medgate/medgate/host/internal/siteadmin"
)

// noSites is the error when the server was started without site
// administration.
var noSites = &Error{Status: http.StatusNotImplemented, Code: "no_site_admin",
	Message: "this medgate does not offer site administration; edit the configuration file and POST /admin/reload"}

// sites lists every site with every declared plugin and its settings
// (secrets as their references).
func (s *server) sites(w http.ResponseWriter, _ *http.Request) error {
	if s.o.Sites == nil {
		return noSites
	}
	writeJSON(w, http.StatusOK, s.o.Sites.Sites())
	return nil
}

// pluginStatus lists every declared plugin: version, sha256, health,
// restarts, last error.
func (s *server) pluginStatus(w http.ResponseWriter, _ *http.Request) error {
	if s.o.Sites == nil {
		return noSites
	}
	writeJSON(w, http.StatusOK, s.o.Sites.Plugins())
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
	writeJSON(w, http.StatusOK, sp)
	return nil
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
}

// updateSitePlugin changes a plugin at a site: checked like the
// configuration file (422 with every problem), written back (comments
// kept, .bak, atomic) and reloaded at once.
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
			Message: `send {"enabled": true|false, "settings": {"name": "value", …}} (either or both): ` + err.Error()}
	}
	if ch.Enabled == nil && ch.Settings == nil {
		return &Error{Status: http.StatusBadRequest, Code: "bad_body", refused: true, Message: `nothing to change: send "enabled", "settings" or both`}
	}
	var detail []string
	if ch.Enabled != nil {
		detail = append(detail, "enabled "+strconv.FormatBool(*ch.Enabled))
	}
	if ch.Settings != nil {
		names := make([]string, 0, len(ch.Settings))
		for n := range ch.Settings {
			names = append(names, n)
		}
		sort.Strings(names)
		detail = append(detail, "settings set: "+strings.Join(names, ", "))
	}
	err := s.o.Sites.Update(r.Context(), site, plugin, siteadmin.Change{Enabled: ch.Enabled, Settings: ch.Settings})
	// The outcome follows the answer: refused when the caller's input
	// was wrong (404, 422: found before the file was written), failed
	// when medgate could not do it (500: the file could not be written,
	// the reload failed, even over configuration problems, and the
	// previous file may not be back: the message says).
	e := audit.Entry{Action: "site.plugin.update", Target: plugin + "/" + site, Site: site, Outcome: audit.OK, Detail: strings.Join(detail, "; ")}
	_, checked := err.(config.Problems) // the check's own answer, not a reload's wrapped one
	var answer error
	switch {
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
	writeJSON(w, http.StatusOK, sp)
	return nil
}
