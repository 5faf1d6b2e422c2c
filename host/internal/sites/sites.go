// Package sites applies the configuration's plugins and sites: it launches
// the declared plugins, checks and applies each site's plugin settings, and
// builds the routing snapshot the pipeline serves and the jobs the
// scheduler runs, and describes the running plugins for the admin API and
// the console. The daemon calls it on start and reload, check-config
// without starting medgate.
// A configuration it refuses leaves the running plugins as they were (see
// Apply). A running plugin whose binary path or checksum a reload changed
// is launched again beside the running one (StartReplacements), which
// keeps serving until the new one is configured.
// A route hands a message to its plugin only while the plugin is enabled
// at the message's site: a retry on a route a reload has since disabled
// ends failed, with how to replay it, instead of reaching the plugin. A
// scheduled job likewise runs only while the plugin is enabled at its
// site: a run on the job list of before such a reload fails, unsent.
package sites

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/medgate/medgate/host/internal/config"
	"github.com/medgate/medgate/host/internal/pipeline"
	"github.com/medgate/medgate/host/internal/pluginhost"
	"github.com/medgate/medgate/host/internal/scheduler"
	"github.com/medgate/medgate/plugins/sdk"
)

// Launch starts one declared plugin whose binary has the checksum sum.
type Launch func(ctx context.Context, p config.Plugin, sum string) (*pluginhost.Instance, error)

// StartPlugins launches every declared plugin not in running yet and adds
// it there. It returns config.Problems listing every plugin that could not
// be started.
func StartPlugins(ctx context.Context, cfg *config.Config, running map[string]*pluginhost.Instance, launch Launch) error {
	var problems config.Problems
	for i, p := range cfg.Plugins {
		if _, ok := running[p.Name]; ok {
			continue
		}
		sum, err := cfg.Checksum(p)
		if err != nil {
			problems = append(problems, cfg.Problem(fmt.Sprintf("plugins[%d]", i), "%v", err))
			continue
		}
		in, err := launch(ctx, p, sum)
		if err != nil {
			problems = append(problems, cfg.Problem(fmt.Sprintf("plugins[%d]", i), "%v", err))
			continue
		}
		running[p.Name] = in
	}
	if len(problems) > 0 {
		return problems
	}
	return nil
}

// StartReplacements launches again, from the configured binary, every
// declared plugin in running whose binary path or checksum the
// configuration has changed (a vendor's fixed adapter deployed before a
// reload), and returns the new instances by name; running itself is left
// as it is: the caller configures the new instances (Apply, on a copy of
// running holding them) before any route or job uses them, and retires
// each old instance for its new one (pluginhost.Instance.Replace) once all
// is accepted, or closes the new ones when it is not. It returns
// config.Problems listing every plugin whose new binary could not be
// launched, each also returned by name with a nil instance, beside the
// ones launched: the reload is refused then, but the caller checks the
// rest of the configuration with such a plugin left out (Apply skips the
// sites of a nil plugin, whose new declaration is unknown) so that the
// report lists every problem at once, then closes the ones launched.
func StartReplacements(ctx context.Context, cfg *config.Config, running map[string]*pluginhost.Instance, launch Launch) (map[string]*pluginhost.Instance, error) {
	fresh := map[string]*pluginhost.Instance{}
	var problems config.Problems
	for i, p := range cfg.Plugins {
		old, ok := running[p.Name]
		if !ok {
			continue
		}
		sum, err := cfg.Checksum(p)
		if err != nil {
			problems = append(problems, cfg.Problem(fmt.Sprintf("plugins[%d]", i), "%v", err))
			continue
		}
		if !Changed(old.Spec(), p.Path, sum) {
			continue
		}
		in, err := launch(ctx, p, sum)
		if err != nil {
			problems = append(problems, cfg.Problem(fmt.Sprintf("plugins[%d]", i), "the new binary of the running plugin %q was not started, the running one keeps serving: %v", p.Name, err))
			fresh[p.Name] = nil
			continue
		}
		fresh[p.Name] = in
	}
	if len(problems) > 0 {
		return fresh, problems
	}
	return fresh, nil
}

// Changed reports whether a plugin launched as running is configured now
// with another binary: another path (compared as absolute paths) or
// another checksum.
func Changed(running pluginhost.Spec, path, sum string) bool {
	if !strings.EqualFold(running.SHA256, sum) {
		return true
	}
	a, errA := filepath.Abs(running.Path)
	b, errB := filepath.Abs(path)
	if errA != nil || errB != nil {
		return running.Path != path
	}
	return a != b
}

