// Package mapping holds the site transform mappings (transforms/) as the
// host runs them: loaded from the built-in set and the configured
// directory, compiled against the schemas the running plugins declare (and
// a site's own schema overlay), and applied to platform payloads before
// they reach a plugin.
package mapping

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync/atomic"
	"testing/fstest"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/medgate/medgate/host/internal/config"
	"github.com/medgate/medgate/host/internal/message"
	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/schemas"
	"github.com/medgate/medgate/transforms"
)

// Source is a running plugin as the mappings see it (a
// *pluginhost.Instance): what it declares in Describe and the schema
// documents it returned from Configure for a site.
type Source interface {
	Description() *sdk.DescribeResponse
	SiteSchemas(site string) map[string][]byte
}

// Sets are the compiled mappings: one set for every site, and one per site
// whose plugins returned schema documents of their own from Configure (a
// site's schema overlay).
type Sets struct {
	all      *transforms.Set
	sites    map[string]*transforms.Set
	outbound map[string]*siteOut // by site code
}

// forSite returns the mappings that serve site, or nil.
func (m *Sets) forSite(site string) *transforms.Set {
	if m == nil {
		return nil
	}
	if s, ok := m.sites[site]; ok {
		return s
	}
	return m.all
}

// Compile loads the mappings (the built-in ones and the configured
// directory) and compiles them against the schemas the running plugins
// declare in Describe, over the built-in schemas, so a vendor's operation
// can be mapped like a shipped one; a site whose plugins returned their
// own schema documents from Configure gets its mappings compiled against
// those as well. Plugins must be started and the sites applied first.
func Compile[S Source](cfg *config.Config, plugins map[string]S) (*Sets, error) {
	names := slices.Sorted(maps.Keys(plugins))
	var declared []map[string][]byte
	var bad config.Problems
	for _, name := range names {
		desc := plugins[name].Description()
		if desc == nil || len(desc.Schemas) == 0 {
			continue
		}
		// Each plugin's documents alone first, so that a problem names
		// the plugin whose vendor must fix it.
		if _, err := overlaySchemas(schemas.Embedded(), []map[string][]byte{desc.Schemas}); err != nil {
			bad = append(bad, cfg.Problem(pluginPath(cfg, name), "plugin %q: the schema documents it declares (its Describe's Schemas) do not load: %v; update plugin %q", name, err, name))
			continue
		}
		declared = append(declared, desc.Schemas)
	}
	if len(bad) > 0 {
		return nil, bad
	}
	sch, err := overlaySchemas(schemas.Embedded(), declared)
	if err != nil {
		return nil, cfg.Problems("plugins", "the schema documents the plugins declare do not load: %v; update the plugin that declares them", err)
	}
	all, err := Load(cfg, sch)
	if err != nil {
		return nil, err
	}
	out := &Sets{all: all, sites: map[string]*transforms.Set{}}
	var ps config.Problems
	for i, s := range cfg.Sites {
		var own []map[string][]byte
		for _, name := range slices.Sorted(maps.Keys(s.Plugins)) {
			if in, ok := plugins[name]; ok && s.Plugins[name].IsEnabled() {
				if docs := in.SiteSchemas(s.Code); len(docs) > 0 {
					own = append(own, docs)
				}
			}
		}
		if len(own) == 0 {
			continue
		}
		siteSch, err := overlaySchemas(sch, own)
		if err != nil {
			ps = append(ps, cfg.Problem(fmt.Sprintf("sites[%d].plugins", i), "the site's schema documents (returned by its plugins' Configure) do not load: %v; correct the site's schema directory", err))
			continue
		}
		set, err := all.ForSite(s.Code, siteSch)
		if err != nil {
			ps = append(ps, cfg.Problem(fmt.Sprintf("sites[%d]", i), "the mappings do not compile against the site's own schemas: %v; correct the mapping or the site's schema directory", err))
			continue
		}
		out.sites[s.Code] = set
	}
	// Every site's problems at once, with those of the outbound mappings.
	outbound, err := outboundSites(cfg, out.forSite)
	if err != nil {
		var ops config.Problems
		if !errors.As(err, &ops) {
			return nil, err
		}
		ps = append(ps, ops...)
	}
	if len(ps) > 0 {
		return nil, ps
	}
	out.outbound = outbound
	return out, nil
}

// pluginPath is the configuration path of the plugin named name, for a
// problem's file and line.
func pluginPath(cfg *config.Config, name string) string {
	for i, p := range cfg.Plugins {
		if p.Name == name {
			return fmt.Sprintf("plugins[%d]", i)
		}
	}
	return "plugins"
}

// overlaySchemas returns base with the documents laid over it, by path;
// a later map replaces an earlier one's document of the same path.
func overlaySchemas(base *schemas.Set, docs []map[string][]byte) (*schemas.Set, error) {
	if len(docs) == 0 {
		return base, nil
	}
	fsys := fstest.MapFS{}
	for _, d := range docs {
		for p, data := range d {
			fsys[p] = &fstest.MapFile{Data: data, Mode: 0o444}
		}
	}
	return base.OverlayFS(fsys)
}

// Load returns the built-in mappings overlaid with the configured
// directory, compiled against sch, or every problem with file and line.
func Load(cfg *config.Config, sch *schemas.Set) (*transforms.Set, error) {
	if err := transforms.CheckEmbedded(); err != nil {
		return nil, fmt.Errorf("built-in transforms: %w", err)
	}
	over, err := transforms.Embedded().WithSchemas(sch)
	if err == nil && cfg.Transforms != "" {
		over, err = over.Overlay(cfg.Transforms)
	}
	if err != nil {
		var le *transforms.LoadError
		if errors.As(err, &le) {
			var ps config.Problems
			for _, p := range le.Problems {
				msg := p.Reason
				if p.Field != "" {
					msg = fmt.Sprintf("field %q: %s", p.Field, p.Reason)
				}
				if p.Fix != "" {
					msg += " — " + p.Fix
				}
				ps = append(ps, config.Problem{File: p.File, Line: p.Line, Message: msg})
			}
			return nil, ps
		}
		return nil, cfg.Problems("transforms", "%v", err)
	}
	return over, nil
}

// Mappings applies the site's transform mappings to platform payloads
// before they reach a plugin. A message is mapped when its site has a
// mapping for its format and type; otherwise it passes unchanged. The zero
// value maps nothing; Set swaps in compiled mappings (start and reload).
type Mappings struct {
	set      atomic.Pointer[Sets]
	failures atomic.Pointer[prometheus.CounterVec]
}

// Set puts the compiled mappings in force.
func (m *Mappings) Set(s *Sets) { m.set.Store(s) }

// Transform implements pipeline.Transformer.
func (m *Mappings) Transform(site, format, typ string, payload []byte) ([]byte, []message.ReplyError, bool) {
	set := m.set.Load().forSite(site)
	if set == nil {
		return payload, nil, false
	}
	mp, ok := set.Find(site, format, typ)
	if !ok {
		return payload, nil, false
	}
	out, problems := mp.Apply(payload, set.Tables(site))
	if len(problems) > 0 {
		errs := make([]message.ReplyError, len(problems))
		for i, p := range problems {
			errs[i] = message.ReplyError{Field: p.Field, Rule: p.Rule, Message: p.Message}
		}
		return nil, errs, true
	}
	data, err := json.Marshal(out)
	if err != nil {
		return nil, []message.ReplyError{{Field: "$", Rule: "mapping", Message: fmt.Sprintf("mapping %s produced a value that cannot be encoded: %v", mp.Name, err)}}, true
	}
	return data, nil, true
}
