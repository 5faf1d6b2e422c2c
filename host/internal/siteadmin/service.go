package siteadmin

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/medgate/medgate/host/internal/config"
	"github.com/medgate/medgate/host/internal/pluginhost"
	"github.com/medgate/medgate/plugins/sdk"
)

// Plugin is a declared plugin as the admin pages show it.
type Plugin struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Path    string `json:"path"`
	// SHA256 is the checksum medgate verified before launching it.
	SHA256    string `json:"sha256"`
	Running   bool   `json:"running"`
	Restarts  int    `json:"restarts"`
	LastError string `json:"lastError,omitempty"`
	// Settings are the settings it declares (nil when it is not running:
	// its declarations are unknown).
	Settings []sdk.Setting `json:"settings,omitempty"`
	Sites    []string      `json:"sites"`
}

// Setting is one declared setting with its value at a site.
type Setting struct {
	sdk.Setting
	// Value is as written in the configuration ("" when not set: the
	// default applies); a secret's value is its reference (env:, file:),
	// except a secret someone wrote as such for a plugin disabled at the
	// site (a reload refuses one for an enabled plugin, and Update any
	// change that keeps one): pages and answers show a secret's value only
	// when config.IsSecretRef says it is a reference.
	Value string `json:"value"`
}

// SitePlugin is one plugin at one site.
type SitePlugin struct {
	Site     string `json:"site"`
	SiteName string `json:"siteName,omitempty"`
	Plugin   string `json:"plugin"`
	// Listed: the site names the plugin; Enabled: and does not disable it.
	Listed  bool `json:"listed"`
	Enabled bool `json:"enabled"`
	// Running: the plugin runs, so its declared settings are known.
	Running  bool      `json:"running"`
	Settings []Setting `json:"settings"`
	// Undeclared are settings written in the file that the plugin does
	// not declare (each is a configuration problem).
	Undeclared map[string]string `json:"undeclared,omitempty"`
}

// Site is a site with every declared plugin.
type Site struct {
	Code    string       `json:"code"`
	Name    string       `json:"name,omitempty"`
	Plugins []SitePlugin `json:"plugins"`
}

// Host is what the service needs from the running medgate.
type Host interface {
	// Config is the configuration in force.
	Config() *config.Config
	// Plugins are the running plugins with their declarations and status.
	Plugins() []Plugin
	// Reload reads the configuration file again and applies it, or
	// keeps the previous one and returns its problems.
	Reload(ctx context.Context) error
}

// ErrUnknown is an unknown site or plugin.
var ErrUnknown = errors.New("unknown")

// ErrConflict is a change to a setting that someone else changed too
// since the admin opened the form.
var ErrConflict = errors.New("changed by someone else since the form was opened")

// ConflictError is the ErrConflict of a change (errors.Is(err,
// ErrConflict)): the settings both its admin and someone else changed,
// to different values, since the admin opened the form, and the plugin's
// entry at the site as it is in the file now, for a form offering the
// values in force. Nothing was written.
type ConflictError struct {
	Site, Plugin string
	// Settings are the names both changed, sorted.
	Settings []string
	// Current are the plugin's settings at the site in the file now, and
	// CurrentEnabled whether it is enabled there. A secret's value is
	// its reference, except a secret someone wrote as such in the file
	// for a plugin disabled at the site: show a secret's value only when
	// config.IsSecretRef says it is a reference.
	Current        map[string]string
	CurrentEnabled bool
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("plugin %s at site %s, settings %s: %v; nothing was changed: open the form again to see the values in force, then make the change again",
		e.Plugin, e.Site, strings.Join(e.Settings, ", "), ErrConflict)
}

// Unwrap returns ErrConflict.
func (e *ConflictError) Unwrap() error { return ErrConflict }

// Service lists and changes sites' plugins.
type Service struct {
	h  Host
	mu sync.Mutex // one change at a time
}

// New returns the service over h.
func New(h Host) *Service { return &Service{h: h} }