// Apply validates and applies every site's plugin settings and returns
// the routing snapshot and the job list. Nothing is half-applied: a
// configuration with problems is reported, every problem at once, and the
// whole call fails leaving the running plugins as they were.
//
// It goes in three steps. First every enabled site plugin's settings are
// checked against the plugin's declaration (CheckSettings). Then each
// plugin is configured for each of its sites whose settings passed that
// check, even when others did not, so the report lists the plugins' own
// problems with the host's: an administrator fixes everything in one
// round. A site whose settings failed the host's check is configured too
// when its plugin does not serve it yet (`medgate check-config`, the
// start, a site or plugin a reload adds), without the refused settings:
// the plugin's problems with the other settings are reported, its
// problems with the refused ones (follow-ons such as a directory that
// cannot be created from an empty path) are not. A site the plugin serves is not: its
// messages would meet settings nobody wrote while the call lasts. If any
// setting failed the host's check or any plugin refused,
// the sites configured so far are restored (Instance.Restore, in reverse
// order) and the call fails with all the problems. (In that short while a
// message of such a site may be handled with the new settings: the
// plugins have no way to check settings without applying them.) Last,
// once all is accepted, each declared plugin forgets the sites it is no
// longer enabled at (disabled, or gone from the configuration), so a
// relaunch does not apply them again and its host services for them are
// refused.
func Apply(ctx context.Context, cfg *config.Config, plugins map[string]*pluginhost.Instance, log *slog.Logger) (*pipeline.Routes, []scheduler.Job, error) {
	return ApplyThen(ctx, cfg, plugins, log, nil)
}