// Plugins lists every declared plugin, running or not, with its checksum.
func (s *Service) Plugins() []Plugin {
	cfg := s.h.Config()
	running := map[string]Plugin{}
	for _, p := range s.h.Plugins() {
		running[p.Name] = p
	}
	out := make([]Plugin, 0, len(cfg.Plugins))
	for _, cp := range cfg.Plugins {
		p, ok := running[cp.Name]
		if !ok {
			p = Plugin{Name: cp.Name, LastError: "not running"}
		}
		p.Path = cp.Path
		if sum, err := cfg.Checksum(cp); err == nil {
			p.SHA256 = sum
		}
		p.Sites = nil
		for _, site := range cfg.Sites {
			if sp, ok := site.Plugins[cp.Name]; ok && sp.IsEnabled() {
				p.Sites = append(p.Sites, site.Code)
			}
		}
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Sites lists every site with every declared plugin.
func (s *Service) Sites() []Site {
	cfg := s.h.Config()
	plugins := s.Plugins()
	out := make([]Site, 0, len(cfg.Sites))
	for _, site := range cfg.Sites {
		st := Site{Code: site.Code, Name: site.Name}
		for _, p := range plugins {
			st.Plugins = append(st.Plugins, sitePlugin(site, p))
		}
		out = append(out, st)
	}
	return out
}

// SitePlugin returns one plugin at one site; ErrUnknown when either is
// not in the configuration.
func (s *Service) SitePlugin(site, plugin string) (SitePlugin, error) {
	cfg := s.h.Config()
	st := cfg.Site(site)
	if st == nil {
		return SitePlugin{}, fmt.Errorf("site %q: %w; the sites are listed under sites: in the configuration", site, ErrUnknown)
	}
	for _, p := range s.Plugins() {
		if p.Name == plugin {
			return sitePlugin(*st, p), nil
		}
	}
	return SitePlugin{}, fmt.Errorf("plugin %q: %w; declare it under plugins: in the configuration first", plugin, ErrUnknown)
}

func sitePlugin(site config.Site, p Plugin) SitePlugin {
	sp, listed := site.Plugins[p.Name]
	out := SitePlugin{Site: site.Code, SiteName: site.Name, Plugin: p.Name, Listed: listed, Enabled: listed && sp.IsEnabled(), Running: p.Running && p.Settings != nil}
	declared := map[string]bool{}
	for _, d := range p.Settings {
		declared[d.Name] = true
		out.Settings = append(out.Settings, Setting{Setting: d, Value: sp.Settings[d.Name]})
	}
	for k, v := range sp.Settings {
		if !declared[k] {
			if out.Undeclared == nil {
				out.Undeclared = map[string]string{}
			}
			out.Undeclared[k] = v
		}
	}
	return out
}

// Update applies a change to a plugin at a site: it is checked like the
// configuration file (every problem at once, as config.Problems, the file
// untouched), written back (comments kept, <file>.bak, atomic) and
// reloaded; a failed reload puts the previous file back. A change that
// carries what the admin saw (Change.Base, Change.BaseEnabled) is merged
// with the file as it is now, so two admins editing the same form do not
// undo each other; a setting both changed is refused with ErrConflict.
func (s *Service) Update(ctx context.Context, site, plugin string, ch Change) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, err := s.SitePlugin(site, plugin)
	if err != nil {
		return err
	}
	cfg := s.h.Config()
	path := cfg.File
	old, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read the configuration %s: %w", path, err)
	}
	if ch.Base != nil || ch.BaseEnabled != nil {
		if ch, err = merge(path, old, site, plugin, ch); err != nil {
			return err
		}
	}
	if ch.Order == nil {
		for _, st := range cur.Settings {
			ch.Order = append(ch.Order, st.Name)
		}
	}
	data, err := Edit(old, site, plugin, ch)
	if err != nil {
		return fmt.Errorf("edit %s: %w", path, err)
	}
	ncfg, err := config.Parse(path, data)
	var problems config.Problems
	if err != nil {
		if !errors.As(err, &problems) {
			return err
		}
	}
	if ncfg != nil {
		problems = append(problems, checkSettings(ncfg, site, plugin, s.h.Plugins())...)
	}
	if len(problems) > 0 {
		return problems
	}
	if err := WriteFile(path, old, data); err != nil {
		return err
	}
	if err := s.h.Reload(ctx); err != nil {
		if rerr := atomicWrite(path, old, fileMode(path)); rerr != nil {
			return fmt.Errorf("the change did not apply (%w) and the previous configuration could not be put back (%v); it is in %s.bak", err, rerr, path)
		}
		if rerr := s.h.Reload(ctx); rerr != nil {
			return fmt.Errorf("the change did not apply (%w); the previous configuration is back in %s but reloading it failed too: %v", err, path, rerr)
		}
		return fmt.Errorf("the change did not apply and the previous configuration is back in force: %w", err)
	}
	return nil
}