// ApplyThen is Apply with one more check, then, run once every plugin has
// been configured and before any site is forgotten: what depends on the
// plugins' new configuration (the daemon compiles the mappings with the
// schema documents Configure returned). It runs even when settings had
// problems, so that the report lists its problems with theirs (a site
// whose settings were refused has the schema documents of before, or
// those its plugin declares). If then fails, the plugins are restored as
// when Configure refuses, and its error is returned (its config.Problems
// after the settings' problems, when there are both).
func ApplyThen(ctx context.Context, cfg *config.Config, plugins map[string]*pluginhost.Instance, log *slog.Logger, then func() error) (*pipeline.Routes, []scheduler.Job, error) {
	routes := &pipeline.Routes{Sites: map[string]map[string]*pipeline.Target{}, Disabled: map[string]map[string]bool{}}
	type step struct {
		in       *pluginhost.Instance
		site     string
		path     string
		settings map[string]string
		// refused are the settings the host's check refused, left out
		// of settings: the step only collects the plugin's problems
		// with the rest (nil: the settings passed the check).
		refused map[string]bool
	}
	var steps []step
	var problems config.Problems
	enabled := map[string]map[string]bool{} // plugin → its sites
	for i, s := range cfg.Sites {
		routes.Sites[s.Code] = map[string]*pipeline.Target{}
		routes.Disabled[s.Code] = map[string]bool{}
		names := make([]string, 0, len(s.Plugins))
		for n := range s.Plugins {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, name := range names {
			sp := s.Plugins[name]
			path := fmt.Sprintf("sites[%d].plugins.%s", i, name)
			in := plugins[name]
			if in == nil {
				continue // reported by config.check, or its new binary did not launch (StartReplacements)
			}
			if !sp.IsEnabled() {
				routes.Disabled[s.Code][name] = true
				continue
			}
			if enabled[name] == nil {
				enabled[name] = map[string]bool{}
			}
			enabled[name][s.Code] = true
			settings, sps := pluginhost.CheckSettings(in.Description().Settings, sp.Settings, filepath.Dir(cfg.File), config.IsSecretRef, cfg.Secret)
			for _, p := range sps {
				problems = append(problems, cfg.Problem(path+".settings."+p.Setting, "%s", p.Message))
			}
			switch {
			case len(sps) == 0:
				steps = append(steps, step{in: in, site: s.Code, path: path, settings: settings})
			case !in.Configured(s.Code):
				refused := map[string]bool{}
				for _, p := range sps {
					refused[p.Setting] = true
				}
				steps = append(steps, step{in: in, site: s.Code, path: path, settings: settings, refused: refused})
			}
		}
	}
	// Problems of the host's check do not stop here: the steps that passed
	// it are configured too, so the report holds the plugins' problems as
	// well, and undone below with the rest.
	var jobs []scheduler.Job
	var undo []pluginhost.Applied
	var undoIn []*pluginhost.Instance
	for _, st := range steps {
		undo, undoIn = append(undo, st.in.Applied(st.site)), append(undoIn, st.in)
		diags, err := st.in.Configure(ctx, st.site, st.settings)
		if err != nil {
			if st.refused == nil {
				problems = append(problems, cfg.Problem(st.path, "%v", err))
			} // else: it may have failed for want of the refused settings
			continue
		}
		for _, dg := range diags {
			if st.refused != nil && (dg.Severity != sdk.SeverityError || aboutRefused(dg.Field, st.refused)) {
				// A follow-on of a refused setting, or a warning of a
				// configuration that is refused anyway.
				continue
			}
			if dg.Severity == sdk.SeverityError {
				problems = append(problems, cfg.Problem(st.path+".settings."+dg.Field, "%s", dg.Message()))
			} else {
				// A warning of a configuration the plugin accepted (a
				// QR key removed while its codes are valid, say): the
				// only place an operator sees it.
				log.Warn("plugin configuration warning", "plugin", st.in.Name(), "site", st.site,
					"setting", st.path+".settings."+dg.Field, "rule", dg.Rule, "warning", dg.Message())
			}
		}
		if diags.HasError() || st.refused != nil {
			continue
		}
		desc := st.in.Description()
		t := &pipeline.Target{Plugin: st.in.Name(), Handler: siteHandler{st.in}, Operations: map[string]sdk.Operation{}}
		for _, op := range desc.Operations {
			t.Operations[op.Type] = op
		}
		routes.Sites[st.site][st.in.Name()] = t
		for _, j := range desc.Jobs {
			jobs = append(jobs, job(st.in, st.site, j, log))
		}
	}
	// The later check runs even when the settings had problems, as
	// `medgate check-config` runs it, so the report holds its problems
	// too (a vendor's new version that renamed a setting and tightened a
	// schema a site's mapping uses): an administrator fixes everything in
	// one round. Alone, its error is returned as it is.
	var err error
	if then != nil {
		err = then()
	}
	if len(problems) > 0 {
		var ps config.Problems
		switch {
		case err == nil:
		case errors.As(err, &ps):
			problems = append(problems, ps...)
		default:
			problems = append(problems, config.Problem{File: cfg.File, Message: err.Error()})
		}
		err = problems
	}
	if err != nil {
		// Undo in reverse order, so a site configured twice ends as it began.
		for i := len(undo) - 1; i >= 0; i-- {
			if err := undoIn[i].Restore(ctx, undo[i]); err != nil {
				log.Error("a refused configuration could not be undone in a plugin; it may use the refused settings until it is relaunched (restart medgate to be sure)", "plugin", undoIn[i].Name(), "err", err)
			}
		}
		return nil, nil, err
	}

	for _, p := range cfg.Plugins {
		in := plugins[p.Name]
		if in == nil {
			continue
		}
		for _, site := range in.Sites() {
			if !enabled[p.Name][site] {
				in.Forget(site)
			}
		}
	}
	return routes, jobs, nil
}

// aboutRefused reports whether a plugin's diagnostic at field (a setting's
// name, or a path below one: "keys.current", "institutions[3]") is about
// one of the refused settings.
func aboutRefused(field string, refused map[string]bool) bool {
	name, _, _ := strings.Cut(field, ".")
	name, _, _ = strings.Cut(name, "[")
	return refused[name]
}

// siteHandler is a route's handler: it hands a message to the plugin only
// while the plugin is configured at the message's site. A message keeps
// the route it was resolved with through its retries; once a reload has
// disabled the plugin at the site (or removed the site), a retry is not
// sent to the plugin, which would answer that it is not configured there,
// a retryable answer an upload would get without end: it ends failed,
// saying why and how to replay it. (A plugin the reload removed answers
// so itself: pluginhost.Instance.Retired.) A plugin a reload replaced by a
// new binary is served by the new one (pluginhost.Instance.Current): a
// retry goes there, if the new one is configured at the site.
type siteHandler struct{ in *pluginhost.Instance }

// Handle implements pipeline.Handler.
func (h siteHandler) Handle(ctx context.Context, req *sdk.HandleRequest) (*sdk.HandleResponse, error) {
	h.in = h.in.Current()
	if !h.in.Configured(req.Site) {
		return sdk.Failed(sdk.Diagnostic{
			Severity: sdk.SeverityError, Rule: "disabled",
			Summary: fmt.Sprintf("plugin %q is no longer enabled at site %q: a reload disabled it while message %q was being handled; this attempt was not sent to it", h.in.Name(), req.Site, req.MessageID),
			Detail:  fmt.Sprintf("enable the plugin for site %q again, then replay the message with `medgate replay %s`; an earlier attempt whose outcome is unknown is reconciled before any resend", req.Site, req.MessageID),
		}), nil
	}
	return h.in.Handle(ctx, req)
}

// job is a scheduled job of plugin in at site. Like siteHandler, a run
// reaches the plugin only while the plugin is configured at the site: a
// run on the job list of before a reload that disabled the plugin there
// (or removed the site), which the scheduler holds until the daemon
// hands it the new list, fails instead. Handing it to the plugin would
// make the host services serve the site again for the run (see
// pluginhost.Instance.RunJob), so the plugin would write state, publish
// events and call the external system for a site it is no longer enabled
// at.
func job(in *pluginhost.Instance, site string, j sdk.Job, log *slog.Logger) scheduler.Job {
	return scheduler.Job{Plugin: in.Name(), Site: site, Name: j.Name, Interval: j.Interval, MaxRun: j.MaxRun, Run: func(ctx context.Context, now time.Time) error {
		cur := in.Current()
		if !cur.Configured(site) {
			return fmt.Errorf("job %q: plugin %q is no longer enabled at site %q: a reload disabled it there (or removed the site) before this run started, so the run was not sent to it; enable the plugin for site %q again and reload if the job should run there", j.Name, cur.Name(), site, site)
		}
		r, err := cur.RunJob(ctx, &sdk.RunJobRequest{Site: site, Job: j.Name, Now: now, TraceID: newID()})
		if err != nil {
			return err
		}
		if r.Diagnostics.HasError() {
			return errors.New(r.Diagnostics.String())
		}
		scheduler.Report(ctx, r.Summary, r.Processed)
		log.Info("job result", "plugin", in.Name(), "site", site, "job", j.Name, "summary", r.Summary, "processed", r.Processed)
		return nil
	}}
}

func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Types lists the operation types the routed plugins declare: the
// only types that become metric labels.
func Types(r *pipeline.Routes) []string {
	seen := map[string]bool{}
	for _, plugins := range r.Sites {
		for _, t := range plugins {
			for typ := range t.Operations {
				seen[typ] = true
			}
		}
	}
	out := make([]string, 0, len(seen))
	for typ := range seen {
		out = append(out, typ)
	}
	sort.Strings(out)
	return out
}

// Info is what /admin/plugins shows of a plugin.
type Info struct {
	Name        string          `json:"name"`
	Version     string          `json:"version"`
	Description string          `json:"description"`
	Running     bool            `json:"running"`
	Restarts    int             `json:"restarts"`
	LastError   string          `json:"lastError,omitempty"`
	Operations  []sdk.Operation `json:"operations"`
	Jobs        []string        `json:"jobs"`
	WorkLists   []sdk.WorkList  `json:"workLists,omitempty"`
	Views       sdk.Views       `json:"views,omitzero"`
	// Commands are its command-line verbs, for the admin API's role
	// check of a command (POST /admin/commands/check).
	Commands []sdk.Command `json:"commands,omitempty"`
	Sites    []string      `json:"sites"`
}

// Infos describes the running plugins for /admin/plugins and the console,
// by name, with the sites of cfg that enable each.
func Infos(cfg *config.Config, plugins map[string]*pluginhost.Instance) []Info {
	out := []Info{}
	for name, in := range plugins {
		running, restarts, lastErr := in.Status()
		desc := in.Description()
		pi := Info{Name: name, Version: desc.Version, Description: desc.Description, Running: running, Restarts: restarts, Operations: desc.Operations, WorkLists: desc.WorkLists, Views: desc.Views(), Commands: desc.Commands}
		if lastErr != nil {
			pi.LastError = lastErr.Error()
		}
		for _, j := range desc.Jobs {
			pi.Jobs = append(pi.Jobs, j.Name+" every "+j.Interval.String())
		}
		for _, s := range cfg.Sites {
			if sp, ok := s.Plugins[name]; ok && sp.IsEnabled() {
				pi.Sites = append(pi.Sites, s.Code)
			}
		}
		out = append(out, pi)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