// merge returns ch merged with the plugin's entry at the site in the
// file as it is now (data): what the admin left as seen (ch.Base,
// ch.BaseEnabled) keeps the file's value, so a change someone else saved
// since the form was opened stays; a setting both changed, to different
// values, is refused with ErrConflict and nothing is written.
func merge(path string, data []byte, site, plugin string, ch Change) (Change, error) {
	cfg, err := config.Parse(path, data)
	if cfg == nil {
		return ch, fmt.Errorf("read the configuration %s: %w", path, err)
	}
	st := cfg.Site(site)
	if st == nil {
		return ch, fmt.Errorf("site %q: %w; it is no longer in %s (someone removed it since the form was opened)", site, ErrUnknown, path)
	}
	sp, listed := st.Plugins[plugin]
	if ch.Enabled != nil && ch.BaseEnabled != nil && *ch.Enabled == *ch.BaseEnabled {
		ch.Enabled = nil // left as seen: the file's value stays
	}
	if ch.Settings == nil || ch.Base == nil {
		return ch, nil
	}
	cur := map[string]string{}
	if listed {
		cur = sp.Settings
	}
	names := map[string]bool{}
	for _, m := range []map[string]string{ch.Settings, ch.Base, cur} {
		for n := range m {
			names[n] = true
		}
	}
	out := make(map[string]string, len(names))
	var conflicts []string
	for n := range names {
		want, base, now := ch.Settings[n], ch.Base[n], cur[n]
		switch {
		case want == base:
			out[n] = now
		case now == base || now == want:
			out[n] = want
		default:
			conflicts = append(conflicts, n)
		}
	}
	if len(conflicts) > 0 {
		sort.Strings(conflicts)
		return ch, &ConflictError{Site: site, Plugin: plugin, Settings: conflicts, Current: maps.Clone(cur), CurrentEnabled: listed && sp.IsEnabled()}
	}
	ch.Settings = out
	return ch, nil
}

func fileMode(path string) os.FileMode {
	if st, err := os.Stat(path); err == nil {
		return st.Mode().Perm()
	}
	return 0o600
}

// checkSettings checks the settings of the plugin at the site in cfg
// against the running plugin's declarations, as a reload would.
func checkSettings(cfg *config.Config, site, plugin string, running []Plugin) config.Problems {
	var ps config.Problems
	for i, st := range cfg.Sites {
		sp, ok := st.Plugins[plugin]
		if st.Code != site || !ok {
			continue
		}
		for _, p := range running {
			if p.Name != plugin || p.Settings == nil {
				continue
			}
			if !sp.IsEnabled() {
				// Checked as a whole once enabled; but a secret is never
				// written in the file, where the admin pages and API show it.
				for _, d := range p.Settings {
					if v := sp.Settings[d.Name]; d.Type == sdk.SettingSecret && v != "" && !config.IsSecretRef(v) {
						ps = append(ps, cfg.Problem(fmt.Sprintf("sites[%d].plugins.%s.settings.%s", i, plugin, d.Name), "%s",
							`secrets are never written in the configuration; write "env:VARIABLE" or "file:/path/to/secret"`))
					}
				}
				continue
			}
			_, sps := pluginhost.CheckSettings(p.Settings, sp.Settings, filepath.Dir(cfg.File), config.IsSecretRef, cfg.Secret)
			for _, pr := range sps {
				ps = append(ps, cfg.Problem(fmt.Sprintf("sites[%d].plugins.%s.settings.%s", i, plugin, pr.Setting), "%s", pr.Message))
			}
		}
	}
	return ps
}
